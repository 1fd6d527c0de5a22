# Up-E detection expert: mmdet Faster R-CNN (FPN, 64 channels) on a tiny MetaNet initialised
# from Up-A's image tower, trained on the GV world's two detection sources at once (det_a /
# det_b box different, partly overlapping class sets). One unified 8-class space; for an
# image of source s the box classifier's softmax leaves out the classes s does not annotate
# (MultiSourceRoIHead + MultiSourceBBoxHead), so unboxed objects of other sources' classes
# are never taught as background for those classes. Batches mix the sources 1:1
# (MultiSourceSampler); val = VOC mAP per source.
#
# Initialisation: set `up_a_checkpoint`, or from Python `cfg.model.backbone.init_cfg =
# dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')`. None = random init.
# The detector is mmdet's Faster R-CNN FPN base; below only what differs from it.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py', '../_base_/datasets/gv_world_det.py',
    '../_base_/default_runtime.py'
]

up_a_checkpoint = None
neck_channels = 64

model = dict(
    _scope_='mmdet',
    backbone=dict(
        _delete_=True,
        type='MetaNet',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=up_a_checkpoint, prefix='backbone.')
        if up_a_checkpoint else None),
    # 64x64 images: four levels (strides 4..32), small anchors, narrow heads
    neck=dict(in_channels=[24, 32, 48, 64], out_channels=neck_channels, num_outs=4),
    rpn_head=dict(
        in_channels=neck_channels,
        feat_channels=neck_channels,
        anchor_generator=dict(scales=[3], strides=[4, 8, 16, 32]),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='MultiSourceRoIHead',
        bbox_roi_extractor=dict(out_channels=neck_channels, finest_scale=28),
        bbox_head=dict(
            type='MultiSourceBBoxHead',
            sources={{_base_.det_head_sources}},
            in_channels=neck_channels,
            fc_out_channels=256,
            num_classes=8,
            reg_class_agnostic=True,
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    # fewer anchors / proposals / RoIs per (small) image
    train_cfg=dict(
        rpn=dict(assigner=dict(pos_iou_thr=0.6), sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=50),
        rcnn=dict(max_per_img=20)))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2),
    # the backbone starts from Up-A: fine-tune it gently, train the new heads fully
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=2e-4),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1, save_best='mean/pascal_voc/mAP', rule='greater'))
randomness = dict(seed=0, deterministic=False)
