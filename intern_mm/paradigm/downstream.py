"""Downstream-Adaptation, INTERN's fourth learning stage, on GV-B tasks.

Every adaptation run goes through the GV-B machinery, so the paradigm and
``tools/gvb.py`` compute the same thing:

* rows (:mod:`.downstream_rows`): a *family* row (``cls`` / ``det`` / ``seg`` /
  ``depth``) is the GV world's downstream task of the family, registered as a GV-B task
  (:mod:`intern_mm.benchmark.gv_world_tasks`: count / colour boxes / texture masks /
  depth, none supervised upstream) under the world root; a *task* row of
  ``downstream.tasks`` is any GV-B task (the 26, the stand-ins, the world's four) with
  its own data root (no world needed);
* subsets: :func:`intern_mm.benchmark.suite.ensure_subset` (seeded, stratified, with a
  manifest; verified when it exists). The world has its own ``val`` split, so no
  validation part is carved out of the 10% (``val_ratio=0``); a task without one has its
  validation split carved out of each subset (the row's ``val_ratio``, default 0.2) and
  its runs train on the rest (the subset's ``train`` list);
* protocols: :func:`intern_mm.benchmark.protocols.build_runner_cfg` (``probe``: frozen
  backbone, task head trained; ``finetune``: everything trained), and for the
  classification probe the cached-feature probe of
  :mod:`intern_mm.benchmark.feature_probe` over the published search grid
  (:func:`~intern_mm.benchmark.search.search_grid`, chosen by
  :func:`~intern_mm.benchmark.search.select_best` on ``val``);
* ``ota``: :func:`intern_mm.benchmark.ota.run_ota`: the foundation model fine-tuned on
  the 10% (this module's ``finetune`` run) is distilled into a small student on images
  derived from the 10% (no upstream data) and the student is adapted on the 10% labels.

Every run trains on the training subset, is scored on the ``val`` split (for
selection) and on ``test`` (reported), and writes ``result.json`` and the Runner config
it ran (``run_config.py``) in its folder ``<row>/<backbone>/<protocol>_<pct>pct``; a
finished run is skipped, an interrupted Runner run resumes from its last checkpoint, and
a run whose backbone checkpoint, recipe or options changed since (``backbone.json``)
starts afresh.

Example:
    >>> adapter = DownstreamAdapter('data/gv_world', 'work_dirs/demo/downstream')
    >>> spec = BackboneSpec(cfg=dict(type='intern_mm.MetaNet', arch='tiny',
    ...                              out_indices=(4, )), checkpoint='up-a.pth')
    >>> adapter.run('cls', 'up-a', spec, 'probe')['test_score']  # doctest: +SKIP
    >>> rows = DownstreamAdapter(None, 'work_dirs/demo/downstream', tasks=dict(
    ...     c10=dict(task='cifar10', data_root='../shared/datasets/cifar10')))
    ... # doctest: +SKIP
    >>> rows.images('c10')['test'][:1]  # doctest: +SKIP
    ['/.../shared/datasets/cifar10/test/airplane/0000.png']
"""
import copy
import importlib
import os.path as osp
import time
from typing import Callable, Dict, List, Optional

import torch

from intern_mm.benchmark.backbone import BackboneSpec, normalize_backbone_type
from intern_mm.benchmark.protocols import (ProtocolContext, build_protocol_runner,
                                           build_runner_cfg, dataset_cfgs, family_recipe,
                                           scale_schedule, write_run_config)
from intern_mm.benchmark.search import search_grid, select_best
from intern_mm.benchmark.suite import (SuiteConfig, named_metrics, backbone_out_channels,
                                       ensure_subset, preserve_default_scope, task_score)
from intern_mm.benchmark.tasks import GVBTask, resolve_layout
from intern_mm.utils.checkpoint import last_checkpoint
from intern_mm.utils.run_record import RunRecord, normalize_json
from .downstream_rows import (DownstreamRow, family_row, layout_sources, parse_task_rows,
                              split_images, subset_list_sources)

__all__ = ['DownstreamAdapter', 'ADAPT_PROTOCOLS', 'SCRATCH_PROTOCOLS', 'backbone_spec',
           'OTA_FUNCTION']

#: Protocols of a pre-trained backbone (fraction = the subset) and of the scratch baseline.
ADAPT_PROTOCOLS = ('probe', 'finetune', 'ota')
SCRATCH_PROTOCOLS = ('10pct', '100pct')
#: ``module:function`` of the OTA protocol (built by the distillation work).
OTA_FUNCTION = 'intern_mm.benchmark.ota:run_ota'
RESULT_FILE = 'result.json'
STAMP_FILE = 'backbone.json'


def backbone_spec(cfg: dict, checkpoint: Optional[str]) -> BackboneSpec:
    """A GV-B :class:`BackboneSpec` of a stage's backbone config and weights.

    Args:
        cfg (dict): Backbone config (intern_mm scope by default).
        checkpoint (str, optional): Weights (full model or ``backbone.*``); None = random.

    Returns:
        BackboneSpec: The spec.
    """
    cfg = copy.deepcopy(cfg)
    if '.' not in str(cfg.get('type', '')):
        cfg['type'] = f"intern_mm.{cfg['type']}"
    return BackboneSpec(cfg=normalize_backbone_type(cfg), checkpoint=checkpoint,
                        source=checkpoint or 'random init')


def run_record(run_dir: str) -> RunRecord:
    """The record of a downstream run folder: done-marker ``result.json``, stamp
    ``backbone.json`` (backbone checkpoint and mtime, recipe, Runner / OTA options).

    Args:
        run_dir (str): The run folder.

    Returns:
        RunRecord: Its record.
    """
    return RunRecord(run_dir, done_name=RESULT_FILE, stamp_name=STAMP_FILE)


def _legacy_stamp_matches(old: dict, stamp: dict, done: Optional[dict]) -> bool:
    """A stamp of a version that recorded only the checkpoint: the run stands when the
    checkpoint and the recipe its ``result.json`` records match (the stamp is then
    rewritten in the current form by :meth:`RunRecord.stamp_matches`)."""
    if set(old) != {'checkpoint', 'ckpt_mtime'} or done is None:
        return False
    return old == {k: stamp[k] for k in old} and done.get('recipe') == stamp['recipe']


class DownstreamAdapter:
    """Run adaptation protocols of backbones on downstream rows (GV-B tasks).

    Args:
        world_root (str, optional): GV world root (``docs/gv_world.md``): the data of
            the family rows ``cls`` / ``det`` / ``seg`` / ``depth``. None: no world (only
            ``tasks`` rows can run).
        work_dir (str): Output folder (subsets, one folder per run).
        fraction (float): Training fraction of the adaptation protocols. Defaults to 0.1.
        seed (int): Subset and training seed. Defaults to 0.
        recipes (dict, optional): Per-row recipe overrides (GV-B recipe keys; a family
            is a row name), under a task row's own ``recipe``.
        cfg_options (dict, optional): Runner overrides per protocol (``'probe'``,
            ``'finetune'``) and for the scratch baselines (``'scratch'``), e.g.
            ``{'finetune': {'optim_wrapper.paramwise_cfg': dict(custom_keys=dict(
            backbone=dict(lr_mult=0.1)))}}``.
        probe_grid (list[dict], optional): Grid of the cached classification probe
            (default: the published 18-trial GV-B grid).
        ota (dict, optional): Keyword arguments of the OTA function (e.g. ``student``).
        verbose (bool): Keep the Runners' INFO logs on the console. Defaults to False.
        log (Callable, optional): Progress printer.
        tasks (dict, optional): ``downstream.tasks`` rows: ``{row: dict(task=GVB_TASK,
            data_root=PATH, [recipe=dict(...)], [val_ratio=0.2])}``
            (:mod:`.downstream_rows`); checked here, one line per bad row.

    Example:
        >>> adapter = DownstreamAdapter('data/gv_world', '/tmp/ds', fraction=0.1)
        >>> adapter.task('det').name
        'gvw_colour_det'
    """

    def __init__(self,
                 world_root: Optional[str],
                 work_dir: str,
                 fraction: float = 0.1,
                 seed: int = 0,
                 recipes: Optional[Dict[str, dict]] = None,
                 cfg_options: Optional[Dict[str, dict]] = None,
                 probe_grid: Optional[list] = None,
                 ota: Optional[dict] = None,
                 verbose: bool = False,
                 log: Optional[Callable[[str], None]] = None,
                 tasks: Optional[Dict[str, dict]] = None) -> None:
        self.world_root = osp.abspath(world_root) if world_root else None
        self.work_dir = osp.abspath(work_dir)
        self.fraction = float(fraction)
        self.seed = int(seed)
        self.recipes = dict(recipes or {})
        self.cfg_options = dict(cfg_options or {})
        self.probe_grid = probe_grid
        self.ota = dict(ota or {})
        self.verbose = verbose
        self.log = log or (lambda msg: None)
        self.task_rows: Dict[str, DownstreamRow] = parse_task_rows(tasks)
        self._layouts: Dict[str, dict] = {}

    # ------------------------------------------------------------------ rows
    def row(self, row: str) -> DownstreamRow:
        """A ``downstream.tasks`` row, else the family row of that name."""
        if row in self.task_rows:
            return self.task_rows[row]
        return family_row(row, self.world_root)

    def task(self, row: str) -> GVBTask:
        """The GV-B task of a row (a family: the world's downstream task)."""
        return self.row(row).task

    def layout(self, row: str) -> dict:
        """The task's resolved layout under the row's data root (missing files raise)."""
        if row not in self._layouts:
            r = self.row(row)
            if r.data_root is None:
                raise ValueError(f'downstream family "{row}" is the GV world\'s task and '
                                 'needs world.root; without a world give downstream.tasks '
                                 'rows instead')
            task = r.task
            layout, missing = resolve_layout(task, r.data_root)
            if 'val' in task.layout:
                val_ann = osp.join(r.data_root, task.layout['val']['ann_file'])
                if not osp.exists(val_ann):
                    missing.append(val_ann)
            if layout is None or missing:
                hint = ('a world written before the downstream tasks existed: delete its '
                        'meta.json to regenerate it' if r.is_family else
                        f'row {row}; prepare: {task.prepare}')
                raise FileNotFoundError(
                    f'downstream task {task.name}: missing {", ".join(missing)} ({hint})')
            self._layouts[row] = layout
        return self._layouts[row]

    def subset(self, row: str, fraction: float) -> dict:
        """Create or verify the task's training subset (GV-B subsets, manifest); a task
        row's subsets live in ``subsets/<row>/`` and carry its carved val split."""
        r = self.row(row)
        base = osp.join(self.work_dir, 'subsets', *(() if r.is_family else (r.name, )))
        cfg = SuiteConfig(backbone=None, subset_base=base, ratio=fraction,
                          val_ratio=r.val_ratio, seed=self.seed)
        manifest = ensure_subset(cfg, r.task, r.data_root, self.layout(row))
        if r.carved_val and not manifest['counts']['val']:
            raise ValueError(
                f'downstream row {row}: the validation split carved out of its '
                f'{fraction:g} subset ({manifest["counts"]["subset"]} units) is empty '
                '(strata of one unit stay in training): raise downstream.fraction or the '
                "row's val_ratio")
        return manifest

    def recipe(self, row: str, fraction: float, schedule: float = 1,
               overrides: Optional[dict] = None) -> dict:
        """The row's recipe; detection repeats the subset so that every fraction gets
        the same number of iterations (``repeat`` scaled by ``self.fraction / fraction``);
        ``schedule`` trains that many times as long
        (:func:`~intern_mm.benchmark.protocols.scale_schedule`); ``overrides`` (one
        run's recipe keys, e.g. a counterpart's learning rate) apply last.
        """
        r = self.row(row)
        overrides = {**(self.recipes.get(row) or {}), **(r.recipe or {}),
                     **(overrides or {})}
        recipe = family_recipe(r.task, overrides)
        if r.task.family == 'det' and fraction != self.fraction:
            recipe['repeat'] = max(1, int(round(recipe.get('repeat', 1) * self.fraction /
                                                fraction)))
        return scale_schedule(recipe, schedule)

    def images(self, row: str) -> Dict[str, List[str]]:
        """Absolute image paths of a row's ``train`` / ``val`` / ``test`` splits, as its
        GV-B datasets read them (for the leak check).

        ``train`` is the task's whole training split (every fraction's runs train on a
        part of it); ``val`` is the task's own validation split, or the one carved out
        of the adapter's fraction subset (part of ``train``; the subset is made here).

        Args:
            row (str): Row name.

        Returns:
            dict[str, list[str]]: ``train`` / ``val`` / ``test`` -> image paths.
        """
        r = self.row(row)
        layout = self.layout(row)
        fmt = layout['format']
        if r.carved_val:
            val = subset_list_sources(fmt, layout, self.subset(row, self.fraction)['dir'],
                                      'val')
        else:
            val = layout_sources(layout, 'val')
        return {split: split_images(fmt, r.data_root, sources) for split, sources in (
            ('train', layout_sources(layout, 'train')), ('val', val),
            ('test', layout_sources(layout, 'test')))}

    def _context(self, row: str, spec: BackboneSpec, mode: str, fraction: float,
                 work_dir: str, cfg_options: Optional[dict], options_key: str,
                 recipe: Optional[dict] = None) -> ProtocolContext:
        """A run's protocol context; ``recipe`` defaults to the row's at ``fraction``."""
        recipe = self.recipe(row, fraction) if recipe is None else recipe
        r = self.row(row)
        manifest = self.subset(row, fraction)
        options = self._options(options_key, cfg_options)
        if not self.verbose:
            options.setdefault('log_level', 'WARNING')
        units = manifest['counts'][r.train_split]
        if r.task.family != 'det' and recipe.get('batch_size', 0) > units:
            # training drops the last incomplete batch: an epoch would yield none
            raise ValueError(
                f'downstream {row}: batch_size {recipe["batch_size"]} is larger than the '
                f'{units} training images of its {fraction:g} subset (set '
                f'downstream.recipes.{row}.batch_size <= {units})')
        return ProtocolContext(
            task=r.task, data_root=r.data_root, layout=self.layout(row),
            subset_dir=manifest['dir'], backbone=spec,
            out_channels=backbone_out_channels(spec, r.task.family), mode=mode,
            recipe=recipe, work_dir=work_dir, train_split=r.train_split,
            eval_split='test', seed=self.seed, num_workers=0,
            log_interval=max(1, min(50, recipe.get('max_iters', 50))), cfg_options=options)

    @staticmethod
    def split_context(ctx: ProtocolContext, split: str) -> ProtocolContext:
        """A copy of ``ctx`` that evaluates on ``split``: the layout's (the world's
        ``val``), else the subset's list of that name (a carved ``val``)."""
        ctx = copy.copy(ctx)
        if split in ctx.layout:
            ctx.layout = dict(ctx.layout, test=ctx.layout[split])
            ctx.eval_split = 'test'
        else:
            ctx.eval_split = split
        return ctx

    # -------------------------------------------------------------- protocols
    def run_dir(self, row: str, name: str, protocol: str, fraction: float,
                schedule: float = 1) -> str:
        """A run's folder: ``<row>/<name>/<protocol>_<pct>pct`` (``_<schedule>x``)."""
        return osp.join(self.work_dir, row, name, f'{protocol}_{round(fraction * 100)}pct'
                        + (f'_{schedule:g}x' if schedule != 1 else ''))

    def run(self, row: str, name: str, spec: BackboneSpec, protocol: str,
            fraction: Optional[float] = None, cfg_options: Optional[dict] = None,
            scratch: bool = False, schedule: float = 1, recipe: Optional[dict] = None,
            **kwargs) -> dict:
        """Run (or reuse) one adaptation run and return its result.

        Args:
            row (str): A family (``'cls'``, ``'det'``, ``'seg'``, ``'depth'``: the
                world's task) or a ``downstream.tasks`` row.
            name (str): Backbone name (folder name).
            spec (BackboneSpec): The backbone.
            protocol (str): ``'probe'``, ``'finetune'`` or ``'ota'``.
            fraction (float, optional): Training fraction (default: ``self.fraction``).
            cfg_options (dict, optional): Extra Runner overrides of this run.
            scratch (bool): A from-scratch baseline: the ``'scratch'`` entry of the
                adapter's ``cfg_options`` applies instead of the protocol's.
            schedule (float): Train this many times as long as the recipe (a
                counterpart's schedule grid point; folder suffix ``_<schedule>x``).
                Defaults to 1.
            recipe (dict, optional): This run's recipe keys over the row's (a
                counterpart's ``recipes``). Defaults to None.
            **kwargs: OTA: ``teacher_checkpoint`` (the backbone fine-tuned on the
                subset) and ``student`` (:class:`BackboneSpec`), then options of the OTA
                function (``distill``, ``student_recipe``).

        Returns:
            dict: ``task``, ``family`` (and ``row`` / ``data_root`` of a task row),
            ``val`` / ``test`` (named metrics), ``val_score`` / ``test_score``,
            ``metric``, ``lower_is_better``, ``fraction``, ``num_train``, ``time_s``,
            ``final_checkpoint`` (Runner runs) and the probe's search trials.
        """
        fraction = self.fraction if fraction is None else float(fraction)
        if protocol not in ADAPT_PROTOCOLS:
            raise ValueError(f'unknown protocol "{protocol}", expected one of '
                             f'{ADAPT_PROTOCOLS}')
        r = self.row(row)
        run_dir = self.run_dir(row, name, protocol, fraction, schedule)
        mode = 'finetune' if protocol == 'ota' else protocol
        record = run_record(run_dir)
        recipe = self.recipe(row, fraction, schedule, recipe)
        stamp = self._run_stamp(
            record, spec, f'{row}/{name}/{protocol}', recipe=recipe,
            options=self._options('scratch' if scratch else mode, cfg_options),
            ota=self._ota_stamp(kwargs) if protocol == 'ota' else None,
            **({} if r.is_family else dict(row=dict(
                task=r.task.name, data_root=r.data_root, val_ratio=r.val_ratio))))
        done = record.done()
        if done is not None:
            return done
        record.write_stamp(stamp)
        start = time.time()
        ctx = self._context(row, spec, mode, fraction, run_dir, cfg_options,
                            'scratch' if scratch else mode, recipe)
        torch.manual_seed(self.seed)
        metrics, result_extra = self._adapt(ctx, protocol, run_dir, **kwargs)
        if not r.is_family:
            result_extra.update(row=row, data_root=r.data_root)
        return record.mark_done(self._result(
            r, name, protocol, fraction, metrics, self.subset(row, fraction), ctx,
            time_s=round(time.time() - start, 1), schedule=schedule, **result_extra))

    @staticmethod
    def _result(r: DownstreamRow, name: str, protocol: str, fraction: float,
                metrics: dict, manifest: dict, ctx: ProtocolContext, time_s: float,
                **extra) -> dict:
        """The ``result.json`` of a run."""
        task = r.task
        return dict(
            task=task.name, family=task.family, backbone=name, protocol=protocol,
            fraction=fraction, metric=task.metric, lower_is_better=task.lower_is_better,
            val=metrics['val'], test=metrics['test'],
            val_score=task_score(task, metrics['val']),
            test_score=task_score(task, metrics['test']),
            trials=metrics.get('trials'), num_train=manifest['counts'][r.train_split],
            subset=dict(dir=manifest['dir'], manifest_sha256=manifest['manifest_sha256']),
            checkpoint=ctx.backbone.checkpoint, recipe=ctx.recipe,
            final_checkpoint=last_checkpoint(ctx.work_dir), time_s=time_s, **extra)

    def _options(self, key: str, cfg_options: Optional[dict]) -> dict:
        """Runner overrides of a run: the adapter's for ``key`` (a protocol mode or
        ``'scratch'``), updated with the run's own."""
        options = copy.deepcopy(self.cfg_options.get(key) or {})
        options.update(cfg_options or {})
        return options

    def _ota_stamp(self, kwargs: dict) -> dict:
        """The OTA settings of a run, with the teacher checkpoint's mtime (a redone
        fine-tuning run redoes its OTA run)."""
        teacher = kwargs.get('teacher_checkpoint')
        return dict(self.ota, **kwargs,
                    teacher_mtime=osp.getmtime(teacher) if teacher and osp.exists(teacher)
                    else None)

    def _run_stamp(self, record: RunRecord, spec: BackboneSpec, what: str,
                   **settings) -> dict:
        """What a run depends on: the backbone checkpoint (path, mtime), the recipe and
        the Runner / OTA options. The run folder is removed when it was made with other
        ones (``what`` names the run in the log line), so a changed recipe is rerun."""
        stamp = normalize_json(dict(
            checkpoint=spec.checkpoint,
            ckpt_mtime=osp.getmtime(spec.checkpoint) if spec.checkpoint else None,
            **settings))
        if not record.stamp_matches(stamp, upgrade=_legacy_stamp_matches):
            self.log(f'downstream {what}: the backbone checkpoint or the recipe '
                     'changed, rerunning')
            record.clear()
        return stamp

    def _adapt(self, ctx: ProtocolContext, protocol: str, run_dir: str, **kwargs) -> tuple:
        """Run the protocol; returns its metrics and the result's extra entries."""
        result_extra = {}
        if protocol == 'probe' and ctx.task.family == 'cls':
            metrics = self._cached_probe(ctx)
        elif protocol == 'ota':
            metrics = self._ota(ctx, run_dir, **kwargs)
            result_extra = dict(student=metrics['student'], teacher=metrics['teacher'])
        else:
            metrics = self._runner(ctx)
        return metrics, result_extra

    def _runner(self, ctx: ProtocolContext) -> dict:
        """Train through mmengine's Runner; score on ``val`` and ``test``."""
        from mmengine.runner import TestLoop
        val_cfg = build_runner_cfg(self.split_context(ctx, 'val'))
        with preserve_default_scope():  # writes run_config.py into the run folder
            runner = build_protocol_runner(build_runner_cfg(ctx))
            runner.train()
            test_raw = runner.test()
            val_raw = TestLoop(runner, val_cfg['test_dataloader'],
                               val_cfg['test_evaluator']).run()
        return dict(val=named_metrics(ctx.task, val_raw),
                    test=named_metrics(ctx.task, test_raw))

    def _cached_probe(self, ctx: ProtocolContext) -> dict:
        """GV-B's cached-feature linear probe; grid point chosen on ``val``. It builds
        no Runner; the Runner config of the chosen grid point, which computes the same,
        is written as ``run_config.py``."""
        from mmengine.registry import DefaultScope
        from intern_mm.benchmark.backbone import build_backbone
        from intern_mm.benchmark.feature_probe import (build_cls_dataset,
                                                       evaluate_linear_head,
                                                       extract_features,
                                                       train_linear_head)
        module = build_backbone(ctx.backbone)
        feats = {}
        for split in ('train', 'val', 'test'):
            sctx = ctx if split == 'train' else self.split_context(ctx, split)
            train_ds, eval_ds = dataset_cfgs(sctx)
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                dataset = build_cls_dataset(train_ds if split == 'train' else eval_ds)
            feats[split] = extract_features(
                module, dataset, data_preprocessor=ctx.backbone.data_preprocessor,
                batch_size=ctx.recipe['test_batch_size'])
        r = ctx.recipe
        trials = []
        for params in (self.probe_grid or search_grid()):
            head = train_linear_head(
                *feats['train'], ctx.task.num_classes, lr=params['lr'],
                momentum=params['momentum'], weight_decay=params['weight_decay'],
                max_iters=r['max_iters'], milestones=r['milestones'], gamma=r['gamma'],
                batch_size=r['batch_size'], seed=self.seed)
            val = evaluate_linear_head(head, *feats['val'])
            test = evaluate_linear_head(head, *feats['test'])
            trials.append(dict(params=params, val=val, test=test, score=val[ctx.task.metric]))
        best = select_best(trials, ctx.task.lower_is_better)
        # the Runner config that computes the same (the chosen grid point), for the reader
        chosen = copy.copy(ctx)
        chosen.recipe = dict(ctx.recipe, **best['params'])
        write_run_config(build_runner_cfg(chosen))
        return dict(val=best['val'], test=best['test'], trials=trials)

    def _ota(self, ctx: ProtocolContext, run_dir: str, teacher_checkpoint: str,
             student: BackboneSpec, **kwargs) -> dict:
        """OTA (``OTA_FUNCTION``): the fine-tuned teacher distilled into ``student`` on
        images derived from the subset, the student adapted and scored on ``test``; its
        adapted checkpoint is then scored on ``val`` as well."""
        module_name, func_name = OTA_FUNCTION.split(':')
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as err:
            raise NotImplementedError(f'the ota protocol needs {OTA_FUNCTION} ({err})')
        options = dict(self.ota, **kwargs)
        options.pop('student', None)
        with preserve_default_scope():
            out = func(ctx=ctx, student_backbone=student, work_dir=run_dir,
                       teacher_checkpoint=teacher_checkpoint, **options)
        # the adapted student on the val split (weights only, no training)
        adapted = copy.copy(ctx)
        adapted.backbone = BackboneSpec(
            cfg=copy.deepcopy(out['student']['cfg']), checkpoint=out['student']['checkpoint'],
            data_preprocessor=ctx.backbone.data_preprocessor, source='ota-student')
        adapted.out_channels = backbone_out_channels(adapted.backbone, ctx.task.family)
        adapted.recipe = out['recipe']
        adapted.work_dir = osp.join(run_dir, 'adapt')
        final = last_checkpoint(adapted.work_dir)
        val_ctx = self.split_context(adapted, 'val')
        val_ctx.work_dir = osp.join(run_dir, 'val')
        val_ctx.cfg_options = dict(val_ctx.cfg_options or {}, resume=False, load_from=final)
        with preserve_default_scope():
            val_raw = build_protocol_runner(build_runner_cfg(val_ctx)).test()
        return dict(val=named_metrics(ctx.task, val_raw), test=out['metrics'],
                    student=out['student'], teacher=out.get('teacher'))
