# GV-B depth: mmseg DepthEstimator with intern_mm's GVBDepthHead on the four backbone
# maps (SiLog loss), AdamW with a poly schedule per iteration; RMSE and the usual depth
# metrics.
# The numbers are the published recipe (intern_mm.benchmark.protocols.DEFAULT_RECIPES
# 'depth'); a task's recipe and `tools/gvb.py run --recipe depth.KEY=VALUE` replace them:
# lr / weight_decay / optimizer (momentum with SGD), max_iters, power, eta_min,
# batch_size, test_batch_size, crop_size, img_scale (a Resize before the crop; None:
# none), head_channels.
#
# Filled in per run: model.backbone, the head's in_channels and max_depth, norm_cfg
# (SyncBN when distributed on CUDA, else BN), depth_rescale_factor (1 / the layout's
# depth_scale), the metric's max_depth_eval / crop_type, the datasets' data_root /
# ann_file (subset lists) / data_prefix / suffixes, num_workers / persistent_workers.
_base_ = ['./default_runtime.py']
default_scope = 'mmseg'

model = dict(
    type='DepthEstimator',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=0, size_divisor=32),
    backbone=None,
    decode_head=dict(
        type='intern_mm.GVBDepthHead', in_channels=None, in_index=[0, 1, 2, 3],
        channels=256, max_depth=10.0, norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=dict(type='SiLogLoss', loss_weight=1.0)),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomCrop', crop_size=(352, 704)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='PackSegInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
                    'flip', 'flip_direction')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='intern_mm.GVBDepthDataset', data_root=None, ann_file=None,
                 data_prefix=dict(img_path=None, depth_map_path=None), img_suffix='.jpg',
                 depth_map_suffix='.png', pipeline=train_pipeline, test_mode=False))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='intern_mm.GVBDepthDataset', data_root=None, ann_file=None,
                 data_prefix=dict(img_path=None, depth_map_path=None), img_suffix='.jpg',
                 depth_map_suffix='.png', pipeline=test_pipeline, test_mode=True))
test_evaluator = [
    dict(type='intern_mm.GVBDepthMetric', max_depth_eval=10.0, min_depth_eval=1e-3,
         crop_type=None)
]

train_cfg = dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=20000,
                 val_interval=20001)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-2))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=20000, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=2000))
