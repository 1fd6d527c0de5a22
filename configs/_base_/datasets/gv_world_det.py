# GV world, detection: two sources with partly overlapping class sets (det_a / det_b; each
# boxes only its own classes), mapped into the unified 8-class space of object kinds by
# MultiSourceDataset. Val: VOC mAP per source (PerSourceMetric). Format: docs/gv_world.md.
data_root = 'data/gv_world/'
det_sources = ('det_a', 'det_b')
det_classes = ('circle', 'square', 'triangle', 'star', 'cross', 'ring', 'diamond',
               'hexagon')
det_source_classes = dict(
    det_a=('circle', 'square', 'triangle', 'star'),
    det_b=('star', 'cross', 'ring', 'diamond', 'hexagon'))
# unified class indices of each source (MultiSourceBBoxHead.sources)
det_head_sources = dict(det_a=[0, 1, 2, 3], det_b=[3, 4, 5, 6, 7])
# WordNet senses of the class names (GV-D taxonomy; None = as written, no WordNet link)
det_gvd_overrides = dict(ring='ring.n.02', star='star.n.05', cross=None, diamond='rhombus.n.01')

det_train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs'),
]
det_test_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale_factor=1.0, keep_ratio=True),  # sets scale_factor
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


def _det_sources(split, pipeline, test_mode=False):
    return [
        dict(
            type='mmdet.CocoDataset',
            data_root=data_root,
            ann_file=f'det/{name}/{split}.json',
            data_prefix=dict(img=''),
            metainfo=dict(classes=det_source_classes[name]),
            filter_cfg=None if test_mode else dict(filter_empty_gt=True, min_size=2),
            pipeline=pipeline,
            test_mode=test_mode) for name in det_sources
    ]


train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='MultiSourceSampler', batch_size=8, source_ratio=[1, 1]),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_det_sources('train', det_train_pipeline),
        sources=det_sources,
        classes=det_classes))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_det_sources('val', det_test_pipeline, test_mode=True),
        sources=det_sources,
        classes=det_classes))
val_evaluator = dict(
    type='PerSourceMetric',
    metric=dict(type='mmdet.VOCMetric', metric='mAP', eval_mode='area'),
    sources=det_sources)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
