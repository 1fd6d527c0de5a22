"""Seeded, class-stratified GV-B training subsets with manifests and verification.

The original GV-B 10% lists were lost, so the subsets are *derived*, deterministically,
from each dataset's official training annotations:

* units (images) are grouped by a stratification key: the class label (classification),
  or the globally rarest class present in the image (detection: XML / COCO objects;
  segmentation: mask pixel classes). Depth has no classes: one group.
* within each group the units are sorted, shuffled with ``random.Random(seed)`` and the
  first ``max(1, round(ratio * n))`` (ratio mode) or ``min(shot, n)`` (k-shot mode) kept,
* a validation split is carved out of the subset the same way (``val_ratio`` per group,
  groups of one unit stay in training), never from the test split.

Files written to ``out_dir`` (``<split>`` is ``subset`` = ``train`` + ``val``):

=========  ===============================================================
format     files
=========  ===============================================================
cls        ``<split>.txt`` lines ``relative/img/path <label>`` (mmpretrain
           ``CustomDataset``), ``classes.txt``
voc        ``<split>_<source>.txt`` image ids (mmdet ``XMLDataset``)
coco       ``<split>.json`` COCO files holding the selected images
seg/depth  ``<split>.txt`` ids (mmseg ``ann_file``)
=========  ===============================================================

plus ``manifest.json``: format, seed, ratio/shot, val ratio, the sources with the SHA-256
of each annotation file, the selected ids, the SHA-256 of each list file, and a digest of
the selected image files (content, or only sizes with ``hash_files=False``).
:func:`verify_subset` recomputes all of it and raises :class:`SubsetVerificationError`
naming every difference.

Example:
    >>> manifest = make_subset('cls', '/data/cifar10', 'subsets/cifar10',
    ...                        sources=[dict(img_dir='train')], ratio=0.1, seed=0)
    >>> verify_subset('subsets/cifar10')
"""
import hashlib
import json
import os
import os.path as osp
import random
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from intern_mm.datasets.checks import check_class_names

__all__ = [
    'make_subset', 'verify_subset', 'load_manifest', 'SubsetVerificationError',
    'UnreadableDataError', 'stratified_select', 'sha256_file', 'decode_problem',
    'SUBSET_FORMATS', 'MANIFEST_NAME'
]

SUBSET_FORMATS = ('cls', 'voc', 'coco', 'seg', 'depth')
MANIFEST_NAME = 'manifest.json'
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
                  '.webp')
SPLITS = ('subset', 'train', 'val')


class SubsetVerificationError(RuntimeError):
    """Raised when a subset no longer matches its data or its manifest."""


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
    import mmcv
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


def sha256_file(path: str) -> str:
    """SHA-256 hex digest of a file.

    Args:
        path (str): File path.

    Returns:
        str: The digest.
    """
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stratified_select(keys: Dict[Hashable, Hashable],
                      seed: int,
                      ratio: Optional[float] = None,
                      shot: Optional[int] = None,
                      min_per_group: int = 1) -> List[Hashable]:
    """Select units per stratification group, deterministically.

    Args:
        keys (dict): ``unit -> group key``. Units must be sortable (str or tuples).
        seed (int): Random seed.
        ratio (float, optional): Fraction kept per group (``max(min_per_group,
            round(ratio * n))``, capped at ``n``).
        shot (int, optional): Units kept per group (``min(shot, n)``). Exactly one of
            ``ratio`` and ``shot`` must be given.
        min_per_group (int): Minimum kept per group in ratio mode. Defaults to 1.

    Returns:
        list: The selected units, sorted.

    Example:
        >>> stratified_select({'a': 0, 'b': 0, 'c': 1}, seed=0, shot=1)
        ['a', 'c']  # or ['b', 'c'], depending on the seed
    """
    if (ratio is None) == (shot is None):
        raise ValueError('give exactly one of ratio and shot')
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError(f'ratio must lie in (0, 1], got {ratio}')
    if shot is not None and shot < 1:
        raise ValueError(f'shot must be >= 1, got {shot}')
    groups: Dict[Hashable, list] = defaultdict(list)
    for unit, key in keys.items():
        groups[key].append(unit)
    selected = []
    for key in sorted(groups, key=repr):
        members = sorted(groups[key])
        rng = random.Random(f'{seed}:{key!r}')
        rng.shuffle(members)
        if ratio is not None:
            count = min(len(members), max(min_per_group, int(round(ratio * len(members)))))
        else:
            count = min(shot, len(members))
        selected.extend(members[:count])
    return sorted(selected)


def _carve_val(keys: Dict[Hashable, Hashable], subset: List[Hashable], seed: int,
               val_ratio: float) -> Tuple[List[Hashable], List[Hashable]]:
    """Split ``subset`` into (train, val); groups of one unit stay in train."""
    if val_ratio <= 0:
        return sorted(subset), []
    groups: Dict[Hashable, list] = defaultdict(list)
    for unit in subset:
        groups[keys[unit]].append(unit)
    val = []
    for key in sorted(groups, key=repr):
        members = sorted(groups[key])
        if len(members) < 2:
            continue
        rng = random.Random(f'val:{seed}:{key!r}')
        rng.shuffle(members)
        count = min(len(members) - 1, max(1, int(round(val_ratio * len(members)))))
        val.extend(members[:count])
    val_set = set(val)
    return sorted(u for u in subset if u not in val_set), sorted(val)


# ----------------------------------------------------------------------------------------
# Readers: return (units -> key, unit -> payload, classes, annotation files)
# ----------------------------------------------------------------------------------------
def _read_lines(path: str) -> List[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _abs(root: str, path: str) -> str:
    return path if osp.isabs(path) else osp.join(root, path)


def _scan_image_folder(root: str, img_dir: str) -> Tuple[List[Tuple[str, int]], List[str]]:
    base = _abs(root, img_dir)
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


def _read_cls(root: str, sources: Sequence[dict], classes: Optional[Sequence[str]]):
    if len(sources) != 1:
        raise ValueError('the cls format takes exactly one source '
                         '(dict(ann_file=...) or dict(img_dir=...))')
    src = sources[0]
    ann_files = []
    if src.get('ann_file'):
        path = _abs(root, src['ann_file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'annotation list {path} does not exist')
        prefix = src.get('data_prefix', '')
        samples = []
        for i, line in enumerate(_read_lines(path)):
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(f'{path}:{i + 1}: expected "<path> <label>", got {line!r}')
            samples.append((osp.join(prefix, parts[0]) if prefix else parts[0],
                            int(parts[1])))
        ann_files.append(path)
        if classes is None and src.get('classes'):
            cls_path = _abs(root, src['classes'])
            classes = _read_lines(cls_path)
            ann_files.append(cls_path)
    elif src.get('img_dir'):
        samples, found = _scan_image_folder(root, src['img_dir'])
        if classes is not None:
            check_class_names(classes, found, _abs(root, src['img_dir']) + ' (class folders)')
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
        check_class_names(classes, [_label_name(classes, lb) for lb in keys.values()],
                          ann_files[0] if ann_files else _abs(root, src['img_dir']),
                          allow_unused=True)
    return keys, dict(keys), classes, ann_files


def _voc_objects(xml_path: str, skip_difficult: bool = True) -> List[str]:
    if not osp.isfile(xml_path):
        raise FileNotFoundError(f'annotation {xml_path} does not exist')
    root = ET.parse(xml_path).getroot()
    names = []
    for obj in root.findall('object'):
        difficult = obj.find('difficult')
        if skip_difficult and difficult is not None and difficult.text == '1':
            continue
        names.append(obj.find('name').text.strip())
    return names


def _rarest_keys(objects: Dict[Hashable, List], empty_key='__empty__') -> Dict:
    freq = Counter(c for objs in objects.values() for c in set(objs))
    return {unit: (min(set(objs), key=lambda c: (freq[c], str(c))) if objs else empty_key)
            for unit, objs in objects.items()}


def _label_name(classes: Sequence[str], label: int) -> str:
    return str(classes[label]) if 0 <= label < len(classes) else f'<label {label}>'


def _read_voc(root: str, sources: Sequence[dict], classes):
    objects, ann_files = {}, []
    where = {}
    for src in sources:
        name = src.get('name') or (src.get('sub_root', '').strip('/') or 'default')
        path = _abs(root, src['ann_file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'id list {path} does not exist')
        ann_files.append(path)
        sub_root = _abs(root, src.get('sub_root', ''))
        for img_id in _read_lines(path):
            xml = osp.join(sub_root, src.get('ann_subdir', 'Annotations'), f'{img_id}.xml')
            objs = _voc_objects(xml)
            for obj in objs:
                where.setdefault(obj, xml)
            objects[(name, img_id)] = objs
    if classes is not None:
        found = list(where)
        unknown = sorted(set(found) - set(classes))
        example = f' (e.g. {where[unknown[0]]})' if unknown else ''
        check_class_names(classes, found, ', '.join(ann_files) + example,
                          allow_unused=True)  # a split may lack a class
    return _rarest_keys(objects), {u: None for u in objects}, classes, ann_files


def _read_coco(root: str, sources: Sequence[dict], classes):
    if len(sources) != 1:
        raise ValueError('the coco format takes exactly one source dict(ann_file=...)')
    path = _abs(root, sources[0]['ann_file'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'COCO file {path} does not exist')
    with open(path) as f:
        coco = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise KeyError(f'{path} is not a COCO file: no "{key}" key')
    objects = {int(img['id']): [] for img in coco['images']}
    for ann in coco['annotations']:
        if ann['image_id'] not in objects:
            raise ValueError(f'{path}: annotation {ann.get("id")} refers to unknown image '
                             f'{ann["image_id"]}')
        if not ann.get('iscrowd', 0) and not ann.get('ignore', 0):
            objects[ann['image_id']].append(ann['category_id'])
    names = [c['name'] for c in sorted(coco['categories'], key=lambda c: c['id'])]
    if classes is not None:
        check_class_names(classes, names, f'{path} (categories)')
    if classes is not None and list(classes) != names:
        raise ValueError(f'{path}: categories {names} differ from classes {list(classes)}')
    return _rarest_keys(objects), {u: None for u in objects}, names, [path]


def _read_ids(root: str, src: dict) -> List[str]:
    if src.get('ann_file'):
        path = _abs(root, src['ann_file'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'id list {path} does not exist')
        return _read_lines(path)
    img_dir = _abs(root, src['img_dir'])
    suffix = src.get('img_suffix', '.jpg')
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder {img_dir} does not exist')
    ids = []
    for dirpath, _, files in os.walk(img_dir):
        for name in files:
            if name.endswith(suffix):
                ids.append(osp.relpath(osp.join(dirpath, name), img_dir)[:-len(suffix)])
    return sorted(ids)


def _read_seg(root: str, sources: Sequence[dict], classes):
    from PIL import Image
    if len(sources) != 1:
        raise ValueError('the seg format takes exactly one source')
    src = sources[0]
    ignore = src.get('ignore_index', 255)
    objects = {}
    for img_id in _read_ids(root, src):
        mask_path = osp.join(_abs(root, src['seg_dir']),
                             img_id + src.get('seg_suffix', '.png'))
        if not osp.isfile(mask_path):
            raise FileNotFoundError(f'mask {mask_path} does not exist')
        values = np.unique(np.asarray(Image.open(mask_path)))
        objects[img_id] = [int(v) for v in values if v != ignore]
    ann_files = [_abs(root, src['ann_file'])] if src.get('ann_file') else []
    if classes:
        check_class_names(classes, [_label_name(classes, v) for objs in objects.values()
                                    for v in set(objs)],
                          f"{_abs(root, src['seg_dir'])} (mask values)",
                          allow_unused=True)  # a class may be absent from a sliced set
    return _rarest_keys(objects), {u: None for u in objects}, classes, ann_files


def _read_depth(root: str, sources: Sequence[dict], classes):
    if len(sources) != 1:
        raise ValueError('the depth format takes exactly one source')
    ids = _read_ids(root, sources[0])
    ann_files = [_abs(root, sources[0]['ann_file'])] if sources[0].get('ann_file') else []
    return {i: 0 for i in ids}, {i: None for i in ids}, classes, ann_files


_READERS = dict(cls=_read_cls, voc=_read_voc, coco=_read_coco, seg=_read_seg,
                depth=_read_depth)


def _unit_files(fmt: str, root: str, sources: Sequence[dict], unit) -> List[str]:
    """Data files of one unit (for the file digest)."""
    if fmt == 'cls':
        return [_abs(root, unit)]
    if fmt == 'voc':
        src = next(s for s in sources
                   if (s.get('name') or (s.get('sub_root', '').strip('/') or 'default'))
                   == unit[0])
        sub = _abs(root, src.get('sub_root', ''))
        return [osp.join(sub, src.get('img_subdir', 'JPEGImages'), f'{unit[1]}.jpg'),
                osp.join(sub, src.get('ann_subdir', 'Annotations'), f'{unit[1]}.xml')]
    if fmt in ('seg', 'depth'):
        src = sources[0]
        files = [osp.join(_abs(root, src['img_dir']), unit + src.get('img_suffix', '.jpg'))]
        ann_dir = src.get('seg_dir') or src.get('depth_dir')
        if ann_dir:
            files.append(osp.join(_abs(root, ann_dir),
                                  unit + src.get('seg_suffix', src.get('depth_suffix',
                                                                        '.png'))))
        return files
    return []


def _unit_data_files(fmt, root, sources, unit, coco_images) -> List[str]:
    if fmt == 'coco':
        prefix = _abs(root, sources[0].get('img_prefix', ''))
        return [osp.join(prefix, coco_images[unit]['file_name'])]
    return _unit_files(fmt, root, sources, unit)


def _file_entries(fmt, root, sources, units, coco_images,
                  hash_files: bool) -> Dict[str, str]:
    """``relative path -> sha256 (or size)`` of the units' data files, ``MISSING`` if absent."""
    entries = {}
    for unit in units:
        for path in _unit_data_files(fmt, root, sources, unit, coco_images):
            if not osp.isfile(path):
                entries[osp.relpath(path, root)] = 'MISSING'
                continue
            entries[osp.relpath(path, root)] = (sha256_file(path) if hash_files else
                                                str(osp.getsize(path)))
    return entries


def _digest_of(entries: Dict[str, str]) -> str:
    return _sha256_text('\n'.join(f'{path} {value}' for path, value in entries.items()))


def _files_digest(fmt, root, sources, units, coco_images, hash_files: bool) -> str:
    return _digest_of(_file_entries(fmt, root, sources, units, coco_images, hash_files))


def _unreadable(fmt, root, sources, units, coco_images) -> Dict[Hashable, Dict[str, str]]:
    """``unit -> {path: reason}`` for the units whose images / maps do not decode."""
    bad: Dict[Hashable, Dict[str, str]] = {}
    for unit in units:
        for path in _unit_data_files(fmt, root, sources, unit, coco_images):
            if path.endswith('.xml'):
                continue  # parsed when the annotations were read
            reason = decode_problem(path)
            if reason:
                bad.setdefault(unit, {})[path] = reason
    return bad


def _unit_id(fmt: str, unit) -> str:
    return f'{unit[0]}/{unit[1]}' if fmt == 'voc' else str(unit)


def _write_lists(fmt, out_dir, splits, keys, sources, classes, coco) -> Dict[str, str]:
    """Write the split files; return ``file name -> sha256``."""
    written = {}

    def _write(name, lines):
        path = osp.join(out_dir, name)
        text = ''.join(f'{line}\n' for line in lines)
        with open(path, 'w') as f:
            f.write(text)
        written[name] = _sha256_text(text)

    for split, units in splits.items():
        if fmt == 'cls':
            _write(f'{split}.txt', [f'{u} {keys[u]}' for u in units])
        elif fmt == 'voc':
            for src in sources:
                name = src.get('name') or (src.get('sub_root', '').strip('/') or 'default')
                _write(f'{split}_{name}.txt', [u[1] for u in units if u[0] == name])
        elif fmt == 'coco':
            chosen = set(units)
            sub = dict(coco)
            sub['images'] = [img for img in coco['images'] if img['id'] in chosen]
            sub['annotations'] = [a for a in coco['annotations'] if a['image_id'] in chosen]
            path = osp.join(out_dir, f'{split}.json')
            text = json.dumps(sub)
            with open(path, 'w') as f:
                f.write(text)
            written[f'{split}.json'] = _sha256_text(text)
        else:
            _write(f'{split}.txt', list(units))
    if fmt == 'cls' and classes:
        _write('classes.txt', list(classes))
    return written


def _compute(fmt, data_root, sources, classes, ratio, shot, val_ratio, seed,
             excluded: Sequence[str] = ()):
    if fmt not in _READERS:
        raise ValueError(f'unknown subset format "{fmt}", expected one of {SUBSET_FORMATS}')
    keys, _, classes, ann_files = _READERS[fmt](data_root, sources, classes)
    if excluded:
        drop = set(excluded)
        keys = {u: k for u, k in keys.items() if _unit_id(fmt, u) not in drop}
    if not keys:
        raise ValueError(f'no training units found under {data_root} for {sources}')
    subset = stratified_select(keys, seed, ratio=ratio, shot=shot)
    train, val = _carve_val(keys, subset, seed, val_ratio)
    return keys, classes, ann_files, dict(subset=subset, train=train, val=val)


def _select_readable(fmt: str, data_root: str, sources: Sequence[dict],
                     classes: Optional[Sequence[str]], ratio: Optional[float],
                     shot: Optional[int], val_ratio: float, seed: int, check_decode: bool,
                     exclude_unreadable: bool, coco_images: dict) -> tuple:
    """Select the splits, redoing the selection without units whose files do not decode.

    Returns:
        tuple: ``keys``, ``classes``, ``ann_files``, ``splits`` (see :func:`_compute`) and
        ``excluded`` (unit id -> {path: reason}).

    Raises:
        UnreadableDataError: If a selected file does not decode and not
            ``exclude_unreadable``.
    """
    excluded: Dict[str, Dict[str, str]] = {}
    checked = set()
    while True:
        keys, classes, ann_files, splits = _compute(fmt, data_root, sources, classes, ratio,
                                                    shot, val_ratio, seed, list(excluded))
        if not check_decode:
            break
        todo = [u for u in splits['subset'] if u not in checked]
        bad = _unreadable(fmt, data_root, sources, todo, coco_images)
        checked.update(todo)
        if not bad:
            break
        if not exclude_unreadable:
            raise UnreadableDataError(
                {path: reason for files in bad.values() for path, reason in files.items()})
        for unit, files in bad.items():
            excluded[_unit_id(fmt, unit)] = {osp.relpath(p, data_root): r
                                             for p, r in files.items()}
    return keys, classes, ann_files, splits, excluded


def _test_annotations(fmt: str, data_root: str, sources: Sequence[dict],
                      test_sources: Sequence[dict], classes: Optional[Sequence[str]],
                      splits: dict) -> List[dict]:
    """Hashes of the test annotation files; refuses a subset that overlaps the test split."""
    test_keys, _, _, test_files = _READERS[fmt](data_root, test_sources, classes)
    if fmt in ('seg', 'depth'):  # ids are relative to each split's image folder
        overlap = {_unit_files(fmt, data_root, sources, u)[0]
                   for u in splits['subset']} & {
                       _unit_files(fmt, data_root, test_sources, u)[0]
                       for u in test_keys}
    else:
        overlap = set(splits['subset']) & set(test_keys)
    if overlap and fmt != 'coco':
        raise ValueError(f'{len(overlap)} training-subset units also appear in the test '
                         f'split, e.g. {sorted(overlap)[:3]}')
    return [dict(path=osp.relpath(p, data_root), sha256=sha256_file(p))
            for p in test_files]


def make_subset(fmt: str,
                data_root: str,
                out_dir: str,
                sources: Sequence[dict],
                ratio: Optional[float] = 0.1,
                shot: Optional[int] = None,
                val_ratio: float = 0.2,
                seed: int = 0,
                classes: Optional[Sequence[str]] = None,
                test_sources: Optional[Sequence[dict]] = None,
                hash_files: bool = True,
                check_decode: bool = True,
                exclude_unreadable: bool = False) -> dict:
    """Create a stratified subset of a training set and write its files and manifest.

    Every selected image (and mask / depth map) is decoded with mmcv as the training
    loaders decode it (:func:`decode_problem`); unreadable files are refused by path,
    or with ``exclude_unreadable`` their units are left out of the candidates, the
    selection is redone, and the manifest records them under ``excluded``.

    Args:
        fmt (str): ``'cls'``, ``'voc'``, ``'coco'``, ``'seg'`` or ``'depth'``.
        data_root (str): Dataset root; relative paths in ``sources`` start here.
        out_dir (str): Output folder (created).
        sources (Sequence[dict]): Training annotation sources. cls:
            ``dict(ann_file=, [classes=])`` or ``dict(img_dir=)``; voc:
            ``dict(name=, sub_root=, ann_file=, img_subdir=, ann_subdir=)`` each; coco:
            ``dict(ann_file=, img_prefix=)``; seg: ``dict(ann_file= | img_dir=, img_dir=,
            seg_dir=, img_suffix=, seg_suffix=, ignore_index=)``; depth: like seg with
            ``depth_dir``.
        ratio (float, optional): Fraction per stratum. Defaults to 0.1. Ignored when
            ``shot`` is given.
        shot (int, optional): k-shot mode: ``shot`` units per stratum.
        val_ratio (float): Fraction of the subset carved out as validation split.
            Defaults to 0.2.
        seed (int): Seed. Defaults to 0.
        classes (Sequence[str], optional): Expected class names (checked).
        test_sources (Sequence[dict], optional): Test annotation sources (same format);
            their hashes are recorded and overlap with the subset is refused.
        hash_files (bool): Digest the content of the selected data files; False digests
            only their sizes (faster for very large sets). Defaults to True.
        check_decode (bool): Decode every selected file first. Defaults to True.
        exclude_unreadable (bool): Leave units with unreadable files out (recorded in
            the manifest's ``excluded``) instead of refusing. Defaults to False.

    Returns:
        dict: The manifest (also written to ``out_dir/manifest.json``).

    Raises:
        UnreadableDataError: Naming every selected file that does not decode (without
            ``exclude_unreadable``).
        ClassNameMismatchError: If ``classes`` and the annotations' class names differ.
        ValueError: If the subset would overlap the test split, or on bad input.
    """
    if shot is not None:
        ratio = None
    data_root = osp.abspath(data_root)
    # the body is split into helpers; the function stays over 60 lines only for its
    # 13 documented keyword arguments (see ALLOWED in tests/test_code_shape.py)
    coco = None
    coco_images = {}
    if fmt == 'coco':
        with open(_abs(data_root, sources[0]['ann_file'])) as f:
            coco = json.load(f)
        coco_images = {img['id']: img for img in coco['images']}
    keys, classes, ann_files, splits, excluded = _select_readable(
        fmt, data_root, sources, classes, ratio, shot, val_ratio, seed, check_decode,
        exclude_unreadable, coco_images)
    test_info = _test_annotations(fmt, data_root, sources, test_sources, classes,
                                  splits) if test_sources else []
    os.makedirs(out_dir, exist_ok=True)
    list_hashes = _write_lists(fmt, out_dir, splits, keys, sources, classes, coco)
    manifest = dict(
        format=fmt,
        seed=seed,
        ratio=ratio,
        shot=shot,
        val_ratio=val_ratio,
        data_root=data_root,
        sources=list(sources),
        test_sources=list(test_sources or []),
        classes=list(classes) if classes else None,
        annotation_files=[dict(path=osp.relpath(p, data_root), sha256=sha256_file(p))
                          for p in ann_files],
        test_annotation_files=test_info,
        num_source_units=len(keys),
        counts={k: len(v) for k, v in splits.items()},
        ids={k: [_unit_id(fmt, u) for u in v] for k, v in splits.items()},
        list_sha256=list_hashes,
        hash_files=hash_files,
        excluded=excluded,
        files=_file_entries(fmt, data_root, sources, splits['subset'], coco_images,
                            hash_files),
        created=datetime.now(timezone.utc).isoformat(timespec='seconds'),
    )
    manifest['files_digest'] = _digest_of(manifest['files'])
    manifest['manifest_sha256'] = manifest_hash(manifest)
    with open(osp.join(out_dir, MANIFEST_NAME), 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest


def manifest_hash(manifest: dict) -> str:
    """Hash of the manifest content that defines the subset (not its creation time).

    Args:
        manifest (dict): A manifest.

    Returns:
        str: SHA-256 hex digest.
    """
    keys = ('format', 'seed', 'ratio', 'shot', 'val_ratio', 'sources', 'classes',
            'annotation_files', 'ids', 'list_sha256', 'files_digest')
    # keys added later enter the hash only when present (older manifests stay valid)
    keys += tuple(k for k in ('excluded', 'files') if k in manifest)
    return _sha256_text(json.dumps({k: manifest.get(k) for k in keys}, sort_keys=True))


def load_manifest(out_dir: str) -> dict:
    """Read ``out_dir/manifest.json``.

    Args:
        out_dir (str): Subset folder.

    Returns:
        dict: The manifest.

    Raises:
        FileNotFoundError: If there is no manifest.
    """
    path = osp.join(out_dir, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no subset manifest at {path}: create the subset with '
                                'tools/dataset_converters/make_subset.py')
    with open(path) as f:
        return json.load(f)


def _id_diff(fresh: List[str], recorded: List[str]) -> str:
    added = sorted(set(fresh) - set(recorded))
    removed = sorted(set(recorded) - set(fresh))
    parts = []
    if added:
        parts.append(f'{len(added)} new (e.g. {added[:3]})')
    if removed:
        parts.append(f'{len(removed)} dropped (e.g. {removed[:3]})')
    return ', '.join(parts) or 'same ids in another order'


def _check_annotations(manifest: dict, root: str, problems: List[str]) -> None:
    """Append a line per annotation file that is missing or changed."""
    for entry in manifest['annotation_files'] + manifest.get('test_annotation_files', []):
        path = _abs(root, entry['path'])
        if not osp.isfile(path):
            problems.append(f'annotation file {path} is missing')
        elif sha256_file(path) != entry['sha256']:
            problems.append(f'annotation file {path} changed (sha256 differs)')


def _check_selection(manifest: dict, root: str, problems: List[str]) -> None:
    """Append a line per split whose re-selection differs and per changed data file."""
    fmt = manifest['format']
    try:
        keys, classes, _, splits = _compute(fmt, root, manifest['sources'],
                                            manifest['classes'], manifest['ratio'],
                                            manifest['shot'], manifest['val_ratio'],
                                            manifest['seed'], list(manifest.get('excluded')
                                                                   or {}))
        fresh = {k: [_unit_id(fmt, u) for u in v] for k, v in splits.items()}
        for split in SPLITS:
            if fresh[split] != manifest['ids'][split]:
                problems.append(f're-selecting the "{split}" split gives different ids '
                                f'than the manifest records: '
                                f'{_id_diff(fresh[split], manifest["ids"][split])}')
        coco_images = {}
        if fmt == 'coco':
            with open(_abs(root, manifest['sources'][0]['ann_file'])) as f:
                coco_images = {img['id']: img for img in json.load(f)['images']}
        hash_files = manifest.get('hash_files', False)
        if manifest.get('files') is not None:
            _check_data_files(manifest, root, keys, coco_images, problems)
        else:
            digest = _files_digest(fmt, root, manifest['sources'], splits['subset'],
                                   coco_images, hash_files)
            if digest != manifest['files_digest']:
                problems.append('the data files of the subset changed (files digest '
                                'differs; this manifest predates per-file records)')
    except (OSError, ValueError, KeyError) as err:
        problems.append(f'cannot re-read the source annotations: {err}')


def _check_data_files(manifest: dict, root: str, keys: list, coco_images: dict,
                      problems: List[str]) -> None:
    """Append a line per recorded data file that is missing or changed."""
    fmt = manifest['format']
    hash_files = manifest.get('hash_files', False)
    by_id = {_unit_id(fmt, u): u for u in keys}
    recorded = manifest['ids']['subset']
    gone = [i for i in recorded if i not in by_id]
    if gone:
        problems.append(f'{len(gone)} subset unit(s) are no longer in the source '
                        f'annotations: {gone}')
    now = _file_entries(fmt, root, manifest['sources'],
                        [by_id[i] for i in recorded if i in by_id], coco_images,
                        hash_files)
    what = 'sha256' if hash_files else 'size'
    for path, value in manifest['files'].items():
        current = now.get(path)
        if current is None:
            continue  # its unit left the annotations (reported above)
        if current == 'MISSING' and value != 'MISSING':
            problems.append(f'data file {_abs(root, path)} is missing')
        elif current != value:
            problems.append(f'data file {_abs(root, path)} changed ({what} differs)')


def _check_lists(manifest: dict, out_dir: str, problems: List[str]) -> None:
    """Append a line per list file that is missing or changed."""
    for name, expected in manifest['list_sha256'].items():
        path = osp.join(out_dir, name)
        if not osp.isfile(path):
            problems.append(f'list file {path} is missing')
            continue
        with open(path) as f:
            if _sha256_text(f.read()) != expected:
                problems.append(f'list file {path} changed')


def verify_subset(out_dir: str, data_root: Optional[str] = None) -> dict:
    """Check a subset against its data and manifest; fail loudly on any change.

    Checks: the manifest's own hash, every annotation file's hash, a fresh deterministic
    re-selection (same ids), the list files on disk, and every selected data file (each
    changed or missing file is named; manifests from before per-file records only say
    that the digest differs). When ``data_root`` is not the root the subset was made
    from and anything differs, the message says so first: the subset belongs to the
    other copy of the data.

    Args:
        out_dir (str): Subset folder.
        data_root (str, optional): Dataset root if it moved. Defaults to the manifest's.

    Returns:
        dict: The manifest, if everything matches.

    Raises:
        SubsetVerificationError: Listing every problem found, one line each.
    """
    manifest = load_manifest(out_dir)
    problems = []
    if manifest.get('manifest_sha256') != manifest_hash(manifest):
        problems.append('manifest.json was edited: its content hash does not match')
    recorded_root = osp.abspath(manifest['data_root'])
    root = osp.abspath(data_root or recorded_root)
    _check_annotations(manifest, root, problems)
    _check_selection(manifest, root, problems)
    _check_lists(manifest, out_dir, problems)
    if problems:
        changed = sum(p.startswith('data file ') for p in problems)
        if changed:
            problems.insert(0, f'the data files of the subset changed: {changed} file(s) '
                            'changed or missing')
        head = f'subset {out_dir} failed verification'
        if root != recorded_root:
            head += (f' -- it was made from data root {recorded_root}, not {root}: use a '
                     'separate subset folder for this copy of the data (e.g. tools/gvb.py '
                     'run --subset-base DIR) or the original data root')
        raise SubsetVerificationError(f'{head}:\n  - ' + '\n  - '.join(problems))
    return manifest
