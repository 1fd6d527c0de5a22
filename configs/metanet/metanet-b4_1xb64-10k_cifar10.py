# Fine-tune MetaNet MN-B4 on CIFAR-10 stored as an image folder (train/<class>/*.jpg,
# test/<class>/*.jpg), resized to 224 like the GV-B recipe. mmpretrain's CustomDataset reads
# the folders; pass --cfg-options train_dataloader.dataset.ann_file=LIST for a subset list.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

data_root = 'data/cifar10'
num_classes = 10
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MetaNet', arch='mn-b4', out_indices=(4, ), frozen_stages=-1, norm_eval=False),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
img_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size, edge='short'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# The GV-B classification recipe: SGD 0.01, momentum 0.9, wd 1e-3, 10k iterations,
# steps at 3k/6k/9k, batch 64.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-3))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=False, milestones=[3000, 6000, 9000], gamma=0.1)
train_cfg = dict(by_epoch=False, max_iters=10000, val_interval=2000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(base_batch_size=64)
