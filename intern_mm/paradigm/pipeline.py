"""The INTERN paradigm pipeline: world -> Up-A -> Up-E experts -> Up-G -> downstream.

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
        dict(name='up-g', config='...', handoffs=[...], export=dict(bn_tasks=('cls', 'det'))),
    ]
    downstream = dict(fraction=0.1, probe_stages=['up-a', 'up-e-cls', ..., 'up-g'],
                      scratch=dict(config='...scratch....py', fractions=(0.1, 1.0)))
    stage_cfg_options = {'train_cfg.max_iters': 2}   # optional, applied to every stage

Every stage's config is rebased onto the world root (string values starting with the
stage config's own ``data_root`` are rewritten), receives one
:class:`~intern_mm.engine.hooks.StageHandoffHook` per hand-off (checkpoint = the named
earlier stage's final checkpoint) and optional ``cfg_options``; the resulting config is
saved as ``<work_dir>/stages/<name>/stage_config.py`` and trained by
:mod:`intern_mm.paradigm.stage_runner`, which auto-resumes from the last checkpoint and
writes ``done.json``. With ``nproc_per_stage = N > 1`` every training stage (and the
scratch baselines) runs as ``torchrun --standalone --nproc_per_node N`` with mmengine's
``pytorch`` launcher (DDP; NCCL with CUDA, gloo on CPU). Re-running the pipeline skips stages with a ``done.json`` and
resumes an interrupted one. The summary (``summary.md`` / ``summary.json``) lists every
stage's metrics and the downstream comparison.
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

from .stage_runner import read_done, to_jsonable

__all__ = ['ParadigmPipeline', 'rebase_paths']

_ITER_RE = re.compile(r'Iter\((train|val)\)\s*\[\s*(\d+)/(\d+)\]')
_LOSS_RE = re.compile(r'\sloss: ([0-9.]+)')

#: Stage-entry keys understood by the pipeline.
STAGE_KEYS = {'name', 'config', 'kind', 'handoffs', 'cfg_options', 'export', 'main_metric',
              'probe_backbone', 'description'}


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
    """
    if isinstance(obj, dict):
        return {k: rebase_paths(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rebase_paths(v, old, new) for v in obj)
    if isinstance(obj, str) and (obj == old or obj.startswith(old.rstrip('/') + '/')):
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
        self.stages = self._check_stages(cfg.get('stages'))
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
            names.append(stage['name'])
            checked.append(stage)
        return checked

    def stage_dir(self, name: str) -> str:
        """Work dir of a stage."""
        return osp.join(self.work_dir, 'stages', name)

    # ------------------------------------------------------------------ world
    def ensure_world(self) -> dict:
        """Generate the world unless ``<root>/meta.json`` exists; return its meta."""
        meta_file = osp.join(self.world_root, 'meta.json')
        if not osp.isfile(meta_file):
            from intern_mm.datasets.gv_world import generate_gv_world
            args = {k: v for k, v in self.world.items() if k != 'root'}
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
            from .stage_runner import run_stage
            done = run_stage(cfg_file, wd, name)
        else:
            self._run_subprocess(name, cfg_file, wd)
            done = read_done(wd)
            if done is None:
                raise RuntimeError(f'stage {name} exited without writing its done-marker')
        self.timings[name] = round(time.time() - start, 1)
        metric = self._main_metric(stage, done)
        _log(f'stage {name}: finished in {self.timings[name]}s'
             + (f' ({metric[0]} = {metric[1]:.2f})' if metric else ''))
        self.results[name] = done
        return done

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
                self._follow(name, proc, log_file)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if proc.returncode != 0:
            tail = ''
            if osp.isfile(log_file):
                with open(log_file) as f:
                    tail = ''.join(f.readlines()[-40:])
            raise RuntimeError(f'stage {name} failed (exit code {proc.returncode}); last lines '
                               f'of {log_file}:\n{tail}')

    def _follow(self, name: str, proc: subprocess.Popen, log_file: str) -> None:
        """Print compact progress lines while the stage process runs."""
        pos, last, start = 0, None, time.time()
        while True:
            ret = proc.poll()
            if not self.verbose and osp.isfile(log_file):
                with open(log_file) as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
                for line in chunk.splitlines():
                    m = _ITER_RE.search(line)
                    if m and m.group(1) == 'train':
                        loss = _LOSS_RE.search(line)
                        msg = (f'  {name}: iter {m.group(2)}/{m.group(3)}'
                               + (f'  loss {float(loss.group(1)):.3f}' if loss else '')
                               + f'  ({time.time() - start:.0f}s)')
                        if msg != last:
                            print(msg, flush=True)
                            last = msg
                    elif ('resumed from' in line and not line.rstrip().endswith('None.')) \
                            or 'Advance' in line or 'StageHandoffHook(' in line:
                        print(f'  {name}: {line.strip().split(" - ")[-1][:160]}', flush=True)
            if ret is not None:
                return
            time.sleep(1.0)

    @staticmethod
    def _main_metric(stage: dict, done: dict):
        metrics = done.get('metrics') or {}
        key = stage.get('main_metric')
        if key and key in metrics:
            return key, float(metrics[key])
        return None

    # ------------------------------------------------------------------ export
    def export_generalist(self, stage: dict) -> Dict[str, str]:
        """Export ``cls-bn`` / ``det-bn`` / ``backbone`` checkpoints of an Up-G stage."""
        from intern_mm.models.generalist import export_generalist
        done = self.results[stage['name']]
        out_dir = osp.join(self.stage_dir(stage['name']), 'export')
        opts = dict(stage.get('export') or {})
        files = {k: osp.join(out_dir, f'{k}.pth') for k in
                 [f'{b}-bn' for b in opts.get('bn_tasks', ('cls', 'det'))] + ['backbone']}
        ckpt_time = osp.getmtime(done['checkpoint'])
        if all(osp.isfile(p) and osp.getmtime(p) >= ckpt_time for p in files.values()):
            return files
        backbone_cfg = self._probe_backbone_cfg(stage)
        return export_generalist(done['checkpoint'], out_dir, backbone_cfg=backbone_cfg, **opts)

    # --------------------------------------------------------------- downstream
    def _probe_backbone_cfg(self, stage: dict) -> dict:
        cfg = Config.fromfile(stage['config'])
        backbone = copy.deepcopy(cfg.model.backbone.to_dict())
        if stage.get('export') is not None:  # an Up-G stage: plain-BN exported backbone
            backbone.pop('bn_tasks', None)
            backbone.pop('task', None)
        for key in ('init_cfg', 'frozen_stages'):
            backbone.pop(key, None)
        if isinstance(backbone.get('main'), dict):
            backbone['main'].pop('init_cfg', None)
        backbone.update(stage.get('probe_backbone') or {})
        return backbone

    def _probe_checkpoint(self, stage: dict) -> str:
        if stage.get('export') is not None:
            return self.export_generalist(stage)['backbone']
        return self.results[stage['name']]['checkpoint']

    def run_downstream(self) -> dict:
        """Probe the upstream backbones with 10% data and train the scratch baselines."""
        from .downstream import downstream_dataset_cfg, make_subset, probe_backbone
        ds_cfg = dict(self.cfg.get('downstream') or {})
        if not ds_cfg:
            return {}
        fraction = float(ds_cfg.get('fraction', 0.1))
        seed = int(ds_cfg.get('seed', 0))
        ann_dir = osp.join(self.world_root, ds_cfg.get('ann_dir', 'downstream'))
        out_dir = osp.join(self.work_dir, 'downstream')
        subset = osp.join(out_dir, f'train_{round(fraction * 100)}pct.txt')
        n_sub = make_subset(osp.join(ann_dir, 'train.txt'), subset, fraction, seed)
        classes = osp.join(ann_dir, 'classes.txt')
        datasets = dict(
            train=downstream_dataset_cfg(self.world_root, subset, classes),
            val=downstream_dataset_cfg(self.world_root, osp.join(ann_dir, 'val.txt'), classes),
            test=downstream_dataset_cfg(self.world_root, osp.join(ann_dir, 'test.txt'),
                                        classes))
        with open(osp.join(ann_dir, 'train.txt')) as f:
            n_full = sum(1 for ln in f if ln.strip())
        result = dict(fraction=fraction, num_train_subset=n_sub, num_train_full=n_full,
                      probes={}, scratch={})
        stages = {s['name']: s for s in self.stages}
        start = time.time()
        for name in ds_cfg.get('probe_stages', [s['name'] for s in self.stages]):
            if name not in stages:
                raise KeyError(f'downstream.probe_stages names unknown stage {name!r}')
            stage = stages[name]
            _log(f'downstream: {round(fraction * 100)}% linear probe of the {name} backbone')
            res = probe_backbone(
                self._probe_backbone_cfg(stage), self._probe_checkpoint(stage), datasets,
                cache_file=osp.join(out_dir, f'probe_{name}.json'),
                seed=seed, **dict(ds_cfg.get('probe') or {}))
            _log(f'downstream: {name}: test top-1 {res["top1"]:.2f} (val {res["val_top1"]:.2f},'
                 f' lr {res["lr"]})')
            result['probes'][name] = res
        scratch = ds_cfg.get('scratch')
        if scratch:
            for frac in scratch.get('fractions', (fraction, 1.0)):
                tag = f'scratch-{round(frac * 100)}pct'
                ann = subset if frac == fraction else (
                    osp.join(ann_dir, 'train.txt') if frac == 1.0 else None)
                if ann is None:
                    ann = osp.join(out_dir, f'train_{round(frac * 100)}pct.txt')
                    make_subset(osp.join(ann_dir, 'train.txt'), ann, frac, seed)
                opts = dict(scratch.get('cfg_options') or {})
                opts['train_dataloader.dataset.ann_file'] = ann
                stage = dict(name=tag, config=osp.abspath(self._path(scratch['config'])),
                             cfg_options=opts, main_metric=scratch.get('metric',
                                                                       'accuracy/top1'))
                done = self.run_stage(stage)
                metric = stage['main_metric']
                result['scratch'][tag] = dict(
                    fraction=frac, top1=float(done['metrics'].get(metric, float('nan'))),
                    iters=done.get('iters'), wall_time_s=done.get('wall_time_s'),
                    checkpoint=done['checkpoint'])
        self.timings['downstream'] = round(time.time() - start, 1)
        return result

    # -------------------------------------------------------------------- run
    def run(self) -> dict:
        """Run the whole paradigm (skipping finished parts) and write the summary.

        Returns:
            dict: The summary (also written to ``summary.json`` / ``summary.md``).
        """
        from .summary import build_summary, render_markdown
        os.makedirs(self.work_dir, exist_ok=True)
        t0 = time.time()
        _log(f'work dir {self.work_dir}; {len(self.stages)} stages; launcher '
             f'{self.launcher}' + (f', {self.nproc} processes per stage (DDP)'
                                   if self.nproc > 1 else ''))
        meta = self.ensure_world()
        for stage in self.stages:
            self.run_stage(stage)
            if stage.get('export') is not None:
                files = self.export_generalist(stage)
                _log(f'stage {stage["name"]}: exported ' + ', '.join(
                    osp.relpath(p, self.work_dir) for p in files.values()))
        downstream = self.run_downstream()
        total = round(time.time() - t0, 1)
        summary = build_summary(self, meta, downstream, total)
        with open(osp.join(self.work_dir, 'summary.json'), 'w') as f:
            json.dump(to_jsonable(summary), f, indent=2)
        md = render_markdown(summary)
        with open(osp.join(self.work_dir, 'summary.md'), 'w') as f:
            f.write(md)
        print(md, flush=True)
        _log(f'finished in {total}s; summary: {osp.join(self.work_dir, "summary.md")}')
        return summary
