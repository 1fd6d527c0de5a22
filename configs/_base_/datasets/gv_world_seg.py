# GV world, segmentation: two sources labelling disjoint groups of object kinds (seg_a /
# seg_b; pixels of the other group's objects are 255 = ignore), mapped into the unified
# space background + 8 kinds by MultiSourceDataset. Val: mIoU per source
# (PerSourceMetric). Format: docs/gv_world.md.
data_root = 'data/gv_world/'
seg_sources = ('seg_a', 'seg_b')
seg_classes = ('background', 'circle', 'square', 'triangle', 'star', 'cross', 'ring',
               'diamond', 'hexagon')
seg_source_classes = dict(
    seg_a=('background', 'circle', 'square', 'triangle', 'star'),
    seg_b=('background', 'cross', 'ring', 'diamond', 'hexagon'))
# unified class indices of each source (MultiSourceFCNHead.sources)
seg_head_sources = dict(seg_a=[0, 1, 2, 3, 4], seg_b=[0, 5, 6, 7, 8])
# WordNet senses of the class names (GV-D taxonomy; None = as written, no WordNet link)
seg_gvd_overrides = dict(background='background.n.02', ring='ring.n.02', star='star.n.05',
                         cross=None, diamond='rhombus.n.01')

seg_train_pipeline = [
    dict(type='mmseg.LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
seg_test_pipeline = [
    dict(type='mmseg.LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
]


def _seg_sources(split, pipeline, test_mode=False):
    return [
        dict(
            type='mmseg.BaseSegDataset',
            data_root=data_root,
            data_prefix=dict(img_path=f'images/{split}',
                             seg_map_path=f'seg/{name}/{split}'),
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=dict(classes=seg_source_classes[name]),
            pipeline=pipeline,
            test_mode=test_mode) for name in seg_sources
    ]


train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='MultiSourceSampler', batch_size=16, source_ratio=[1, 1]),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_seg_sources('train', seg_train_pipeline),
        sources=seg_sources,
        classes=seg_classes))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_seg_sources('val', seg_test_pipeline, test_mode=True),
        sources=seg_sources,
        classes=seg_classes))
val_evaluator = dict(
    type='PerSourceMetric',
    metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU']),
    sources=seg_sources)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
