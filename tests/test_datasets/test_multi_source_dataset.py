"""MultiSourceDataset on the GV world: source tags and unified labels."""
from pathlib import Path

import pytest
import torch

from intern_mm.datasets import MultiSourceDataset
from intern_mm.datasets.gv_world import (CLS_SOURCES, DET_SOURCES, SEG_SOURCES, SHAPES,
                                         generate_gv_world)
from intern_mm.registry import DATASETS


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('gv_world_ms')
    generate_gv_world(str(out), num=30, seed=5)
    return out


def _cls(world, name, pipeline=None):
    return dict(type='mmpretrain.CustomDataset', data_root=str(world),
                ann_file=f'cls/{name}/val.txt', data_prefix='',
                classes=CLS_SOURCES[name],
                pipeline=pipeline or [dict(type='mmpretrain.LoadImageFromFile'),
                                      dict(type='mmpretrain.PackInputs')])


def test_cls_sources_tagged_and_mapped(world):
    unified = [c for v in CLS_SOURCES.values() for c in v]
    ds = DATASETS.build(dict(type='MultiSourceDataset',
                             datasets=[_cls(world, n) for n in CLS_SOURCES],
                             sources=list(CLS_SOURCES), classes=unified))
    assert ds.metainfo['classes'] == tuple(unified)
    assert ds.metainfo['sources'] == tuple(CLS_SOURCES)
    n = len(ds.datasets[0])
    assert len(ds) == 3 * n
    for source_idx, name in enumerate(CLS_SOURCES):
        item = ds[source_idx * n]
        sample = item['data_samples']
        assert sample.dataset_source == name and sample.source_index == source_idx
        local = ds.datasets[source_idx].get_data_info(0)['gt_label']
        assert unified[int(sample.gt_label)] == CLS_SOURCES[name][local]
        assert ds.source_of(source_idx * n) == name


def test_det_and_seg_labels_mapped(world):
    det = MultiSourceDataset(
        datasets=[dict(type='mmdet.CocoDataset', data_root=str(world),
                       ann_file=f'det/{n}/val.json', data_prefix=dict(img=''),
                       metainfo=dict(classes=DET_SOURCES[n]), test_mode=True,
                       pipeline=[dict(type='mmdet.LoadImageFromFile'),
                                 dict(type='mmdet.LoadAnnotations', with_bbox=True),
                                 dict(type='mmdet.PackDetInputs')])
                  for n in DET_SOURCES],
        sources=list(DET_SOURCES), classes=SHAPES)
    n_a = len(det.datasets[0])
    for idx, name in ((0, 'det_a'), (n_a, 'det_b')):
        for k in range(len(det.datasets[0])):
            info = det.get_data_info(idx + k)
            if info['instances']:
                break
        sample = det[idx + k]['data_samples']
        local = [i['bbox_label'] for i in info['instances']]
        expected = [SHAPES.index(DET_SOURCES[name][label]) for label in local]
        assert sample.gt_instances.labels.tolist() == expected
        assert sample.dataset_source == name

    seg = MultiSourceDataset(
        datasets=[dict(type='mmseg.BaseSegDataset', data_root=str(world),
                       data_prefix=dict(img_path='images/val',
                                        seg_map_path=f'seg/{n}/val'),
                       img_suffix='.png', seg_map_suffix='.png',
                       metainfo=dict(classes=SEG_SOURCES[n]),
                       pipeline=[dict(type='mmseg.LoadImageFromFile'),
                                 dict(type='mmseg.LoadAnnotations'),
                                 dict(type='mmseg.PackSegInputs')])
                  for n in SEG_SOURCES],
        sources=list(SEG_SOURCES), classes=['background', *SHAPES])
    n_a = len(seg.datasets[0])
    values_a = set().union(*(seg[i]['data_samples'].gt_sem_seg.data.unique().tolist()
                             for i in range(n_a)))
    values_b = set().union(*(seg[n_a + i]['data_samples'].gt_sem_seg.data.unique()
                             .tolist() for i in range(n_a)))
    assert values_a <= {0, 1, 2, 3, 4, 255} and values_b <= {0, 5, 6, 7, 8, 255}
    assert values_b & {5, 6, 7, 8}  # seg_b objects moved to the unified ids
    assert 255 in values_a | values_b


def test_data_root_override_and_errors(world, tmp_path):
    cfgs = [_cls('/nonexistent', 'shape'), _cls('/nonexistent', 'coarse')]
    ds = MultiSourceDataset(cfgs, sources=['shape', 'coarse'],
                            classes=[*CLS_SOURCES['shape'], *CLS_SOURCES['coarse']],
                            data_root=str(world))
    assert len(ds) == 2 * len(ds.datasets[0])
    with pytest.raises(ValueError, match=r"\['round', 'polygon', 'spiky'\] of source "
                       "'coarse' are not in"):
        MultiSourceDataset([_cls(world, 'shape'), _cls(world, 'coarse')],
                           sources=['shape', 'coarse'], classes=CLS_SOURCES['shape'])
    with pytest.raises(ValueError, match='pass the unified `classes`'):
        MultiSourceDataset([_cls(world, 'shape'), _cls(world, 'coarse')])
    with pytest.raises(ValueError, match='unique'):
        MultiSourceDataset([_cls(world, 'shape'), _cls(world, 'shape')],
                           sources=['a', 'a'])
    with pytest.raises(ValueError, match='2 datasets'):
        MultiSourceDataset([_cls(world, 'shape'), _cls(world, 'shape')],
                           sources=['a'])
    # a label outside the source's classes is reported, not silently mapped
    with pytest.raises(ValueError, match='outside its classes'):
        MultiSourceDataset._map(torch.tensor([7]), torch.full((256, ), -1), 'x')
