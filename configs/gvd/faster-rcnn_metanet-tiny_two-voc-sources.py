# A multi-source detection expert (INTERN's Up-E for detection) in a stock mmdet config:
# two Pascal-VOC (XML) sources that box different classes, one Faster R-CNN over their
# unified label space, on a tiny MetaNet. Written as a user of mmdet would write it.
# The sources: raccoon (../shared/datasets/raccoon) and `shapes`, the GV world's det_b
# source converted from COCO to VOC (docs/your_data.md, "A stock mmdet config"):
#   python tools/dataset_converters/make_gv_world.py --out data/gv_world_small --num 200 \
#       --seed 0
#   python tools/dataset_converters/coco2voc.py data/gv_world_small/det/det_b/train.json \
#       data/gv_world_voc --split train --img-root data/gv_world_small \
#       --classes data/gv_world_voc/classes.txt
#   python tools/dataset_converters/coco2voc.py data/gv_world_small/det/det_b/val.json \
#       data/gv_world_voc --split val --img-root data/gv_world_small
#
# intern_mm's parts by their bare names: `custom_imports` imports intern_mm, which
# registers its public parts into mmdet's registries (MetaNet, MultiSourceRoIHead,
# MultiSourceBBoxHead, MultiSourceDataset, PerSourceMetric, LoadImageFromFileOrSkip,
# DecodeFailureHook, ...; the list: docs/compat.md). One exception: mmdet has its own
# `MultiSourceSampler` (fixed ratio, semi-supervised detection), which the bare name keeps
# meaning in mmdet; intern_mm's is written `intern_mm.MultiSourceSampler`. The
# `intern_mm.` prefix works for every part from any scope.
#
# The label space: a source boxes only its own classes, so an object of another source's
# class sits unboxed in its images. MultiSourceBBoxHead leaves, for an image of source s,
# the classes s does not box out of its softmax: they are never taught as background.
# The unified classes and each source's indices come from the sources' class lists:
#   python tools/gvd.py taxonomy --source raccoon=work_dirs/raccoon_classes.txt \
#       --source shapes=data/gv_world_voc/classes.txt --json work_dirs/taxonomy.json
# Paste its "unified" into `unified_classes` and its "sources" into `source_indices`.
#
# Train (check the data, then 2000 iterations; a train image that does not decode is
# skipped, named in the log and counted by DecodeFailureHook in
# <work_dir>/<timestamp>/decode_failures.json):
#   python tools/train.py configs/gvd/faster-rcnn_metanet-tiny_two-voc-sources.py \
#       --work-dir work_dirs/two-voc
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py', 'mmdet::_base_/default_runtime.py'
]
default_scope = 'mmdet'
custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

# ---- label space: from tools/gvd.py taxonomy --json (keys "unified" and "sources") ----
unified_classes = ['raccoon', 'star', 'cross', 'ring', 'diamond', 'hexagon']
source_indices = dict(raccoon=[0], shapes=[1, 2, 3, 4, 5])
# ---- the sources: VOC layout <root>/images/<id>.jpg, <root>/annotations/<id>.xml, and
# one list of ids per split; `classes` in the class file's order (the taxonomy input) ----
source_data = dict(
    raccoon=dict(data_root='../shared/datasets/raccoon/', classes=('raccoon', ),
                 train='train.txt', val='test.txt'),
    shapes=dict(data_root='data/gv_world_voc/',
                classes=('star', 'cross', 'ring', 'diamond', 'hexagon'), train='train.txt',
                val='val.txt'))
img_scale = (64, 64)
neck_channels = 64
max_iters = 2000
batch_size = 4

model = dict(
    backbone=dict(
        _delete_=True, type='MetaNet', arch='tiny', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.0),
    # small images: four levels (strides 4..32), small anchors, narrow heads
    neck=dict(in_channels=[24, 32, 48, 64], out_channels=neck_channels, num_outs=4),
    rpn_head=dict(
        in_channels=neck_channels, feat_channels=neck_channels,
        anchor_generator=dict(scales=[3], strides=[4, 8, 16, 32])),
    roi_head=dict(
        type='MultiSourceRoIHead',
        bbox_roi_extractor=dict(out_channels=neck_channels, finest_scale=28),
        bbox_head=dict(
            type='MultiSourceBBoxHead',
            sources=source_indices,
            num_classes=len(unified_classes),
            in_channels=neck_channels,
            fc_out_channels=256,
            reg_class_agnostic=True)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=50), rcnn=dict(max_per_img=20)))

# Train images: a file that does not decode is skipped and named (LoadImageFromFileOrSkip).
# Val images: the plain loader; tools/train.py decodes them before training, because a
# val image cannot be skipped without changing the metric.
train_pipeline = [
    dict(type='LoadImageFromFileOrSkip'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]


def _voc_sources(split, pipeline, test_mode=False):
    return [
        dict(type='VOCDataset', data_root=src['data_root'], ann_file=src[split],
             data_prefix=dict(sub_data_root=''), img_subdir='images',
             ann_subdir='annotations', metainfo=dict(classes=src['classes']),
             filter_cfg=None if test_mode else dict(filter_empty_gt=True, min_size=2),
             pipeline=pipeline, test_mode=test_mode) for src in source_data.values()
    ]


train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    # every batch holds the sources 1:1
    sampler=dict(type='intern_mm.MultiSourceSampler', batch_size=batch_size,
                 source_ratio=[1, 1]),
    dataset=dict(type='MultiSourceDataset', datasets=_voc_sources('train', train_pipeline),
                 sources=list(source_data), classes=unified_classes))
val_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MultiSourceDataset',
                 datasets=_voc_sources('val', test_pipeline, test_mode=True),
                 sources=list(source_data), classes=unified_classes))
test_dataloader = val_dataloader
# VOC mAP of each source over its own classes, and their mean
val_evaluator = dict(type='PerSourceMetric', sources=list(source_data),
                     metric=dict(type='VOCMetric', metric='mAP', eval_mode='area'))
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=2e-4)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_best='mean/pascal_voc/mAP', rule='greater'))
# logs and writes the images that did not decode (decode_failures.json)
custom_hooks = [dict(type='DecodeFailureHook')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
