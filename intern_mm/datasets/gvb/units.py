"""The units of a GV-B subset per format: their stratification keys, ids and files.

A unit is what a subset selects: an image (classification: its path; VOC: ``(source
name, image id)``; COCO: the image id; segmentation / depth: the id below the image
folder). :data:`READERS` read a training source through the one reader per format of
:mod:`intern_mm.datasets.gvb.annotations`, check its class names, and key every unit by
its stratum:

* classification: the label,
* detection (VOC objects, COCO boxes) and segmentation (mask values): the globally
  rarest class the unit holds (``'__empty__'`` without objects),
* depth: one stratum.

:func:`decode_problem` decodes a unit's files the way the GV-B loaders do.

Example:
    >>> keys, classes, ann_files = READERS['cls']('/data/cifar10', [dict(img_dir='train')],
    ...                                           None)  # doctest: +SKIP
"""
import os.path as osp
from collections import Counter
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import mmcv

from intern_mm.datasets.checks import check_class_names
from .annotations import (abs_path, coco_categories, coco_image_objects, label_name,
                          load_coco, mask_values, read_cls_list, read_ids, read_lines,
                          scan_image_folder, voc_object_names)

__all__ = [
    'SUBSET_FORMATS', 'READERS', 'UnreadableDataError', 'decode_problem', 'source_name',
    'unit_id', 'unit_files', 'unit_data_files', 'unreadable_units'
]

SUBSET_FORMATS = ('cls', 'voc', 'coco', 'seg', 'depth')

#: ``(unit -> stratification key, class names, annotation files)`` of a reader.
Units = Tuple[Dict[Hashable, Hashable], Optional[Sequence[str]], List[str]]


class UnreadableDataError(ValueError):
    """Raised when selected data files do not decode; ``paths`` maps file -> reason."""

    def __init__(self, paths: Dict[str, str]) -> None:
        self.paths = dict(paths)
        lines = [f'{len(paths)} selected file(s) cannot be decoded by mmcv (replace them, or '
                 'leave them out: make_subset.py create --exclude-unreadable):']
        lines += [f'  {path}: {reason}' for path, reason in sorted(paths.items())]
        super().__init__('\n'.join(lines))


def decode_problem(path: str) -> Optional[str]:
    """Why mmcv cannot decode an image / mask file the way the GV-B loaders do, or None.

    Images are decoded like mmcv's ``LoadImageFromFile`` (``cv2`` backend, colour): a
    truncated JPEG that PIL opens lazily or ``cv2.imread`` renders partly can still fail
    there. PNG masks / depth maps are decoded unchanged with the ``pillow`` backend, as
    mmseg's ``LoadAnnotations`` does.

    Args:
        path (str): The file.

    Returns:
        str | None: The reason, or None when the file decodes.

    Example:
        >>> decode_problem('data/cifar10/train/cat/0001.jpg') is None  # doctest: +SKIP
        True
    """
    if not osp.isfile(path):
        return 'file does not exist'
    with open(path, 'rb') as f:
        data = f.read()
    try:
        if path.lower().endswith('.png') and '/JPEGImages/' not in path:
            img = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
        else:
            img = mmcv.imfrombytes(data, flag='color', backend='cv2')
    except Exception as err:  # noqa: BLE001  (any decoder error makes the file unusable)
        return f'{type(err).__name__}: {err}'
    if img is None or img.size == 0:
        return 'mmcv.imfrombytes returned no image (corrupt or truncated file)'
    return None


def source_name(src: dict) -> str:
    """Name of a VOC source: ``name``, else its ``sub_root``, else ``'default'``.

    Args:
        src (dict): The source.

    Returns:
        str: The name (used in unit ids and list file names).

    Example:
        >>> source_name(dict(sub_root='VOC2007/')), source_name(dict())
        ('VOC2007', 'default')
    """
    return src.get('name') or (src.get('sub_root', '').strip('/') or 'default')


def _rarest_keys(objects: Dict[Hashable, List], empty_key='__empty__') -> Dict:
    freq = Counter(c for objs in objects.values() for c in set(objs))
    return {unit: (min(set(objs), key=lambda c: (freq[c], str(c))) if objs else empty_key)
            for unit, objs in objects.items()}


def _read_cls(root: str, sources: Sequence[dict], classes: Optional[Sequence[str]]) -> Units:
    if len(sources) != 1:
        raise ValueError('the cls format takes exactly one source '
                         '(dict(ann_file=...) or dict(img_dir=...))')
    src = sources[0]
    ann_files = []
    if src.get('ann_file'):
        path = abs_path(root, src['ann_file'])
        samples = read_cls_list(path, src.get('data_prefix', ''))
        ann_files.append(path)
        if classes is None and src.get('classes'):
            cls_path = abs_path(root, src['classes'])
            classes = read_lines(cls_path)
            ann_files.append(cls_path)
    elif src.get('img_dir'):
        samples, found = scan_image_folder(root, src['img_dir'])
        if classes is not None:
            check_class_names(classes, found,
                              abs_path(root, src['img_dir']) + ' (class folders)')
            if list(classes) != found:
                raise ValueError(f'class folders {found} are the given classes in another '
                                 f'order {list(classes)}')
        classes = found
    else:
        raise ValueError('a cls source needs "ann_file" or "img_dir"')
    keys = {path: label for path, label in samples}
    if len(keys) != len(samples):
        raise ValueError('duplicate image paths in the classification source')
    if classes:
        # a split may lack a class (small or sliced sets): only unknown labels are errors
        check_class_names(classes, [label_name(classes, lb) for lb in keys.values()],
                          ann_files[0] if ann_files else abs_path(root, src['img_dir']),
                          allow_unused=True)
    return keys, classes, ann_files


def _read_voc(root: str, sources: Sequence[dict], classes: Optional[Sequence[str]]) -> Units:
    objects, ann_files = {}, []
    where = {}
    for src in sources:
        name = source_name(src)
        path = abs_path(root, src['ann_file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'id list {path} does not exist')
        ann_files.append(path)
        sub_root = abs_path(root, src.get('sub_root', ''))
        for img_id in read_lines(path):
            xml = osp.join(sub_root, src.get('ann_subdir', 'Annotations'), f'{img_id}.xml')
            objs = voc_object_names(xml)
            for obj in objs:
                where.setdefault(obj, xml)
            objects[(name, img_id)] = objs
    if classes is not None:
        found = list(where)
        unknown = sorted(set(found) - set(classes))
        example = f' (e.g. {where[unknown[0]]})' if unknown else ''
        check_class_names(classes, found, ', '.join(ann_files) + example,
                          allow_unused=True)  # a split may lack a class
    return _rarest_keys(objects), classes, ann_files


def _read_coco(root: str, sources: Sequence[dict], classes: Optional[Sequence[str]]) -> Units:
    if len(sources) != 1:
        raise ValueError('the coco format takes exactly one source dict(ann_file=...)')
    path = abs_path(root, sources[0]['ann_file'])
    coco = load_coco(path)
    objects = coco_image_objects(coco, path)
    names = [name for _, name in coco_categories(coco)]
    if classes is not None:
        check_class_names(classes, names, f'{path} (categories)')
    if classes is not None and list(classes) != names:
        raise ValueError(f'{path}: categories {names} differ from classes {list(classes)}')
    return _rarest_keys(objects), names, [path]


def _read_seg(root: str, sources: Sequence[dict], classes: Optional[Sequence[str]]) -> Units:
    if len(sources) != 1:
        raise ValueError('the seg format takes exactly one source')
    src = sources[0]
    ignore = src.get('ignore_index', 255)
    objects = {}
    for img_id in read_ids(root, src):
        mask_path = osp.join(abs_path(root, src['seg_dir']),
                             img_id + src.get('seg_suffix', '.png'))
        objects[img_id] = mask_values(mask_path, ignore)
    ann_files = [abs_path(root, src['ann_file'])] if src.get('ann_file') else []
    if classes:
        check_class_names(classes, [label_name(classes, v) for objs in objects.values()
                                    for v in set(objs)],
                          f"{abs_path(root, src['seg_dir'])} (mask values)",
                          allow_unused=True)  # a class may be absent from a sliced set
    return _rarest_keys(objects), classes, ann_files


def _read_depth(root: str, sources: Sequence[dict],
                classes: Optional[Sequence[str]]) -> Units:
    if len(sources) != 1:
        raise ValueError('the depth format takes exactly one source')
    ids = read_ids(root, sources[0])
    ann_files = [abs_path(root, sources[0]['ann_file'])] if sources[0].get('ann_file') else []
    return {i: 0 for i in ids}, classes, ann_files


#: ``format -> reader(data_root, sources, classes)`` returning :data:`Units`.
READERS = dict(cls=_read_cls, voc=_read_voc, coco=_read_coco, seg=_read_seg,
               depth=_read_depth)


def unit_id(fmt: str, unit: Hashable) -> str:
    """The id a manifest records for a unit (VOC: ``<source>/<image id>``).

    Args:
        fmt (str): Subset format.
        unit (Hashable): The unit.

    Returns:
        str: The id.

    Example:
        >>> unit_id('voc', ('VOC2007', '000005')), unit_id('coco', 42)
        ('VOC2007/000005', '42')
    """
    return f'{unit[0]}/{unit[1]}' if fmt == 'voc' else str(unit)


def unit_files(fmt: str, root: str, sources: Sequence[dict], unit: Hashable) -> List[str]:
    """Data files of one unit (image, and VOC XML / mask / depth map); none for COCO.

    Args:
        fmt (str): Subset format.
        root (str): Dataset root.
        sources (Sequence[dict]): The subset's sources.
        unit (Hashable): The unit.

    Returns:
        list[str]: Absolute paths.

    Example:
        >>> unit_files('cls', '/data', [], 'train/a/1.jpg')
        ['/data/train/a/1.jpg']
    """
    if fmt == 'cls':
        return [abs_path(root, unit)]
    if fmt == 'voc':
        src = next(s for s in sources if source_name(s) == unit[0])
        sub = abs_path(root, src.get('sub_root', ''))
        return [osp.join(sub, src.get('img_subdir', 'JPEGImages'), f'{unit[1]}.jpg'),
                osp.join(sub, src.get('ann_subdir', 'Annotations'), f'{unit[1]}.xml')]
    if fmt in ('seg', 'depth'):
        src = sources[0]
        files = [osp.join(abs_path(root, src['img_dir']), unit + src.get('img_suffix', '.jpg'))]
        ann_dir = src.get('seg_dir') or src.get('depth_dir')
        if ann_dir:
            files.append(osp.join(abs_path(root, ann_dir),
                                  unit + src.get('seg_suffix', src.get('depth_suffix',
                                                                        '.png'))))
        return files
    return []


def unit_data_files(fmt: str, root: str, sources: Sequence[dict], unit: Hashable,
                    coco_images: dict) -> List[str]:
    """Data files of one unit, COCO images included (through ``coco_images``).

    Args:
        fmt (str): Subset format.
        root (str): Dataset root.
        sources (Sequence[dict]): The subset's sources.
        unit (Hashable): The unit.
        coco_images (dict): ``image id -> COCO image entry`` (COCO only).

    Returns:
        list[str]: Absolute paths.

    Example:
        >>> unit_data_files('coco', '/data', [dict(img_prefix='img')], 1,
        ...                 {1: dict(file_name='1.jpg')})
        ['/data/img/1.jpg']
    """
    if fmt == 'coco':
        prefix = abs_path(root, sources[0].get('img_prefix', ''))
        return [osp.join(prefix, coco_images[unit]['file_name'])]
    return unit_files(fmt, root, sources, unit)


def unreadable_units(fmt: str, root: str, sources: Sequence[dict], units: Sequence[Hashable],
                     coco_images: dict) -> Dict[Hashable, Dict[str, str]]:
    """The units whose images / maps do not decode (:func:`decode_problem`).

    Args:
        fmt (str): Subset format.
        root (str): Dataset root.
        sources (Sequence[dict]): The subset's sources.
        units (Sequence[Hashable]): Units to decode.
        coco_images (dict): ``image id -> COCO image entry`` (COCO only).

    Returns:
        dict: ``unit -> {path: reason}``; empty when every file decodes.

    Example:
        >>> unreadable_units('cls', '/data', [], ['train/a/1.jpg'], {})  # doctest: +SKIP
        {}
    """
    bad: Dict[Hashable, Dict[str, str]] = {}
    for unit in units:
        for path in unit_data_files(fmt, root, sources, unit, coco_images):
            if path.endswith('.xml'):
                continue  # parsed when the annotations were read
            reason = decode_problem(path)
            if reason:
                bad.setdefault(unit, {})[path] = reason
    return bad
