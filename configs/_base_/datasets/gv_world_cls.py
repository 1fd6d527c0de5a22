# GV world, classification: three sources with different label spaces (shape / colour /
# coarse), concatenated into one unified 17-class space by MultiSourceDataset; the
# MultiSourceSampler fixes each batch's source composition. Format: docs/gv_world.md.
data_root = 'data/gv_world/'
cls_sources = ('shape', 'colour', 'coarse')
cls_source_classes = dict(
    shape=('circle', 'square', 'triangle', 'star', 'cross', 'ring', 'diamond', 'hexagon'),
    colour=('red', 'green', 'blue', 'yellow', 'magenta', 'cyan'),
    coarse=('round', 'polygon', 'spiky'))
cls_classes = cls_source_classes['shape'] + cls_source_classes['colour'] + \
    cls_source_classes['coarse']
# unified class indices of each source (MultiSourceLinearClsHead.sources)
cls_head_sources = dict(
    shape=list(range(0, 8)), colour=list(range(8, 14)), coarse=list(range(14, 17)))
# WordNet senses of the class names (GV-D taxonomy; None = as written, no WordNet link)
cls_gvd_overrides = dict(ring='ring.n.02', star='star.n.05', cross=None, diamond='rhombus.n.01',
                         round='round_shape.n.01', magenta=None, cyan=None)

cls_train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
cls_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs'),
]


def _cls_sources(split, pipeline, test_mode=False):
    return [
        dict(
            type='mmpretrain.CustomDataset',
            data_root=data_root,
            ann_file=f'cls/{name}/{split}.txt',
            data_prefix='',
            classes=cls_source_classes[name],
            pipeline=pipeline,
            test_mode=test_mode) for name in cls_sources
    ]


train_dataloader = dict(
    batch_size=24,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='MultiSourceSampler', batch_size=24, source_ratio=[1, 1, 1]),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_cls_sources('train', cls_train_pipeline),
        sources=cls_sources,
        classes=cls_classes))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiSourceDataset',
        datasets=_cls_sources('val', cls_test_pipeline, test_mode=True),
        sources=cls_sources,
        classes=cls_classes))
val_evaluator = dict(
    type='PerSourceMetric',
    metric=dict(type='mmpretrain.Accuracy', topk=(1, )),
    sources=cls_sources)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
