"""What the GV world contains: label spaces, sources, downstream tasks, splits, meta.json.

The format contract of the files is ``docs/gv_world.md``; :mod:`.scene` draws the images
and :mod:`.writer` writes them with every source's annotations.

Example:
    >>> split_sizes(100, 0.15, 0.15)
    {'train': 70, 'val': 15, 'test': 15}
"""
from typing import Dict, Tuple

__all__ = [
    'SHAPES', 'COLOURS', 'TEXTURES', 'COARSE', 'CLS_SOURCES', 'DET_SOURCES',
    'SEG_SOURCES', 'DOWNSTREAM_CLASSES', 'DOWNSTREAM_DET_CLASSES',
    'DOWNSTREAM_SEG_CLASSES', 'DOWNSTREAM_TASKS', 'GV_WORLD_VERSION', 'SHAPE_TO_COARSE',
    'SPLITS', 'DOWNSTREAM_FIRST_INDEX', 'split_sizes', 'gv_world_metainfo'
]

#: Version of the world layout; bump when the generated content changes.
GV_WORLD_VERSION = 1

#: First image id of a pipeline's downstream stream (``world.downstream``): its scenes
#: are draws no upstream world of fewer images contains.
DOWNSTREAM_FIRST_INDEX = 1_000_000

#: Object kinds (the ``shape`` classification source and the unified detection space).
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'cross', 'ring',
                           'diamond', 'hexagon')

#: Colour names and their base RGB values (the ``colour`` classification source).
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (215, 40, 40),
    'green': (40, 175, 60),
    'blue': (45, 85, 225),
    'yellow': (235, 210, 40),
    'magenta': (205, 50, 200),
    'cyan': (40, 200, 215),
}

#: Object surface textures (named in captions, not a classification source).
TEXTURES: Tuple[str, ...] = ('plain', 'striped', 'dotted')

#: Coarser taxonomy over :data:`SHAPES` (the ``coarse`` classification source).
COARSE: Dict[str, Tuple[str, ...]] = {
    'round': ('circle', 'ring'),
    'polygon': ('square', 'triangle', 'diamond', 'hexagon'),
    'spiky': ('star', 'cross'),
}

#: Classification sources and their label spaces (class names are unique across sources).
CLS_SOURCES: Dict[str, Tuple[str, ...]] = {
    'shape': SHAPES,
    'colour': tuple(COLOURS),
    'coarse': tuple(COARSE),
}

#: Detection sources: partly overlapping class sets (``star`` is in both).
DET_SOURCES: Dict[str, Tuple[str, ...]] = {
    'det_a': ('circle', 'square', 'triangle', 'star'),
    'det_b': ('star', 'cross', 'ring', 'diamond', 'hexagon'),
}

#: Segmentation sources: index 0 is background, other objects are 255 (ignore).
SEG_SOURCES: Dict[str, Tuple[str, ...]] = {
    'seg_a': ('background', 'circle', 'square', 'triangle', 'star'),
    'seg_b': ('background', 'cross', 'ring', 'diamond', 'hexagon'),
}

#: Downstream task (never supervised upstream): the number of objects in the scene.
DOWNSTREAM_CLASSES: Tuple[str, ...] = ('one', 'two', 'three', 'four')

#: Downstream detection (never supervised upstream): every visible object boxed with its
#: *colour* as the class. Upstream detection sources box object kinds only.
DOWNSTREAM_DET_CLASSES: Tuple[str, ...] = tuple(COLOURS)

#: Downstream segmentation (never supervised upstream): every object's pixels labelled with
#: its *surface texture*; upstream segmentation sources label object kinds only and no
#: upstream source labels textures (they are named in Up-A's captions only).
DOWNSTREAM_SEG_CLASSES: Tuple[str, ...] = ('background', *TEXTURES)

#: The four downstream tasks (one per family) and their files (``{split}``: train / val /
#: test). Fixed before any result was seen; see docs/gv_world.md.
DOWNSTREAM_TASKS: Dict[str, Dict] = {
    'cls': dict(name='count', target='number of objects', classes=DOWNSTREAM_CLASSES,
                ann_file='downstream/{split}.txt', classes_file='downstream/classes.txt'),
    'det': dict(name='colour_det', target='boxes of every visible object, class = colour',
                classes=DOWNSTREAM_DET_CLASSES, ann_file='downstream_det/{split}.json'),
    'seg': dict(name='texture_seg', target='pixels of every object, class = texture',
                classes=DOWNSTREAM_SEG_CLASSES, ann_file='downstream_seg/{split}.txt',
                seg_map_path='downstream_seg/{split}'),
    'depth': dict(name='depth', target='per-pixel depth in metres (uint16 mm files)',
                  classes=(), ann_file='downstream_depth/{split}.txt',
                  depth_map_path='depth/{split}', depth_scale=1000.0),
}

#: Coarse class of every shape.
SHAPE_TO_COARSE = {s: c for c, shapes in COARSE.items() for s in shapes}
#: The splits, in the order their image ids are assigned.
SPLITS = ('train', 'val', 'test')


def split_sizes(num: int, val_ratio: float, test_ratio: float) -> Dict[str, int]:
    """Number of images per split; ids are assigned in the order train, val, test.

    Args:
        num (int): Total number of images.
        val_ratio (float): Fraction of images in ``val``.
        test_ratio (float): Fraction of images in ``test``.

    Returns:
        dict: ``{'train': n, 'val': n, 'test': n}`` summing to ``num``.

    Example:
        >>> split_sizes(100, 0.15, 0.15)
        {'train': 70, 'val': 15, 'test': 15}
    """
    if num < 3:
        raise ValueError(f'num must be >= 3 (one image per split), got {num}')
    for name, ratio in (('val_ratio', val_ratio), ('test_ratio', test_ratio)):
        if not 0 < ratio < 1:
            raise ValueError(f'{name} must be in (0, 1), got {ratio}')
    if val_ratio + test_ratio >= 1:
        raise ValueError(f'val_ratio + test_ratio must be < 1, got '
                         f'{val_ratio} + {test_ratio}')
    n_val = max(1, int(round(num * val_ratio)))
    n_test = max(1, int(round(num * test_ratio)))
    n_train = num - n_val - n_test
    if n_train < 1:
        raise ValueError(f'num={num} leaves no training image')
    return {'train': n_train, 'val': n_val, 'test': n_test}


def gv_world_metainfo(seed: int, num: int, img_size: int,
                      splits: Dict[str, int]) -> Dict:
    """The content of ``meta.json``: every source, its classes and its files.

    Args:
        seed (int): World seed.
        num (int): Total number of images.
        img_size (int): Image side in pixels.
        splits (dict): Images per split (see :func:`split_sizes`).

    Returns:
        dict: JSON-serialisable world description.
    """
    return dict(
        name='gv_world',
        version=GV_WORLD_VERSION,
        seed=seed,
        num=num,
        img_size=img_size,
        splits=splits,
        sources=dict(
            cls={k: dict(classes=list(v), ann_file=f'cls/{k}/{{split}}.txt',
                         classes_file=f'cls/{k}/classes.txt')
                 for k, v in CLS_SOURCES.items()},
            det={k: dict(classes=list(v), ann_file=f'det/{k}/{{split}}.json')
                 for k, v in DET_SOURCES.items()},
            seg={k: dict(classes=list(v), seg_map_path=f'seg/{k}/{{split}}',
                         ignore_index=255)
                 for k, v in SEG_SOURCES.items()},
            downstream=dict(classes=list(DOWNSTREAM_CLASSES),
                            task='number of objects',
                            ann_file='downstream/{split}.txt',
                            classes_file='downstream/classes.txt')),
        unified=dict(
            cls=[c for v in CLS_SOURCES.values() for c in v],
            det=list(SHAPES),
            seg=['background', *SHAPES]),
        captions=dict(ann_file='captions/{split}.json', per_image=3),
        depth=dict(path='depth/{split}', unit='mm', dtype='uint16'),
        textures=list(TEXTURES),
        coarse_taxonomy={k: list(v) for k, v in COARSE.items()},
        downstream_tasks={f: dict(t, classes=list(t['classes']))
                          for f, t in DOWNSTREAM_TASKS.items()})
