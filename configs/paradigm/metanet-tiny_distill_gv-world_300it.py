# Upstream distillation stage (the release's deployment path): the Up-G generalist's
# backbone (a CentralModel of two tiny MetaNets, exported by the pipeline as
# stages/up-g/export/backbone.pth, cls BN) is the frozen teacher; a smaller MetaNet (half
# the tiny widths) is the student. The student imitates the teacher's five outputs (the
# stride 4/8/16/32 maps and the pooled 1280-d feature) through 1x1 conv + BN connectors
# with a standardised MSE (FeatureDistiller, docs/distillation.md). Images: the train
# images of the GV world's three classification sources, labels unused. Validation: the
# mean student-teacher cosine similarity on the first `val_per_source` val images of
# every source (feat_cosine/mean).
#
# Alone: python tools/train.py configs/paradigm/metanet-tiny_distill_gv-world_300it.py \
#            --cfg-options model.teacher_checkpoint=WORK/stages/up-g/export/backbone.pth
# (without a teacher checkpoint the teacher is randomly initialised: plumbing only).
# Export the student: intern_mm.models.export_student(CKPT, 'student.pth').
_base_ = ['../_base_/datasets/gv_world_cls.py', '../_base_/default_runtime.py']

# (a base file's variables are not names in a config: the ones used below, as there)
data_root = 'data/gv_world/'
cls_sources = ('shape', 'colour', 'coarse')
cls_source_classes = dict(
    shape=('circle', 'square', 'triangle', 'star', 'cross', 'ring', 'diamond', 'hexagon'),
    colour=('red', 'green', 'blue', 'yellow', 'magenta', 'cyan'),
    coarse=('round', 'polygon', 'spiky'))
cls_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
cls_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]

teacher_checkpoint = None  # e.g. 'work_dirs/demo/stages/up-g/export/backbone.pth'

#: The student: a MetaNet of the tiny layout with half the channels (an intern_mm-only
#: architecture). Its pooled output (index 4) keeps MetaNet's 1280-d head.
student_arch = dict(
    repeats=[1, 1, 1, 1, 1, 1],
    expansion=[1, 4, 6, 3, 2, 5],
    channels=[8, 12, 16, 24, 24, 32],
    mtb_type=4,
    head_dim=8,
    stem_dim=8)

model = dict(
    type='FeatureDistiller',
    student=dict(type='MetaNet', arch=student_arch, out_indices=(0, 1, 2, 3, 4)),
    # the Up-G backbone as exported (no task-specific BN: backbone.pth holds the cls set)
    teacher=dict(
        type='CentralModel',
        main=dict(type='MetaNet', arch='tiny'),
        out_indices=(0, 1, 2, 3, 4)),
    teacher_checkpoint=teacher_checkpoint,
    loss=dict(type='FeatureDistillLoss', mode='norm_mse'),
    level_weights=[1.0, 1.0, 1.0, 1.0, 1.0],
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))


def _images(split, pipeline, indices=None):
    sources = []
    for name in cls_sources:
        dataset = dict(
            type='mmpretrain.CustomDataset', data_root=data_root,
            ann_file=f'cls/{name}/{split}.txt', data_prefix='',
            classes=cls_source_classes[name], pipeline=pipeline, test_mode=split != 'train')
        if indices is not None:
            dataset['indices'] = indices
        sources.append(dataset)
    # the sources' class lists differ (labels are unused here)
    return dict(type='ConcatDataset', datasets=sources, ignore_keys=['classes'])


batch_size = 32
train_dataloader = dict(
    _delete_=True,
    batch_size=batch_size,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=_images('train', cls_train_pipeline))
val_per_source = 100
val_dataloader = dict(
    _delete_=True,
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=_images('val', cls_test_pipeline, val_per_source))
val_evaluator = dict(_delete_=True, type='FeatureSimilarityMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
