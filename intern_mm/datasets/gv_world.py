"""The built-in GV world: a deterministic synthetic multi-task world.

Every image is a small RGB scene with 1-4 coloured, textured shapes on a noisy, patterned
background. The same scene carries every kind of supervision the INTERN stages need:
captions (Up-A), image-level labels from three classification sources with different label
spaces, boxes from two detection sources with different class sets, masks from two
segmentation sources (each labels only its own classes; other objects are ``255`` = ignore),
a depth map, and four downstream tasks never supervised upstream, one per family (the
number of objects; boxes classed by colour; masks classed by texture; depth).

Everything is written in the standard formats the stock OpenMMLab datasets read; the format
contract is ``docs/gv_world.md``. Image ``i`` is drawn from a random generator seeded with
``(seed, i)`` only, so the world is bit-identical for a given ``(seed, num, img_size,
val_ratio, test_ratio)`` regardless of the number of worker processes.

Example:
    >>> from intern_mm.datasets.gv_world import generate_gv_world
    >>> meta = generate_gv_world('/tmp/gv_world', num=200, seed=0)
    >>> sorted(meta['sources'])
    ['cls', 'det', 'downstream', 'seg']
"""
import json
import math
import os
import os.path as osp
from multiprocessing import Pool
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    'SHAPES', 'COLOURS', 'TEXTURES', 'COARSE', 'CLS_SOURCES', 'DET_SOURCES',
    'SEG_SOURCES', 'DOWNSTREAM_CLASSES', 'DOWNSTREAM_DET_CLASSES',
    'DOWNSTREAM_SEG_CLASSES', 'DOWNSTREAM_TASKS', 'GV_WORLD_VERSION', 'render_scene',
    'split_sizes', 'generate_gv_world', 'gv_world_metainfo'
]

#: Version of the world layout; bump when the generated content changes.
GV_WORLD_VERSION = 1

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

_SHAPE_TO_COARSE = {s: c for c, shapes in COARSE.items() for s in shapes}
_BG_PATTERNS = ('noise', 'gradient', 'blotches', 'grid')
_MAX_OBJECTS = len(DOWNSTREAM_CLASSES)
_SPLITS = ('train', 'val', 'test')


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


def _polygon(shape: str, cx: float, cy: float, r: float,
             angle: float) -> List[Tuple[float, float]]:
    """Vertices of a polygonal shape of radius ``r`` rotated by ``angle`` (rad)."""
    if shape == 'square':
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        pts = [(x * 0.8, y * 0.8) for x, y in pts]
    elif shape == 'triangle':
        pts = [(math.cos(a), math.sin(a))
               for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    elif shape == 'star':
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rad = 1.0 if k % 2 == 0 else 0.42
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif shape == 'cross':
        w = 0.33
        pts = [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1),
               (-w, w), (-1, w), (-1, -w), (-w, -w)]
    elif shape == 'diamond':
        pts = [(0, -1), (0.62, 0), (0, 1), (-0.62, 0)]
    elif shape == 'hexagon':
        pts = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3))
               for k in range(6)]
    else:
        raise ValueError(f'{shape!r} is not a polygonal shape')
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def _shape_mask(shape: str, cx: float, cy: float, r: float, angle: float,
                size: int) -> np.ndarray:
    """Boolean ``(size, size)`` mask of one object."""
    canvas = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if shape in ('circle', 'ring'):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        if shape == 'ring':
            ri = r * 0.5
            draw.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=0)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, angle), fill=255)
    return np.asarray(canvas) > 127


def _background(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, str]:
    """Low-saturation patterned background, float32 ``(size, size, 3)`` in [0, 255]."""
    base = rng.uniform(70, 190)
    tint = rng.uniform(-18, 18, size=3)
    img = np.full((size, size, 3), base, np.float32) + tint
    pattern = _BG_PATTERNS[rng.integers(len(_BG_PATTERNS))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if pattern == 'gradient':
        a = rng.uniform(0, 2 * math.pi)
        img += (40 * ((xx - .5) * math.cos(a) + (yy - .5) * math.sin(a)))[..., None]
    elif pattern == 'blotches':
        low = rng.normal(0, 1, size=(4, 4)).astype(np.float32)
        up = np.kron(low, np.ones((size // 4 + 1, size // 4 + 1), np.float32))
        img += 18 * up[:size, :size, None]
    elif pattern == 'grid':
        period = int(rng.integers(6, 11))
        lines = ((np.arange(size) % period) == 0)
        grid = lines[None, :] | lines[:, None]
        img += np.where(grid, rng.uniform(-30, 30), 0.0)[..., None]
    img += rng.normal(0, 9, size=(size, size, 3))
    return img, pattern


def _place(rng: np.random.Generator, radii: Sequence[float],
           size: int) -> List[Tuple[float, float]]:
    """Centres for non-overlapping discs of the given radii (largest first)."""
    centres: List[Tuple[float, float]] = []
    for r in radii:
        margin = r + 1
        best, best_gap = None, -1e9
        for _ in range(60):
            c = (rng.uniform(margin, size - margin), rng.uniform(margin, size - margin))
            gap = min((math.dist(c, o) - r - ro for o, ro in zip(centres, radii)),
                      default=1e9)
            if gap > best_gap:
                best, best_gap = c, gap
            if gap >= 1.5:
                break
        centres.append(best)
    return centres


def _sample_objects(rng: np.random.Generator, radii: List[float],
                    centres: List[Tuple[float, float]]) -> List[dict]:
    """Draw shape, colour, texture and angle of every object (in this RNG order)."""
    objects = []
    for r, (cx, cy) in zip(radii, centres):
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = tuple(COLOURS)[rng.integers(len(COLOURS))]
        texture = TEXTURES[rng.integers(len(TEXTURES))]
        angle = rng.uniform(-0.35, 0.35)
        objects.append(dict(shape=shape, colour=colour, texture=texture,
                            centre=(float(cx), float(cy)), radius=float(r),
                            angle=float(angle),
                            distance=float(np.clip(42000.0 / r, 1500, 7500))))
    return objects


def _texture_shade(texture: str, xx: np.ndarray, yy: np.ndarray, scale: float) -> np.ndarray:
    """Brightness factor per pixel of a texture (solid: 1; striped; dotted)."""
    period = max(3, int(round(4 * scale)))
    if texture == 'striped':
        return np.where(((xx + yy) // max(1, period // 2)) % 2 == 0, 1.0, 0.55)
    if texture == 'dotted':
        dots = ((xx % period) < period // 2) & ((yy % period) < period // 2)
        return np.where(dots, 0.5, 1.0)
    return np.ones(xx.shape, np.float32)


def _annotate_visible_boxes(objects: List[dict], instance_map: np.ndarray) -> None:
    """Set ``bbox`` / ``area`` of every object from its visible pixels (in place)."""
    for k, obj in enumerate(objects):
        ys, xs = np.nonzero(instance_map == k)
        if len(xs) == 0:  # fully occluded (rare): keep it out of every annotation
            obj['bbox'], obj['area'] = None, 0
            continue
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        obj['bbox'] = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
        obj['area'] = int(len(xs))


def render_scene(seed: int, index: int, size: int = 64) -> Dict:
    """Render scene ``index`` of the world with ``seed``.

    Object 0 is the largest (its kind / colour is the image-level classification label).
    Objects are painted far to near (smallest, i.e. farthest, first); masks, boxes and
    depth follow the same painter's order, so every annotation matches what is visible.

    Args:
        seed (int): World seed.
        index (int): Global image id.
        size (int): Image side in pixels. Defaults to 64.

    Returns:
        dict: ``image`` (uint8 HxWx3), ``instance_map`` (int16 HxW, -1 = background,
        otherwise the object index), ``depth`` (uint16 HxW, millimetres), ``objects``
        (list of dicts with ``shape``, ``colour``, ``texture``, ``bbox`` [x, y, w, h],
        ``area``, ``centre``, ``radius``), ``background`` (pattern name).

    Example:
        >>> scene = render_scene(0, 3)
        >>> scene['image'].shape, 1 <= len(scene['objects']) <= 4
        ((64, 64, 3), True)
    """
    rng = np.random.default_rng([int(seed), int(index), GV_WORLD_VERSION])
    scale = size / 64.0
    n_obj = int(rng.integers(1, _MAX_OBJECTS + 1))
    radii = [rng.uniform(10.5, 14.0) * scale]
    radii += sorted((rng.uniform(5.5, 9.0) * scale for _ in range(n_obj - 1)),
                    reverse=True)
    centres = _place(rng, radii, size)
    img, pattern = _background(rng, size)

    # Ground-plane depth: far (8 m) at the top, near (3 m) at the bottom.
    rows = np.linspace(8000, 3000, size, dtype=np.float32)
    depth = np.repeat(rows[:, None], size, axis=1)
    instance_map = np.full((size, size), -1, np.int16)
    yy, xx = np.mgrid[0:size, 0:size]

    objects = _sample_objects(rng, radii, centres)
    for k in sorted(range(n_obj), key=lambda i: objects[i]['radius']):
        obj = objects[k]
        cx, cy = obj['centre']
        mask = _shape_mask(obj['shape'], cx, cy, obj['radius'], obj['angle'], size)
        rgb = np.asarray(COLOURS[obj['colour']], np.float32)
        rgb = np.clip(rgb + rng.uniform(-22, 22, size=3), 0, 255)
        shade = _texture_shade(obj['texture'], xx, yy, scale)
        obj_rgb = rgb[None, None, :] * shade[..., None]
        img[mask] = obj_rgb[mask] + rng.normal(0, 6, size=(int(mask.sum()), 3))
        depth[mask] = obj['distance'] + 8 * (yy[mask] - cy)
        instance_map[mask] = k
    _annotate_visible_boxes(objects, instance_map)
    return dict(
        image=np.clip(img, 0, 255).astype(np.uint8),
        instance_map=instance_map,
        depth=np.clip(depth, 0, 65535).astype(np.uint16),
        objects=objects,
        background=pattern)


def _position(obj: Dict, size: int) -> str:
    cx, cy = obj['centre']
    horiz = 'left' if cx < size / 3 else 'right' if cx > 2 * size / 3 else ''
    vert = 'top' if cy < size / 3 else 'bottom' if cy > 2 * size / 3 else ''
    where = ' '.join(w for w in (vert, horiz) if w)
    return f'at the {where}' if where else 'in the middle'


def _join(phrases: List[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def _captions(objects: List[Dict], size: int, rng: np.random.Generator) -> List[str]:
    """Three paraphrased captions; they never state the number of objects."""
    visible = [o for o in objects if o['area'] > 0]
    tex = {'plain': '', 'striped': 'striped ', 'dotted': 'dotted '}
    first = _join([f"a {o['colour']} {tex[o['texture']]}{o['shape']}" for o in visible])
    main = visible[0]
    rest = visible[1:]
    second = f"a large {main['shape']} in {main['colour']}"
    if rest:
        second += ' with ' + _join([f"a small {o['colour']} {o['shape']}" for o in rest])
    order = rng.permutation(len(visible))
    third = _join([
        f"{visible[i]['colour']} {visible[i]['shape']} {_position(visible[i], size)}"
        for i in order
    ])
    return [first, second, third]


def _image_record(args: Tuple[int, int, int, str, str]) -> Dict:
    """Render, write the image / seg / depth PNGs and return the annotations."""
    seed, index, size, split, out = args
    scene = render_scene(seed, index, size)
    name = f'{index:06d}.png'
    img_path = f'images/{split}/{name}'
    Image.fromarray(scene['image']).save(osp.join(out, img_path))
    Image.fromarray(scene['depth']).save(osp.join(out, 'depth', split, name))
    objects = scene['objects']
    inst = scene['instance_map']
    for source, classes in SEG_SOURCES.items():
        seg = np.zeros(inst.shape, np.uint8)
        for k, obj in enumerate(objects):
            label = classes.index(obj['shape']) if obj['shape'] in classes else 255
            seg[inst == k] = label
        Image.fromarray(seg).save(osp.join(out, 'seg', source, split, name))
    texture = np.zeros(inst.shape, np.uint8)  # downstream texture segmentation
    for k, obj in enumerate(objects):
        texture[inst == k] = DOWNSTREAM_SEG_CLASSES.index(obj['texture'])
    Image.fromarray(texture).save(osp.join(out, 'downstream_seg', split, name))
    rng = np.random.default_rng([seed, index, GV_WORLD_VERSION, 1])
    main = objects[0]
    return dict(
        index=index,
        img_path=img_path,
        captions=_captions(objects, size, rng),
        cls={
            'shape': SHAPES.index(main['shape']),
            'colour': tuple(COLOURS).index(main['colour']),
            'coarse': tuple(COARSE).index(_SHAPE_TO_COARSE[main['shape']]),
        },
        count=len(objects),
        objects=[dict(shape=o['shape'], colour=o['colour'], texture=o['texture'],
                      bbox=o['bbox'], area=o['area']) for o in objects],
        background=scene['background'])


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


def _write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def _coco(records: List[Dict], classes: Sequence[str], size: int,
          key: str = 'shape') -> Dict:
    """COCO dict boxing the objects whose ``key`` attribute is one of ``classes``."""
    images, annotations = [], []
    for rec in records:
        images.append(dict(id=rec['index'], file_name=rec['img_path'], width=size,
                           height=size))
        for obj in rec['objects']:
            if obj[key] not in classes or obj['bbox'] is None:
                continue
            annotations.append(dict(
                id=len(annotations) + 1, image_id=rec['index'],
                category_id=classes.index(obj[key]) + 1, bbox=obj['bbox'],
                area=float(obj['area']), iscrowd=0))
    return dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=c) for i, c in enumerate(classes)])


def _make_world_dirs(out: str) -> None:
    """Create the folders of the world layout under ``out``."""
    for split in _SPLITS:
        os.makedirs(osp.join(out, 'images', split), exist_ok=True)
        os.makedirs(osp.join(out, 'depth', split), exist_ok=True)
        os.makedirs(osp.join(out, 'downstream_seg', split), exist_ok=True)
        for source in SEG_SOURCES:
            os.makedirs(osp.join(out, 'seg', source, split), exist_ok=True)
    for source in (*[f'cls/{s}' for s in CLS_SOURCES],
                   *[f'det/{s}' for s in DET_SOURCES], 'downstream', 'downstream_det',
                   'downstream_depth', 'captions'):
        os.makedirs(osp.join(out, source), exist_ok=True)


def _write_split_annotations(out: str, split: str, records: List[dict],
                             img_size: int) -> None:
    """Write every source's annotation file of ``split`` from the image records."""
    for source in CLS_SOURCES:
        _write_lines(osp.join(out, 'cls', source, f'{split}.txt'),
                     [f"{r['img_path']} {r['cls'][source]}" for r in records])
    for source, classes in DET_SOURCES.items():
        with open(osp.join(out, 'det', source, f'{split}.json'), 'w') as f:
            json.dump(_coco(records, classes, img_size), f)
    _write_lines(osp.join(out, 'downstream', f'{split}.txt'),
                 [f"{r['img_path']} {r['count'] - 1}" for r in records])
    with open(osp.join(out, 'downstream_det', f'{split}.json'), 'w') as f:
        json.dump(_coco(records, DOWNSTREAM_DET_CLASSES, img_size, key='colour'), f)
    ids = [f"{r['index']:06d}" for r in records]
    _write_lines(osp.join(out, 'downstream_seg', f'{split}.txt'), ids)
    _write_lines(osp.join(out, 'downstream_depth', f'{split}.txt'), ids)
    with open(osp.join(out, 'captions', f'{split}.json'), 'w') as f:
        json.dump(dict(
            metainfo=dict(dataset_type='gv_world_captions', split=split),
            data_list=[dict(img_path=r['img_path'], captions=r['captions'])
                       for r in records]), f)


def generate_gv_world(out: str,
                      num: int = 2000,
                      seed: int = 0,
                      img_size: int = 64,
                      val_ratio: float = 0.15,
                      test_ratio: float = 0.15,
                      workers: int = 0,
                      verbose: bool = False) -> Dict:
    """Generate the GV world under ``out`` (layout: ``docs/gv_world.md``).

    Args:
        out (str): Output directory (created; existing world files are overwritten).
        num (int): Total number of images over train / val / test. Defaults to 2000.
        seed (int): World seed. Defaults to 0.
        img_size (int): Image side in pixels (>= 32). Defaults to 64.
        val_ratio (float): Fraction of images in ``val``. Defaults to 0.15.
        test_ratio (float): Fraction of images in ``test`` (used by the downstream
            task; upstream stages use train / val only). Defaults to 0.15.
        workers (int): Worker processes for rendering; 0 renders in this process.
            The output does not depend on it. Defaults to 0.
        verbose (bool): Print a line per split. Defaults to False.

    Returns:
        dict: The content written to ``meta.json``.

    Example:
        >>> meta = generate_gv_world('/tmp/gv_world_small', num=30, seed=1)
        >>> meta['splits']
        {'train': 22, 'val': 4, 'test': 4}
    """
    if img_size < 32:
        raise ValueError(f'img_size must be >= 32, got {img_size}')
    splits = split_sizes(num, val_ratio, test_ratio)
    _make_world_dirs(out)
    meta = gv_world_metainfo(seed, num, img_size, splits)
    for source, classes in CLS_SOURCES.items():
        _write_lines(osp.join(out, 'cls', source, 'classes.txt'), classes)
    _write_lines(osp.join(out, 'downstream', 'classes.txt'), DOWNSTREAM_CLASSES)

    start = 0
    pool = Pool(workers) if workers > 0 else None
    try:
        for split in _SPLITS:
            ids = range(start, start + splits[split])
            start += splits[split]
            jobs = [(seed, i, img_size, split, out) for i in ids]
            if pool is not None:
                records = pool.map(_image_record, jobs, chunksize=32)
            else:
                records = [_image_record(job) for job in jobs]
            _write_split_annotations(out, split, records, img_size)
            if verbose:
                print(f'[gv_world] {split}: {len(records)} images')
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta
