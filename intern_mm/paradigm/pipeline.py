"""The INTERN paradigm: world -> Up-A -> Up-E experts -> Up-G (-> distil) -> adaptation.

A *pipeline config* (mmengine ``Config`` file) names the world, the stages and the
downstream check::

    world = dict(root='data/gv_world', num=2000, seed=0, img_size=64)
    launcher = 'subprocess'          # one process per stage ('inprocess': same process)
    nproc_per_stage = 1              # >1: each stage runs data-parallel under torchrun (DDP)
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

Every stage's config is rebased onto the world root (string values starting with the
stage config's own ``data_root`` are rewritten), receives one
:class:`~intern_mm.engine.hooks.StageHandoffHook` per hand-off (checkpoint = the named
earlier stage's final checkpoint) and optional ``cfg_options``; the resulting config is
saved as ``<work_dir>/stages/<name>/stage_config.py`` and trained by
:mod:`intern_mm.paradigm.stage_runner`, which auto-resumes from the last checkpoint and
writes ``done.json`` (and ``progress.jsonl``, one JSON line per logged iteration, which
the pipeline prints as progress lines). A stage's ``kind`` says what the pipeline does
with it: ``'train'`` (default), ``'generalist'`` (Up-G: exported with task-specific BN)
or ``'distill'`` (teacher = the backbone export of the stage named by ``teacher``; the
student backbone is exported). With ``nproc_per_stage = N > 1`` every training stage runs
as ``torchrun --standalone --nproc_per_node N`` with mmengine's ``pytorch`` launcher (DDP;
NCCL with CUDA, gloo on CPU); the adaptation runs stay in the pipeline's process.
Re-running the pipeline skips stages with a ``done.json`` and resumes an interrupted one. The summary (``summary.md`` / ``summary.json``) lists every
stage's metrics and the Downstream-Adaptation claim table
(:mod:`intern_mm.paradigm.downstream`). A failing stage ends the run with
:class:`StageFailedError`, one line naming the stage and its log.
"""
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from mmengine.config import Config

from .stage_runner import PROGRESS_FILE, read_done, to_jsonable

__all__ = ['ParadigmPipeline', 'rebase_paths', 'StageFailedError', 'STAGE_KINDS']

#: Stage-entry keys understood by the pipeline.
STAGE_KEYS = {'name', 'config', 'kind', 'handoffs', 'cfg_options', 'export', 'main_metric',
              'probe_backbone', 'teacher', 'description'}
#: Keys of the ``downstream`` entry.
DOWNSTREAM_KEYS = {'fraction', 'seed', 'families', 'backbones', 'protocols', 'scratch',
                   'recipes', 'cfg_options', 'probe_grid', 'ota'}
#: Stage kinds: what the pipeline does with a stage besides training it.
STAGE_KINDS = ('train', 'generalist', 'distill')


class StageFailedError(RuntimeError):
    """A stage failed; the message is one line naming the stage and its log."""


def rebase_paths(obj: Any, old: str, new: str) -> Any:
    """Replace the prefix ``old`` by ``new`` in every string inside ``obj``.

    Args:
        obj (Any): Nested dicts / lists / strings (a config).
        old (str): Old data root.
        new (str): New data root.

    Returns:
        Any: A rebased copy.

    Example:
        >>> rebase_paths(dict(a=['data/w/x.txt', 3]), 'data/w', '/tmp/w')
        {'a': ['/tmp/w/x.txt', 3]}
        >>> rebase_paths('data/w', 'data/w/', '/tmp/w')  # the root without its slash
        '/tmp/w'
    """
    if isinstance(obj, dict):
        return {k: rebase_paths(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rebase_paths(v, old, new) for v in obj)
    if isinstance(obj, str) and (obj.rstrip('/') == old.rstrip('/')
                                 or obj.startswith(old.rstrip('/') + '/')):
        return new.rstrip('/') + obj[len(old.rstrip('/')):]
    return obj


def _log(msg: str) -> None:
    print(f'[paradigm {time.strftime("%H:%M:%S")}] {msg}', flush=True)


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
        self.repo_root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        self.stages = self._check_stages(
            self._override_stages(cfg.get('stages'), cfg.get('stage_overrides')))
        self.world = dict(cfg.get('world') or {})
        if 'root' not in self.world:
            raise KeyError('pipeline config: world.root is required')
        self.world_root = osp.abspath(self._path(self.world['root']))
        self.results: Dict[str, dict] = {}
        self.timings: Dict[str, float] = {}

    # ---------------------------------------------------------------- helpers
    def _path(self, path: str) -> str:
        """Resolve a path relative to the cwd, else relative to the repository."""
        if osp.isabs(path) or osp.exists(path):
            return path
        alt = osp.join(self.repo_root, path)
        return alt if osp.exists(alt) else path

    @staticmethod
    def _override_stages(stages, overrides: Optional[dict]) -> list:
        """``stages`` with ``stage_overrides[name]``'s keys replacing the named stage's
        (an ablation config changes one stage without repeating the list)."""
        stages = [dict(s) for s in stages or []]
        names = [s.get('name') for s in stages]
        for name, keys in (overrides or {}).items():
            if name not in names:
                raise KeyError(f'stage_overrides: no stage named {name!r} (stages: {names})')
            stages[names.index(name)].update(copy.deepcopy(dict(keys)))
        return stages

    def _check_stages(self, stages) -> List[dict]:
        if not stages:
            raise KeyError('pipeline config: "stages" is empty or missing')
        names = []
        checked = []
        for stage in stages:
            stage = dict(stage)
            unknown = set(stage) - STAGE_KEYS
            if unknown:
                raise KeyError(f'stage {stage.get("name")!r}: unknown keys {sorted(unknown)} '
                               f'(allowed: {sorted(STAGE_KEYS)})')
            for key in ('name', 'config'):
                if key not in stage:
                    raise KeyError(f'stage entry {stage} lacks {key!r}')
            if stage['name'] in names:
                raise ValueError(f'duplicate stage name {stage["name"]!r}')
            cfg_file = self._path(stage['config'])
            if not osp.isfile(cfg_file):
                raise FileNotFoundError(f'stage {stage["name"]}: config {stage["config"]} '
                                        'does not exist')
            stage['config'] = osp.abspath(cfg_file)
            for handoff in stage.get('handoffs', []):
                if handoff.get('stage') not in names:
                    raise ValueError(f'stage {stage["name"]}: hand-off from '
                                     f'{handoff.get("stage")!r}, which is not an earlier stage '
                                     f'(earlier: {names})')
            self._check_kind(stage, checked)
            names.append(stage['name'])
            checked.append(stage)
        return checked

    @staticmethod
    def _check_kind(stage: dict, earlier: List[dict]) -> None:
        name = stage['name']
        kind = stage.setdefault('kind', 'train')
        if kind not in STAGE_KINDS:
            raise ValueError(f'stage {name}: unknown kind {kind!r} (known: {STAGE_KINDS})')
        if stage.get('export') is not None and kind != 'generalist':
            raise ValueError(f"stage {name}: 'export' options belong to kind='generalist' "
                             f'stages (this one is {kind!r})')
        if (kind == 'distill') != ('teacher' in stage):
            raise ValueError(f"stage {name}: kind='distill' stages, and only they, name a "
                             "'teacher' stage")
        if kind == 'distill':
            kinds = {s['name']: s['kind'] for s in earlier}
            if kinds.get(stage['teacher']) != 'generalist':
                raise ValueError(f'stage {name}: teacher {stage["teacher"]!r} is not an '
                                 f"earlier kind='generalist' stage (earlier: {kinds})")

    def stage_dir(self, name: str) -> str:
        """Work dir of a stage."""
        return osp.join(self.work_dir, 'stages', name)

    # ------------------------------------------------------------------ world
    def ensure_world(self) -> dict:
        """Generate the world unless ``<root>/meta.json`` exists; return its meta."""
        meta_file = osp.join(self.world_root, 'meta.json')
        stale = False
        if osp.isfile(meta_file):
            with open(meta_file) as f:
                stale = 'downstream_tasks' not in json.load(f)
            if stale:
                _log(f'the world at {self.world_root} predates the downstream tasks: '
                     'regenerating it (same images)')
        if stale or not osp.isfile(meta_file):
            from intern_mm.datasets.gv_world import generate_gv_world
            args = {k: v for k, v in self.world.items() if k != 'root'}
            if stale:  # the same world, with the downstream task files added
                with open(meta_file) as f:
                    old = json.load(f)
                args.update({k: old[k] for k in ('num', 'seed', 'img_size')})
            _log(f'generating the GV world at {self.world_root} ({args})')
            start = time.time()
            generate_gv_world(self.world_root, **args)
            self.timings['world'] = round(time.time() - start, 1)
        with open(meta_file) as f:
            meta = json.load(f)
        for key in ('num', 'seed', 'img_size'):
            if key in self.world and meta.get(key) != self.world[key]:
                _log(f'WARNING: existing world at {self.world_root} has {key}='
                     f'{meta.get(key)}, the pipeline config asks for {self.world[key]}')
        return meta

    # ----------------------------------------------------------------- stages
    def build_stage_config(self, stage: dict) -> Config:
        """The complete config of a stage (rebased, with hand-off hooks and options)."""
        cfg = Config.fromfile(stage['config'])
        old_root = cfg.get('data_root')
        if old_root:
            rebased = rebase_paths(cfg.to_dict(), old_root, self.world_root)
            cfg = Config(rebased)
            cfg.data_root = self.world_root
        handoffs = stage.get('handoffs')
        if handoffs:
            hooks = [h for h in (cfg.get('custom_hooks') or [])
                     if h.get('type') not in ('StageHandoffHook', 'intern_mm.StageHandoffHook')]
            for handoff in handoffs:
                handoff = dict(handoff)
                src = handoff.pop('stage')
                done = self.results.get(src) or read_done(self.stage_dir(src))
                if done is None:
                    raise RuntimeError(f'stage {stage["name"]} needs stage {src} to be done '
                                       'first')
                hooks.append(dict(type='intern_mm.StageHandoffHook',
                                  checkpoint=done['checkpoint'], name=src, **handoff))
            cfg.custom_hooks = hooks
        options = dict(self.cfg.get('stage_cfg_options') or {})
        if stage['kind'] == 'distill':  # the teacher: the generalist's exported backbone
            teacher = next(s for s in self.stages if s['name'] == stage['teacher'])
            options['model.teacher_checkpoint'] = self.export_stage(teacher)['backbone']
        options.update(stage.get('cfg_options') or {})
        if options:
            from intern_mm.apis import merge_cfg_options
            merge_cfg_options(cfg, options)
        cfg.work_dir = self.stage_dir(stage['name'])
        return cfg

    def run_stage(self, stage: dict) -> dict:
        """Run one stage unless it is done; return its done-marker."""
        name = stage['name']
        wd = self.stage_dir(name)
        done = read_done(wd)
        if done is not None:
            _log(f'stage {name}: done already ({done["wall_time_s"]}s), skipped')
            drift = self.config_drift(stage)
            if drift:
                _log(f'WARNING: stage {name} was trained with another config (differs in '
                     f'{", ".join(drift)}); delete {wd} to retrain it')
            for handoff in stage.get('handoffs', []):
                src = self.results.get(handoff['stage'])
                if src and osp.getmtime(src['checkpoint']) > osp.getmtime(done['checkpoint']):
                    _log(f'WARNING: stage {name} was trained from an older {handoff["stage"]} '
                         f'checkpoint; delete {wd} to retrain it')
            self.results[name] = done
            return done
        os.makedirs(wd, exist_ok=True)
        cfg = self.build_stage_config(stage)
        cfg_file = osp.join(wd, 'stage_config.py')
        cfg.dump(cfg_file)
        resuming = osp.isfile(osp.join(wd, 'last_checkpoint'))
        _log(f'stage {name}: {"resuming" if resuming else "starting"} '
             f'({osp.relpath(stage["config"], self.repo_root)})')
        start = time.time()
        if self.launcher == 'inprocess':
            from .stage_runner import train_stage
            try:
                done = train_stage(cfg_file, wd, name)
            except Exception as err:
                raise StageFailedError(f'stage {name} failed ({type(err).__name__}: '
                                       f'{str(err).splitlines()[0] if str(err) else ""}); '
                                       f'log: {self._mmengine_log(wd)}') from err
        else:
            self._run_subprocess(name, cfg_file, wd)
            done = read_done(wd)
            if done is None:
                raise StageFailedError(f'stage {name} exited without writing its '
                                       f'done-marker; log: {osp.join(wd, "stage_output.log")}')
        self.timings[name] = round(time.time() - start, 1)
        metric = self._main_metric(stage, done)
        _log(f'stage {name}: finished in {self.timings[name]}s'
             + (f' ({metric[0]} = {metric[1]:.2f})' if metric else ''))
        self.results[name] = done
        return done

    def config_drift(self, stage: dict) -> List[str]:
        """Top-level keys in which a finished stage's saved ``stage_config.py`` differs
        from the config the pipeline builds for it now (paths into a work dir's
        ``stages/`` are compared from there on, so a copied work dir does not differ).

        Args:
            stage (dict): A stage entry of the pipeline.

        Returns:
            list[str]: The differing keys (empty: same config, or none saved).
        """
        from .stage_runner import runtime_stage_cfg
        saved = osp.join(self.stage_dir(stage['name']), 'stage_config.py')
        if not osp.isfile(saved):
            return []
        old = Config.fromfile(saved)
        new = runtime_stage_cfg(self.build_stage_config(stage), old.get('work_dir'),
                                old.get('launcher'))

        def norm(cfg):  # a path into some work dir's stages -> 'stages/...'
            text = json.dumps(cfg.to_dict(), default=str, sort_keys=True)
            return json.loads(re.sub(r'"[^"]*?/(stages/[^"]*)"', r'"\1"', text))

        old, new = norm(old), norm(new)
        return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))

    @staticmethod
    def _mmengine_log(wd: str) -> str:
        """The newest mmengine log file of a stage work dir (or the dir itself)."""
        logs = [osp.join(root, f) for root, _, files in os.walk(wd) for f in files
                if f.endswith('.log')]
        return max(logs, key=osp.getmtime) if logs else wd

    def _run_subprocess(self, name: str, cfg_file: str, wd: str) -> None:
        cmd = [sys.executable, '-m', 'intern_mm.paradigm.stage_runner', cfg_file,
               '--work-dir', wd, '--name', name]
        if self.nproc > 1:
            cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                   '--nproc_per_node', str(self.nproc), '-m'] + cmd[2:] + [
                       '--launcher', 'pytorch']
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [self.repo_root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        log_file = osp.join(wd, 'stage_output.log')
        with open(log_file, 'a') as out:
            proc = subprocess.Popen(
                cmd, stdout=None if self.verbose else out,
                stderr=subprocess.STDOUT if not self.verbose else None, env=env)
            try:
                self._follow(name, proc, osp.join(wd, PROGRESS_FILE))
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if proc.returncode != 0:
            raise StageFailedError(f'stage {name} failed (exit code {proc.returncode}); '
                                   f'log: {log_file}')

    def _follow(self, name: str, proc: subprocess.Popen, progress_file: str) -> None:
        """Print the progress records the stage's hook writes while its process runs."""
        pos, start = 0, time.time()
        while True:
            ret = proc.poll()
            if not self.verbose and osp.isfile(progress_file):
                with open(progress_file) as f:
                    f.seek(pos)
                    chunk = f.read()
                # only complete lines; a partly written one is read next time
                chunk = chunk[:chunk.rfind('\n') + 1]
                pos += len(chunk.encode())
                for line in chunk.splitlines():
                    msg = self._progress_line(name, json.loads(line), time.time() - start)
                    if msg:
                        print(msg, flush=True)
            if ret is not None:
                return
            time.sleep(1.0)

    @staticmethod
    def _progress_line(name: str, rec: dict, elapsed: float) -> Optional[str]:
        """One console line of a progress record (``None``: nothing to show)."""
        event = rec.get('event')
        if event == 'train':
            loss = rec.get('loss')
            return (f'  {name}: iter {rec["iter"]}/{rec["max_iters"]}'
                    + (f'  loss {loss:.3f}' if loss is not None else '')
                    + f'  ({elapsed:.0f}s)')
        if event == 'start' and rec.get('iter'):
            return f'  {name}: resumed at iteration {rec["iter"]}/{rec["max_iters"]}'
        if event == 'val':
            return f'  {name}: validation ' + ', '.join(
                f'{k}={v:.2f}' for k, v in list(rec.get('metrics', {}).items())[:4]
                if isinstance(v, (int, float)))
        return None

    @staticmethod
    def _main_metric(stage: dict, done: dict):
        metrics = done.get('metrics') or {}
        key = stage.get('main_metric')
        if key and key in metrics:
            return key, float(metrics[key])
        return None

    # ------------------------------------------------------------------ export
    def export_stage(self, stage: dict) -> Dict[str, str]:
        """Export a ``generalist`` or ``distill`` stage (cached until its checkpoint
        changes); returns the files, ``backbone`` among them."""
        done = self.results.get(stage['name']) or read_done(self.stage_dir(stage['name']))
        if done is None:
            raise RuntimeError(f'stage {stage["name"]} must be done before its export')
        self.results[stage['name']] = done
        out_dir = osp.join(self.stage_dir(stage['name']), 'export')
        opts = dict(stage.get('export') or {})
        if stage['kind'] == 'generalist':
            names = [f'{b}-bn' for b in opts.get('bn_tasks', ('cls', 'det'))] + ['backbone']
        else:
            names = ['backbone']
        files = {k: osp.join(out_dir, f'{k}.pth') for k in names}
        ckpt_time = osp.getmtime(done['checkpoint'])
        if all(osp.isfile(p) and osp.getmtime(p) >= ckpt_time for p in files.values()):
            return files
        if stage['kind'] == 'generalist':
            from intern_mm.models.generalist import export_generalist
            return export_generalist(done['checkpoint'], out_dir,
                                     backbone_cfg=self._probe_backbone_cfg(stage), **opts)
        if stage['kind'] == 'distill':
            from intern_mm.models.distillers import export_student
            os.makedirs(out_dir, exist_ok=True)
            export_student(done['checkpoint'], files['backbone'],
                           backbone_cfg=self._probe_backbone_cfg(stage))
            return files
        raise ValueError(f'stage {stage["name"]} (kind {stage["kind"]!r}) has no export')

    def export_generalist(self, stage: dict) -> Dict[str, str]:
        """Export ``cls-bn`` / ``det-bn`` / ``backbone`` checkpoints of an Up-G stage."""
        return self.export_stage(stage)

    # --------------------------------------------------------------- downstream
    def _probe_backbone_cfg(self, stage: dict) -> dict:
        """The backbone config downstream runs use for a stage (by its ``kind``)."""
        cfg = Config.fromfile(stage['config'])
        if stage['kind'] == 'distill':
            backbone = copy.deepcopy(cfg.model.student.to_dict())
        else:
            backbone = copy.deepcopy(cfg.model.backbone.to_dict())
        if stage['kind'] == 'generalist':  # plain-BN exported backbone
            backbone.pop('bn_tasks', None)
            backbone.pop('task', None)
        for key in ('init_cfg', 'frozen_stages'):
            backbone.pop(key, None)
        if isinstance(backbone.get('main'), dict):
            backbone['main'].pop('init_cfg', None)
        backbone.update(stage.get('probe_backbone') or {})
        return backbone

    def _probe_checkpoint(self, stage: dict) -> str:
        if stage['kind'] in ('generalist', 'distill'):
            return self.export_stage(stage)['backbone']
        done = self.results.get(stage['name']) or read_done(self.stage_dir(stage['name']))
        if done is None:
            raise FileNotFoundError(f'stage {stage["name"]} has not finished (no done-marker '
                                    f'in {self.stage_dir(stage["name"])})')
        return done['checkpoint']

    def stage_backbone(self, name: str):
        """The :class:`~intern_mm.benchmark.BackboneSpec` of a finished stage."""
        from .downstream import backbone_spec
        stage = self._stage(name)
        return backbone_spec(self._probe_backbone_cfg(stage), self._probe_checkpoint(stage))

    def _stage(self, name: str) -> dict:
        for stage in self.stages:
            if stage['name'] == name:
                return stage
        raise KeyError(f'downstream names unknown stage {name!r} (stages: '
                       f'{[s["name"] for s in self.stages]})')

    def downstream_adapter(self, work_dir: Optional[str] = None,
                           recipes: Optional[Dict[str, dict]] = None):
        """The :class:`~.downstream.DownstreamAdapter` of the config's ``downstream``.

        Args:
            work_dir (str, optional): Its folder. Defaults to ``<work-dir>/downstream``.
            recipes (dict, optional): Per-family recipes instead of the config's.

        Returns:
            DownstreamAdapter: The adapter.
        """
        from .downstream import DownstreamAdapter
        ds = dict(self.cfg.get('downstream') or {})
        unknown = set(ds) - DOWNSTREAM_KEYS
        if unknown:
            raise KeyError(f'downstream: unknown keys {sorted(unknown)} (allowed: '
                           f'{sorted(DOWNSTREAM_KEYS)})')
        return DownstreamAdapter(
            self.world_root, work_dir or osp.join(self.work_dir, 'downstream'),
            fraction=ds.get('fraction', 0.1), seed=ds.get('seed', 0),
            recipes=ds.get('recipes') if recipes is None else recipes,
            cfg_options=ds.get('cfg_options'), probe_grid=ds.get('probe_grid'),
            ota=ds.get('ota'), verbose=self.verbose, log=_log)

    def scratch_backbone(self):
        """The scratch baseline's backbone (``downstream.scratch.stage``'s architecture,
        no checkpoint), or None when the config has no scratch baseline."""
        from .downstream import backbone_spec
        scratch = (self.cfg.get('downstream') or {}).get('scratch')
        if not scratch:
            return None
        return backbone_spec(self._probe_backbone_cfg(self._stage(scratch['stage'])), None)

    def run_downstream(self) -> dict:
        """Downstream-Adaptation: every backbone x protocol x family, and scratch."""
        ds = dict(self.cfg.get('downstream') or {})
        if not ds:
            return {}
        adapter = self.downstream_adapter()
        backbones = dict(ds.get('backbones') or {})
        protocols = dict(ds.get('protocols') or {})
        default_protocols = tuple(protocols.get('default', ('probe', 'finetune')))
        start = time.time()
        results: Dict[str, dict] = {}
        for family in ds.get('families', ('cls', 'det', 'seg', 'depth')):
            fam = results.setdefault(family, {})
            for role, names in backbones.items():
                candidates = [names] if isinstance(names, str) else list(names)
                names_done = [n for n in candidates if self._stage(n)]
                wanted = tuple(protocols.get(role, default_protocols))
                chosen, runs = self._adapt_role(adapter, family, role, names_done, wanted)
                fam[role] = dict(stage=chosen, runs=runs)
            scratch = ds.get('scratch')
            if scratch:
                spec = self.scratch_backbone()
                runs = {}
                for frac in scratch.get('fractions', (adapter.fraction, 1.0)):
                    tag = f'{round(frac * 100)}pct'
                    runs[tag] = self._adapt_run(adapter, family, 'scratch', spec, 'finetune',
                                                fraction=frac, scratch=True)
                fam['scratch'] = dict(stage=f'{scratch["stage"]} architecture, random init',
                                      runs=runs)
        self.timings['downstream'] = round(time.time() - start, 1)
        return dict(fraction=adapter.fraction, seed=adapter.seed, results=results)

    def _adapt_role(self, adapter, family: str, role: str, names: List[str],
                    protocols: tuple):
        """Probe every candidate stage of a role, keep the best on val, adapt it."""
        specs = {n: self.stage_backbone(n) for n in names}
        probes = {n: self._adapt_run(adapter, family, n, specs[n], 'probe') for n in names}
        lower = adapter.task(family).lower_is_better
        chosen = (min if lower else max)(names, key=lambda n: probes[n]['val_score'])
        runs = {}
        for protocol in protocols:
            if protocol == 'probe':
                runs[protocol] = probes[chosen]
                continue
            kwargs = {}
            if protocol == 'ota':  # teacher: this backbone fine-tuned on the subset
                tuned = runs.get('finetune') or self._adapt_run(
                    adapter, family, chosen, specs[chosen], 'finetune')
                kwargs = dict(teacher_checkpoint=tuned.get('final_checkpoint'),
                              student=self._ota_student())
            runs[protocol] = self._adapt_run(adapter, family, chosen, specs[chosen],
                                             protocol, **kwargs)
        if len(names) > 1:
            runs['candidates'] = {n: dict(val_score=p['val_score'],
                                          test_score=p['test_score'])
                                  for n, p in probes.items()}
        return chosen, runs

    def _ota_student(self):
        """The OTA student: ``downstream.ota.student`` = a stage name (its downstream
        backbone, e.g. the distilled student) or a backbone config (random init)."""
        from .downstream import backbone_spec
        student = (self.cfg.downstream.get('ota') or {}).get('student', 'distill')
        if isinstance(student, str):
            return self.stage_backbone(student)
        return backbone_spec(dict(student), None)

    def _adapt_run(self, adapter, family: str, name: str, spec, protocol: str,
                   fraction: Optional[float] = None, scratch: bool = False,
                   **kwargs) -> dict:
        tag = f'{family}/{name}/{protocol}' + (f' ({round(fraction * 100)}%)'
                                                if fraction is not None else '')
        try:
            res = adapter.run(family, name, spec, protocol, fraction=fraction,
                              scratch=scratch, **kwargs)
        except NotImplementedError as err:
            _log(f'downstream {tag}: not run ({err})')
            return dict(status='unavailable', reason=str(err))
        except Exception as err:
            raise StageFailedError(f'downstream {tag} failed ({type(err).__name__}: '
                                   f'{str(err).splitlines()[0] if str(err) else ""}); log: '
                                   f'{self._mmengine_log(adapter.work_dir)}') from err
        _log(f'downstream {tag}: test {res["metric"]} {res["test_score"]:.2f} '
             f'(val {res["val_score"]:.2f}, {res["time_s"]}s)')
        return res

    # -------------------------------------------------------------------- run
    def run(self) -> dict:
        """Run the whole paradigm (skipping finished parts) and write the summary.

        Returns:
            dict: The summary (also written to ``summary.json`` / ``summary.md``).
        """
        from .summary import build_summary, write_summary
        os.makedirs(self.work_dir, exist_ok=True)
        t0 = time.time()
        _log(f'work dir {self.work_dir}; {len(self.stages)} stages; launcher '
             f'{self.launcher}' + (f', {self.nproc} processes per stage (DDP)'
                                   if self.nproc > 1 else ''))
        meta = self.ensure_world()
        for stage in self.stages:
            self.run_stage(stage)
            if stage['kind'] in ('generalist', 'distill'):
                files = self.export_stage(stage)
                _log(f'stage {stage["name"]}: exported ' + ', '.join(
                    osp.relpath(p, self.work_dir) for p in files.values()))
        downstream = self.run_downstream()
        total = round(time.time() - t0, 1)
        summary = build_summary(self, meta, downstream, total)
        md = write_summary(to_jsonable(summary), self.work_dir)
        print(md, flush=True)
        _log(f'finished in {total}s; summary: {osp.join(self.work_dir, "summary.md")}')
        return summary
