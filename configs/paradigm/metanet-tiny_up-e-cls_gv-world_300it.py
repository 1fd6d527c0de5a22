# Up-E classification expert: a tiny MetaNet initialised from Up-A's image tower, trained on
# the GV world's three classification sources at once (shape / colour / coarse; different
# label spaces) with one linear head over their unified 17-class space and per-source
# masks (MultiSourceLinearClsHead: see its docstring for why masks rather than per-source
# heads). Batches mix the sources 1:1:1 (MultiSourceSampler); val = accuracy per source.
#
# Initialisation: set `up_a_checkpoint` (any checkpoint whose `backbone.*` keys are the image
# tower), or from Python `cfg.model.backbone.init_cfg = dict(type='Pretrained',
# checkpoint=CKPT, prefix='backbone.')`. Left at None the backbone is randomly initialised.
_base_ = ['../_base_/datasets/gv_world_cls.py', '../_base_/default_runtime.py']

up_a_checkpoint = None

model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=17,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='MetaNet',
        arch='tiny',
        out_indices=(4, ),
        init_cfg=dict(type='Pretrained', checkpoint=up_a_checkpoint, prefix='backbone.')
        if up_a_checkpoint else None),
    head=dict(
        type='MultiSourceLinearClsHead',
        num_classes=17,
        in_channels=1280,
        sources={{_base_.cls_head_sources}},
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        cal_acc=False))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    # the backbone starts from Up-A: fine-tune it gently, train the new head fully
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1, save_best='mean/accuracy/top1', rule='greater'))
randomness = dict(seed=0, deterministic=False)
