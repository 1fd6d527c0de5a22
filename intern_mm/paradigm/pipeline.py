"""The INTERN paradigm: world -> Up-A -> Up-E experts -> Up-G (-> distil) -> adaptation.

A *pipeline config* (mmengine ``Config`` file) names the world, the stages and the
downstream check::

    world = dict(root='data/gv_world', num=2000, seed=0, img_size=64)   # optional
    sources = dict(NAME=dict(task='det', format='voc', root=..., train=..., ...))  # optional
    launcher = 'subprocess'          # one process per stage ('inprocess': same process)
    nproc_per_stage = 1              # >1: each stage runs data-parallel under torchrun (DDP)
    workers = 1                      # >1: stages and downstream parts side by side (.jobs)
    worker_threads = None            # their threads (default: cpus // workers)
    stages = [
        dict(name='up-a', config='configs/paradigm/...up-a....py'),
        dict(name='up-e-cls', config='...', handoffs=[
            dict(stage='up-a', prefix_mapping={'backbone.': 'backbone.'})]),
        ...
        dict(name='up-g', kind='generalist', config='...', handoffs=[...],
             export=dict(bn_tasks=('cls', 'det'))),
        dict(name='distill', kind='distill', config='...', teacher='up-g'),
    ]
    downstream = dict(fraction=0.1, families=('cls', 'det', 'seg', 'depth'),
                      backbones={'up-a': 'up-a', 'best-up-e': ['up-e-cls', ...], ...})
    stage_cfg_options = {'train_cfg.max_iters': 2}   # optional, applied to every stage
    stage_overrides = {'up-g': dict(handoffs=[...])}  # optional, keys of named stages

:class:`ParadigmPipeline` orchestrates; the parts are modules of their own: the world
(:mod:`.world`), the stage list and each stage's complete config, saved as
``<work_dir>/stages/<name>/stage_config.py`` (:mod:`.stage_configs`), training a stage
in-process, in a subprocess or under torchrun (:mod:`.launch`), the exports of
``'generalist'`` / ``'distill'`` stages (:mod:`.exports`), the stages' data from declared
``sources`` (:mod:`.sources_stages`), the leak check before the first stage trains
(:mod:`.leak`), Downstream-Adaptation (:mod:`.adaptation`) and, with ``workers``, the
stages and downstream parts as parallel jobs (:mod:`.jobs`). Re-running skips stages
with a ``done.json`` and resumes an interrupted one. The summary (``summary.md`` /
``summary.json``) lists every stage's metrics, the leak check and the claim table. A
failing stage ends with :class:`~.launch.StageFailedError` (one line: stage and log).
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional

from mmengine.config import Config

from intern_mm.utils.run_record import to_jsonable
from .adaptation import build_adapter, run_downstream
from .exports import EXPORT_KINDS, export_stage, scratch_backbone, stage_backbone
from .jobs import run_pipeline_jobs
from .launch import REPO_ROOT, launch_stage, log
from .leak import pipeline_leak_check
from .sources_stages import SourcePlan, plan_sources
from .stage_configs import (build_stage_config, check_stages, config_drift,
                            finished_warnings, override_stages, resolve_path)
from .stage_runner import read_done
from .summary import build_summary, write_summary
from .world import downstream_root, ensure_world

__all__ = ['ParadigmPipeline']


class ParadigmPipeline:
    """Run (or continue) the paradigm described by a pipeline config.

    Args:
        cfg (Config | str): The pipeline config or its file.
        work_dir (str, optional): Overrides ``cfg.work_dir``.
        verbose (bool): Stream every stage's full log to stdout instead of compact
            progress lines. Defaults to False.

    Example:
        >>> pipe = ParadigmPipeline('configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py',
        ...                         work_dir='work_dirs/demo')
        >>> summary = pipe.run()  # doctest: +SKIP
    """

    def __init__(self, cfg, work_dir: Optional[str] = None, verbose: bool = False) -> None:
        if isinstance(cfg, str):
            if not osp.isfile(cfg):
                raise FileNotFoundError(f'pipeline config {cfg} does not exist')
            cfg = Config.fromfile(cfg)
        self.cfg = cfg
        self.work_dir = osp.abspath(work_dir or cfg.get('work_dir') or 'work_dirs/paradigm')
        self.verbose = verbose
        self.launcher = cfg.get('launcher', 'subprocess')
        if self.launcher not in ('subprocess', 'inprocess'):
            raise ValueError(f"launcher must be 'subprocess' or 'inprocess', got "
                             f'{self.launcher!r}')
        self.nproc = cfg.get('nproc_per_stage', 1)
        if not isinstance(self.nproc, int) or isinstance(self.nproc, bool) or self.nproc < 1:
            raise ValueError(f'nproc_per_stage must be a positive integer, got {self.nproc!r}')
        if self.nproc > 1 and self.launcher != 'subprocess':
            raise ValueError(f"nproc_per_stage={self.nproc} needs launcher='subprocess' "
                             f'(got {self.launcher!r}): stages run under torchrun')
        self.workers = cfg.get('workers', 1)
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) \
                or self.workers < 1:
            raise ValueError(f'workers must be a positive integer, got {self.workers!r}')
        if self.workers > 1 and (self.launcher != 'subprocess' or self.nproc > 1):
            raise ValueError(f"workers={self.workers} runs stages as processes: it needs "
                             f"launcher='subprocess' and nproc_per_stage=1 (got "
                             f'{self.launcher!r}, {self.nproc})')
        self.worker_threads = cfg.get('worker_threads')
        if self.worker_threads is not None and (
                not isinstance(self.worker_threads, int)
                or isinstance(self.worker_threads, bool) or self.worker_threads < 1):
            raise ValueError('worker_threads must be a positive integer or None, got '
                             f'{self.worker_threads!r}')
        self.repo_root = REPO_ROOT
        self.stages = check_stages(
            override_stages(cfg.get('stages'), cfg.get('stage_overrides')))
        self.world = dict(cfg.get('world') or {})
        if 'root' not in self.world and not cfg.get('sources'):
            raise KeyError('pipeline config: world.root or `sources` is required')
        self.world_root = (osp.abspath(resolve_path(self.world['root']))
                           if 'root' in self.world else None)
        self._plan: Optional[SourcePlan] = None
        self.leak_check: Optional[dict] = None
        self.results: Dict[str, dict] = {}
        self.timings: Dict[str, float] = {}

    # ---------------------------------------------------------------- stages
    def stage(self, name: str) -> dict:
        """The stage entry named ``name`` (KeyError when there is none)."""
        for stage in self.stages:
            if stage['name'] == name:
                return stage
        raise KeyError(f'downstream names unknown stage {name!r} (stages: '
                       f'{[s["name"] for s in self.stages]})')

    def stage_dir(self, name: str) -> str:
        """Work dir of a stage."""
        return osp.join(self.work_dir, 'stages', name)

    def done(self, name: str) -> Optional[dict]:
        """The done-marker of a stage (None while it has not finished)."""
        return self.results.get(name) or read_done(self.stage_dir(name))

    def ensure_world(self) -> dict:
        """Generate the world unless ``<root>/meta.json`` exists; its meta (or None)."""
        if self.world_root is None:
            return None
        meta, seconds = ensure_world(self.world_root, self.world)
        if seconds is not None:
            self.timings['world'] = seconds
        return meta

    def build_stage_config(self, stage: dict) -> Config:
        """The complete config of a stage (rebased, with hand-off hooks and options)."""
        options = dict(self.cfg.get('stage_cfg_options') or {})
        if stage['kind'] == 'distill':  # the teacher: the generalist's exported backbone
            teacher = self.stage(stage['teacher'])
            options['model.teacher_checkpoint'] = self.export_stage(teacher)['backbone']
        options.update(stage.get('cfg_options') or {})
        cfg = build_stage_config(stage, self.world_root, self.done, options,
                                 self.stage_dir(stage['name']))
        plan = self.source_plan()
        return plan.apply(cfg, plan.roles[stage['name']]) if plan else cfg

    def source_plan(self) -> Optional[SourcePlan]:
        """The declared ``sources``, read and checked once (None: none declared)."""
        if self._plan is None and self.cfg.get('sources'):
            self._plan = plan_sources(self.cfg, self.stages, self.work_dir)
        return self._plan

    def config_drift(self, stage: dict) -> List[str]:
        """Top-level keys in which a finished stage's saved ``stage_config.py`` differs
        from the config built now (:func:`~.stage_configs.config_drift`)."""
        return config_drift(osp.join(self.stage_dir(stage['name']), 'stage_config.py'),
                            lambda: self.build_stage_config(stage))

    def run_stage(self, stage: dict) -> dict:
        """Run one stage unless it is done; return its done-marker."""
        name = stage['name']
        wd = self.stage_dir(name)
        done = read_done(wd)
        if done is not None:
            log(f'stage {name}: done already ({done["wall_time_s"]}s), skipped')
            for line in finished_warnings(stage, done, self.config_drift(stage),
                                          self.results, wd):
                log(line)
            self.results[name] = done
            return done
        cfg_file = self.prepare_stage(stage)
        start = time.time()
        done = launch_stage(name, cfg_file, wd, self.launcher, self.nproc, self.verbose)
        return self.record_stage(stage, done, time.time() - start)

    def prepare_stage(self, stage: dict, how: str = '') -> str:
        """Write a stage's complete config into its work dir and say that it starts
        (``how``: e.g. in a worker process); returns the config file."""
        wd = self.stage_dir(stage['name'])
        os.makedirs(wd, exist_ok=True)
        cfg_file = osp.join(wd, 'stage_config.py')
        self.build_stage_config(stage).dump(cfg_file)
        resuming = osp.isfile(osp.join(wd, 'last_checkpoint'))
        log(f'stage {stage["name"]}: {"resuming" if resuming else "starting"} '
            f'({osp.relpath(stage["config"], self.repo_root)})' + (f', {how}' if how else ''))
        return cfg_file

    def record_stage(self, stage: dict, done: dict, seconds: float) -> dict:
        """Keep a stage's done-marker and time, and say that it finished."""
        name = stage['name']
        self.timings[name] = round(seconds, 1)
        metrics, key = done.get('metrics') or {}, stage.get('main_metric')
        log(f'stage {name}: finished in {self.timings[name]}s'
            + (f' ({key} = {float(metrics[key]):.2f})' if key and key in metrics else ''))
        self.results[name] = done
        return done

    def export_finished(self, stage: dict) -> None:
        """Export a finished ``generalist`` / ``distill`` stage and name its files
        (other kinds: nothing)."""
        if stage['kind'] in EXPORT_KINDS:
            files = self.export_stage(stage)
            log(f'stage {stage["name"]}: exported ' + ', '.join(
                osp.relpath(p, self.work_dir) for p in files.values()))

    # ---------------------------------------------------------------- exports
    def export_stage(self, stage: dict) -> Dict[str, str]:
        """Export a ``generalist`` or ``distill`` stage (cached until its checkpoint
        changes); returns the files, ``backbone`` among them."""
        done = self.done(stage['name'])
        if done is None:
            raise RuntimeError(f'stage {stage["name"]} must be done before its export')
        self.results[stage['name']] = done
        return export_stage(stage, done, osp.join(self.stage_dir(stage['name']), 'export'))

    def export_generalist(self, stage: dict) -> Dict[str, str]:
        """Export an Up-G stage (:meth:`export_stage`)."""
        return self.export_stage(stage)

    # ------------------------------------------------------------- downstream
    def stage_backbone(self, name: str):
        """The :class:`~intern_mm.benchmark.BackboneSpec` of a finished stage."""
        return stage_backbone(self, name)

    def scratch_backbone(self):
        """The scratch baseline's backbone (:func:`~.exports.scratch_backbone`)."""
        return scratch_backbone(self.cfg, self.stage)

    def downstream_adapter(self, work_dir: Optional[str] = None,
                           recipes: Optional[Dict[str, dict]] = None):
        """The :class:`~.downstream.DownstreamAdapter` of the config's ``downstream``.

        Args:
            work_dir (str, optional): Its folder. Defaults to ``<work-dir>/downstream``.
            recipes (dict, optional): Per-family recipes instead of the config's.

        Returns:
            DownstreamAdapter: The adapter.
        """
        root = self.world_root and downstream_root(self.world_root, self.world)
        return build_adapter(self.cfg.get('downstream'), root,
                             work_dir or osp.join(self.work_dir, 'downstream'),
                             verbose=self.verbose, recipes=recipes)

    def run_downstream(self) -> dict:
        """Downstream-Adaptation: every backbone x protocol x family, and scratch."""
        return run_downstream(self)

    # -------------------------------------------------------------------- run
    def run(self) -> dict:
        """Run the whole paradigm (skipping finished parts) and write the summary.

        Returns:
            dict: The summary (also written to ``summary.json`` / ``summary.md``).
        """
        os.makedirs(self.work_dir, exist_ok=True)
        t0 = time.time()
        log(f'work dir {self.work_dir}; {len(self.stages)} stages; launcher '
            f'{self.launcher}' + (f', {self.nproc} processes per stage (DDP)'
                                  if self.nproc > 1 else ''))
        meta = self.ensure_world()
        self.leak_check = pipeline_leak_check(self)  # reads and checks the sources first
        if self.cfg.get('downstream'):
            self.downstream_adapter()  # bad downstream rows: one line before any training
        if self.workers > 1:  # stages and downstream parts side by side
            run_pipeline_jobs(self, self.workers, self.worker_threads)
        else:
            for stage in self.stages:
                self.run_stage(stage)
                self.export_finished(stage)
        downstream = self.run_downstream()  # with workers: reads the finished runs
        total = round(time.time() - t0, 1)
        summary = build_summary(self, meta, downstream, total)
        md = write_summary(to_jsonable(summary), self.work_dir)
        print(md, flush=True)
        log(f'finished in {total}s; summary: {osp.join(self.work_dir, "summary.md")}')
        return summary
