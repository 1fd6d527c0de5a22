"""Run GV-B tasks: subsets, protocols, search, resumability and result files.

Layout of a run (``work_dirs/gvb/<run-name>/``)::

    <task>/result.json        final result with provenance (presence = task finished)
    <task>/missing.json       the task's data are absent (with the prepare command)
    <task>/failed.json        the task raised (error, traceback file, retry command)
    <task>/failed_traceback.txt  the full traceback of that failure
    <task>/final/             Runner work dir of the final run (checkpoints -> resume)
    <task>/search/<trial>/    one folder per search trial (trial.json when finished)
    <task>/features_*.pt      cached features of the fast classification probe

A finished task (``result.json``) is skipped; an interrupted Runner-based run resumes
from its last checkpoint (mmengine ``resume=True``); finished search trials are reused.
A task that raises gets ``failed.json``; with ``keep_going`` (what ``tools/gvb.py run``
does) the other tasks still run; the next run retries it and removes ``failed.json``
once it succeeds. The records (file names, failure and missing-data bookkeeping,
provenance) are :mod:`intern_mm.benchmark.task_records`.

Example:
    >>> from intern_mm.benchmark.suite import SuiteConfig, run_suite
    >>> cfg = SuiteConfig(backbone="dict(type='ResNet', depth=18)", tasks='cifar10',
    ...                   data_roots={'cifar10': '../shared/datasets/cifar10'})
    >>> results = run_suite(cfg)
"""
import contextlib
import copy
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterator, List, Optional

import torch
from mmengine.dist import barrier, broadcast_object_list, get_world_size, is_main_process

from intern_mm.datasets.gvb.manifest import verify_subset
from intern_mm.datasets.gvb.subsets import make_subset
from intern_mm.models.utils import describe_backbone_outputs
from intern_mm.utils.run_record import RunRecord, dump_json

from .backbone import BackboneSpec, build_backbone, parse_backbone_spec
from .protocol_models import dense_backbone_cfg
from .protocols import (PROTOCOL_MODES, ProtocolContext, build_protocol_runner,
                        build_runner_cfg, dataset_cfgs, family_recipe, metric_keys)
from .progress import SuiteProgress
from .search import search_grid, select_best, trial_name
from .task_records import (MISSING_NAME, TRIAL_NAME, clear_failure, provenance,
                           record_failure, record_missing, task_record)
from .tasks import GVBTask, resolve_layout, select_tasks

__all__ = ['SuiteConfig', 'run_suite', 'run_task', 'task_score', 'preserve_default_scope',
           'ensure_subset', 'named_metrics', 'backbone_out_channels', 'task_context',
           'run_folder_name', 'subset_folder']


@dataclass
class SuiteConfig:
    """Options of a GV-B run (mirrors ``tools/gvb.py run``).

    Args:
        backbone (str | dict | BackboneSpec): Backbone specification.
        tasks (str): ``all``, a family, or comma-separated task names.
        mode (str): ``'probe'`` or ``'finetune'``.
        search (bool): Run the published hyper-parameter search first.
        work_dir (str): Root of the run folders. Defaults to ``work_dirs/gvb``.
        run_name (str, optional): Run folder name; derived from the backbone and mode.
        checkpoint (str, optional): Backbone checkpoint.
        backbone_cfg (str | dict, optional): Backbone config for a checkpoint.
        data_base (str): Default data root base (``<data_base>/<task>``).
        data_roots (dict): Per-task data roots (``{'cifar10': '/data/c10'}``).
        subset_base (str, optional): Where subsets live; defaults to
            ``<data_base>/subsets``.
        ratio (float): Subset ratio. Defaults to 0.1.
        shot (int, optional): k-shot subsets instead of a ratio.
        val_ratio (float): Carved validation fraction of the subset. Defaults to 0.2.
        seed (int): Seed of subsets and training. Defaults to 0.
        impl (str): Classification probe implementation: ``'cache'`` (cached features),
            ``'runner'`` (iteration by iteration) or ``'auto'`` (cache for cls probes).
        recipe (dict): Recipe overrides per family, e.g. ``{'cls': {'max_iters': 50}}``.
        cfg_options (dict, optional): Merged into every Runner config.
        launcher (str): Distributed launcher. Defaults to ``'none'``.
        num_workers (int): Data loader workers. Defaults to 2.
        device (str, optional): Device of the cached-feature probe.
        grid (list[dict], optional): Search grid (defaults to the published one).
        keep_going (bool): After a task fails (``failed.json`` written), run the others
            and return; otherwise re-raise. Distributed runs always re-raise (the other
            ranks would wait for the failed one). Defaults to False.
        command (list[str], optional): The command line that started the run
            (``[python, tools/gvb.py, 'run', ...]``); ``failed.json`` turns it into the
            command that retries the task.
        progress (bool): Print task start / end lines and the suite line.
            Defaults to True.
    """
    backbone: object
    tasks: str = 'all'
    mode: str = 'probe'
    search: bool = False
    work_dir: str = 'work_dirs/gvb'
    run_name: Optional[str] = None
    checkpoint: Optional[str] = None
    backbone_cfg: Optional[object] = None
    data_base: str = 'data/gvb'
    data_roots: Dict[str, str] = field(default_factory=dict)
    subset_base: Optional[str] = None
    ratio: float = 0.1
    shot: Optional[int] = None
    val_ratio: float = 0.2
    seed: int = 0
    impl: str = 'auto'
    recipe: Dict[str, dict] = field(default_factory=dict)
    cfg_options: Optional[dict] = None
    launcher: str = 'none'
    num_workers: int = 2
    device: Optional[str] = None
    grid: Optional[List[dict]] = None
    keep_going: bool = False
    command: Optional[List[str]] = None
    progress: bool = True


def task_score(task: GVBTask, metrics: Dict[str, float]):
    """The task's reported score from its named metrics.

    Args:
        task (GVBTask): The task.
        metrics (dict): Named metrics (``metric_keys`` names).

    Returns:
        float | dict: A number, or ``{'easy','medium','hard'}`` /
        ``{'reasonable','heavy'}`` for WIDER FACE / CityPersons.
    """
    if task.metric == 'widerface_ap':
        return {k: metrics[k] for k in ('easy', 'medium', 'hard')}
    if task.metric == 'mr':
        return {k: metrics[k] for k in ('reasonable', 'heavy')}
    return metrics[task.metric]


def named_metrics(task: GVBTask, raw: Dict[str, float]) -> Dict[str, float]:
    named = {}
    for name, key in metric_keys(task).items():
        if key not in raw:
            raise KeyError(f'task {task.name}: the evaluator returned no "{key}" '
                           f'(got {sorted(raw)})')
        value = float(raw[key])
        if task.metric == 'mAP':
            value *= 100.0  # VOCMetric reports a fraction
        named[name] = value
    return named


def run_folder_name(cfg: SuiteConfig, spec: BackboneSpec) -> str:
    """The run's folder under ``cfg.work_dir`` (``cfg.run_name``, else the backbone's name)."""
    if cfg.run_name:
        return cfg.run_name
    if spec.source != 'dict' and osp.splitext(spec.source)[1] in (
            '.py', '.json', '.yml', '.yaml', '.pth', '.pt', '.ckpt', '.bin'):
        base = osp.splitext(osp.basename(spec.source))[0]
    else:
        base = str(spec.cfg.get('type', 'backbone')).split('.')[-1]
        for key in ('arch', 'depth'):
            if key in spec.cfg:
                base += f'-{spec.cfg[key]}'
    if spec.checkpoint and spec.checkpoint != spec.source:
        base += '_' + osp.splitext(osp.basename(spec.checkpoint))[0]
    base = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in base)[:80]
    return f"{base}_{cfg.mode}{'_search' if cfg.search else ''}"


def subset_folder(cfg: SuiteConfig, task: GVBTask) -> str:
    """The folder of a task's subset lists under ``cfg`` (ratio or shot, seed, val ratio)."""
    base = cfg.subset_base or osp.join(cfg.data_base, 'subsets')
    tag = f'shot{cfg.shot}' if cfg.shot else f'ratio{cfg.ratio:g}'
    return osp.join(base, task.name, f'{tag}_seed{cfg.seed}_val{cfg.val_ratio:g}')


def _subset_sources(layout: dict, split: str) -> list:
    src = layout[split]
    return copy.deepcopy(src if isinstance(src, list) else [src])


def ensure_subset(cfg: SuiteConfig, task: GVBTask, root: str, layout: dict) -> dict:
    """Create the task's subset, or verify the existing one (fails loudly on changes).

    Args:
        cfg (SuiteConfig): Run options.
        task (GVBTask): The task.
        root (str): Data root.
        layout (dict): Resolved layout.

    Returns:
        dict: The manifest (with ``dir``).
    """
    out = subset_folder(cfg, task)
    if not is_main_process():
        barrier()  # rank 0 creates or verifies the subset first
    if osp.isfile(osp.join(out, 'manifest.json')):
        manifest = verify_subset(out, data_root=root)
    else:
        manifest = make_subset(
            layout['format'], root, out, _subset_sources(layout, 'train'),
            ratio=cfg.ratio, shot=cfg.shot, val_ratio=cfg.val_ratio, seed=cfg.seed,
            classes=list(task.classes) if task.classes else None,
            test_sources=_subset_sources(layout, 'test'))
    if is_main_process():
        barrier()
    manifest = dict(manifest)
    manifest['dir'] = osp.abspath(out)
    return manifest


@contextlib.contextmanager
def preserve_default_scope() -> Iterator[None]:
    """Restore mmengine's default-scope instances afterwards.

    A Runner makes its config's ``default_scope`` (``mmdet``, ``mmseg``, ...) the current
    one for the rest of the process; a suite running several families, or code running
    after it, must not inherit that.
    """
    from mmengine.registry import DefaultScope
    saved = copy.copy(DefaultScope._instance_dict)
    try:
        yield
    finally:
        DefaultScope._instance_dict = saved


def _runner_metrics(ctx: ProtocolContext) -> Dict[str, float]:
    with preserve_default_scope():
        runner = build_protocol_runner(build_runner_cfg(ctx))
        runner.train()
        raw = runner.test()
    return named_metrics(ctx.task, raw)


class _FeatureStore:
    """Extract-once feature cache of one task (in memory and on disk)."""

    def __init__(self, ctx: ProtocolContext, task_dir: str, device: str):
        self.ctx = ctx
        self.task_dir = task_dir
        self.device = device
        self._module = None
        self._cache = {}

    def _backbone(self):
        if self._module is None:
            # seeded like the Runner protocol: a randomly initialised backbone (no
            # checkpoint) must give the same features in every run
            torch.manual_seed(self.ctx.seed)
            self._module = build_backbone(self.ctx.backbone)
        return self._module

    def get(self, split: str):
        from .feature_probe import build_cls_dataset, extract_features
        if split in self._cache:
            return self._cache[split]
        path = osp.join(self.task_dir, f'features_{split}.pt')
        if osp.isfile(path):
            self._cache[split] = tuple(torch.load(path, weights_only=True))
            return self._cache[split]
        ctx = copy.copy(self.ctx)
        if split == 'test':
            ctx.eval_split = 'test'
            _, ds = dataset_cfgs(ctx)
        else:
            ctx.train_split = split
            ds, _ = dataset_cfgs(ctx)
        from mmengine.registry import DefaultScope
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            dataset = build_cls_dataset(ds)
        feats = extract_features(self._backbone(), dataset,
                                 data_preprocessor=self.ctx.backbone.data_preprocessor,
                                 batch_size=self.ctx.recipe['test_batch_size'],
                                 num_workers=self.ctx.num_workers, device=self.device)
        torch.save(list(feats), path)
        self._cache[split] = feats
        return feats


def _cache_metrics(store: _FeatureStore, recipe: dict, train_split: str, eval_split: str,
                   seed: int, num_classes: int, device: str) -> Dict[str, float]:
    from .feature_probe import evaluate_linear_head, train_linear_head
    feats, labels = store.get(train_split)
    head = train_linear_head(
        feats, labels, num_classes, lr=recipe['lr'], momentum=recipe['momentum'],
        weight_decay=recipe['weight_decay'], max_iters=recipe['max_iters'],
        milestones=recipe['milestones'], gamma=recipe['gamma'],
        batch_size=recipe['batch_size'], seed=seed, device=device)
    test_feats, test_labels = store.get(eval_split)
    return evaluate_linear_head(head, test_feats, test_labels)


def backbone_out_channels(spec: BackboneSpec, family: str) -> list:
    cfg = dense_backbone_cfg(spec.cfg) if family != 'cls' else spec.cfg
    module = build_backbone(BackboneSpec(cfg=cfg))
    return describe_backbone_outputs(module)


def _out_channels(cache: Optional[dict], spec: BackboneSpec, family: str) -> list:
    """The backbone's output shapes for ``family``, computed once per cache."""
    cache = cache if cache is not None else {}
    key = 'cls' if family == 'cls' else 'dense'
    if key not in cache:
        cache[key] = backbone_out_channels(spec, family)
    return cache[key]


def _choose_impl(cfg: SuiteConfig, task: GVBTask) -> str:
    """``cfg.impl`` with ``'auto'`` resolved: ``'cache'`` for the cls probe, else runner."""
    impl = cfg.impl
    if impl == 'auto':
        impl = 'cache' if (task.family == 'cls' and cfg.mode == 'probe') else 'runner'
    if impl == 'cache' and (task.family != 'cls' or cfg.mode != 'probe'):
        raise ValueError('the cached-feature implementation exists only for the '
                         'classification probe')
    return impl


def _evaluator(base_ctx: ProtocolContext, store: Optional[_FeatureStore], seed: int,
               device: str) -> Callable[[dict, str, str, str], Dict[str, float]]:
    """``evaluate(recipe, train_split, eval_split, work_dir)`` -> metrics for one task."""
    task = base_ctx.task

    def evaluate(trial_recipe: dict, train_split: str, eval_split: str,
                 work_dir: str) -> Dict[str, float]:
        if store is not None:
            # one process is enough for the cached-feature probe: rank 0 computes
            metrics = [None]
            if is_main_process():
                metrics[0] = _cache_metrics(store, trial_recipe, train_split, eval_split,
                                            seed, task.num_classes, device)
            if get_world_size() > 1:
                broadcast_object_list(metrics)
            return metrics[0]
        ctx = copy.copy(base_ctx)
        ctx.recipe = trial_recipe
        ctx.train_split, ctx.eval_split, ctx.work_dir = train_split, eval_split, work_dir
        return _runner_metrics(ctx)

    return evaluate


def _search(cfg: SuiteConfig, task: GVBTask, task_dir: str, recipe: dict,
            evaluate: Callable) -> tuple:
    """Run (or resume) the val-split grid search when ``cfg.search``.

    Returns:
        tuple: The trial records and the recipe for the final run (``recipe`` updated
        with the best trial's parameters when searching).
    """
    trials = []
    final_recipe = dict(recipe)
    if cfg.search:
        for params in (cfg.grid or search_grid()):
            tdir = osp.join(task_dir, 'search', trial_name(params))
            os.makedirs(tdir, exist_ok=True)
            trial = RunRecord(tdir, done_name=TRIAL_NAME)
            record = trial.done()
            if record is None:
                metrics = evaluate(dict(recipe, **params), 'train', 'val', tdir)
                record = dict(params=params, metrics=metrics,
                              score=task_score(task, metrics))
                if is_main_process():
                    trial.mark_done(record)
            trials.append(record)
        best = select_best(trials, task.lower_is_better)
        if best is None:
            raise RuntimeError(f'task {task.name}: every search trial failed to score')
        final_recipe.update(best['params'])
    return trials, final_recipe


def task_context(cfg: SuiteConfig, task: GVBTask, spec: BackboneSpec, root: str,
                 layout: dict, subset_dir: str, recipe: dict, out_channels: list,
                 **kwargs) -> ProtocolContext:
    """The :class:`ProtocolContext` of a task's runs under ``cfg``: the one built by
    :func:`run_task` and previewed by ``tools/gvb.py show-config``. ``kwargs`` are further
    context fields (``work_dir``, ``check_files``)."""
    return ProtocolContext(
        task=task, data_root=root, layout=layout, subset_dir=subset_dir, backbone=spec,
        out_channels=out_channels, mode=cfg.mode, recipe=recipe, seed=cfg.seed,
        num_workers=cfg.num_workers, launcher=cfg.launcher, cfg_options=cfg.cfg_options,
        log_interval=min(50, recipe.get('max_iters', 50)), **kwargs)


def run_task(cfg: SuiteConfig, task: GVBTask, spec: BackboneSpec, run_dir: str,
             out_channels_cache: Optional[dict] = None) -> dict:
    """Run (or skip / resume) one task and write its ``result.json``.

    Args:
        cfg (SuiteConfig): Run options.
        task (GVBTask): The task.
        spec (BackboneSpec): The backbone.
        run_dir (str): The run folder.
        out_channels_cache (dict, optional): Shared cache of backbone output shapes.

    Returns:
        dict: The result (``status`` is ``'done'``, ``'skipped'`` (already done) or
        ``'missing'``).
    """
    task_dir = osp.join(run_dir, task.name)
    os.makedirs(task_dir, exist_ok=True)
    record = task_record(task_dir)
    done = record.done()
    if done is not None:
        return dict(done, status='skipped')
    root = cfg.data_roots.get(task.name) or task.default_root(cfg.data_base)
    layout, missing = resolve_layout(task, root)
    if layout is None:
        return record_missing(task, root, missing, task_dir)
    if is_main_process():
        record.remove(MISSING_NAME)
    start = time.perf_counter()
    manifest = ensure_subset(cfg, task, root, layout)
    recipe = family_recipe(task, cfg.recipe.get(task.family))
    out_channels = _out_channels(out_channels_cache, spec, task.family)
    impl = _choose_impl(cfg, task)
    device = cfg.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    base_ctx = task_context(cfg, task, spec, root, layout, manifest['dir'], recipe,
                            out_channels)
    store = _FeatureStore(base_ctx, task_dir, device) if impl == 'cache' else None
    evaluate = _evaluator(base_ctx, store, cfg.seed, device)
    trials, final_recipe = _search(cfg, task, task_dir, recipe, evaluate)
    metrics = evaluate(final_recipe, 'subset', 'test', osp.join(task_dir, 'final'))
    result = dict(
        task=task.name, title=task.title, family=task.family, column=task.column,
        in_gvb=task.in_gvb, metric=task.metric, lower_is_better=task.lower_is_better,
        score=task_score(task, metrics), metrics=metrics, mode=cfg.mode, impl=impl,
        search=dict(enabled=cfg.search, trials=trials,
                    best=final_recipe if cfg.search else None),
        recipe=final_recipe, seed=cfg.seed,
        subset={k: manifest[k] for k in ('dir', 'manifest_sha256', 'counts', 'ratio',
                                         'shot')},
        data_root=osp.abspath(root), backbone=spec.to_dict(),
        provenance=provenance(), wall_time_s=time.perf_counter() - start,
        status='done')
    if is_main_process():
        record.mark_done(result)
    return result


def run_suite(cfg: SuiteConfig) -> List[dict]:
    """Run every requested task (finished ones are skipped, interrupted ones resume).

    A task that raises writes ``<task>/failed.json`` (error, traceback file, retry
    command); with ``cfg.keep_going`` the other tasks go on and its entry in the returned
    list has ``status='failed'``, otherwise the exception propagates (after the record).
    A task that succeeds removes an earlier ``failed.json``.

    Args:
        cfg (SuiteConfig): Run options.

    Returns:
        list[dict]: One result per task (``done``, ``skipped``, ``missing`` or
        ``failed``).
    """
    if cfg.mode not in PROTOCOL_MODES:
        raise ValueError(f'unknown mode "{cfg.mode}", expected one of {PROTOCOL_MODES}')
    spec = parse_backbone_spec(cfg.backbone, checkpoint=cfg.checkpoint,
                               backbone_cfg=cfg.backbone_cfg)
    tasks = select_tasks(cfg.tasks)
    run_dir = osp.join(cfg.work_dir, run_folder_name(cfg, spec))
    os.makedirs(run_dir, exist_ok=True)
    main = is_main_process()
    if main:
        dump_json(osp.join(run_dir, 'run.json'), dict(
            config={k: v for k, v in asdict(cfg).items() if k != 'backbone'},
            backbone=spec.to_dict(), tasks=[t.name for t in tasks],
            provenance=provenance()))
    pending = [t.name for t in tasks
               if not task_record(osp.join(run_dir, t.name)).is_done()]
    progress = SuiteProgress([(t.name, t.family) for t in tasks], pending=pending,
                             enabled=cfg.progress and main)
    results = []
    cache: dict = {}
    for task in tasks:
        progress.start(task.name)
        start = time.perf_counter()
        try:
            result = run_task(cfg, task, spec, run_dir, cache)
        except Exception as exc:  # noqa: BLE001  (recorded, then isolated or re-raised)
            result = record_failure(cfg, task, run_dir, exc, time.perf_counter() - start)
            progress.end(task.name, result)
            if not cfg.keep_going or get_world_size() > 1:
                raise
            results.append(result)
            continue
        if main:
            clear_failure(run_dir, task.name)
        progress.end(task.name, result)
        results.append(result)
    return results
