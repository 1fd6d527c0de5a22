# Real small detection set (raccoon, Pascal-VOC XML, 1 class) with the stock mmdet Faster R-CNN
# and a tiny MetaNet: a CPU-sized end-to-end check of the mmdet integration (used by the tests).
_base_ = './metanet-b4_faster-rcnn_fpn_1x_voc0712.py'

data_root = '../shared/datasets/raccoon/'
metainfo = dict(classes=('raccoon', ), palette=[(220, 20, 60)])
img_scale = (320, 320)

model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.0),
    neck=dict(in_channels=[24, 32, 48, 64], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=1)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
_raccoon = dict(
    type='VOCDataset',
    data_root=data_root,
    metainfo=metainfo,
    data_prefix=dict(sub_data_root=''),
    img_subdir='images',
    ann_subdir='annotations')
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        **_raccoon,
        ann_file='train.txt',
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True, **_raccoon, ann_file='test.txt', test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=20, milestones=[15], gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=4)

# Seeded, so that the short CPU runs (and the tests built on them) are repeatable.
randomness = dict(seed=0, deterministic=False)
