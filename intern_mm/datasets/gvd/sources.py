"""Declared data sources: one schema for every dataset an upstream stage may train on.

A *source* is a dataset in a standard format, declared once in a pipeline config::

    sources = dict(
        cifar10=dict(task='cls', format='folder', root='../shared/datasets/cifar10',
                     train='train', val='test', limit=dict(train=200, val=50)),
        raccoon=dict(task='det', format='voc', root='../shared/datasets/raccoon',
                     train='train.txt', val='test.txt', classes=('raccoon', ),
                     img_dir='images', ann_dir='annotations'),
        camvid=dict(task='seg', format='mmseg', root='../shared/datasets/camvid',
                    train='train', val='val', classes='classes.txt',
                    img_dir='images', ann_dir='annotations'),
        captions=dict(task='image-text', format='captions-json', root='data/gv_world',
                      train='captions/train.json', val='captions/val.json'),
    )

Keys (:data:`SOURCE_KEYS`; any other key is refused in one line):

==============  =============================================================
``task``        ``'cls'``, ``'det'``, ``'seg'`` or ``'image-text'``
``format``      :data:`FORMATS` (which tasks each format serves)
``root``        the dataset folder; every other path is relative to it
``train``       the train split: a folder (``folder``; ``mmseg``: the sub-folder of
                ``img_dir`` / ``ann_dir``), a list file (``list``: ``path label`` lines;
                ``voc``: image ids), a COCO json or a caption file
``val``         the val split, the same way (optional)
``classes``     the class names: a tuple, or a file (one name per line) relative to
                ``root``; optional for ``folder`` (folder names) and ``coco``
                (categories); unused for ``image-text``
``img_dir``     ``voc`` / ``mmseg``: image folder (``JPEGImages`` / ``images``);
                ``coco`` / ``list`` / captions: prefix of the image paths (``''``)
``ann_dir``     ``voc``: XML folder (``Annotations``); ``mmseg``: mask folder
                (``annotations``)
``img_suffix``  ``voc`` / ``mmseg`` image ending (``'.jpg'``)
``seg_suffix``  ``mmseg`` mask ending (``'.png'``)
``limit``       at most this many images per split (an int, or ``dict(train=N, val=M)``),
                evenly spaced over the split (a small run over a big set)
``exclude``     image paths (relative to ``root``) left out of every split (after
                ``limit``'s pick), e.g. the duplicates the leak check found
==============  =============================================================

:func:`check_sources` reads every declared file once, with the one reader per format of
:mod:`intern_mm.datasets.gvb.annotations`, and refuses bad input with one
:class:`~.errors.GVDInputError` line naming the source and the file: a missing or
unreadable file, a class the annotations use that the class list lacks, an unknown key.
:func:`world_sources` declares the GV world's files like anyone's.

Example:
    >>> decls = world_sources('data/gv_world')
    >>> sorted(decls)[:3], decls['det_a']['format']
    (['captions', 'coarse', 'colour'], 'coco')
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

from intern_mm.datasets.gv_world.spec import CLS_SOURCES, DET_SOURCES, SEG_SOURCES
from .errors import GVDInputError

__all__ = ['SOURCE_TASKS', 'FORMATS', 'SOURCE_KEYS', 'SPLIT_KEYS', 'Source', 'parse_source',
           'parse_sources', 'world_sources', 'source_tasks', 'split_limit']

#: The tasks a source can serve (one Up-E expert per task; image-text feeds Up-A).
SOURCE_TASKS = ('cls', 'det', 'seg', 'image-text')
#: Format -> the task it serves.
FORMATS: Dict[str, str] = {
    'folder': 'cls',          # mmpretrain CustomDataset folder: <split>/<class>/<image>
    'list': 'cls',            # mmpretrain CustomDataset list file: "<path> <label>" lines
    'coco': 'det',            # COCO detection json
    'voc': 'det',             # Pascal-VOC XML + an id list per split
    'mmseg': 'seg',           # mmseg image / annotation folders
    'captions-json': 'image-text',   # mmengine BaseDataset JSON (the GV world's captions)
    'captions-jsonl': 'image-text',  # one {"img_path", "captions"} record per line
    'captions-csv': 'image-text',    # columns img_path,caption (a row per caption)
}
#: The keys of a source declaration.
SOURCE_KEYS = ('task', 'format', 'root', 'train', 'val', 'classes', 'img_dir', 'ann_dir',
               'img_suffix', 'seg_suffix', 'limit', 'exclude')
#: The splits a source declares (``train`` required).
SPLIT_KEYS = ('train', 'val')
#: Defaults of the folder keys per format.
_DEFAULTS = {
    'voc': dict(img_dir='JPEGImages', ann_dir='Annotations', img_suffix='.jpg'),
    'mmseg': dict(img_dir='images', ann_dir='annotations', img_suffix='.jpg',
                  seg_suffix='.png'),
}


class Source:
    """A checked source declaration (see the module docstring for the keys).

    Args:
        name (str): The source name (unique in the config).
        decl (Mapping): Its declaration.
        base (str, optional): Folder a relative ``root`` is resolved against when it
            does not exist relative to the working directory. Defaults to None.

    Example:
        >>> src = Source('shape', dict(task='cls', format='list', root='data/gv_world',
        ...                            train='cls/shape/train.txt', classes=('a', 'b')))
        >>> src.task, src.splits
        ('cls', {'train': 'cls/shape/train.txt'})
    """

    def __init__(self, name: str, decl: Mapping, base: Optional[str] = None) -> None:
        self.name = str(name)
        decl = dict(decl)
        unknown = sorted(set(decl) - set(SOURCE_KEYS))
        if unknown:
            raise GVDInputError(f'source {name}: unknown keys {unknown} (allowed: '
                                f'{list(SOURCE_KEYS)})')
        for key in ('task', 'format', 'root', 'train'):
            if not decl.get(key):
                raise GVDInputError(f'source {name}: {key!r} is required')
        self.task, self.format = decl['task'], decl['format']
        if self.task not in SOURCE_TASKS:
            raise GVDInputError(f'source {name}: unknown task {self.task!r} (tasks: '
                                f'{list(SOURCE_TASKS)})')
        if FORMATS.get(self.format) != self.task:
            known = [f for f, t in FORMATS.items() if t == self.task]
            raise GVDInputError(f'source {name}: format {self.format!r} does not serve task '
                                f'{self.task!r} (formats of {self.task}: {known})')
        root = str(decl['root'])
        if not osp.isabs(root) and not osp.exists(root) and base:
            root = osp.join(base, root)
        self.root = osp.abspath(root)
        self.splits: Dict[str, str] = {k: str(decl[k]) for k in SPLIT_KEYS if decl.get(k)}
        opts = dict(_DEFAULTS.get(self.format, {}))
        opts.update({k: decl[k] for k in ('img_dir', 'ann_dir', 'img_suffix', 'seg_suffix')
                     if decl.get(k) is not None})
        self.img_dir: str = opts.get('img_dir', '')
        self.ann_dir: str = opts.get('ann_dir', '')
        self.img_suffix: str = opts.get('img_suffix', '.jpg')
        self.seg_suffix: str = opts.get('seg_suffix', '.png')
        self.classes_decl = decl.get('classes')
        self.limit = self._limit(decl.get('limit'))
        self.exclude: List[str] = [osp.normpath(str(p)) for p in decl.get('exclude') or ()]
        self.decl = decl

    def _limit(self, limit) -> Dict[str, int]:
        if limit is None:
            return {}
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            return {k: limit for k in SPLIT_KEYS}
        if isinstance(limit, Mapping) and set(limit) <= set(SPLIT_KEYS) and all(
                isinstance(v, int) and v > 0 for v in limit.values()):
            return dict(limit)
        raise GVDInputError(f'source {self.name}: limit must be a positive int or '
                            f'dict(train=N, val=M), got {limit!r}')

    def path(self, rel: str) -> str:
        """``rel`` under the source's root (unchanged when absolute)."""
        return rel if osp.isabs(rel) else osp.join(self.root, rel)

    def where(self, rel: str) -> str:
        """``source NAME: FILE`` (the start of every error line about a file)."""
        return f'source {self.name}: {self.path(rel)}'

    def __repr__(self) -> str:
        return f'Source({self.name!r}, task={self.task!r}, format={self.format!r})'


def parse_source(name: str, decl: Mapping, base: Optional[str] = None) -> Source:
    """Check one declaration's keys, task and format (not its files).

    Args:
        name (str): Source name.
        decl (Mapping): Its declaration.
        base (str, optional): Folder relative roots fall back to. Defaults to None.

    Returns:
        Source: The parsed source.

    Raises:
        GVDInputError: One line naming the source and the key.

    Example:
        >>> parse_source('x', dict(task='det', format='folder', root='.', train='t'))
        ... # doctest: +SKIP
        GVDInputError: source x: format 'folder' does not serve task 'det' ...
    """
    if not isinstance(decl, Mapping):
        raise GVDInputError(f'source {name}: a declaration is a dict, got {decl!r}')
    return Source(name, decl, base)


def parse_sources(decls: Optional[Mapping[str, Mapping]],
                  base: Optional[str] = None) -> Dict[str, Source]:
    """Parse every declaration of a config's ``sources`` (order kept).

    Args:
        decls (Mapping, optional): ``name -> declaration``.
        base (str, optional): Folder relative roots fall back to. Defaults to None.

    Returns:
        dict[str, Source]: The parsed sources.

    Example:
        >>> list(parse_sources(world_sources('data/gv_world')))[:2]
        ['captions', 'shape']
    """
    return {str(name): parse_source(name, decl, base) for name, decl in (decls or {}).items()}


def world_sources(root: str, img_dir: str = '') -> Dict[str, dict]:
    """The GV world's files as source declarations (``docs/gv_world.md``, *Layout*).

    The world is one producer of sources: its caption file (Up-A), its three
    classification list files, its two COCO detection files and its two mmseg mask
    folders, declared as a user declares theirs. Nothing is read: the world may not be
    generated yet.

    Args:
        root (str): The world root.
        img_dir (str): Unused by the world (kept for symmetry). Defaults to ``''``.

    Returns:
        dict: ``name -> declaration`` (captions, shape, colour, coarse, det_a, det_b,
        seg_a, seg_b).

    Example:
        >>> world_sources('data/gv_world')['shape']['train']
        'cls/shape/train.txt'
    """
    decls: Dict[str, dict] = dict(captions=dict(
        task='image-text', format='captions-json', root=root, img_dir=img_dir,
        train='captions/train.json', val='captions/val.json'))
    for name, classes in CLS_SOURCES.items():
        decls[name] = dict(task='cls', format='list', root=root, train=f'cls/{name}/train.txt',
                           val=f'cls/{name}/val.txt', classes=tuple(classes))
    for name, classes in DET_SOURCES.items():
        decls[name] = dict(task='det', format='coco', root=root, train=f'det/{name}/train.json',
                           val=f'det/{name}/val.json', classes=tuple(classes))
    for name, classes in SEG_SOURCES.items():
        decls[name] = dict(task='seg', format='mmseg', root=root, train='train', val='val',
                           classes=tuple(classes), img_dir='images', ann_dir=f'seg/{name}',
                           img_suffix='.png', seg_suffix='.png')
    return decls


def source_tasks(sources: Mapping[str, Source]) -> Dict[str, List[str]]:
    """Task -> the names of its sources, in declaration order.

    Args:
        sources (Mapping[str, Source]): Parsed sources.

    Returns:
        dict[str, list[str]]: Every task that has a source.

    Example:
        >>> source_tasks(parse_sources(world_sources('w')))['det']
        ['det_a', 'det_b']
    """
    tasks: Dict[str, List[str]] = {}
    for name, src in sources.items():
        tasks.setdefault(src.task, []).append(name)
    return tasks


def split_limit(samples: Sequence, num: Optional[int]) -> List:
    """At most ``num`` of ``samples``, evenly spaced (all of them without ``num``).

    Args:
        samples (Sequence): The split's samples in file order.
        num (int, optional): The limit.

    Returns:
        list: The kept samples, in order.

    Example:
        >>> split_limit(list(range(10)), 3)
        [0, 3, 6]
    """
    if num is None or num >= len(samples):
        return list(samples)
    return [samples[(i * len(samples)) // num] for i in range(num)]
