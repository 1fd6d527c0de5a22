"""A stock mmdet config trains a multi-source detection expert over two VOC-XML sources
of different classes, written as configs/gvd/faster-rcnn_metanet-tiny_two-voc-sources.py
tells a user: the label space from ``tools/gvd.py taxonomy``, ``tools/train.py`` with the
default ``--check-data quick``; one truncated train JPEG is skipped, named and counted. The
second source is the config's ``shapes`` (the GV world's det_b classes), written here as a
small VOC set of flat images instead of the converted world."""
import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from intern_mm.apis.cli import run_cli

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/gvd/faster-rcnn_metanet-tiny_two-voc-sources.py'
#: the shapes source's classes (the config's, the GV world's det_b)
SHAPES = ('star', 'cross', 'ring', 'diamond', 'hexagon')
#: the generated source: (image id, [(class, box x1 y1 x2 y2), ...]) on 64 px images; the
#: train split boxes every class (``--check-data`` reports a class no train box uses)
SHAPES_SET = dict(
    train=[('s0', [('star', (4, 4, 24, 24)), ('cross', (30, 4, 60, 30)),
                   ('ring', (4, 34, 28, 60))]),
           ('s1', [('diamond', (20, 16, 60, 56)), ('hexagon', (2, 2, 18, 18))])],
    val=[('s2', [('ring', (4, 10, 44, 50))]),
         ('s3', [('star', (16, 4, 56, 40)), ('hexagon', (2, 44, 20, 62))])])
TRUNCATED = 's1'


def _tool(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem + '_tool', REPO / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_voc_source(root: Path, splits: dict, size: int = 64) -> Path:
    """A Pascal-VOC set (``images/``, ``annotations/``, ``<split>.txt``) of flat images
    with filled boxes (grey level by class)."""
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    for split, items in splits.items():
        for img_id, objects in items:
            img = np.full((size, size, 3), 30, np.uint8)
            xml = ''
            for name, (x1, y1, x2, y2) in objects:
                img[y1:y2, x1:x2] = 80 + 30 * SHAPES.index(name)
                xml += (f'<object><name>{name}</name><difficult>0</difficult><bndbox>'
                        f'<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}'
                        '</ymax></bndbox></object>')
            Image.fromarray(img).save(root / 'images' / f'{img_id}.jpg', quality=95)
            (root / 'annotations' / f'{img_id}.xml').write_text(
                f'<annotation><filename>{img_id}.jpg</filename><size><width>{size}</width>'
                f'<height>{size}</height><depth>3</depth></size>{xml}</annotation>')
        (root / f'{split}.txt').write_text(''.join(f'{i}\n' for i, _ in items))
    return root


def _taxonomy(tmp_path: Path, capsys) -> dict:
    """``tools/gvd.py taxonomy`` over the two class files, as the config comments say."""
    from intern_mm.datasets.gvd import GVDInputError, load_wordnet
    try:
        load_wordnet()
    except GVDInputError as err:
        pytest.skip(f'WordNet is not installed: {err}')
    (tmp_path / 'raccoon.txt').write_text('raccoon\n')
    (tmp_path / 'shapes.txt').write_text(''.join(f'{c}\n' for c in SHAPES))
    out = tmp_path / 'taxonomy.json'
    assert run_cli(_tool('tools/gvd.py').main, [
        'taxonomy', '--source', f'raccoon={tmp_path}/raccoon.txt', '--source',
        f'shapes={tmp_path}/shapes.txt', '--json', str(out)], prog='gvd.py') == 0
    capsys.readouterr()
    return json.loads(out.read_text())


def _user_config(tmp_path: Path, taxonomy: dict, raccoon: Path, shapes: Path) -> Path:
    """The shipped config with the taxonomy's lists pasted and the data roots set."""
    text = CONFIG.read_text()
    text, n1 = re.subn(r'^unified_classes = .*$', f'unified_classes = {taxonomy["unified"]!r}',
                       text, flags=re.M)
    text, n2 = re.subn(r'^source_indices = .*$', f'source_indices = {taxonomy["sources"]!r}',
                       text, flags=re.M)
    assert n1 == n2 == 1
    text = text.replace("'../shared/datasets/raccoon/'", repr(f'{raccoon}/'))
    text = text.replace("'data/gv_world_voc/'", repr(f'{shapes}/'))
    path = tmp_path / CONFIG.name
    path.write_text(text)
    return path


def test_stock_mmdet_config_trains_two_voc_sources(datasets_dir, tmp_path, capsys):
    taxonomy = _taxonomy(tmp_path, capsys)
    # WordNet links none of raccoon and the five shapes: six unified classes
    assert taxonomy['unified'] == ['raccoon', *SHAPES]
    assert taxonomy['sources'] == dict(raccoon=[0], shapes=[1, 2, 3, 4, 5])
    assert taxonomy['parents'] == {}
    shipped = Config.fromfile(str(CONFIG))  # the example's lists are the taxonomy's
    assert shipped.unified_classes == taxonomy['unified']
    assert shipped.source_indices == taxonomy['sources']

    shapes = write_voc_source(tmp_path / 'shapes', SHAPES_SET)
    bad = shapes / 'images' / f'{TRUNCATED}.jpg'
    bad.write_bytes(bad.read_bytes()[:200])  # cut in the header: cv2 decodes to None
    config = _user_config(tmp_path, taxonomy, datasets_dir / 'raccoon', shapes)
    work = tmp_path / 'work'
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
            'train_dataloader.num_workers=1', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'train_dataloader.dataset.datasets.0.indices=2',
            'val_dataloader.dataset.datasets.0.indices=2']
    train = _tool('tools/train.py').main
    assert run_cli(train, [str(config), '--work-dir', str(work), '--cfg-options', *opts],
                   prog='train.py') == 0
    out = capsys.readouterr().out
    # --check-data quick: its line says the train images were not decoded, and how to
    check = [line for line in out.splitlines() if line.startswith('data check (quick)')]
    assert check == [
        'data check (quick): train: 4 samples, annotations, files and class names checked, '
        'images NOT decoded (--check-data full or tools/misc/check_dataset.py CONFIG '
        'decodes them; with LoadImageFromFileOrSkip an image that does not decode is '
        'skipped and named at run time); val: 4 samples, 4 files decoded']
    assert (work / 'iter_2.pth').is_file()

    # the head the run built: the taxonomy's unified count and per-source indices
    from mmdet.registry import MODELS
    dumped = Config.fromfile(str(work / CONFIG.name))
    assert dumped.model.roi_head.bbox_head.sources == taxonomy['sources']
    head = MODELS.build(dumped.model.roi_head.bbox_head)
    assert head.num_classes == len(taxonomy['unified']) == 6
    # valid logits per source: its classes + background (index 6)
    table = dict(zip(head.source_masks.names, head.source_masks.table.tolist()))
    assert table == dict(raccoon=[True] + [False] * 5 + [True], shapes=[False] + [True] * 6)

    log_dir = next(p for p in work.iterdir() if p.is_dir() and re.fullmatch(r'\d{8}_\d{6}',
                                                                             p.name))
    log = (log_dir / f'{log_dir.name}.log').read_text()
    # the truncated image: named once in the log, counted once in the run's summary
    assert log.count(f'{bad}: cannot be read or decoded (AssertionError: failed to load '
                     'image') == 1
    summary = json.loads((log_dir / 'decode_failures.json').read_text())
    assert summary['count'] == 1 and list(summary['files']) == [str(bad)]
    # the sampler puts both shapes train images into each of the 2 batches: redrawn at least
    # twice (prefetching and a redraw of the same file may add more)
    assert summary['skips'] >= 2
    assert 'decode failures: 1 image file(s) could not be decoded' in log
    # the val metric of each source and their mean
    scalars = [json.loads(line) for line in
               (log_dir / 'vis_data' / 'scalars.json').read_text().splitlines()]
    val = [s for s in scalars if 'raccoon/pascal_voc/mAP' in s][-1]
    assert {'raccoon/pascal_voc/mAP', 'shapes/pascal_voc/mAP',
            'mean/pascal_voc/mAP'} <= set(val)
    assert val['mean/pascal_voc/mAP'] == pytest.approx(
        (val['raccoon/pascal_voc/mAP'] + val['shapes/pascal_voc/mAP']) / 2, abs=1e-3)
    shutil.rmtree(work)
