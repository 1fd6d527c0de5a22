# Real small segmentation set (CamVid, 11 classes, 255 = void) with the stock mmseg DeepLabV3
# and a tiny MetaNet: a CPU-sized end-to-end check of the mmseg integration (used by the tests).
_base_ = './metanet-b4_deeplabv3_4xb4-20k_voc12aug-512x512.py'

data_root = '../shared/datasets/camvid/'
crop_size = (128, 128)
metainfo = dict(
    classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence',
             'Car', 'Pedestrian', 'Bicyclist'),
    palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128], [60, 40, 222],
             [128, 128, 0], [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
             [0, 128, 192]])

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='tiny', drop_path_rate=0.0),
    decode_head=dict(in_channels=64, channels=32, num_classes=11),
    auxiliary_head=dict(in_channels=48, channels=16, num_classes=11))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(240, 180), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(240, 180), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
_camvid = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=False)
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        **_camvid,
        ann_file='train.txt',
        data_prefix=dict(img_path='images/train', seg_map_path='annotations/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        **_camvid,
        ann_file='val.txt',
        data_prefix=dict(img_path='images/val', seg_map_path='annotations/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=40)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40, by_epoch=False)]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=20), logger=dict(interval=10))

# Seeded, so that the short CPU runs (and the tests built on them) are repeatable.
randomness = dict(seed=0, deterministic=False)
