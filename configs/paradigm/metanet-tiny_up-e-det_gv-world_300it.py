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
_base_ = ['../_base_/datasets/gv_world_det.py', '../_base_/default_runtime.py']

up_a_checkpoint = None
neck_channels = 64

model = dict(
    type='FasterRCNN',
    _scope_='mmdet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='MetaNet',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=up_a_checkpoint, prefix='backbone.')
        if up_a_checkpoint else None),
    neck=dict(
        type='FPN', in_channels=[24, 32, 48, 64], out_channels=neck_channels, num_outs=4),
    rpn_head=dict(
        type='RPNHead',
        in_channels=neck_channels,
        feat_channels=neck_channels,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[3],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='MultiSourceRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=neck_channels,
            featmap_strides=[4, 8, 16, 32],
            finest_scale=28),
        bbox_head=dict(
            type='MultiSourceBBoxHead',
            sources={{_base_.det_head_sources}},
            in_channels=neck_channels,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=8,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=True,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.6,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=128,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=300,
            max_per_img=100,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=300,
            max_per_img=50,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=20)))

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
