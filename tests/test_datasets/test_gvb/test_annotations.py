"""The one annotation reader per format (shared by the GV-B subsets and datasets/checks)."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intern_mm.datasets.gvb.annotations import (coco_categories, coco_image_objects,
                                                label_name, load_coco, mask_values,
                                                read_cls_list, read_ids, scan_image_folder,
                                                voc_object_names)


def test_voc_object_names_difficult_and_unnamed(tmp_path):
    xml = tmp_path / 'a.xml'
    xml.write_text('<annotation>'
                   '<object><name> cat </name></object>'
                   '<object><name>dog</name><difficult>1</difficult></object>'
                   '<object><pose>Left</pose></object>'
                   '</annotation>')
    assert voc_object_names(str(xml)) == ['cat']
    assert voc_object_names(str(xml), skip_difficult=False) == ['cat', 'dog']
    with pytest.raises(FileNotFoundError, match='does not exist'):
        voc_object_names(str(tmp_path / 'missing.xml'))
    (tmp_path / 'bad.xml').write_text('<annotation><object>')
    with pytest.raises(ET.ParseError):
        voc_object_names(str(tmp_path / 'bad.xml'))


def test_coco_reader(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=1), dict(id=2)],
        annotations=[dict(id=1, image_id=1, category_id=2),
                     dict(id=2, image_id=1, category_id=1, iscrowd=1),
                     dict(id=3, image_id=2, category_id=1, ignore=1)],
        categories=[dict(id=2, name='b'), dict(id=1, name='a')])))
    coco = load_coco(str(path))
    assert coco_categories(coco) == [(1, 'a'), (2, 'b')]
    assert coco_image_objects(coco, str(path)) == {1: [2], 2: []}
    coco['annotations'].append(dict(id=4, image_id=9, category_id=1))
    with pytest.raises(ValueError, match='unknown image 9'):
        coco_image_objects(coco, str(path))
    (tmp_path / 'x.json').write_text('{"images": []}')
    with pytest.raises(KeyError, match='not a COCO file'):
        load_coco(str(tmp_path / 'x.json'))


def test_cls_readers_and_label_names(tmp_path):
    for c in ('b', 'a'):
        (tmp_path / 'train' / c).mkdir(parents=True)
        Image.new('RGB', (2, 2)).save(tmp_path / 'train' / c / '0.png')
    (tmp_path / 'train' / 'a' / 'notes.txt').write_text('not an image')
    samples, classes = scan_image_folder(str(tmp_path), 'train')
    assert classes == ['a', 'b']
    assert samples == [('train/a/0.png', 0), ('train/b/0.png', 1)]
    lst = tmp_path / 'list.txt'
    lst.write_text('x/1.png 0\n\nx/2.png 3\n')
    assert read_cls_list(str(lst), 'p') == [('p/x/1.png', 0), ('p/x/2.png', 3)]
    lst.write_text('x/1.png cat\n')
    with pytest.raises(ValueError, match=r'list.txt:1: expected "<path> <label>"'):
        read_cls_list(str(lst))
    assert [label_name(classes, i) for i in (1, 2, -1)] == ['b', '<label 2>', '<label -1>']


def test_seg_ids_and_mask_values(tmp_path):
    (tmp_path / 'img' / 'sub').mkdir(parents=True)
    (tmp_path / 'img' / 'sub' / 'x.jpg').write_bytes(b'')
    (tmp_path / 'img' / 'y.jpg').write_bytes(b'')
    assert read_ids(str(tmp_path), dict(img_dir='img')) == ['sub/x', 'y']
    (tmp_path / 'ids.txt').write_text('y\n')
    assert read_ids(str(tmp_path), dict(ann_file='ids.txt', img_dir='img')) == ['y']
    mask = np.array([[0, 2], [255, 2]], np.uint8)
    Image.fromarray(mask).save(tmp_path / 'm.png')
    assert mask_values(str(tmp_path / 'm.png')) == [0, 2]
    assert mask_values(str(tmp_path / 'm.png'), ignore_index=0) == [2, 255]
    with pytest.raises(FileNotFoundError):
        mask_values(str(Path(tmp_path) / 'none.png'))
