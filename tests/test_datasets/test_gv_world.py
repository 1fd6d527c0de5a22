"""The built-in GV world: determinism, layout and read-back by the stock mm* datasets."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intern_mm.datasets.gv_world import (CLS_SOURCES, COLOURS, DET_SOURCES,
                                         DOWNSTREAM_SEG_CLASSES, SEG_SOURCES, SHAPES,
                                         TEXTURES, generate_gv_world, render_scene,
                                         split_sizes)

REPO_ROOT = Path(__file__).resolve().parents[2]
NUM = 40


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('gv_world')
    generate_gv_world(str(out), num=NUM, seed=3)
    return out


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_split_sizes():
    assert split_sizes(100, 0.15, 0.15) == {'train': 70, 'val': 15, 'test': 15}
    with pytest.raises(ValueError, match='val_ratio'):
        split_sizes(100, 0.0, 0.1)
    with pytest.raises(ValueError, match='num must be'):
        split_sizes(2, 0.2, 0.2)


def test_render_scene_consistency():
    for index in range(20):
        scene = render_scene(7, index)
        objects = scene['objects']
        assert 1 <= len(objects) <= 4
        # object 0 is the largest (and nearest): painted last, never occluded
        assert objects[0]['radius'] == max(o['radius'] for o in objects)
        assert objects[0]['area'] > 0
        for k, obj in enumerate(objects):
            ys, xs = np.nonzero(scene['instance_map'] == k)
            assert len(xs) == obj['area']
            if obj['area']:
                x, y, w, h = obj['bbox']
                assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1,
                                                ys.max() + 1)
        # objects are nearer than the ground plane behind them
        fg = scene['instance_map'] >= 0
        assert scene['depth'][fg].mean() < 8000
    assert not np.array_equal(render_scene(7, 0)['image'], render_scene(8, 0)['image'])


def test_deterministic_and_worker_independent(tmp_path, world):
    other = tmp_path / 'again'
    generate_gv_world(str(other), num=NUM, seed=3, workers=2)
    assert _digest(world) == _digest(other)
    changed = tmp_path / 'seed4'
    generate_gv_world(str(changed), num=NUM, seed=4)
    assert _digest(world) != _digest(changed)


def test_layout_and_meta(world):
    meta = json.loads((world / 'meta.json').read_text())
    assert meta['splits'] == split_sizes(NUM, 0.15, 0.15)
    assert set(meta['sources']) == {'cls', 'det', 'seg', 'downstream'}
    assert meta['sources']['det']['det_b']['classes'] == list(DET_SOURCES['det_b'])
    assert meta['unified']['seg'] == ['background', *SHAPES]
    assert len(set(meta['unified']['cls'])) == sum(len(v) for v in CLS_SOURCES.values())
    for split, n in meta['splits'].items():
        assert len(list((world / 'images' / split).glob('*.png'))) == n
        assert len(list((world / 'depth' / split).glob('*.png'))) == n
        captions = json.loads((world / 'captions' / f'{split}.json').read_text())
        assert len(captions['data_list']) == n
        assert all(len(d['captions']) == 3 for d in captions['data_list'])
    depth = np.asarray(Image.open(next((world / 'depth' / 'train').glob('*.png'))))
    assert depth.dtype == np.uint16 and 1000 < depth.mean() < 9000


def test_labels_consistent_across_sources(world):
    """shape / coarse / det / seg labels describe the same objects."""
    shape = [int(l.split()[1]) for l in
             (world / 'cls/shape/train.txt').read_text().splitlines()]
    coarse = [int(l.split()[1]) for l in
              (world / 'cls/coarse/train.txt').read_text().splitlines()]
    coarse_names = list(CLS_SOURCES['coarse'])
    meta = json.loads((world / 'meta.json').read_text())
    for s, c in zip(shape, coarse):
        assert SHAPES[s] in meta['coarse_taxonomy'][coarse_names[c]]
    det_a = json.loads((world / 'det/det_a/train.json').read_text())
    first = det_a['images'][0]
    seg = np.asarray(Image.open(world / 'seg/seg_a/train' / Path(first['file_name']).name))
    boxed = {SEG_SOURCES['seg_a'].index(det_a['categories'][a['category_id'] - 1]['name'])
             for a in det_a['annotations'] if a['image_id'] == first['id']
             if det_a['categories'][a['category_id'] - 1]['name'] in SEG_SOURCES['seg_a']}
    assert boxed <= set(np.unique(seg).tolist())


def test_downstream_tasks_label_what_no_upstream_source_labels(world):
    """Colour boxes, texture masks and depth ids describe the rendered objects."""
    meta = json.loads((world / 'meta.json').read_text())
    assert sorted(meta['downstream_tasks']) == ['cls', 'depth', 'det', 'seg']
    upstream_names = {c for src in meta['sources'].values() if 'classes' not in src
                      for v in src.values() for c in v['classes']}
    # no downstream class (besides background) is a class of any upstream source
    assert upstream_names and not (set(COLOURS) | set(TEXTURES)) & (
        upstream_names - set(CLS_SOURCES['colour']))
    sizes = split_sizes(NUM, 0.15, 0.15)
    for split, n in sizes.items():
        det = json.loads((world / f'downstream_det/{split}.json').read_text())
        shape_a = json.loads((world / f'det/det_a/{split}.json').read_text())
        shape_b = json.loads((world / f'det/det_b/{split}.json').read_text())
        assert [c['name'] for c in det['categories']] == list(COLOURS)
        assert len(det['images']) == n
        # every object boxed by a kind source (star twice) is boxed once by colour
        kind_boxes = {(a['image_id'], tuple(a['bbox']))
                      for a in shape_a['annotations'] + shape_b['annotations']}
        assert {(a['image_id'], tuple(a['bbox'])) for a in det['annotations']} == kind_boxes
        ids = (world / f'downstream_seg/{split}.txt').read_text().split()
        assert ids == (world / f'downstream_depth/{split}.txt').read_text().split()
        assert len(ids) == n
    # texture masks: object pixels (labelled by a kind source, 255 = the other
    # source's objects) carry a texture class, background pixels 0
    for img_id in (world / 'downstream_seg/train.txt').read_text().split()[:5]:
        tex = np.asarray(Image.open(world / f'downstream_seg/train/{img_id}.png'))
        seg_a = np.asarray(Image.open(world / f'seg/seg_a/train/{img_id}.png'))
        assert set(np.unique(tex).tolist()) <= set(range(len(DOWNSTREAM_SEG_CLASSES)))
        assert ((tex > 0) == (seg_a > 0)).all()
        scene = render_scene(3, int(img_id), 64)
        for k, obj in enumerate(scene['objects']):
            pixels = scene['instance_map'] == k
            if pixels.any():
                assert (tex[pixels] == DOWNSTREAM_SEG_CLASSES.index(obj['texture'])).all()


def test_read_back_mmpretrain(world):
    from mmpretrain.datasets import CustomDataset
    for source, classes in CLS_SOURCES.items():
        ds = CustomDataset(data_root=str(world), ann_file=f'cls/{source}/train.txt',
                           data_prefix='', classes=str(world / f'cls/{source}/classes.txt'))
        assert list(ds.metainfo['classes']) == list(classes)
        assert len(ds) == split_sizes(NUM, 0.15, 0.15)['train']
        info = ds.get_data_info(0)
        assert Path(info['img_path']).is_file()
        assert 0 <= info['gt_label'] < len(classes)
    ds = CustomDataset(data_root=str(world), ann_file='downstream/test.txt',
                       data_prefix='', classes=str(world / 'downstream/classes.txt'))
    assert 'images/test/' in ds.get_data_info(0)['img_path']
    assert len(ds.metainfo['classes']) == 4


def test_read_back_mmdet(world):
    from mmdet.datasets import CocoDataset
    for source, classes in DET_SOURCES.items():
        ds = CocoDataset(data_root=str(world), ann_file=f'det/{source}/train.json',
                         data_prefix=dict(img=''), metainfo=dict(classes=classes),
                         test_mode=True, pipeline=[])
        assert len(ds) == split_sizes(NUM, 0.15, 0.15)['train']
        labels = [inst['bbox_label'] for i in range(len(ds))
                  for inst in ds.get_data_info(i)['instances']]
        assert labels and max(labels) < len(classes)
        info = ds.get_data_info(0)
        assert Path(info['img_path']).is_file()
        for inst in info['instances']:
            x0, y0, x1, y1 = inst['bbox']
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_read_back_mmseg(world):
    from mmseg.datasets import BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations
    for source, classes in SEG_SOURCES.items():
        ds = BaseSegDataset(
            data_root=str(world), img_suffix='.png', seg_map_suffix='.png',
            data_prefix=dict(img_path='images/val', seg_map_path=f'seg/{source}/val'),
            metainfo=dict(classes=classes), pipeline=[LoadAnnotations()])
        assert len(ds) == split_sizes(NUM, 0.15, 0.15)['val']
        values = set()
        for i in range(len(ds)):
            values |= set(np.unique(ds[i]['gt_seg_map']).tolist())
        assert 0 in values and values <= set(range(len(classes))) | {255}


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools/dataset_converters/make_gv_world.py'),
         '--out', str(out), '--num', '12', '--seed', '1', '--img-size', '48',
         '--workers', '2'],
        capture_output=True, text=True, check=True)
    assert 'wrote 12 images' in proc.stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['img_size'] == 48
    assert Image.open(out / 'images/train/000000.png').size == (48, 48)
