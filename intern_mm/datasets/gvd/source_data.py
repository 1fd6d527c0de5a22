"""Reading, checking and writing a declared source's splits (:mod:`.sources`).

:func:`load_source` reads every split of a :class:`~.sources.Source` with the one reader
per format of :mod:`intern_mm.datasets.gvb.annotations`, compares its class list with
the annotations (:func:`~intern_mm.datasets.checks.check_class_names`: a class the
annotations use that the list lacks is refused), applies ``limit`` (the evenly spaced
pick, so excluding an image never shifts it), drops ``exclude`` and checks that every
kept image exists. Every problem is one :class:`~.errors.GVDInputError` line naming the
source and the file.

:func:`write_split` writes the kept samples of a split in the source's own format (a
CustomDataset list, a COCO json, an id list) and returns the stock dataset config that
reads it; :func:`write_captions` writes the caption sources of a split as one mmengine
``BaseDataset`` JSON (what Up-A and its tokenizer read).

Example:
    >>> from intern_mm.datasets.gvd.sources import Source
    >>> data = load_source(Source('raccoon', dict(
    ...     task='det', format='voc', root='../shared/datasets/raccoon',
    ...     train='train.txt', classes=('raccoon', ), img_dir='images',
    ...     ann_dir='annotations')))  # doctest: +SKIP
    >>> len(data.samples['train'])  # doctest: +SKIP
    160
"""
import csv
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

from intern_mm.datasets.checks import ClassNameMismatchError, check_class_names
from intern_mm.datasets.gvb.annotations import (coco_categories, coco_image_objects,
                                                load_coco, read_cls_list, read_ids,
                                                read_lines, scan_image_folder,
                                                voc_object_names)
from .class_file import read_class_file
from .errors import GVDInputError
from .leak_check import folder_groups
from .sources import Source, parse_sources, split_limit

__all__ = ['SourceData', 'load_source', 'write_split', 'write_captions', 'declared_images',
           'path_groups']

#: Errors of a reader that mean "this file is missing or unreadable".
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, ET.ParseError, UnicodeDecodeError,
                csv.Error)


@dataclass
class SourceData:
    """A source's checked splits.

    Attributes:
        source (Source): The declaration.
        classes (list[str]): Its class names (empty for image-text).
        samples (dict): ``split -> [sample, ...]`` kept (``limit`` applied, then
            ``exclude`` dropped); every sample has ``img`` (path relative to the root).
        excluded (dict): ``split -> number of samples`` that ``exclude`` dropped.
        extra (dict): Format data for writing (the COCO file per split).
    """
    source: Source
    classes: List[str]
    samples: Dict[str, List[dict]]
    excluded: Dict[str, int] = field(default_factory=dict)
    extra: Dict[str, dict] = field(default_factory=dict)

    def images(self, split: Optional[str] = None) -> List[str]:
        """Absolute image paths of one split (all splits when None), in order."""
        splits = [split] if split else list(self.samples)
        return [self.source.path(s['img']) for sp in splits for s in self.samples.get(sp, [])]


def _fail(src: Source, rel: str, err: BaseException) -> GVDInputError:
    path = src.path(rel)
    msg = str(err).strip().strip('"\'') or type(err).__name__
    return GVDInputError(f'source {src.name}: {msg}' if path in msg else
                         f'source {src.name}: {path}: {msg}')


def _declared_classes(src: Source) -> Optional[List[str]]:
    decl = src.classes_decl
    if decl is None:
        return None
    if isinstance(decl, str):
        return read_class_file(src.path(decl), source=src.name)
    return [str(c) for c in decl]


def _check_names(src: Source, classes: Optional[List[str]], found: Sequence[str],
                 rel: str) -> List[str]:
    """The class list (``found`` in first-seen order when none is declared)."""
    if classes is None:
        return list(dict.fromkeys(found))
    try:
        check_class_names(classes, found, src.where(rel), allow_unused=True)
    except ClassNameMismatchError as err:
        raise GVDInputError(f'{err} (fix the class list of source {src.name})')
    return classes


def _read_folder(src, rel, classes, extra):
    samples, names = scan_image_folder(src.root, rel)
    classes = _check_names(src, classes, names, rel)
    return [dict(img=img, label=classes.index(names[label])) for img, label in samples], classes


def _read_list(src, rel, classes, extra):
    if classes is None:
        raise GVDInputError(f'source {src.name}: format list needs `classes` (labels are '
                            'indices into it)')
    samples = read_cls_list(src.path(rel), prefix=src.img_dir)
    bad = [label for _, label in samples if not 0 <= label < len(classes)]
    if bad:
        raise GVDInputError(f'{src.where(rel)}: label {bad[0]} is out of range for the '
                            f'{len(classes)} classes of the source ({len(bad)} lines)')
    return [dict(img=img, label=label) for img, label in samples], classes


def _read_coco(src, rel, classes, extra):
    coco = load_coco(src.path(rel))
    cats = dict(coco_categories(coco))
    objects = coco_image_objects(coco, src.path(rel))
    used = [cats[c] for ids in objects.values() for c in ids if c in cats]
    classes = _check_names(src, classes, used if classes is not None else list(cats.values()),
                           rel)
    extra['coco'] = coco
    return [dict(img=osp.normpath(osp.join(src.img_dir, img['file_name'])), id=img['id'])
            for img in coco['images']], classes


def _read_voc(src, rel, classes, extra):
    if src.img_suffix != '.jpg':
        raise GVDInputError(f'source {src.name}: format voc reads <id>.jpg images (mmdet '
                            f'XMLDataset), got img_suffix={src.img_suffix!r}')
    samples, names = [], []
    for img_id in read_lines(src.path(rel)):
        xml = osp.join(src.ann_dir, f'{img_id}.xml')
        try:
            names += voc_object_names(src.path(xml))
        except _READ_ERRORS as err:
            raise _fail(src, xml, err)
        samples.append(dict(img=osp.join(src.img_dir, img_id + src.img_suffix), id=img_id))
    classes = _check_names(src, classes, sorted(set(names)) if classes is None else names, rel)
    return samples, classes


def _read_mmseg(src, rel, classes, extra):
    if classes is None:
        raise GVDInputError(f'source {src.name}: format mmseg needs `classes` (mask values '
                            'are indices into it)')
    ann_dir = osp.join(src.ann_dir, rel)
    if not osp.isdir(src.path(ann_dir)):
        raise GVDInputError(f'source {src.name}: mask folder {src.path(ann_dir)} does not '
                            'exist')
    ids = read_ids(src.root, dict(img_dir=osp.join(src.img_dir, rel),
                                  img_suffix=src.img_suffix))
    return [dict(img=osp.join(src.img_dir, rel, i + src.img_suffix), id=i,
                 seg=osp.join(ann_dir, i + src.seg_suffix)) for i in ids], classes


def _caption_record(src, rel, line, rec) -> dict:
    if not isinstance(rec, Mapping) or 'img_path' not in rec:
        raise GVDInputError(f'{src.where(rel)}:{line}: a record needs "img_path" and '
                            f'"captions", got {str(rec)[:80]}')
    caps = rec.get('captions', rec.get('caption'))
    caps = [caps] if isinstance(caps, str) else list(caps or [])
    if not caps or not all(isinstance(c, str) and c.strip() for c in caps):
        raise GVDInputError(f'{src.where(rel)}:{line}: {rec["img_path"]} has no caption')
    return dict(img=osp.normpath(osp.join(src.img_dir, rec['img_path'])), captions=caps)


def _read_captions(src, rel, classes, extra):
    path = src.path(rel)
    if not osp.isfile(path):
        raise GVDInputError(f'source {src.name}: caption file {path} does not exist')
    with open(path, encoding='utf-8', newline='') as f:
        if src.format == 'captions-json':
            data = json.load(f)
            if not isinstance(data, Mapping) or 'data_list' not in data:
                raise GVDInputError(f'{src.where(rel)}: not an mmengine BaseDataset JSON '
                                    '(no "data_list")')
            rows = [(i + 1, r) for i, r in enumerate(data['data_list'])]
        elif src.format == 'captions-jsonl':
            rows = [(i + 1, json.loads(t)) for i, t in enumerate(f) if t.strip()]
        else:
            reader = csv.DictReader(f)
            if not {'img_path', 'caption'} <= set(reader.fieldnames or ()):
                raise GVDInputError(f'{src.where(rel)}: a caption CSV needs the columns '
                                    f'img_path,caption (got {reader.fieldnames})')
            merged: Dict[str, List[str]] = {}
            for row in reader:
                merged.setdefault(row['img_path'], []).append(row['caption'])
            rows = [(i + 2, dict(img_path=k, captions=v))
                    for i, (k, v) in enumerate(merged.items())]
    return [_caption_record(src, rel, line, rec) for line, rec in rows], []


_READERS = {'folder': _read_folder, 'list': _read_list, 'coco': _read_coco, 'voc': _read_voc,
            'mmseg': _read_mmseg, 'captions-json': _read_captions,
            'captions-jsonl': _read_captions, 'captions-csv': _read_captions}


def load_source(src: Source) -> SourceData:
    """Read and check every split of a source.

    Args:
        src (Source): A parsed declaration.

    Returns:
        SourceData: The kept samples per split and the class names.

    Raises:
        GVDInputError: One line naming the source and the file.
    """
    if not osp.isdir(src.root):
        raise GVDInputError(f'source {src.name}: root {src.root} does not exist')
    classes = _declared_classes(src)
    samples, extra, excluded = {}, {}, {}
    drop, seen = set(src.exclude), set()
    for split, rel in src.splits.items():
        extra[split] = {}
        try:
            found, classes = _READERS[src.format](src, rel, classes, extra[split])
        except GVDInputError:
            raise
        except _READ_ERRORS as err:
            raise _fail(src, rel, err)
        seen |= {osp.normpath(s['img']) for s in found} & drop
        picked = split_limit(found, src.limit.get(split))  # stable under `exclude`
        samples[split] = [s for s in picked if osp.normpath(s['img']) not in drop]
        excluded[split] = len(picked) - len(samples[split])
        for sample in samples[split]:
            for key in ('img', 'seg'):
                if key in sample and not osp.isfile(src.path(sample[key])):
                    raise GVDInputError(f'source {src.name}: {src.path(sample[key])} (listed '
                                        f'in {src.path(rel)}) does not exist')
    missing = sorted(drop - seen)
    if missing:
        raise GVDInputError(f'source {src.name}: exclude names {len(missing)} image(s) no '
                            f'split lists, e.g. {missing[0]} (paths are relative to '
                            f'{src.root})')
    return SourceData(src, list(classes or []), samples, excluded, extra)


def _write(path: str, text: str) -> str:
    """Write ``text`` unless the file holds it already (keeps its mtime)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            if f.read() == text:
                return path
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def write_split(data: SourceData, split: str, out_dir: str,
                names: Optional[Sequence[str]] = None) -> dict:
    """Write a split's kept samples and return the stock dataset config reading them.

    Args:
        data (SourceData): A loaded source (not image-text).
        split (str): ``'train'`` or ``'val'``.
        out_dir (str): Folder of the written files (``<out_dir>/<source>/<split>.*``).
        names (Sequence[str], optional): The names its classes take in the dataset (their
            unified names; a COCO file's categories are renamed). Defaults to its own.

    Returns:
        dict: ``mmpretrain.CustomDataset`` / ``mmdet.CocoDataset`` / ``mmdet.VOCDataset``
        / ``mmseg.BaseSegDataset`` config without ``pipeline`` and ``test_mode``.
    """
    src, samples = data.source, data.samples[split]
    base = osp.join(out_dir, src.name, split)
    names = list(names or data.classes)
    if src.format in ('folder', 'list'):
        path = _write(base + '.txt', ''.join(f'{s["img"]} {s["label"]}\n' for s in samples))
        return dict(type='mmpretrain.CustomDataset', data_root=src.root, ann_file=path,
                    data_prefix='', classes=names)
    meta = dict(classes=tuple(names))
    if src.format == 'coco':
        coco = data.extra[split]['coco']
        keep = {s['id'] for s in samples}
        rename = dict(zip(data.classes, names))
        kept = dict(coco, images=[i for i in coco['images'] if i['id'] in keep],
                    annotations=[a for a in coco['annotations'] if a['image_id'] in keep],
                    categories=[dict(c, name=rename.get(c['name'], c['name']))
                                for c in coco['categories']])
        path = _write(base + '.json', json.dumps(kept))
        return dict(type='mmdet.CocoDataset', data_root=src.root, ann_file=path,
                    data_prefix=dict(img=src.img_dir), metainfo=meta)
    path = _write(base + '.txt', ''.join(f'{s["id"]}\n' for s in samples))
    if src.format == 'voc':
        return dict(type='mmdet.VOCDataset', data_root=src.root, ann_file=path,
                    data_prefix=dict(sub_data_root=''), img_subdir=src.img_dir,
                    ann_subdir=src.ann_dir, metainfo=meta)
    rel = src.splits[split]
    return dict(type='mmseg.BaseSegDataset', data_root=src.root, ann_file=path,
                data_prefix=dict(img_path=osp.join(src.img_dir, rel),
                                 seg_map_path=osp.join(src.ann_dir, rel)),
                img_suffix=src.img_suffix, seg_map_suffix=src.seg_suffix, metainfo=meta)


def write_captions(datas: Sequence[SourceData], split: str, path: str) -> Optional[str]:
    """Write the caption sources' kept pairs of a split as one mmengine JSON.

    Args:
        datas (Sequence[SourceData]): Loaded image-text sources.
        split (str): ``'train'`` or ``'val'``.
        path (str): The file to write (image paths absolute).

    Returns:
        str | None: ``path``, or None when no source has the split.
    """
    records = [dict(img_path=d.source.path(s['img']), captions=s['captions'])
               for d in datas for s in d.samples.get(split, [])]
    if not records:
        return None
    names = [d.source.name for d in datas if split in d.samples]
    return _write(path, json.dumps(dict(metainfo=dict(sources=names), data_list=records)))


def declared_images(spec: str) -> Dict[str, List[str]]:
    """The images of a config's declared sources: ``CONFIG.py`` (every source) or
    ``CONFIG.py:NAME`` (one), read and checked like the pipeline reads them.

    Args:
        spec (str): ``CONFIG.py[:NAME]`` (a config with a ``sources`` entry).

    Returns:
        dict[str, list[str]]: ``'<source>/<split>' -> absolute image paths``.

    Raises:
        GVDInputError: No ``sources`` in the config, an unknown name, or a bad source.

    Example:
        >>> declared_images('configs/paradigm/intern-paradigm_metanet-tiny_your-data.py'
        ...                 ':raccoon')['raccoon/train'][:1]  # doctest: +SKIP
        ['/work/shared/datasets/raccoon/images/raccoon-1.jpg']
    """
    from mmengine.config import Config
    path, _, name = spec.partition('.py:')
    path = path if path.endswith('.py') else path + '.py'
    decls = dict(Config.fromfile(path).get('sources') or {})
    if not decls:
        raise GVDInputError(f'{path} declares no `sources`')
    if name and name not in decls:
        raise GVDInputError(f'{path} declares no source {name!r} (sources: {list(decls)})')
    repo = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    sources = parse_sources({n: d for n, d in decls.items() if not name or n == name}, repo)
    return {f'{n}/{split}': data.images(split) for n, src in sources.items()
            for data in [load_source(src)] for split in data.samples}


def path_groups(paths: Sequence[str]) -> Dict[str, List[str]]:
    """Image groups of ``tools/gvd.py leak-check`` paths: an image folder (searched
    recursively) or file is one group; a declared source, ``CONFIG.py[:NAME]``, one group
    per source and split (:func:`declared_images`).

    Args:
        paths (Sequence[str]): Folders, files or declared sources.

    Returns:
        dict[str, list[str]]: Group -> image files.

    Example:
        >>> path_groups(['data/up', 'my_pipeline.py:pets'])  # doctest: +SKIP
        {'data/up': [...], 'pets/train': [...], 'pets/val': [...]}
    """
    groups: Dict[str, List[str]] = {}
    for path in paths:
        if path.endswith('.py') or '.py:' in path:
            groups.update(declared_images(path))
        else:
            groups.update(folder_groups([path]))
    return groups
