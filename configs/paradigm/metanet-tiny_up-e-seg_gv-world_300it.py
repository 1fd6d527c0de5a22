# Up-E segmentation expert: mmseg EncoderDecoder with a small FCN head on the concatenated
# stride-4..32 features of a tiny MetaNet initialised from Up-A's image tower, trained on the
# GV world's two segmentation sources at once (seg_a / seg_b label disjoint groups of
# object kinds; the other group's pixels are 255). One unified 9-class space (background +
# 8 kinds); for a pixel of source s the softmax leaves out the classes s does not label
# (MultiSourceFCNHead). Batches mix the sources 1:1 (MultiSourceSampler); val = mIoU per
# source.
#
# Initialisation: set `up_a_checkpoint`, or from Python `cfg.model.backbone.init_cfg =
# dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')`. None = random init.
_base_ = ['../_base_/datasets/gv_world_seg.py', '../_base_/default_runtime.py']

up_a_checkpoint = None

model = dict(
    type='EncoderDecoder',
    _scope_='mmseg',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size_divisor=32),
    backbone=dict(
        type='MetaNet',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=up_a_checkpoint, prefix='backbone.')
        if up_a_checkpoint else None),
    decode_head=dict(
        type='MultiSourceFCNHead',
        sources={{_base_.seg_head_sources}},
        in_channels=[24, 32, 48, 64],
        in_index=[0, 1, 2, 3],
        input_transform='resize_concat',
        channels=64,
        num_convs=2,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=9,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-2, weight_decay=0.01),
    # the backbone starts from Up-A: fine-tune it gently, train the new head fully
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-3),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1, save_best='mean/mIoU', rule='greater'))
randomness = dict(seed=0, deterministic=False)
