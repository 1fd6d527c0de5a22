# GV-B classification: mmpretrain ImageClassifier + zero-initialised LinearClsHead, SGD
# with a step schedule per iteration, top-1 and mean per-class accuracy.
# The numbers are the published recipe (intern_mm.benchmark.protocols.DEFAULT_RECIPES
# 'cls'); a task's recipe and `tools/gvb.py run --recipe cls.KEY=VALUE` replace them:
# lr / momentum / weight_decay / optimizer, max_iters, milestones, gamma, batch_size,
# test_batch_size, img_size (crop) and resize_size (short side, default img_size).
#
# Filled in per run: model.backbone (the backbone, with a Pretrained init_cfg for its
# checkpoint), model.head.in_channels / num_classes, model.neck (None when the backbone
# returns a pooled vector), model.data_preprocessor (the backbone config's own, if any),
# the datasets' data_root / ann_file (subset lists) / data_prefix / classes, and
# num_workers / persistent_workers.
_base_ = ['./default_runtime.py']
default_scope = 'mmpretrain'

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=None,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=None,
        in_channels=None,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        init_cfg=dict(type='Constant', layer='Linear', val=0, bias=0)))

# resize the short side, centre crop, no augmentation
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    # drop_last: a last batch of one image breaks BatchNorm in training
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=None, ann_file=None, data_prefix='',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=None, ann_file=None, data_prefix='',
                 pipeline=test_pipeline))
test_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('recall', ), average='macro'),
]

# mmengine's IterBasedTrainLoop, without its 2 s pause per pass of a small subset;
# no validation during training (val_interval = max_iters + 1)
train_cfg = dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=10000,
                 val_interval=10001)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[3000, 6000, 9000], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=1000))
