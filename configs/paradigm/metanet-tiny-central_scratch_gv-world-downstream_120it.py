# Downstream baseline of the paradigm demo: the Up-G architecture (CentralModel of two tiny
# MetaNets, out_indices=(4, ): the 1280-d pooled feature) + a linear head, trained end to end
# from random initialisation on the GV world's downstream task (number of objects, 4 classes;
# never supervised upstream). The pipeline trains it twice, on the same 10% subset the probes
# use and on 100% of the training split (it overrides train_dataloader.dataset.ann_file), and
# evaluates on the downstream *test* split (val_dataloader below), like the probes.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/gv_world/'
downstream_classes = ('one', 'two', 'three', 'four')

model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=4,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='CentralModel', main=dict(type='MetaNet', arch='tiny'), out_indices=(4, )),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=4,
        in_channels=1280,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        ann_file='downstream/train.txt',
        data_prefix='',
        classes=downstream_classes,
        pipeline=[
            dict(type='mmpretrain.LoadImageFromFile'),
            dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='mmpretrain.PackInputs'),
        ]))
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        ann_file='downstream/test.txt',
        data_prefix='',
        classes=downstream_classes,
        pipeline=[dict(type='mmpretrain.LoadImageFromFile'),
                  dict(type='mmpretrain.PackInputs')]))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))

max_iters = 120
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
