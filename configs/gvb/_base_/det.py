# GV-B detection: mmdet Faster R-CNN + FPN (256 channels, 5 levels; mmdet's
# faster-rcnn_r50_fpn model with SmoothL1 box losses: RPN beta 1/9, RoI beta 1), SGD,
# linear warm-up and a step schedule per epoch; VOC mAP, WIDER FACE AP or CityPersons
# MR^-2 (the task's metric).
# The numbers are the published recipe (intern_mm.benchmark.protocols.DEFAULT_RECIPES
# 'det'); a task's recipe and `tools/gvb.py run --recipe det.KEY=VALUE` replace them:
# lr / momentum / weight_decay / optimizer, max_epochs, milestones, gamma, warmup_iters
# (0: no warm-up), warmup_ratio, batch_size, test_batch_size, img_scale, train_scales
# (a RandomResize range instead of the fixed Resize), repeat (RepeatDataset times, 1:
# no wrapper), grad_clip (optim_wrapper.clip_grad).
#
# Filled in per run: model.backbone, model.neck.in_channels (the backbone's 4 maps),
# model.roi_head.bbox_head.num_classes, model.data_preprocessor mean / std (the backbone
# config's own, if any), the datasets (CocoDataset, or XMLDataset / VOCDataset per VOC
# source, concatenated; data_root, subset ann_file, classes), test_evaluator (from the
# task's metric; eval_mode / ann_file from its layout), num_workers /
# persistent_workers.
_base_ = ['./default_runtime.py']
default_scope = 'mmdet'

model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=None,
    neck=dict(type='FPN', in_channels=None, out_channels=256, num_outs=5),
    rpn_head=dict(
        type='RPNHead',
        in_channels=256,
        feat_channels=256,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=None,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000,
            max_per_img=1000,
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
                num=512,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='RepeatDataset',
        times=3,
        # a COCO-format task; a VOC task gets one XMLDataset / VOCDataset per source
        # (filter_cfg with bbox_min_size=8), concatenated
        dataset=dict(type='CocoDataset', data_root=None, ann_file=None,
                     data_prefix=dict(img=''), metainfo=dict(classes=None),
                     filter_cfg=dict(filter_empty_gt=True, min_size=8),
                     pipeline=train_pipeline, test_mode=False)))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CocoDataset', data_root=None, ann_file=None,
                 data_prefix=dict(img=''), metainfo=dict(classes=None),
                 pipeline=test_pipeline, test_mode=True))
test_evaluator = [dict(type='VOCMetric', metric='mAP', eval_mode='11points')]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=13)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=True))
log_processor = dict(by_epoch=True)
