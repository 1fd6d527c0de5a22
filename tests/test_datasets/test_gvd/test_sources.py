"""Declared sources: the schema, one reader per format, bad input as one line naming the
source and the file, ``exclude`` / ``limit``, and the files written for the stages."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from intern_mm.datasets.gvd import GVDInputError
from intern_mm.datasets.gvd.source_data import (load_source, path_groups, write_captions,
                                                write_split)
from intern_mm.datasets.gvd.sources import (Source, parse_sources, source_tasks, split_limit,
                                            world_sources)


def _img(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def _folder(root):
    for cls in ('cat', 'dog'):
        for i in range(3):
            _img(root / 'train' / cls / f'{i}.png', 40 * i)
    return root


def _voc(root, names):
    (root / 'ann').mkdir(parents=True)
    ids = []
    for i, name in enumerate(names):
        _img(root / 'img' / f'{i}.jpg')
        objects = ''.join(f'<object><name>{n}</name></object>' for n in name.split(','))
        (root / 'ann' / f'{i}.xml').write_text(f'<annotation>{objects}</annotation>')
        ids.append(str(i))
    (root / 'train.txt').write_text('\n'.join(ids) + '\n')
    return dict(task='det', format='voc', root=str(root), train='train.txt',
                img_dir='img', ann_dir='ann')


def test_schema_errors_name_the_source():
    with pytest.raises(GVDInputError, match=r"source a: unknown keys \['clases'\]"):
        parse_sources(dict(a=dict(task='cls', format='folder', root='.', train='t',
                                  clases=('x', ))))
    with pytest.raises(GVDInputError, match="source b: format 'voc' does not serve task "
                       "'cls'"):
        parse_sources(dict(b=dict(task='cls', format='voc', root='.', train='t')))
    with pytest.raises(GVDInputError, match="source c: unknown task 'depth'"):
        parse_sources(dict(c=dict(task='depth', format='voc', root='.', train='t')))
    with pytest.raises(GVDInputError, match="source d: 'train' is required"):
        parse_sources(dict(d=dict(task='cls', format='folder', root='.')))
    with pytest.raises(GVDInputError, match='source e: limit must be'):
        parse_sources(dict(e=dict(task='cls', format='folder', root='.', train='t', limit=0)))


def test_missing_files_name_source_and_file(tmp_path):
    src = Source('cap', dict(task='image-text', format='captions-json', root=str(tmp_path),
                             train='captions/train.json'))
    with pytest.raises(GVDInputError) as err:
        load_source(src)
    assert str(err.value) == (f'source cap: caption file {tmp_path}/captions/train.json '
                              'does not exist')
    lst = Source('l', dict(task='cls', format='list', root=str(tmp_path), train='x.txt',
                           classes=('a', )))
    with pytest.raises(GVDInputError, match=f'source l: .*{tmp_path}/x.txt'):
        load_source(lst)
    (tmp_path / 'x.txt').write_text('a.png 0\n')
    with pytest.raises(GVDInputError, match=f'source l: {tmp_path}/a.png .listed in '):
        load_source(lst)  # an image the list names is missing
    (tmp_path / 'x.txt').write_text('a.png 3\n')
    with pytest.raises(GVDInputError, match='label 3 is out of range for the 1 classes'):
        load_source(lst)


def test_class_list_must_cover_the_annotations(tmp_path):
    decl = _voc(tmp_path / 'voc', ['cat', 'cat,dog'])
    with pytest.raises(GVDInputError) as err:
        load_source(Source('pets', dict(decl, classes=('cat', ))))
    line = str(err.value)
    assert line.startswith(f'source pets: {tmp_path}/voc/train.txt: class names do not '
                           "match: unknown class names (annotated, not configured): ['dog']")
    assert '\n' not in line
    data = load_source(Source('pets', dict(decl, classes=('cat', 'dog', 'bird'))))
    assert data.classes == ['cat', 'dog', 'bird']  # a listed class never annotated is fine
    (tmp_path / 'voc/ann/1.xml').write_text('<annotation><object>')
    with pytest.raises(GVDInputError, match=f'source pets: .*{tmp_path}/voc/ann/1.xml'):
        load_source(Source('pets', dict(decl, classes=('cat', 'dog'))))


def test_folder_classes_exclude_limit_and_written_list(tmp_path):
    root = _folder(tmp_path / 'pets')
    decl = dict(task='cls', format='folder', root=str(root), train='train',
                classes=('dog', 'cat'))
    data = load_source(Source('pets', decl))
    assert [(s['img'], s['label']) for s in data.samples['train']][:4] == [
        ('train/cat/0.png', 1), ('train/cat/1.png', 1), ('train/cat/2.png', 1),
        ('train/dog/0.png', 0)]
    with pytest.raises(GVDInputError, match=r"unknown class names .*\['cat'\]"):
        load_source(Source('pets', dict(decl, classes=('dog', ))))
    kept = load_source(Source('pets', dict(decl, exclude=['train/cat/1.png'], limit=4)))
    assert [s['img'] for s in kept.samples['train']] == [  # 4 of 6 evenly spaced, less 1
        'train/cat/0.png', 'train/dog/0.png', 'train/dog/1.png']
    assert kept.excluded == {'train': 1}
    with pytest.raises(GVDInputError, match='exclude names 1 image.* train/cat/9.png'):
        load_source(Source('pets', dict(decl, exclude=['train/cat/9.png'])))
    cfg = write_split(kept, 'train', str(tmp_path / 'out'))
    assert cfg['type'] == 'mmpretrain.CustomDataset' and cfg['classes'] == ['dog', 'cat']
    with open(cfg['ann_file']) as f:
        assert f.read() == 'train/cat/0.png 1\ntrain/dog/0.png 0\ntrain/dog/1.png 0\n'
    assert kept.images('train')[0] == osp.join(str(root), 'train/cat/0.png')
    assert split_limit(list(range(7)), 3) == [0, 2, 4]


def test_caption_formats_agree(tmp_path):
    _img(tmp_path / 'a.png')
    _img(tmp_path / 'b.png')
    (tmp_path / 'c.jsonl').write_text(
        json.dumps(dict(img_path='a.png', captions=['a red one', 'red'])) + '\n'
        + json.dumps(dict(img_path='b.png', caption='a blue one')) + '\n')
    with open(tmp_path / 'c.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerows([('img_path', 'caption'), ('a.png', 'a red one'), ('a.png', 'red'),
                          ('b.png', 'a blue one')])
    loaded = [load_source(Source(fmt, dict(task='image-text', format=f'captions-{fmt}',
                                           root=str(tmp_path), train=f'c.{fmt}')))
              for fmt in ('jsonl', 'csv')]
    assert loaded[0].samples == loaded[1].samples
    path = write_captions(loaded[:1], 'train', str(tmp_path / 'out.json'))
    with open(path) as f:
        data = json.load(f)['data_list']
    assert data[1] == dict(img_path=str(tmp_path / 'b.png'), captions=['a blue one'])
    (tmp_path / 'c.jsonl').write_text(json.dumps(dict(img_path='a.png')) + '\n')
    with pytest.raises(GVDInputError, match=r'c.jsonl:1: a.png has no caption'):
        load_source(Source('j', dict(task='image-text', format='captions-jsonl',
                                     root=str(tmp_path), train='c.jsonl')))


def test_world_declared_as_sources(tiny_world, tmp_path):
    sources = parse_sources(world_sources(tiny_world))
    assert source_tasks(sources) == {
        'image-text': ['captions'], 'cls': ['shape', 'colour', 'coarse'],
        'det': ['det_a', 'det_b'], 'seg': ['seg_a', 'seg_b']}
    with open(osp.join(tiny_world, 'meta.json')) as f:
        train = json.load(f)['splits']['train']
    datas = {n: load_source(s) for n, s in sources.items()}
    assert {n: len(d.samples['train']) for n, d in datas.items()} == {n: train for n in sources}
    det = dict(datas['det_b'].source.decl, limit=dict(train=5))
    cfg = write_split(load_source(Source('det_b', det)), 'train', str(tmp_path))
    with open(cfg['ann_file']) as f:
        coco = json.load(f)
    assert len(coco['images']) == 5
    assert {a['image_id'] for a in coco['annotations']} <= {i['id'] for i in coco['images']}
    assert cfg['metainfo']['classes'] == ('star', 'cross', 'ring', 'diamond', 'hexagon')
    seg = write_split(datas['seg_a'], 'val', str(tmp_path))
    assert seg['data_prefix'] == dict(img_path='images/val', seg_map_path='seg/seg_a/val')


def test_declared_source_as_leak_check_path(tmp_path):
    """``tools/gvd.py leak-check`` PATHs: ``CONFIG.py[:SOURCE]`` -> one group per split."""
    root = _folder(tmp_path / 'pets')
    cfg = tmp_path / 'pipe.py'
    cfg.write_text(f"sources = dict(pets=dict(task='cls', format='folder', root={str(root)!r},"
                   " train='train', limit=2), more=dict(task='cls', format='folder', "
                   f"root={str(root)!r}, train='train'))\n")
    groups = path_groups([f'{cfg}:pets', str(root / 'train/dog')])
    assert groups == {'pets/train': [str(root / 'train/cat/0.png'), str(root / 'train/dog/0.png')],
                      str(root / 'train/dog'): [str(root / f'train/dog/{i}.png')
                                                for i in range(3)]}
    assert sorted(path_groups([str(cfg)])) == ['more/train', 'pets/train']
    with pytest.raises(GVDInputError, match="declares no source 'cats'"):
        path_groups([f'{cfg}:cats'])
