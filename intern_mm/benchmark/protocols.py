"""Runner configs of the GV-B protocols (linear probe and full fine-tuning).

:func:`build_runner_cfg` turns a task, its prepared data, a subset and a backbone into a
complete mmengine ``Runner`` config using the stock OpenMMLab models:

* classification: mmpretrain ``ImageClassifier`` + ``LinearClsHead`` (zero-initialised),
  resize + centre crop, no augmentation (probe); random resized crop + flip (fine-tune);
  SGD, step schedule per iteration; top-1 and mean per-class accuracy.
* detection: mmdet ``FasterRCNN`` + ``FPN`` (256 channels, 5 levels), RPN SmoothL1
  (beta 1/9), RoI SmoothL1 (beta 1); VOC ``mAP`` / WIDER FACE AP / CityPersons MR^-2.
* segmentation: mmseg ``EncoderDecoder``, DeepLabV3 ``ASPPHead`` (dilations 1/12/24/36)
  on the stride-32 map and an ``FCNHead`` auxiliary head (weight 0.4) on stride 16; mIoU.
* depth: mmseg ``DepthEstimator`` with :class:`~intern_mm.benchmark.GVBDepthHead`
  (SiLog loss); RMSE and the usual depth metrics.

In ``probe`` mode the backbone is wrapped in :class:`~intern_mm.benchmark.FrozenBackbone`
(no gradient, eval-mode BN); in ``finetune`` mode it trains with the rest.

Example:
    >>> cfg = build_runner_cfg(ctx)          # ctx: a ProtocolContext
    >>> runner = Runner.from_cfg(Config(cfg))
"""
import copy
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from .backbone import BackboneSpec, checkpoint_prefix
from .data_cfgs import IMAGENET_MEAN, IMAGENET_STD, cls_pipeline, cls_train_pipeline
from .tasks import GVBTask

__all__ = [
    'ProtocolContext', 'DEFAULT_RECIPES', 'build_runner_cfg', 'family_recipe',
    'dataset_cfgs', 'metric_keys', 'dense_backbone_cfg', 'PROTOCOL_MODES', 'runtime_cfg',
    'SCOPES'
]

PROTOCOL_MODES = ('probe', 'finetune')

#: The fixed GV-B schedules (``recipe`` keys can be overridden per task or per run).
DEFAULT_RECIPES: Dict[str, dict] = dict(
    cls=dict(optimizer='SGD', lr=0.01, momentum=0.9, weight_decay=1e-3, max_iters=10000,
             milestones=[3000, 6000, 9000], gamma=0.1, batch_size=64, img_size=224,
             resize_size=None, test_batch_size=64, backbone_lr_mult=1.0),
    det=dict(optimizer='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4, max_epochs=12,
             milestones=[8, 11], gamma=0.1, batch_size=2, warmup_iters=500,
             warmup_ratio=0.001, img_scale=(1000, 600), train_scales=None, repeat=3,
             grad_clip=None, test_batch_size=1, backbone_lr_mult=1.0),
    seg=dict(optimizer='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4, max_iters=20000,
             power=0.9, eta_min=1e-4, batch_size=2, crop_size=(512, 512),
             img_scale=(2048, 512), head_channels=512, aux_channels=256,
             head_level=3, aux_level=2, test_batch_size=1, backbone_lr_mult=1.0),
    depth=dict(optimizer='AdamW', lr=2e-4, momentum=0.9, weight_decay=1e-2,
               max_iters=20000, power=0.9, eta_min=0.0, batch_size=4,
               crop_size=(352, 704), img_scale=None, head_channels=256,
               test_batch_size=1, backbone_lr_mult=1.0),
)


@dataclass
class ProtocolContext:
    """Everything a protocol config needs.

    Args:
        task (GVBTask): The task.
        data_root (str): Prepared data root.
        layout (dict): Resolved layout (:func:`~intern_mm.benchmark.tasks.resolve_layout`).
        subset_dir (str): Folder with the subset lists (``make_subset`` output).
        backbone (BackboneSpec): The backbone.
        out_channels (list[tuple[int, int | None]]): Backbone outputs of the dense
            variant (channels, stride) -- for det/seg/depth heads; for classification the
            pooled feature dimension is ``out_channels[-1][0]``.
        mode (str): ``'probe'`` or ``'finetune'``.
        recipe (dict): The full recipe (defaults merged with overrides).
        work_dir (str): Runner work dir.
        train_split (str): Subset split to train on (``'subset'``, ``'train'``).
        eval_split (str): ``'test'`` (official test split) or ``'val'`` (carved split).
        seed (int): Seed.
        num_workers (int): Data loader workers.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        checkpoint_interval (int, optional): Iterations (or epochs) between checkpoints.
        log_interval (int): Logging interval.
        cfg_options (dict, optional): Merged into the final config.
    """
    task: GVBTask
    data_root: str
    layout: dict
    subset_dir: str
    backbone: BackboneSpec
    out_channels: List[Tuple[int, Optional[int]]]
    mode: str = 'probe'
    recipe: dict = field(default_factory=dict)
    work_dir: str = 'work_dirs/gvb'
    train_split: str = 'subset'
    eval_split: str = 'test'
    seed: int = 0
    num_workers: int = 2
    launcher: str = 'none'
    checkpoint_interval: Optional[int] = None
    log_interval: int = 50
    cfg_options: Optional[dict] = None


def family_recipe(task: GVBTask, overrides: Optional[dict] = None) -> dict:
    """Default recipe of the task's family, updated by the task's and the user's values.

    Args:
        task (GVBTask): The task.
        overrides (dict, optional): User overrides (unknown keys raise).

    Returns:
        dict: The recipe.
    """
    recipe = copy.deepcopy(DEFAULT_RECIPES[task.family])
    for source in (task.recipe, overrides or {}):
        unknown = set(source) - set(recipe)
        if unknown:
            raise KeyError(f'unknown recipe keys {sorted(unknown)} for the {task.family} '
                           f'family; known: {sorted(recipe)}')
        recipe.update(copy.deepcopy(source))
    return recipe


def dense_backbone_cfg(cfg: dict) -> dict:
    """Backbone config for det/seg/depth: multi-scale outputs ``out_indices=(0, 1, 2, 3)``.

    Args:
        cfg (dict): The backbone config.

    Returns:
        dict: A copy with ``out_indices=(0, 1, 2, 3)`` unless it sets other 4-entry
        indices (index 4, MetaNet's pooled vector, is dropped).
    """
    cfg = copy.deepcopy(cfg)
    indices = tuple(i for i in cfg.get('out_indices', ()) if i != 4)
    cfg['out_indices'] = indices if len(indices) == 4 else (0, 1, 2, 3)
    return cfg


def _backbone_cfg(ctx: ProtocolContext, dense: bool) -> dict:
    cfg = dense_backbone_cfg(ctx.backbone.cfg) if dense else copy.deepcopy(ctx.backbone.cfg)
    if ctx.backbone.checkpoint:
        cfg['init_cfg'] = dict(
            type='Pretrained',
            checkpoint=ctx.backbone.checkpoint,
            prefix=checkpoint_prefix(ctx.backbone.checkpoint) or None)
        if cfg['init_cfg']['prefix'] is None:
            cfg['init_cfg'].pop('prefix')
    if ctx.mode == 'probe':
        return dict(type='intern_mm.FrozenBackbone', backbone=cfg)
    if ctx.mode != 'finetune':
        raise ValueError(f'unknown mode "{ctx.mode}", expected one of {PROTOCOL_MODES}')
    return cfg


def _abs(root: str, path: str) -> str:
    return path if osp.isabs(path) else osp.join(root, path)


def _split_file(ctx: ProtocolContext, split: str, name: str = '', ext: str = '.txt') -> str:
    suffix = f'_{name}' if name else ''
    path = osp.abspath(osp.join(ctx.subset_dir, f'{split}{suffix}{ext}'))
    if not osp.isfile(path):
        raise FileNotFoundError(f'subset list {path} does not exist')
    return path


# ----------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------
def _cls_classes(ctx: ProtocolContext):
    path = osp.join(ctx.subset_dir, 'classes.txt')
    if osp.isfile(path):
        return osp.abspath(path)
    if ctx.task.classes:
        return list(ctx.task.classes)
    return None


def _cls_dataset(ctx: ProtocolContext, split: str, pipeline: list) -> dict:
    root = osp.abspath(ctx.data_root)
    cfg = dict(type='CustomDataset', data_root=root, pipeline=pipeline, data_prefix='')
    if split == 'test':
        src = ctx.layout['test']
        if 'ann_file' in src:
            cfg['ann_file'] = _abs(root, src['ann_file'])
        else:
            cfg['ann_file'] = ''
            cfg['data_prefix'] = src['img_dir']
    else:
        cfg['ann_file'] = _split_file(ctx, split)
    classes = _cls_classes(ctx)
    if classes is not None:
        cfg['classes'] = classes
    return cfg


def _det_pipelines(ctx: ProtocolContext) -> Tuple[list, list]:
    scale = tuple(ctx.recipe['img_scale'])
    scales = ctx.recipe.get('train_scales')
    # ``train_scales`` [(w_min, h_min), (w_max, h_max)]: multi-scale training (a random
    # scale in that range per image, as the CityPersons recipe of the release)
    resize = dict(type='RandomResize', scale=[tuple(s) for s in scales],
                  keep_ratio=True) if scales else dict(type='Resize', scale=scale,
                                                       keep_ratio=True)
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        resize,
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ]
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ]
    return train, test


def _det_dataset(ctx: ProtocolContext, split: str, pipeline: list) -> dict:
    root = osp.abspath(ctx.data_root)
    fmt = ctx.layout['format']
    classes = tuple(ctx.task.classes)
    test_mode = split == 'test' or split == 'val'
    filter_cfg = None if test_mode else dict(filter_empty_gt=True, min_size=8)
    if fmt == 'voc':
        sources = ctx.layout['test'] if split == 'test' else ctx.layout['train']
        datasets = []
        for src in sources:
            ann = _abs(root, src['ann_file']) if split == 'test' else _split_file(
                ctx, split, src['name'])
            dtype = 'VOCDataset' if 'VOC20' in src.get('sub_root', '') else 'XMLDataset'
            ds = dict(type=dtype, data_root=root, ann_file=ann,
                      data_prefix=dict(sub_data_root=src.get('sub_root', '')),
                      img_subdir=src.get('img_subdir', 'JPEGImages'),
                      ann_subdir=src.get('ann_subdir', 'Annotations'),
                      metainfo=dict(classes=classes), pipeline=pipeline,
                      test_mode=test_mode)
            if filter_cfg is not None:
                ds['filter_cfg'] = dict(filter_cfg, bbox_min_size=8)
            datasets.append(ds)
        dataset = datasets[0] if len(datasets) == 1 else dict(
            type='ConcatDataset', datasets=datasets, ignore_keys=['dataset_type'])
    elif fmt == 'coco':
        src = ctx.layout['test'] if split == 'test' else ctx.layout['train']
        ann = _abs(root, src['ann_file']) if split == 'test' else _split_file(
            ctx, split, ext='.json')
        dataset = dict(type='CocoDataset', data_root=root, ann_file=ann,
                       data_prefix=dict(img=src.get('img_prefix', '')),
                       metainfo=dict(classes=classes), pipeline=pipeline,
                       test_mode=test_mode)
        if filter_cfg is not None:
            dataset['filter_cfg'] = filter_cfg
    else:
        raise ValueError(f'detection task {ctx.task.name}: unsupported format {fmt}')
    if not test_mode and ctx.recipe.get('repeat', 1) > 1:
        dataset = dict(type='RepeatDataset', times=ctx.recipe['repeat'], dataset=dataset)
    return dataset


def _seg_pipelines(ctx: ProtocolContext) -> Tuple[list, list]:
    crop = tuple(ctx.recipe['crop_size'])
    scale = tuple(ctx.recipe['img_scale'])
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs'),
    ]
    return train, test


def _seg_dataset(ctx: ProtocolContext, split: str, pipeline: list) -> dict:
    root = osp.abspath(ctx.data_root)
    src = ctx.layout['test'] if split == 'test' else ctx.layout['train']
    ann = _abs(root, src['ann_file']) if split == 'test' else _split_file(ctx, split)
    return dict(
        type='BaseSegDataset', data_root=root, ann_file=ann,
        data_prefix=dict(img_path=src['img_dir'], seg_map_path=src['seg_dir']),
        img_suffix=src.get('img_suffix', '.jpg'),
        seg_map_suffix=src.get('seg_suffix', '.png'),
        metainfo=dict(classes=tuple(ctx.task.classes)), reduce_zero_label=False,
        pipeline=pipeline, test_mode=split != 'subset' and split != 'train')


def _depth_pipelines(ctx: ProtocolContext) -> Tuple[list, list]:
    scale = 1.0 / float(ctx.layout.get('depth_scale', 1000.0))
    crop = tuple(ctx.recipe['crop_size'])
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadDepthAnnotation', depth_rescale_factor=scale),
        dict(type='RandomCrop', crop_size=crop),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ]
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadDepthAnnotation', depth_rescale_factor=scale),
        dict(type='PackSegInputs',
             meta_keys=('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                        'scale_factor', 'flip', 'flip_direction')),
    ]
    if ctx.recipe.get('img_scale'):
        resize = dict(type='Resize', scale=tuple(ctx.recipe['img_scale']), keep_ratio=True)
        train.insert(2, resize)
        test.insert(1, resize)
    return train, test


def _depth_dataset(ctx: ProtocolContext, split: str, pipeline: list) -> dict:
    root = osp.abspath(ctx.data_root)
    src = ctx.layout['test'] if split == 'test' else ctx.layout['train']
    ann = _abs(root, src['ann_file']) if split == 'test' else _split_file(ctx, split)
    return dict(
        type='intern_mm.GVBDepthDataset', data_root=root, ann_file=ann,
        data_prefix=dict(img_path=src['img_dir'], depth_map_path=src['depth_dir']),
        img_suffix=src.get('img_suffix', '.jpg'),
        depth_map_suffix=src.get('depth_suffix', '.png'), pipeline=pipeline,
        test_mode=split != 'subset' and split != 'train')


def dataset_cfgs(ctx: ProtocolContext) -> Tuple[dict, dict]:
    """Training and evaluation dataset configs of a context.

    Args:
        ctx (ProtocolContext): The context.

    Returns:
        tuple[dict, dict]: ``(train_dataset, eval_dataset)``.
    """
    family = ctx.task.family
    if family == 'cls':
        test_pipe = cls_pipeline(ctx.recipe['img_size'], ctx.recipe.get('resize_size'))
        train_pipe = test_pipe if ctx.mode == 'probe' else cls_train_pipeline(
            ctx.recipe['img_size'])
        # mmpretrain scope: strip the explicit prefixes of the shared pipeline helpers
        train_pipe = [dict(t, type=t['type'].split('.')[-1]) for t in train_pipe]
        test_pipe = [dict(t, type=t['type'].split('.')[-1]) for t in test_pipe]
        build = _cls_dataset
    elif family == 'det':
        train_pipe, test_pipe = _det_pipelines(ctx)
        build = _det_dataset
    elif family == 'seg':
        train_pipe, test_pipe = _seg_pipelines(ctx)
        build = _seg_dataset
    else:
        train_pipe, test_pipe = _depth_pipelines(ctx)
        build = _depth_dataset
    return (build(ctx, ctx.train_split, train_pipe),
            build(ctx, ctx.eval_split, test_pipe))


# ----------------------------------------------------------------------------------------
# evaluators and metric keys
# ----------------------------------------------------------------------------------------
def _evaluator(ctx: ProtocolContext) -> list:
    task = ctx.task
    if task.family == 'cls':
        return [dict(type='Accuracy', topk=(1, )),
                dict(type='SingleLabelMetric', items=('recall', ), average='macro')]
    if task.metric == 'mAP':
        return [dict(type='VOCMetric', metric='mAP',
                     eval_mode=ctx.layout.get('eval_mode', '11points'))]
    test_ann = None
    if ctx.layout['format'] == 'coco':
        test_ann = (_abs(osp.abspath(ctx.data_root), ctx.layout['test']['ann_file'])
                    if ctx.eval_split == 'test' else _split_file(ctx, ctx.eval_split,
                                                                 ext='.json'))
    if task.metric == 'widerface_ap':
        return [dict(type='intern_mm.WiderFaceMetric', ann_file=test_ann)]
    if task.metric == 'mr':
        return [dict(type='intern_mm.CityPersonsMetric', ann_file=test_ann)]
    if task.family == 'seg':
        return [dict(type='IoUMetric', iou_metrics=['mIoU'])]
    if task.family == 'depth':
        return [dict(type='intern_mm.GVBDepthMetric',
                     max_depth_eval=float(ctx.layout.get('max_depth', 10.0)),
                     min_depth_eval=1e-3, crop_type=ctx.layout.get('crop'))]
    raise ValueError(f'task {task.name}: no evaluator for metric {task.metric}')


def metric_keys(task: GVBTask) -> Dict[str, str]:
    """Map of result names to the evaluator keys the Runner returns.

    Args:
        task (GVBTask): The task.

    Returns:
        dict: ``name -> evaluator key``; the task's main metric is derived from these.
    """
    if task.family == 'cls':
        return dict(top1='accuracy/top1', mean_per_class='single-label/recall')
    if task.metric == 'mAP':
        return dict(mAP='pascal_voc/mAP')
    if task.metric == 'widerface_ap':
        # approx_lists: 1.0 when Easy/Medium/Hard are the annotation-based approximation
        return dict(easy='widerface/easy', medium='widerface/medium', hard='widerface/hard',
                    approx_lists='widerface/approx_lists')
    if task.metric == 'mr':
        return dict(reasonable='citypersons/reasonable', heavy='citypersons/heavy')
    if task.family == 'seg':
        return dict(mIoU='mIoU')
    return dict(rmse='rmse', abs_rel='abs_rel', sq_rel='sq_rel', log10='log10',
                rmse_log='rmse_log', d1='d1', d2='d2', d3='d3', silog='silog')


# ----------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------
def _cls_model(ctx: ProtocolContext) -> dict:
    channels, stride = ctx.out_channels[-1]
    return dict(
        type='ImageClassifier',
        data_preprocessor=copy.deepcopy(ctx.backbone.data_preprocessor) or dict(
            type='ClsDataPreprocessor', mean=IMAGENET_MEAN, std=IMAGENET_STD,
            to_rgb=True),
        backbone=_backbone_cfg(ctx, dense=False),
        neck=dict(type='GlobalAveragePooling') if stride is not None else None,
        head=dict(
            type='LinearClsHead',
            num_classes=ctx.task.num_classes,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
            topk=(1, ),
            init_cfg=dict(type='Constant', layer='Linear', val=0, bias=0)))


def _load_mmdet_base(rel: str) -> dict:
    import mmdet
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmdet base config {path} is missing from the mmdet '
                                'installation')
    return Config.fromfile(path).to_dict()


def _dense_channels(ctx: ProtocolContext) -> List[int]:
    maps = [c for c, s in ctx.out_channels if s is not None]
    if len(maps) != 4:
        raise ValueError(f'dense tasks need 4 feature maps from the backbone, got '
                         f'{ctx.out_channels}')
    return maps


def _det_model(ctx: ProtocolContext) -> dict:
    model = _load_mmdet_base('_base_/models/faster-rcnn_r50_fpn.py')['model']
    model['backbone'] = _backbone_cfg(ctx, dense=True)
    model['neck']['in_channels'] = _dense_channels(ctx)
    model['rpn_head']['loss_bbox'] = dict(type='SmoothL1Loss', beta=1.0 / 9.0,
                                          loss_weight=1.0)
    model['roi_head']['bbox_head']['loss_bbox'] = dict(type='SmoothL1Loss', beta=1.0,
                                                       loss_weight=1.0)
    model['roi_head']['bbox_head']['num_classes'] = ctx.task.num_classes
    if ctx.backbone.data_preprocessor:
        pre = ctx.backbone.data_preprocessor
        model['data_preprocessor'].update(
            {k: pre[k] for k in ('mean', 'std') if k in pre})
    return model


def _norm_cfg(ctx: ProtocolContext) -> dict:
    # SyncBN only runs on CUDA; a gloo (CPU) process group keeps per-process BN
    sync = ctx.launcher != 'none' and torch.cuda.is_available()
    return dict(type='SyncBN' if sync else 'BN', requires_grad=True)


def _seg_model(ctx: ProtocolContext) -> dict:
    channels = _dense_channels(ctx)
    crop = tuple(ctx.recipe['crop_size'])
    # the backbone levels (0-3: strides 4-32) the ASPP and the auxiliary FCN head read
    head, aux = ctx.recipe.get('head_level', 3), ctx.recipe.get('aux_level', 2)
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=IMAGENET_MEAN,
                               std=IMAGENET_STD, bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size=crop),
        backbone=_backbone_cfg(ctx, dense=True),
        decode_head=dict(
            type='ASPPHead', in_channels=channels[head], in_index=head,
            channels=ctx.recipe['head_channels'], dilations=(1, 12, 24, 36),
            dropout_ratio=0.1, num_classes=ctx.task.num_classes, norm_cfg=_norm_cfg(ctx),
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        auxiliary_head=dict(
            type='FCNHead', in_channels=channels[aux], in_index=aux,
            channels=ctx.recipe['aux_channels'], num_convs=1, concat_input=False,
            dropout_ratio=0.1, num_classes=ctx.task.num_classes, norm_cfg=_norm_cfg(ctx),
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def _depth_model(ctx: ProtocolContext) -> dict:
    channels = _dense_channels(ctx)
    return dict(
        type='DepthEstimator',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=IMAGENET_MEAN,
                               std=IMAGENET_STD, bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=0, size_divisor=32),
        backbone=_backbone_cfg(ctx, dense=True),
        decode_head=dict(
            type='intern_mm.GVBDepthHead', in_channels=channels, in_index=[0, 1, 2, 3],
            channels=ctx.recipe['head_channels'],
            max_depth=float(ctx.layout.get('max_depth', 10.0)), norm_cfg=_norm_cfg(ctx),
            loss_decode=dict(type='SiLogLoss', loss_weight=1.0)),
        test_cfg=dict(mode='whole'))


# ----------------------------------------------------------------------------------------
# the runner config
# ----------------------------------------------------------------------------------------
#: Default registry scope of each task family's Runner.
SCOPES = dict(cls='mmpretrain', det='mmdet', seg='mmseg', depth='mmseg')
_COLLATE = dict(cls='default_collate', det='pseudo_collate', seg='pseudo_collate',
                depth='pseudo_collate')


def _schedule(ctx: ProtocolContext) -> Tuple[dict, list, dict]:
    r = ctx.recipe
    if r['optimizer'] == 'SGD':
        optimizer = dict(type='SGD', lr=r['lr'], momentum=r['momentum'],
                         weight_decay=r['weight_decay'])
    else:
        optimizer = dict(type=r['optimizer'], lr=r['lr'], weight_decay=r['weight_decay'])
    optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
    family = ctx.task.family
    if family == 'det':
        train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=r['max_epochs'],
                         val_interval=r['max_epochs'] + 1)
        schedulers = []
        if r.get('warmup_iters'):
            schedulers.append(dict(type='LinearLR', start_factor=r.get('warmup_ratio', 0.001),
                                   by_epoch=False, begin=0, end=r['warmup_iters']))
        schedulers.append(dict(type='MultiStepLR', by_epoch=True, begin=0,
                               end=r['max_epochs'], milestones=list(r['milestones']),
                               gamma=r['gamma']))
    else:
        # mmengine's IterBasedTrainLoop, without its 2 s pause per pass of a small subset
        train_cfg = dict(type='intern_mm.FastRestartIterBasedTrainLoop',
                         max_iters=r['max_iters'], val_interval=r['max_iters'] + 1)
        if family == 'cls':
            schedulers = [dict(type='MultiStepLR', by_epoch=False,
                               milestones=list(r['milestones']), gamma=r['gamma'])]
        else:
            schedulers = [dict(type='PolyLR', eta_min=r['eta_min'], power=r['power'],
                               begin=0, end=r['max_iters'], by_epoch=False)]
    lr_mult = r.get('backbone_lr_mult', 1.0)
    if ctx.mode == 'finetune' and ctx.backbone.checkpoint and lr_mult != 1:
        # a pre-trained backbone moves slower than the new head; random init trains at
        # the full rate
        optim_wrapper['paramwise_cfg'] = dict(
            custom_keys={'backbone': dict(lr_mult=float(lr_mult))})
    if r.get('grad_clip'):
        optim_wrapper['clip_grad'] = dict(max_norm=float(r['grad_clip']), norm_type=2)
    return optim_wrapper, schedulers, train_cfg


def _dataloaders(ctx: ProtocolContext, train_ds: dict, eval_ds: dict) -> dict:
    """``train_dataloader`` (shuffled, ``drop_last``) and ``test_dataloader``."""
    workers = ctx.num_workers
    collate = dict(type=_COLLATE[ctx.task.family])
    return dict(
        # drop_last: a last batch of one image breaks BatchNorm in training (ASPP's
        # image-pool BN raises "Expected more than 1 value per channel")
        train_dataloader=dict(
            batch_size=ctx.recipe['batch_size'], num_workers=workers,
            persistent_workers=workers > 0, drop_last=True,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=collate, dataset=train_ds),
        test_dataloader=dict(
            batch_size=ctx.recipe['test_batch_size'], num_workers=workers,
            persistent_workers=workers > 0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=collate, dataset=eval_ds))


def _default_hooks(ctx: ProtocolContext, interval: int, by_epoch: bool) -> dict:
    """mmengine's default hooks; checkpoints every ``interval`` epochs / iterations."""
    return dict(
        timer=dict(type='IterTimerHook'),
        logger=dict(type='LoggerHook', interval=ctx.log_interval),
        param_scheduler=dict(type='ParamSchedulerHook'),
        # keep 2: mmengine deletes old checkpoints *before* writing the new one and
        # updates last_checkpoint after it, so with 1 a kill in between leaves
        # last_checkpoint naming a deleted file and the rerun cannot resume
        checkpoint=dict(type='CheckpointHook', interval=interval, by_epoch=by_epoch,
                        max_keep_ckpts=2, save_last=True),
        sampler_seed=dict(type='DistSamplerSeedHook'))


def build_runner_cfg(ctx: ProtocolContext) -> dict:
    """Complete mmengine Runner config (train on ``train_split``, test on ``eval_split``).

    Args:
        ctx (ProtocolContext): The context.

    Returns:
        dict: The config (``Runner.from_cfg(Config(cfg))`` builds it).
    """
    family = ctx.task.family
    model = dict(cls=_cls_model, det=_det_model, seg=_seg_model,
                 depth=_depth_model)[family](ctx)
    train_ds, eval_ds = dataset_cfgs(ctx)
    optim_wrapper, schedulers, train_cfg = _schedule(ctx)
    by_epoch = family == 'det'
    interval = ctx.checkpoint_interval or (
        1 if by_epoch else max(1, ctx.recipe['max_iters'] // 10))
    cfg = dict(
        default_scope=SCOPES[family],
        custom_imports=dict(imports=['intern_mm', 'intern_mm.benchmark'],
                            allow_failed_imports=False),
        work_dir=ctx.work_dir,
        model=model,
        **_dataloaders(ctx, train_ds, eval_ds),
        test_evaluator=_evaluator(ctx),
        test_cfg=dict(type='TestLoop'),
        # a resumed task continues the random streams of the interrupted one
        custom_hooks=[dict(type='intern_mm.RNGStateHook')],
        train_cfg=train_cfg,
        optim_wrapper=optim_wrapper,
        param_scheduler=schedulers,
        default_hooks=_default_hooks(ctx, interval, by_epoch),
        **runtime_cfg(ctx, by_epoch, find_unused_parameters=ctx.mode == 'probe'),
    )
    return _merge_cfg_options(cfg, ctx)


def runtime_cfg(ctx: ProtocolContext, by_epoch: bool,
                find_unused_parameters: bool = False) -> dict:
    """The runtime part of a GV-B Runner config (environment, logging, seed, launcher,
    auto-resume, visualiser and, when distributed, the DDP wrapper).

    Args:
        ctx (ProtocolContext): The context (``seed``, ``launcher``).
        by_epoch (bool): Whether the log processor counts epochs.
        find_unused_parameters (bool): DDP's option. Defaults to False.

    Returns:
        dict: Top-level Runner config keys.
    """
    cfg = dict(
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='nccl' if torch.cuda.is_available() else 'gloo')),
        log_processor=dict(by_epoch=by_epoch),
        log_level='INFO',
        randomness=dict(seed=ctx.seed, deterministic=False),
        launcher=ctx.launcher,
        load_from=None,
        resume=True,
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
    )
    if ctx.launcher != 'none':
        cfg['model_wrapper_cfg'] = dict(type='MMDistributedDataParallel',
                                        find_unused_parameters=find_unused_parameters)
    return cfg


def _merge_cfg_options(cfg: dict, ctx: ProtocolContext) -> dict:
    """``cfg`` with the task's, then the run's ``cfg_options`` merged in."""
    for options in (ctx.task.cfg_options, ctx.cfg_options):  # the task's, then the run's
        if options:
            from mmengine.config import Config
            merged = Config(cfg)
            merged.merge_from_dict(copy.deepcopy(options))
            cfg = merged.to_dict()
    return cfg
