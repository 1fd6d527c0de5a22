"""``tools/dataset_converters/coco2voc.py``: the tiny GV world's ``det_a`` COCO files
converted to VOC and read back with mmdet's ``VOCDataset`` give the boxes and labels mmdet
reads from the COCO files; a missing file is one error line."""
import importlib.util
import json
from pathlib import Path

from mmdet.datasets import VOCDataset
from PIL import Image

from intern_mm.apis.cli import run_cli
from intern_mm.datasets.gvb.annotations import read_lines, voc_object_names

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools/dataset_converters/coco2voc.py'


def _main():
    spec = importlib.util.spec_from_file_location('coco2voc_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _coco_targets(coco: dict) -> dict:
    """``str(image id) -> (boxes [x1, y1, x2, y2], labels)`` as mmdet's CocoDataset reads
    them (label = the category's rank by id), every image present."""
    rank = {c['id']: i for i, c in enumerate(sorted(coco['categories'], key=lambda c: c['id']))}
    out = {str(img['id']): ([], []) for img in coco['images']}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        out[str(ann['image_id'])][0].append([x, y, x + w, y + h])
        out[str(ann['image_id'])][1].append(rank[ann['category_id']])
    return out


def test_coco_to_voc_round_trip(tiny_world, tmp_path, capsys):
    main, world = _main(), Path(tiny_world)
    out, classes = tmp_path / 'voc', tmp_path / 'classes.txt'
    for split in ('train', 'val'):
        argv = [str(world / f'det/det_a/{split}.json'), str(out), '--split', split,
                '--img-root', str(world)]
        assert run_cli(main, argv + (['--classes', str(classes)] if split == 'train' else []),
                       prog='coco2voc.py') == 0
    lines = capsys.readouterr().out.splitlines()
    coco = {s: json.loads((world / f'det/det_a/{s}.json').read_text()) for s in ('train', 'val')}
    names = [c['name'] for c in sorted(coco['train']['categories'], key=lambda c: c['id'])]
    assert read_lines(str(classes)) == names == ['circle', 'square', 'triangle', 'star']
    n_train, n_boxes = len(coco['train']['images']), len(coco['train']['annotations'])
    assert lines[0].startswith(f'{out}: split train: {n_train} images (')
    assert f'), {n_boxes} boxes of 4 classes (0 boxes under one pixel left out)' in lines[0]

    for split, data in coco.items():
        expected = _coco_targets(data)
        assert read_lines(str(out / f'{split}.txt')) == [str(i['id']) for i in data['images']]
        ds = VOCDataset(data_root=str(out), ann_file=f'{split}.txt',
                        data_prefix=dict(sub_data_root=''), img_subdir='images',
                        ann_subdir='annotations', metainfo=dict(classes=names),
                        test_mode=True, lazy_init=False)
        got = {info['img_id']: ([inst['bbox'] for inst in info['instances']],
                                [inst['bbox_label'] for inst in info['instances']])
               for info in (ds.get_data_info(i) for i in range(len(ds)))}
        assert got == expected  # empty images included, as empty annotations
        assert all(not inst['ignore_flag'] for i in range(len(ds))
                   for inst in ds.get_data_info(i)['instances'])
        first = data['images'][0]
        assert voc_object_names(str(out / 'annotations' / f"{first['id']}.xml")) == [
            names[label] for label in expected[str(first['id'])][1]]
        with Image.open(out / 'images' / f"{first['id']}.jpg") as img:
            assert (img.format, img.size) == ('JPEG', (first['width'], first['height']))
    assert any(not boxes for boxes, _ in _coco_targets(coco['train']).values())


def test_coco_to_voc_missing_files(tmp_path, capsys):
    main = _main()
    missing = tmp_path / 'missing.json'
    assert run_cli(main, [str(missing), str(tmp_path / 'voc'), '--split', 'train'],
                   prog='coco2voc.py') == 1
    err = capsys.readouterr().err
    assert err.startswith(f'coco2voc.py: error: FileNotFoundError: COCO file {missing} does '
                          'not exist [traceback: ')
    assert len(err.splitlines()) == 1
    coco = dict(images=[dict(id=1, file_name='a.png', width=8, height=8)], annotations=[],
                categories=[dict(id=1, name='x')])
    (tmp_path / 'c.json').write_text(json.dumps(coco))
    assert run_cli(main, [str(tmp_path / 'c.json'), str(tmp_path / 'voc'), '--split', 'val'],
                   prog='coco2voc.py') == 1
    assert capsys.readouterr().err.startswith(
        f'coco2voc.py: error: COCOConversionError: image {tmp_path}/a.png does not exist ')


def test_coco_to_voc_jpeg_crowd_and_tiny_boxes(tmp_path, capsys):
    """A JPEG is copied byte for byte; a crowd box becomes ``difficult`` 1 (ignored by
    VOCDataset as by CocoDataset); a box under one pixel is left out and counted."""
    Image.new('RGB', (16, 12), (90, 30, 200)).save(tmp_path / 'a.jpg', quality=90)
    coco = dict(images=[dict(id=7, file_name='a.jpg', width=16, height=12)],
                categories=[dict(id=3, name='x')],
                annotations=[dict(id=1, image_id=7, category_id=3, bbox=[1.4, 2, 5.2, 6],
                                  iscrowd=1),
                             dict(id=2, image_id=7, category_id=3, bbox=[3, 3, 0.5, 4])])
    (tmp_path / 'c.json').write_text(json.dumps(coco))
    out = tmp_path / 'voc'
    assert run_cli(_main(), [str(tmp_path / 'c.json'), str(out), '--split', 'all'],
                   prog='coco2voc.py') == 0
    assert '1 boxes of 1 classes (1 boxes under one pixel left out)' in capsys.readouterr().out
    assert (out / 'images/7.jpg').read_bytes() == (tmp_path / 'a.jpg').read_bytes()
    ds = VOCDataset(data_root=str(out), ann_file='all.txt', data_prefix=dict(sub_data_root=''),
                    img_subdir='images', ann_subdir='annotations',
                    metainfo=dict(classes=['x']), test_mode=True)
    # [1.4, 2, 1.4 + 5.2, 2 + 6] rounded
    assert ds.get_data_info(0)['instances'] == [
        dict(bbox=[1, 2, 7, 8], bbox_label=0, ignore_flag=1)]
