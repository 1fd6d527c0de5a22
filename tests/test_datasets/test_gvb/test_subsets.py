"""Seeded stratified subsets, manifests and verification."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intern_mm.datasets.gvb.manifest import SubsetVerificationError, verify_subset
from intern_mm.datasets.gvb.selection import stratified_select
from intern_mm.datasets.gvb.subsets import make_subset

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def cls_root(tmp_path) -> Path:
    """An ImageFolder with unbalanced classes (30 / 20 / 10 images) and a test split."""
    root = tmp_path / 'data'
    for split, counts in (('train', (30, 20, 10)), ('test', (3, 3, 3))):
        for c, n in zip(('a', 'b', 'c'), counts):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.new('RGB', (4, 4), (i, 0, 0)).save(root / split / c / f'{i:03d}.png')
    return root


def test_stratified_select_is_deterministic_and_stratified():
    keys = {f'{c}{i}': c for c, n in (('a', 50), ('b', 30), ('c', 3)) for i in range(n)}
    first = stratified_select(keys, seed=1, ratio=0.1)
    assert first == stratified_select(keys, seed=1, ratio=0.1)
    assert first != stratified_select(keys, seed=2, ratio=0.1)
    assert Counter(keys[u] for u in first) == {'a': 5, 'b': 3, 'c': 1}  # >= 1 per class
    shots = stratified_select(keys, seed=0, shot=4)
    assert Counter(keys[u] for u in shots) == {'a': 4, 'b': 4, 'c': 3}
    with pytest.raises(ValueError):
        stratified_select(keys, seed=0, ratio=1.5)
    with pytest.raises(ValueError):
        stratified_select(keys, seed=0)


def test_cls_subset_files_and_val_split(cls_root, tmp_path):
    out = tmp_path / 'sub'
    m = make_subset('cls', str(cls_root), str(out), [dict(img_dir='train')], ratio=0.5,
                    val_ratio=0.2, seed=0, test_sources=[dict(img_dir='test')])
    assert m['counts'] == dict(subset=30, train=24, val=6)
    lines = (out / 'subset.txt').read_text().split('\n')[:-1]
    labels = Counter(int(line.split()[1]) for line in lines)
    assert labels == {0: 15, 1: 10, 2: 5}
    train = set((out / 'train.txt').read_text().split('\n')[:-1])
    val = set((out / 'val.txt').read_text().split('\n')[:-1])
    assert train | val == set(lines) and not train & val  # val carved from the subset
    assert all(p.startswith('train/') for p in m['ids']['subset'])  # never the test split
    assert (out / 'classes.txt').read_text().split() == ['a', 'b', 'c']
    # same seed, same files
    m2 = make_subset('cls', str(cls_root), str(tmp_path / 'sub2'), [dict(img_dir='train')],
                     ratio=0.5, seed=0)
    assert m2['ids'] == m['ids'] and m2['list_sha256'] == m['list_sha256']
    assert verify_subset(str(out))['manifest_sha256'] == m['manifest_sha256']


def test_verify_catches_changes(cls_root, tmp_path):
    out = tmp_path / 'sub'
    make_subset('cls', str(cls_root), str(out), [dict(img_dir='train')], ratio=0.5)
    chosen = (out / 'subset.txt').read_text().split()[0]
    # a changed data file
    Image.new('RGB', (8, 8)).save(cls_root / chosen)
    with pytest.raises(SubsetVerificationError, match='data files'):
        verify_subset(str(out))
    # a changed list file
    out2 = tmp_path / 'sub2'
    make_subset('cls', str(cls_root), str(out2), [dict(img_dir='train')], ratio=0.5)
    with open(out2 / 'train.txt', 'a') as f:
        f.write('train/a/999.png 0\n')
    with pytest.raises(SubsetVerificationError, match='train.txt changed'):
        verify_subset(str(out2))
    # an edited manifest
    out3 = tmp_path / 'sub3'
    make_subset('cls', str(cls_root), str(out3), [dict(img_dir='train')], ratio=0.5)
    manifest = json.loads((out3 / 'manifest.json').read_text())
    manifest['seed'] = 5
    (out3 / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(SubsetVerificationError, match='manifest.json was edited'):
        verify_subset(str(out3))
    # the CLI exits non-zero and names the problem
    proc = subprocess.run([sys.executable, str(REPO / 'tools/dataset_converters/make_subset.py'),
                           'verify', str(out3)], capture_output=True, text=True)
    assert proc.returncode == 1 and 'manifest.json was edited' in proc.stderr


def test_annotation_list_change_detected(tmp_path, cls_root):
    ann = cls_root / 'train_list.txt'
    ann.write_text(''.join(f'train/a/{i:03d}.png 0\n' for i in range(10)) +
                   ''.join(f'train/b/{i:03d}.png 1\n' for i in range(10)))
    out = tmp_path / 'sub'
    m = make_subset('cls', str(cls_root), str(out), [dict(ann_file='train_list.txt')],
                    shot=2, val_ratio=0.5)
    assert m['counts'] == dict(subset=4, train=2, val=2)
    ann.write_text(ann.read_text().replace('train/b/009.png 1', 'train/b/009.png 0'))
    with pytest.raises(SubsetVerificationError, match='train_list.txt changed'):
        verify_subset(str(out))
    (cls_root / 'bad.txt').write_text('no_label_here\n')
    with pytest.raises(ValueError, match='expected "<path> <label>"'):
        make_subset('cls', str(cls_root), str(tmp_path / 'x'), [dict(ann_file='bad.txt')])


def test_overlap_with_test_split_refused(cls_root, tmp_path):
    with pytest.raises(ValueError, match='also appear in the test split'):
        make_subset('cls', str(cls_root), str(tmp_path / 's'), [dict(img_dir='train')],
                    test_sources=[dict(img_dir='train')])


def _voc_xml(path: Path, names):
    objs = ''.join(f'<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>1</xmin>'
                   f'<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>'
                   for n in names)
    path.write_text(f'<annotation><size><width>8</width><height>8</height></size>{objs}'
                    '</annotation>')


def test_voc_subset_stratifies_by_rarest_class(tmp_path):
    root = tmp_path / 'voc'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    ids = []
    for i in range(40):
        names = ['cat'] + (['dog'] if i < 10 else [])  # dog is rare
        _voc_xml(root / 'Annotations' / f'{i:03d}.xml', names)
        Image.new('RGB', (8, 8)).save(root / 'JPEGImages' / f'{i:03d}.jpg')
        ids.append(f'{i:03d}')
    (root / 'trainval.txt').write_text('\n'.join(ids) + '\n')
    out = tmp_path / 'sub'
    m = make_subset('voc', str(root), str(out),
                    [dict(name='voc', ann_file='trainval.txt')], ratio=0.2,
                    classes=['cat', 'dog'])
    chosen = (out / 'subset_voc.txt').read_text().split()
    assert len(chosen) == 8 and sum(int(i) < 10 for i in chosen) == 2  # 20% of both strata
    verify_subset(str(out))
    _voc_xml(root / 'Annotations' / f'{chosen[0]}.xml', ['cat', 'cat'])
    with pytest.raises(SubsetVerificationError):
        verify_subset(str(out))
    with pytest.raises(ValueError, match='unknown class names'):
        make_subset('voc', str(root), str(tmp_path / 's2'),
                    [dict(name='voc', ann_file='trainval.txt')], classes=['cat'])


def test_seg_and_coco_subsets(tmp_path):
    root = tmp_path / 'seg'
    (root / 'img').mkdir(parents=True)
    (root / 'ann').mkdir()
    ids = []
    for i in range(20):
        mask = np.zeros((4, 4), np.uint8)
        mask[0, 0] = 2 if i < 5 else 1
        mask[1, 1] = 255
        Image.fromarray(mask).save(root / 'ann' / f'{i}.png')
        Image.new('RGB', (4, 4)).save(root / 'img' / f'{i}.jpg')
        ids.append(str(i))
    (root / 'train.txt').write_text('\n'.join(ids) + '\n')
    m = make_subset('seg', str(root), str(tmp_path / 's'),
                    [dict(ann_file='train.txt', img_dir='img', seg_dir='ann')], ratio=0.2)
    assert sum(int(i) < 5 for i in m['ids']['subset']) == 1  # the rare class-2 stratum
    verify_subset(str(tmp_path / 's'))
    coco = dict(images=[dict(id=i, file_name=f'{i}.jpg') for i in range(10)],
                annotations=[dict(id=i + 1, image_id=i, category_id=1 + (i < 3),
                                  bbox=[0, 0, 1, 1]) for i in range(10)],
                categories=[dict(id=1, name='a'), dict(id=2, name='b')])
    (root / 'coco.json').write_text(json.dumps(coco))
    m = make_subset('coco', str(root), str(tmp_path / 'c'),
                    [dict(ann_file='coco.json', img_prefix='img')], ratio=0.3, val_ratio=0)
    sub = json.loads((tmp_path / 'c' / 'subset.json').read_text())
    assert {str(img['id']) for img in sub['images']} == set(m['ids']['subset'])
    assert all(str(a['image_id']) in set(m['ids']['subset']) for a in sub['annotations'])
