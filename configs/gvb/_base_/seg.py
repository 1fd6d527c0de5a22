# GV-B segmentation: mmseg EncoderDecoder, DeepLabV3 ASPPHead (dilations 1/12/24/36) on
# the stride-32 map and an FCNHead auxiliary head (weight 0.4) on stride 16, SGD with a
# poly schedule per iteration; mIoU.
# The numbers are the published recipe (intern_mm.benchmark.protocols.DEFAULT_RECIPES
# 'seg'); a task's recipe and `tools/gvb.py run --recipe seg.KEY=VALUE` replace them:
# lr / momentum / weight_decay / optimizer, max_iters, power, eta_min, batch_size,
# test_batch_size, crop_size, img_scale, head_channels, aux_channels, head_level /
# aux_level (the backbone levels 0-3, strides 4-32, the heads read).
#
# Filled in per run: model.backbone, the heads' in_channels (the backbone's maps) and
# num_classes, norm_cfg (SyncBN when distributed on CUDA, else BN), the datasets'
# data_root / ann_file (subset lists) / data_prefix / suffixes / classes, num_workers /
# persistent_workers.
_base_ = ['./default_runtime.py']
default_scope = 'mmseg'

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=(512, 512)),
    backbone=None,
    decode_head=dict(
        type='ASPPHead', in_channels=None, in_index=3, channels=512,
        dilations=(1, 12, 24, 36), dropout_ratio=0.1, num_classes=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=None, in_index=2, channels=256, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    # drop_last: a last batch of one image breaks BatchNorm in training (ASPP's
    # image-pool BN raises "Expected more than 1 value per channel")
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='BaseSegDataset', data_root=None, ann_file=None,
                 data_prefix=dict(img_path=None, seg_map_path=None), img_suffix='.jpg',
                 seg_map_suffix='.png', metainfo=dict(classes=None),
                 reduce_zero_label=False, pipeline=train_pipeline, test_mode=False))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='BaseSegDataset', data_root=None, ann_file=None,
                 data_prefix=dict(img_path=None, seg_map_path=None), img_suffix='.jpg',
                 seg_map_suffix='.png', metainfo=dict(classes=None),
                 reduce_zero_label=False, pipeline=test_pipeline, test_mode=True))
test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU'])]

train_cfg = dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=20000,
                 val_interval=20001)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=2000))
