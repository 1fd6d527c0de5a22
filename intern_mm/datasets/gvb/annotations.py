"""One reader per annotation format: the files the GV-B datasets are made of.

Each function parses one format and applies no class-name policy (the callers compare
names with :func:`intern_mm.datasets.checks.check_class_names`):

==============  ===========================================================
format          reader
==============  ===========================================================
image folder    :func:`scan_image_folder` (``<img_dir>/<class>/**/<image>``)
list file       :func:`read_cls_list` (``relative/img/path <label>`` lines),
                :func:`read_lines` (class names, image ids)
VOC XML         :func:`voc_object_names`
COCO JSON       :func:`load_coco`, :func:`coco_categories`,
                :func:`coco_image_objects`
mmseg folders   :func:`read_ids` (id list or image folder), :func:`mask_values`
==============  ===========================================================

Depth maps are listed like segmentation maps (:func:`read_ids`); labels map to names
with :func:`label_name`. Used by the GV-B subsets and by ``datasets/checks.py``.

Example:
    >>> voc_object_names('data/VOCdevkit/VOC2007/Annotations/000005.xml')  # doctest: +SKIP
    ['chair', 'chair', 'chair']
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

__all__ = [
    'IMG_EXTENSIONS', 'abs_path', 'read_lines', 'scan_image_folder', 'read_cls_list',
    'voc_object_names', 'load_coco', 'coco_categories', 'coco_image_objects', 'read_ids',
    'mask_values', 'label_name'
]

#: Image file endings of an image folder (those of mmpretrain's ``CustomDataset``).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
                  '.webp')


def abs_path(root: str, path: str) -> str:
    """``path`` if absolute, else ``root/path``.

    Args:
        root (str): Dataset root.
        path (str): A path, absolute or relative to ``root``.

    Returns:
        str: The path.

    Example:
        >>> abs_path('/data', 'train.txt'), abs_path('/data', '/x/train.txt')
        ('/data/train.txt', '/x/train.txt')
    """
    return path if osp.isabs(path) else osp.join(root, path)


def read_lines(path: str) -> List[str]:
    """The non-empty lines of a text file, stripped.

    Args:
        path (str): The file.

    Returns:
        list[str]: The lines.

    Example:
        >>> read_lines('data/cifar10/meta/classes.txt')  # doctest: +SKIP
        ['airplane', 'automobile', ...]
    """
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def label_name(classes: Sequence[str], label: int) -> str:
    """The class name of a label, or ``'<label K>'`` when it is out of range.

    Args:
        classes (Sequence[str]): Class names.
        label (int): Class index.

    Returns:
        str: The name.

    Example:
        >>> label_name(['cat', 'dog'], 1), label_name(['cat', 'dog'], 5)
        ('dog', '<label 5>')
    """
    return str(classes[label]) if 0 <= label < len(classes) else f'<label {label}>'


def scan_image_folder(root: str, img_dir: str) -> Tuple[List[Tuple[str, int]], List[str]]:
    """Read an image folder: one sub-folder per class, labels in sorted folder order.

    Args:
        root (str): Dataset root; the sample paths are relative to it.
        img_dir (str): The folder (relative to ``root`` or absolute).

    Returns:
        tuple: ``[(relative image path, label), ...]`` and the class names.

    Raises:
        FileNotFoundError: If the folder does not exist.
        ValueError: If it holds no class folder.

    Example:
        >>> samples, classes = scan_image_folder('data/eurosat', 'train')  # doctest: +SKIP
    """
    base = abs_path(root, img_dir)
    if not osp.isdir(base):
        raise FileNotFoundError(f'image folder {base} does not exist')
    classes = sorted(d for d in os.listdir(base) if osp.isdir(osp.join(base, d)))
    if not classes:
        raise ValueError(f'no class folders under {base}')
    samples = []
    for label, cls in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(osp.join(base, cls))):
            for name in sorted(files):
                if name.lower().endswith(IMG_EXTENSIONS):
                    rel = osp.relpath(osp.join(dirpath, name), root)
                    samples.append((rel, label))
    return samples, classes


def read_cls_list(path: str, prefix: str = '') -> List[Tuple[str, int]]:
    """Read a classification list file (``relative/img/path <label>`` lines).

    Args:
        path (str): The list file.
        prefix (str): Joined in front of every image path. Defaults to ``''``.

    Returns:
        list[tuple[str, int]]: ``(image path, label)`` per line.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the first line that is not ``<path> <label>``.

    Example:
        >>> read_cls_list('data/cifar10/meta/train.txt')[:1]  # doctest: +SKIP
        [('train/airplane/0001.png', 0)]
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation list {path} does not exist')
    samples = []
    for i, line in enumerate(read_lines(path)):
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
            raise ValueError(f'{path}:{i + 1}: expected "<path> <label>", got {line!r}')
        samples.append((osp.join(prefix, parts[0]) if prefix else parts[0], int(parts[1])))
    return samples


def voc_object_names(xml_path: str, skip_difficult: bool = True) -> List[str]:
    """Object class names of a VOC XML annotation, in file order.

    Objects without a name are left out.

    Args:
        xml_path (str): The XML file.
        skip_difficult (bool): Leave out objects marked ``<difficult>1</difficult>``.
            Defaults to True.

    Returns:
        list[str]: One name per object (repeats kept).

    Raises:
        FileNotFoundError: If the file does not exist.
        xml.etree.ElementTree.ParseError: If it is not well-formed XML.

    Example:
        >>> voc_object_names('VOC2007/Annotations/000005.xml')  # doctest: +SKIP
        ['chair', 'chair', 'chair']
    """
    if not osp.isfile(xml_path):
        raise FileNotFoundError(f'annotation {xml_path} does not exist')
    names = []
    for obj in ET.parse(xml_path).getroot().findall('object'):
        difficult = obj.find('difficult')
        if skip_difficult and difficult is not None and difficult.text == '1':
            continue
        name = obj.find('name')
        if name is not None and name.text:
            names.append(name.text.strip())
    return names


def load_coco(path: str) -> dict:
    """Load a COCO annotation file (``images``, ``annotations`` and ``categories``).

    Args:
        path (str): The JSON file.

    Returns:
        dict: The parsed file.

    Raises:
        FileNotFoundError: If the file does not exist.
        KeyError: If one of the three keys is missing.

    Example:
        >>> coco = load_coco('data/coco/annotations/instances_val2017.json')  # doctest: +SKIP
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'COCO file {path} does not exist')
    with open(path) as f:
        coco = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise KeyError(f'{path} is not a COCO file: no "{key}" key')
    return coco


def coco_categories(coco: dict) -> List[Tuple[int, str]]:
    """``(category id, name)`` of a COCO file's categories, sorted by id.

    Args:
        coco (dict): A file read by :func:`load_coco`.

    Returns:
        list[tuple[int, str]]: The categories.

    Example:
        >>> coco_categories(dict(categories=[dict(id=2, name='b'), dict(id=1, name='a')]))
        [(1, 'a'), (2, 'b')]
    """
    return [(c['id'], c['name']) for c in sorted(coco['categories'], key=lambda c: c['id'])]


def coco_image_objects(coco: dict, path: str) -> Dict[int, List[int]]:
    """Category ids of every image's objects (crowd and ignored boxes left out).

    Args:
        coco (dict): A file read by :func:`load_coco`.
        path (str): Its path (named in errors).

    Returns:
        dict: ``image id -> [category id, ...]``, every image present.

    Raises:
        ValueError: If an annotation refers to an image the file lacks.

    Example:
        >>> coco_image_objects(dict(images=[dict(id=1)], annotations=[
        ...     dict(id=1, image_id=1, category_id=3)]), 'x.json')
        {1: [3]}
    """
    objects: Dict[int, List[int]] = {int(img['id']): [] for img in coco['images']}
    for ann in coco['annotations']:
        if ann['image_id'] not in objects:
            raise ValueError(f'{path}: annotation {ann.get("id")} refers to unknown image '
                             f'{ann["image_id"]}')
        if not ann.get('iscrowd', 0) and not ann.get('ignore', 0):
            objects[ann['image_id']].append(ann['category_id'])
    return objects


def read_ids(root: str, src: dict) -> List[str]:
    """Image ids of an mmseg-style source: its id list, else its image folder.

    Args:
        root (str): Dataset root.
        src (dict): ``ann_file`` (one id per line) or ``img_dir`` with ``img_suffix``
            (default ``'.jpg'``; ids are the paths below the folder without suffix).

    Returns:
        list[str]: The ids (sorted when scanned from the folder).

    Raises:
        FileNotFoundError: If the list or the folder does not exist.

    Example:
        >>> read_ids('data/gv_world', dict(ann_file='downstream_seg/train.txt'))  # doctest: +SKIP
        ['000000', '000001', ...]
    """
    if src.get('ann_file'):
        path = abs_path(root, src['ann_file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'id list {path} does not exist')
        return read_lines(path)
    img_dir = abs_path(root, src['img_dir'])
    suffix = src.get('img_suffix', '.jpg')
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder {img_dir} does not exist')
    ids = []
    for dirpath, _, files in os.walk(img_dir):
        for name in files:
            if name.endswith(suffix):
                ids.append(osp.relpath(osp.join(dirpath, name), img_dir)[:-len(suffix)])
    return sorted(ids)


def mask_values(path: str, ignore_index: int = 255) -> List[int]:
    """The label values of a segmentation mask (PNG decoded unchanged), ignore left out.

    Args:
        path (str): The mask file.
        ignore_index (int): Value to leave out. Defaults to 255.

    Returns:
        list[int]: The distinct values, ascending.

    Raises:
        FileNotFoundError: If the file does not exist.

    Example:
        >>> mask_values('data/gv_world/seg/seg_a/train/000000.png')  # doctest: +SKIP
        [0, 2]
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'mask {path} does not exist')
    values = np.unique(np.asarray(Image.open(path)))
    return [int(v) for v in values if v != ignore_index]
