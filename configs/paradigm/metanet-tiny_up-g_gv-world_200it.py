# Up-G (generalist): a CentralModel of two tiny MetaNets (main = the segmentation expert's
# backbone with the classification expert's 1280-d feature head, detached auxiliary = the
# detection expert, zero-initialised transfer layers, task-specific BN for cls / det)
# trained with the classification, detection and segmentation losses together. Each iteration takes one batch of every task (MultiTaskIterBasedTrainLoop) and
# the GeneralistModel routes it through that task's stock mmpretrain / mmdet / mmseg model
# (the Up-E experts' heads, data preprocessors, multi-source datasets and samplers); the
# losses are summed. Validation evaluates every task with the experts' metrics
# (MultiTaskValLoop) on the first `val_per_source` val images of every source:
# cls/mean/accuracy/top1, det/mean/pascal_voc/mAP, seg/mean/mIoU.
#
# The task parts are read from the three Up-E configs (one source of truth). The hand-off
# from the experts is done by StageHandoffHooks: the paradigm pipeline
# (tools/train_paradigm.py) adds them with the experts' final checkpoints; to run this
# config alone, set the three `*_expert` paths below (checkpoint files or expert work dirs).
_base_ = ['../_base_/default_runtime.py']

import mmengine.config as _mmcfg  # noqa: E402  (module: dropped from the config)

data_root = 'data/gv_world/'
cls_expert = None  # e.g. 'work_dirs/metanet-tiny_up-e-cls_gv-world_300it'
det_expert = None
seg_expert = None

_cls = _mmcfg.Config.fromfile('{{ fileDirname }}/metanet-tiny_up-e-cls_gv-world_300it.py')
_det = _mmcfg.Config.fromfile('{{ fileDirname }}/metanet-tiny_up-e-det_gv-world_300it.py')
_seg = _mmcfg.Config.fromfile('{{ fileDirname }}/metanet-tiny_up-e-seg_gv-world_300it.py')


def _task(cfg, feature_indices):
    model = cfg.model.to_dict()
    model.pop('backbone')
    model.pop('init_cfg', None)
    model['feature_indices'] = feature_indices
    return model


model = dict(
    type='GeneralistModel',
    backbone=dict(
        type='CentralModel',
        main=dict(type='MetaNet', arch='tiny'),
        out_indices=(0, 1, 2, 3, 4),
        bn_tasks=('cls', 'det')),
    tasks=dict(
        cls=_task(_cls, (4, )),
        det=_task(_det, (0, 1, 2, 3)),
        seg=_task(_seg, (0, 1, 2, 3))),
    task_bn=dict(cls='cls', det='det', seg='det'),  # the release: seg uses det-bn
    task_loss_weights=dict(cls=1.0, det=1.0, seg=1.0))

# smaller batches than the experts: every iteration carries all three tasks
train_dataloader = dict(
    cls=dict(_cls.train_dataloader.to_dict(), batch_size=12,
             sampler=dict(_cls.train_dataloader.sampler.to_dict(), batch_size=12)),
    det=dict(_det.train_dataloader.to_dict(), batch_size=6,
             sampler=dict(_det.train_dataloader.sampler.to_dict(), batch_size=6)),
    seg=dict(_seg.train_dataloader.to_dict(), batch_size=8,
             sampler=dict(_seg.train_dataloader.sampler.to_dict(), batch_size=8)))


def _val_subset(loader, num):
    """The first `num` val images of every source (keeps the demo's validation short)."""
    loader = loader.to_dict()
    for dataset in loader['dataset']['datasets']:
        dataset['indices'] = num
    return loader


val_per_source = 100
val_dataloader = dict(
    cls=_val_subset(_cls.val_dataloader, val_per_source),
    det=_val_subset(_det.val_dataloader, val_per_source),
    seg=_val_subset(_seg.val_dataloader, val_per_source))
val_evaluator = dict(
    cls=_cls.val_evaluator.to_dict(),
    det=_det.val_evaluator.to_dict(),
    seg=_seg.val_evaluator.to_dict())

max_iters = 200
train_cfg = dict(type='MultiTaskIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='MultiTaskValLoop')
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
    # As for the experts: the main stream (pre-trained seg + cls expert) adapts at a tenth of
    # the learning rate; the zero-initialised transfer layers and the task heads at full.
    paramwise_cfg=dict(custom_keys={'backbone.main': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=max_iters, eta_min=1e-5),
]

# Hand-off from the Up-E experts (checkpoint keys backbone.* -> the two streams, the
# experts' heads -> the task models). The pipeline replaces these hooks.
_handoffs = [
    dict(type='StageHandoffHook', checkpoint=cls_expert, name='up-e-cls',
         prefix_mapping={'backbone.head.': 'backbone.main.head.',
                         'head.': 'tasks.cls.head.'}),
    dict(type='StageHandoffHook', checkpoint=det_expert, name='up-e-det',
         prefix_mapping={'backbone.': 'backbone.aux.', 'neck.': 'tasks.det.neck.',
                         'rpn_head.': 'tasks.det.rpn_head.',
                         'roi_head.': 'tasks.det.roi_head.'}),
    dict(type='StageHandoffHook', checkpoint=seg_expert, name='up-e-seg',
         prefix_mapping={'backbone.': 'backbone.main.',
                         'decode_head.': 'tasks.seg.decode_head.',
                         'auxiliary_head.': 'tasks.seg.auxiliary_head.'}),
]
custom_hooks = [h for h in _handoffs if h['checkpoint']]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)

del _cls, _det, _seg, _handoffs  # helper objects, not config entries
