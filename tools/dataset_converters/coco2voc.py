"""Convert a COCO detection file and its images into the Pascal-VOC (XML) layout.

Usage::

    python tools/dataset_converters/coco2voc.py COCO_JSON OUT --split NAME \
        [--img-root DIR] [--classes FILE_OUT] [--debug]

Example (the GV world's ``det_b`` source, train and val, into one VOC folder)::

    python tools/dataset_converters/coco2voc.py data/gv_world_small/det/det_b/train.json \
        data/gv_world_voc --split train --img-root data/gv_world_small \
        --classes data/gv_world_voc/classes.txt
    python tools/dataset_converters/coco2voc.py data/gv_world_small/det/det_b/val.json \
        data/gv_world_voc --split val --img-root data/gv_world_small

Writes, for every image of the file (an image without boxes too: an annotation without
objects):

* ``OUT/images/<id>.jpg``: the image (a JPEG is copied, any other format re-encoded to
  JPEG); ``<id>`` is the COCO image id, so splits converted into one ``OUT`` need distinct
  ids (true of COCO's own splits and of the GV world);
* ``OUT/annotations/<id>.xml``: ``filename``, ``size`` and one ``object`` per box
  (``name``, ``difficult``, ``bndbox`` with integer ``xmin ymin xmax ymax``);
* ``OUT/<split>.txt``: the ids, one per line, in the file's image order;
* ``--classes FILE_OUT``: the category names, one per line, in category-id order (the
  order of the labels mmdet's ``CocoDataset`` gives them).

Boxes: COCO ``[x, y, w, h]`` becomes ``xmin = x + 1``, ``ymin = y + 1``, ``xmax = x + w +
1``, ``ymax = y + h + 1`` (each rounded to an integer): VOC's 1-based coordinates as
mmdet reads them (``VOCDataset`` subtracts 1 from all four, as mmdet's
``pascal_voc.py`` converter does), so ``VOCDataset`` reads back the ``[x, y, x + w,
y + h]`` that ``CocoDataset`` reads from the COCO file. A crowd or ignored box is an
object with ``difficult`` 1 (both datasets then flag it ``ignore_flag``); a box narrower
or lower than one pixel is left out, as ``CocoDataset`` leaves it out.

A missing or unreadable file is one error line naming it (exit status 1); ``--debug``
shows the traceback.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple

from PIL import Image, UnidentifiedImageError

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.datasets.gvb.annotations import (coco_categories,  # noqa: E402
                                                load_coco)


class COCOConversionError(ValueError):
    """Bad input to the conversion; its message names the file."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('coco_json', metavar='COCO_JSON', help='COCO detection file')
    parser.add_argument('out', metavar='OUT', help='VOC folder (created; files of other '
                        'splits already there are kept)')
    parser.add_argument('--split', required=True, metavar='NAME',
                        help='split name: the id list is OUT/NAME.txt')
    parser.add_argument('--img-root', metavar='DIR',
                        help="folder the images' file_name is relative to (default: the "
                        "COCO file's folder)")
    parser.add_argument('--classes', metavar='FILE_OUT',
                        help='write the category names here, one per line, in id order')
    parser.add_argument(DEBUG_FLAG, action='store_true', help='show tracebacks')
    return parser


def voc_box(bbox: Sequence[float]) -> List[int]:
    """VOC ``[xmin, ymin, xmax, ymax]`` of a COCO ``[x, y, w, h]`` box, as mmdet reads VOC.

    Args:
        bbox (Sequence[float]): ``[x, y, w, h]``.

    Returns:
        list[int]: ``[x + 1, y + 1, x + w + 1, y + h + 1]``, rounded.

    Example:
        >>> voc_box([6.0, 31.0, 15.0, 15.0])
        [7, 32, 22, 47]
    """
    x, y, w, h = (float(v) for v in bbox)
    return [round(x) + 1, round(y) + 1, round(x + w) + 1, round(y + h) + 1]


def _objects(coco: dict, path: str) -> Tuple[Dict[int, List[dict]], int]:
    """Every image's objects (``name``, ``difficult``, ``box``) and the boxes left out."""
    names = dict(coco_categories(coco))
    if len(set(names.values())) != len(names):
        raise COCOConversionError(f'{path}: two categories have one name: {names}')
    objects: Dict[int, List[dict]] = {img['id']: [] for img in coco['images']}
    dropped = 0
    for ann in coco['annotations']:
        if ann['image_id'] not in objects:
            raise COCOConversionError(f'{path}: annotation {ann.get("id")} refers to unknown '
                                      f'image {ann["image_id"]}')
        if ann['category_id'] not in names:
            raise COCOConversionError(f'{path}: annotation {ann.get("id")} has category_id '
                                      f'{ann["category_id"]}, which is not a category')
        if ann['bbox'][2] < 1 or ann['bbox'][3] < 1:
            dropped += 1
            continue
        crowd = bool(ann.get('iscrowd', 0) or ann.get('ignore', 0))
        objects[ann['image_id']].append(
            dict(name=names[ann['category_id']], difficult=int(crowd),
                 box=voc_box(ann['bbox'])))
    return objects, dropped


def _write_image(src: str, dst: str) -> Tuple[int, int]:
    """Copy a JPEG, re-encode anything else; the image's ``(width, height)``."""
    if not osp.isfile(src):
        raise COCOConversionError(f'image {src} does not exist')
    try:
        with Image.open(src) as img:
            size = img.size
            if img.format == 'JPEG':
                shutil.copyfile(src, dst)
            else:
                img.convert('RGB').save(dst, 'JPEG', quality=95)
    except (OSError, UnidentifiedImageError) as err:
        raise COCOConversionError(f'image {src} cannot be read: {err}') from err
    return size


def _write_xml(path: str, img_id: str, size: Tuple[int, int], objects: List[dict]) -> None:
    root = ET.Element('annotation')
    ET.SubElement(root, 'filename').text = f'{img_id}.jpg'
    size_el = ET.SubElement(root, 'size')
    for key, value in zip(('width', 'height', 'depth'), (*size, 3)):
        ET.SubElement(size_el, key).text = str(value)
    for obj in objects:
        obj_el = ET.SubElement(root, 'object')
        ET.SubElement(obj_el, 'name').text = obj['name']
        ET.SubElement(obj_el, 'difficult').text = str(obj['difficult'])
        box_el = ET.SubElement(obj_el, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), obj['box']):
            ET.SubElement(box_el, key).text = str(value)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding='utf-8')


def convert(coco_json: str, out: str, split: str, img_root: Optional[str] = None) -> dict:
    """Write ``coco_json``'s images and boxes into the VOC folder ``out``.

    Args:
        coco_json (str): The COCO detection file.
        out (str): The VOC folder (``images/``, ``annotations/``, ``<split>.txt``).
        split (str): The id list's name.
        img_root (str, optional): Folder of the images' ``file_name``. Defaults to the
            COCO file's folder.

    Returns:
        dict: ``images``, ``empty`` (images without boxes), ``boxes``, ``dropped``
        (boxes under one pixel) and ``classes`` (names in category-id order).

    Raises:
        COCOConversionError: Naming the file, for an image that is missing, unreadable
            or not of the file's size, or an annotation of an unknown image / category.

    Example:
        >>> convert('data/gv_world/det/det_b/val.json', 'data/gv_world_voc', 'val',
        ...         img_root='data/gv_world')['classes']  # doctest: +SKIP
        ['star', 'cross', 'ring', 'diamond', 'hexagon']
    """
    coco = load_coco(coco_json)
    img_root = osp.dirname(coco_json) if img_root is None else img_root
    objects, dropped = _objects(coco, coco_json)
    for sub in ('images', 'annotations'):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    ids = []
    for img in coco['images']:
        img_id = str(img['id'])
        src = osp.join(img_root, img['file_name'])
        size = _write_image(src, osp.join(out, 'images', f'{img_id}.jpg'))
        expected = (img.get('width', size[0]), img.get('height', size[1]))
        if tuple(size) != tuple(expected):
            raise COCOConversionError(f'{coco_json}: image {src} is {size[0]}x{size[1]}, '
                                      f'the file says {expected[0]}x{expected[1]}')
        _write_xml(osp.join(out, 'annotations', f'{img_id}.xml'), img_id, size,
                   objects[img['id']])
        ids.append(img_id)
    with open(osp.join(out, f'{split}.txt'), 'w') as f:
        f.writelines(f'{i}\n' for i in ids)
    return dict(images=len(ids), empty=sum(not v for v in objects.values()),
                boxes=sum(len(v) for v in objects.values()), dropped=dropped,
                classes=[name for _, name in coco_categories(coco)])


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    stats = convert(args.coco_json, args.out, args.split, args.img_root)
    if args.classes:
        if osp.dirname(args.classes):
            os.makedirs(osp.dirname(args.classes), exist_ok=True)
        with open(args.classes, 'w') as f:
            f.writelines(f'{name}\n' for name in stats['classes'])
    print(f"{args.out}: split {args.split}: {stats['images']} images "
          f"({stats['empty']} without boxes), {stats['boxes']} boxes of "
          f"{len(stats['classes'])} classes ({stats['dropped']} boxes under one pixel left "
          f"out); ids in {osp.join(args.out, args.split + '.txt')}"
          + (f', classes in {args.classes}' if args.classes else ''))
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='coco2voc.py'))
