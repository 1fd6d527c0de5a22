"""OTA ("One to Transfer All", arXiv 2111.12386) on GV-B: fine-tuned teacher -> student.

OTA deploys a foundation model on a downstream task that has only a few labelled images
and no access to the upstream data: the foundation model is fine-tuned on the few
downstream images (the *teacher*), its knowledge is distilled into a small deployable
model (the *student*) on images **generated from those downstream images**, and the
student is then adapted to the task. :func:`run_ota` does the last two steps for any GV-B
task (classification, detection, segmentation, depth):

1. **Distil** (:class:`~intern_mm.models.FeatureDistiller`, run by mmengine's
   ``Runner``): the teacher backbone (the fine-tuned checkpoint's ``backbone.*``, frozen)
   and the student backbone see the same images; the student's multi-level features
   (strides 4/8/16/32, plus MetaNet's pooled 1280-d feature for classification when both
   backbones have it) imitate the teacher's through 1x1 conv + BN connectors. The images
   are derived from the task's **training subset only** (the 10% subset of the GV-B subset
   machinery; no upstream data, labels unused): random resized crops, flips and
   RandAugment per image, then Mixup / CutMix across the batch -- strong augmentation and
   mixing in place of the paper's generative model.
2. **Adapt**: the distilled student backbone is fine-tuned on the subset's labels with
   the GV-B ``finetune`` protocol (:func:`~intern_mm.benchmark.protocols.build_runner_cfg`)
   and evaluated on the context's evaluation split.

Example:
    >>> # ctx: the teacher's ProtocolContext (task, data, subset, backbone, recipe)
    >>> result = run_ota(ctx, student_backbone=dict(type='mmpretrain.ResNet', depth=18),
    ...                  work_dir='work_dirs/ota/cifar10',
    ...                  teacher_checkpoint='work_dirs/gvb/.../final/iter_10000.pth')
    >>> result['score']
"""
import copy
import os
import os.path as osp
import time
from typing import Dict, Optional, Union

from intern_mm.models.utils import describe_backbone_outputs
from intern_mm.utils.run_record import RunRecord
from .backbone import BackboneSpec, build_backbone, parse_backbone_spec
from .data_cfgs import IMAGENET_MEAN, IMAGENET_STD
from .protocol_models import dense_backbone_cfg
from .protocols import (SCOPES, ProtocolContext, build_protocol_runner, dataset_cfgs,
                        family_recipe, runtime_cfg)
from .tasks import GVBTask

__all__ = ['run_ota', 'ota_context', 'ota_distill_cfg', 'distill_backbone_cfg',
           'DEFAULT_OTA_DISTILL',
           'OTA_RESULT_NAME']

OTA_RESULT_NAME = 'ota.json'

#: Distillation recipe of :func:`run_ota` (every key can be overridden by ``distill``).
DEFAULT_OTA_DISTILL = dict(
    max_iters=1000,        # distillation iterations
    batch_size=32,
    lr=2e-3,               # AdamW, linear warm-up then cosine decay
    weight_decay=0.01,
    warmup_iters=20,
    img_size=224,          # side of the random resized crops
    crop_scale=(0.25, 1.0),
    rand_augment=True,     # mmpretrain RandAugment, 2 ops of magnitude 9 / 10
    mixup_alpha=0.8,       # 0 disables; Mixup and CutMix are drawn with equal odds
    cutmix_alpha=1.0,
    mode='norm_mse',       # FeatureDistillLoss mode
    level_weights=None,    # one weight per distilled level (default 1.0 each)
)


def distill_backbone_cfg(cfg: dict, family: str, with_pooled: bool) -> dict:
    """Backbone config whose outputs are the levels OTA distils.

    Args:
        cfg (dict): Backbone config (as used by the protocol).
        family (str): Task family.
        with_pooled (bool): Append output 4 (MetaNet / CentralModel pooled feature) for
            classification.

    Returns:
        dict: The dense variant (``out_indices=(0, 1, 2, 3)``), with ``4`` appended for
        classification when ``with_pooled``.
    """
    dense = dense_backbone_cfg(cfg)
    if family == 'cls' and with_pooled:
        dense['out_indices'] = tuple(dense['out_indices']) + (4, )
    return dense


def _has_pooled(cfg: dict) -> bool:
    return 4 in tuple(cfg.get('out_indices', ()))


def _replace_pipeline(dataset: dict, pipeline: list) -> dict:
    dataset = copy.deepcopy(dataset)
    if 'datasets' in dataset:
        dataset['datasets'] = [_replace_pipeline(d, pipeline) for d in dataset['datasets']]
    elif 'dataset' in dataset:
        dataset['dataset'] = _replace_pipeline(dataset['dataset'], pipeline)
    else:
        dataset['pipeline'] = copy.deepcopy(pipeline)
    return dataset


def _distill_pipeline(recipe: dict) -> list:
    pipeline = [
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(type='mmpretrain.RandomResizedCrop', scale=recipe['img_size'],
             crop_ratio_range=tuple(recipe['crop_scale'])),
        dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    ]
    if recipe['rand_augment']:
        # mmpretrain's 'timm_increasing' policies with scoped types: the runner's default
        # scope is the task family's (mmdet / mmseg datasets), not mmpretrain
        from mmpretrain.datasets.transforms.auto_augment import RANDAUG_POLICIES
        policies = [dict(p, type='mmpretrain.' + p['type'].split('.')[-1])
                    for p in RANDAUG_POLICIES['timm_increasing']]
        pipeline.append(dict(
            type='mmpretrain.RandAugment', policies=policies, num_policies=2,
            total_level=10, magnitude_level=9, magnitude_std=0.5,
            hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')))
    pipeline.append(dict(type='mmpretrain.PackInputs', meta_keys=('img_path', )))
    return pipeline


def _batch_augments(recipe: dict) -> Optional[dict]:
    augments = []
    if recipe['mixup_alpha'] > 0:
        augments.append(dict(type='Mixup', alpha=recipe['mixup_alpha']))
    if recipe['cutmix_alpha'] > 0:
        augments.append(dict(type='CutMix', alpha=recipe['cutmix_alpha']))
    return dict(augments=augments) if augments else None


def _distill_recipe(distill: Optional[dict]) -> dict:
    """:data:`DEFAULT_OTA_DISTILL` with ``distill``'s overrides (unknown keys refused)."""
    recipe = copy.deepcopy(DEFAULT_OTA_DISTILL)
    unknown = set(distill or {}) - set(recipe)
    if unknown:
        raise KeyError(f'unknown OTA distillation keys {sorted(unknown)}; known: '
                       f'{sorted(recipe)}')
    recipe.update(copy.deepcopy(distill or {}))
    return recipe


def _distill_model(ctx: ProtocolContext, student: BackboneSpec, recipe: dict,
                   teacher_ckpt: Optional[str]) -> dict:
    """The ``FeatureDistiller`` config: student and teacher backbones, loss, augments."""
    family = ctx.task.family
    pooled = _has_pooled(ctx.backbone.cfg) and _has_pooled(student.cfg)
    pre = ctx.backbone.data_preprocessor or {}
    return dict(
        type='intern_mm.FeatureDistiller',
        student=distill_backbone_cfg(student.cfg, family, pooled),
        teacher=distill_backbone_cfg(ctx.backbone.cfg, family, pooled),
        teacher_checkpoint=teacher_ckpt,
        loss=dict(type='intern_mm.FeatureDistillLoss', mode=recipe['mode']),
        level_weights=recipe['level_weights'],
        batch_augments=_batch_augments(recipe),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor',
            mean=pre.get('mean', IMAGENET_MEAN), std=pre.get('std', IMAGENET_STD),
            to_rgb=True))


def _distill_schedule(recipe: dict, max_iters: int, warmup: int) -> dict:
    """``train_cfg``, ``optim_wrapper`` (AdamW), ``param_scheduler`` (linear warm-up then
    cosine) and ``default_hooks`` of the distillation run."""
    return dict(
        train_cfg=dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=max_iters,
                       val_interval=max_iters + 1),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(
            type='AdamW', lr=recipe['lr'], weight_decay=recipe['weight_decay'])),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0,
                 end=max(warmup, 1)),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=max(warmup, 1),
                 end=max(max_iters, warmup + 1), eta_min=recipe['lr'] * 0.01),
        ],
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=min(50, max_iters)),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False,
                            max_keep_ckpts=1, save_last=True),
            sampler_seed=dict(type='DistSamplerSeedHook')))


def ota_distill_cfg(ctx: ProtocolContext, student: BackboneSpec, work_dir: str,
                    teacher_checkpoint: Optional[str] = None,
                    distill: Optional[dict] = None) -> dict:
    """mmengine Runner config of OTA's distillation step.

    Args:
        ctx (ProtocolContext): The teacher's context (task, data, subset, backbone).
        student (BackboneSpec): The student backbone.
        work_dir (str): Runner work dir.
        teacher_checkpoint (str, optional): The fine-tuned teacher (a protocol
            checkpoint with ``backbone.*`` keys). Defaults to ``ctx.backbone.checkpoint``.
        distill (dict, optional): Overrides of :data:`DEFAULT_OTA_DISTILL`.

    Returns:
        dict: The config (:func:`~intern_mm.benchmark.protocols.build_protocol_runner`
        builds its Runner and writes it as ``run_config.py``).

    Raises:
        KeyError: On unknown ``distill`` keys.
    """
    recipe = _distill_recipe(distill)
    family = ctx.task.family
    data_ctx = copy.copy(ctx)
    data_ctx.mode = 'finetune'
    train_ds, _ = dataset_cfgs(data_ctx)
    max_iters = int(recipe['max_iters'])
    warmup = min(int(recipe['warmup_iters']), max_iters)
    cfg = dict(
        default_scope=SCOPES[family],
        custom_imports=dict(imports=['intern_mm', 'intern_mm.benchmark'],
                            allow_failed_imports=False),
        work_dir=work_dir,
        model=_distill_model(ctx, student, recipe,
                             teacher_checkpoint or ctx.backbone.checkpoint),
        train_dataloader=dict(
            batch_size=recipe['batch_size'], num_workers=ctx.num_workers,
            persistent_workers=ctx.num_workers > 0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=_replace_pipeline(train_ds, _distill_pipeline(recipe))),
        **_distill_schedule(recipe, max_iters, warmup),
        **runtime_cfg(ctx, by_epoch=False),
    )
    return cfg


def ota_context(cfg, task: Union[str, GVBTask]) -> ProtocolContext:
    """The teacher's fine-tuning context of a GV-B task, as ``tools/gvb.py run`` builds it.

    Resolves the task's data, creates (or verifies) its seeded subset with the suite's
    subset machinery and merges the recipe, exactly like
    :func:`~intern_mm.benchmark.suite.run_task` in ``finetune`` mode, so that
    ``run_ota(ota_context(cfg, task), ...)`` distils the teacher that
    ``run_suite(cfg)`` fine-tuned on the same subset.

    Args:
        cfg (SuiteConfig): The run options of the teacher's fine-tuning.
        task (str | GVBTask): The task.

    Returns:
        ProtocolContext: The context (``mode='finetune'``, ``train_split='subset'``,
        ``eval_split='test'``).

    Raises:
        FileNotFoundError: If the task's data are missing.
    """
    from .suite import ensure_subset
    from .tasks import get_task, resolve_layout
    task = get_task(task) if isinstance(task, str) else task
    spec = parse_backbone_spec(cfg.backbone, checkpoint=cfg.checkpoint,
                               backbone_cfg=cfg.backbone_cfg)
    root = cfg.data_roots.get(task.name) or task.default_root(cfg.data_base)
    layout, missing = resolve_layout(task, root)
    if layout is None:
        raise FileNotFoundError(f'task {task.name}: data missing under {root}: {missing}')
    manifest = ensure_subset(cfg, task, root, layout)
    recipe = family_recipe(task, cfg.recipe.get(task.family))
    probe_cfg = dense_backbone_cfg(spec.cfg) if task.family != 'cls' else spec.cfg
    return ProtocolContext(
        task=task, data_root=root, layout=layout, subset_dir=manifest['dir'],
        backbone=spec,
        out_channels=describe_backbone_outputs(build_backbone(BackboneSpec(cfg=probe_cfg))),
        mode='finetune', recipe=recipe, seed=cfg.seed, num_workers=cfg.num_workers,
        launcher=cfg.launcher, cfg_options=cfg.cfg_options,
        log_interval=min(50, recipe.get('max_iters', 50)))


def _distill_student(ctx: ProtocolContext, student: BackboneSpec, work_dir: str,
                     teacher_ckpt: Optional[str], distill: Optional[dict]) -> tuple:
    """OTA step 1: distil on images derived from the training subset, export the student.

    Returns:
        tuple: The distillation's ``max_iters``, its last loss (None when resumed after
        it finished), its checkpoint and the exported ``student_backbone.pth``.
    """
    from mmengine.dist import barrier, is_main_process

    from intern_mm.models.distillers import export_student
    from .suite import preserve_default_scope
    cfg = ota_distill_cfg(ctx, student, osp.join(work_dir, 'distill'), teacher_ckpt,
                          distill)
    with preserve_default_scope():
        runner = build_protocol_runner(cfg)
        runner.train()
        scalars = runner.message_hub.log_scalars
        last_loss = float(scalars['train/loss'].mean(10)) if 'train/loss' in scalars \
            else None  # a resumed, already finished distillation logs no loss
    max_iters = cfg['train_cfg']['max_iters']
    ckpt = osp.join(work_dir, 'distill', f'iter_{max_iters}.pth')
    exported = osp.join(work_dir, 'student_backbone.pth')
    if is_main_process():
        export_student(ckpt, exported, backbone_cfg=student.cfg)
    barrier()
    return max_iters, last_loss, ckpt, exported


def _adapt_student(ctx: ProtocolContext, student: BackboneSpec, exported: str,
                   work_dir: str, student_recipe: Optional[dict]) -> tuple:
    """OTA step 2: fine-tune the distilled student on the subset's labels (GV-B
    ``finetune`` protocol) and evaluate it.

    Returns:
        tuple: The student's context and its metrics.
    """
    from .suite import _runner_metrics
    adapted = BackboneSpec(cfg=copy.deepcopy(student.cfg), checkpoint=exported,
                           data_preprocessor=ctx.backbone.data_preprocessor,
                           source='ota-student')
    probe_cfg = dense_backbone_cfg(student.cfg) if ctx.task.family != 'cls' else student.cfg
    out_channels = describe_backbone_outputs(build_backbone(BackboneSpec(cfg=probe_cfg)))
    student_ctx = copy.copy(ctx)
    student_ctx.backbone = adapted
    student_ctx.out_channels = out_channels
    student_ctx.mode = 'finetune'
    student_ctx.work_dir = osp.join(work_dir, 'adapt')
    student_ctx.recipe = family_recipe(ctx.task, student_recipe) if student_recipe \
        else copy.deepcopy(ctx.recipe)
    return student_ctx, _runner_metrics(student_ctx)


def _ota_result(ctx: ProtocolContext, student: BackboneSpec, teacher_ckpt: Optional[str],
                distill: Optional[dict], distilled: tuple, student_ctx: ProtocolContext,
                metrics: Dict[str, float], start: float) -> dict:
    """The ``ota.json`` record of :func:`run_ota` (``distilled``: the output of
    :func:`_distill_student`)."""
    from .suite import task_score
    max_iters, last_loss, ckpt, exported = distilled
    task = ctx.task
    return dict(
        task=task.name, family=task.family, metric=task.metric,
        lower_is_better=task.lower_is_better, score=task_score(task, metrics),
        metrics=metrics, train_split=ctx.train_split, eval_split=ctx.eval_split,
        student=dict(cfg=student.cfg, checkpoint=osp.abspath(exported)),
        teacher=dict(cfg=ctx.backbone.cfg,
                     checkpoint=osp.abspath(teacher_ckpt) if teacher_ckpt else None),
        distill=dict(recipe=dict(DEFAULT_OTA_DISTILL, **(distill or {})),
                     iters=max_iters, last_loss=last_loss, checkpoint=osp.abspath(ckpt)),
        recipe=student_ctx.recipe, seed=ctx.seed,
        wall_time_s=time.perf_counter() - start, status='done')


def run_ota(ctx: ProtocolContext,
            student_backbone: Union[str, dict, BackboneSpec],
            work_dir: str,
            teacher_checkpoint: Optional[str] = None,
            distill: Optional[dict] = None,
            student_recipe: Optional[dict] = None) -> dict:
    """OTA: distil the fine-tuned teacher into a student on subset-derived images, then
    fine-tune the student on the subset's labels and evaluate it.

    A finished run (``<work_dir>/ota.json``) is returned as is; interrupted Runner steps
    resume from their checkpoints.

    Args:
        ctx (ProtocolContext): The teacher's protocol context: ``task``, ``data_root``,
            ``layout``, ``subset_dir``, ``backbone`` (the teacher architecture, e.g. the
            Up-G backbone spec), ``recipe`` (used for the student's fine-tuning unless
            ``student_recipe``), ``train_split`` (the images and labels OTA may use;
            ``'subset'``), ``eval_split``, ``seed``, ``launcher``, ``num_workers``.
        student_backbone (str | dict | BackboneSpec): The student (randomly initialised
            unless its spec names a checkpoint).
        work_dir (str): Output folder (``distill/``, ``adapt/``, ``student_backbone.pth``,
            ``ota.json``).
        teacher_checkpoint (str, optional): The teacher fine-tuned on the subset with the
            GV-B ``finetune`` protocol (its ``backbone.*`` weights are used). Defaults to
            ``ctx.backbone.checkpoint`` (e.g. a frozen, probed backbone).
        distill (dict, optional): Overrides of :data:`DEFAULT_OTA_DISTILL`.
        student_recipe (dict, optional): Recipe overrides for the student's fine-tuning
            (merged into the family defaults and the task's recipe). Defaults to
            ``ctx.recipe``.

    Returns:
        dict: ``task``, ``family``, ``metric``, ``lower_is_better``, ``score`` (the
        student's score on ``ctx.eval_split``), ``metrics``, ``student`` (config and
        exported checkpoint), ``teacher`` (config and checkpoint), ``distill`` (recipe,
        iterations, last loss), ``recipe`` (the fine-tuning recipe), ``wall_time_s``.

    Raises:
        FileNotFoundError: If the teacher checkpoint does not exist.
    """
    from mmengine.dist import is_main_process
    record = RunRecord(work_dir, done_name=OTA_RESULT_NAME)
    done = record.done()
    if done is not None:
        return dict(done, status='skipped')
    teacher_ckpt = teacher_checkpoint or ctx.backbone.checkpoint
    if teacher_ckpt and not osp.isfile(teacher_ckpt):
        raise FileNotFoundError(f'OTA teacher checkpoint {teacher_ckpt} does not exist')
    start = time.perf_counter()
    os.makedirs(work_dir, exist_ok=True)
    student = parse_backbone_spec(student_backbone)
    distilled = _distill_student(ctx, student, work_dir, teacher_ckpt, distill)
    student_ctx, metrics = _adapt_student(ctx, student, distilled[3], work_dir,
                                          student_recipe)
    result = _ota_result(ctx, student, teacher_ckpt, distill, distilled, student_ctx,
                         metrics, start)
    if is_main_process():
        record.mark_done(result)
    return result
