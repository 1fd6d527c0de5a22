"""Drawing one GV world scene: shapes, textures, background, depth and visible boxes.

Image ``i`` is drawn from a random generator seeded with ``(seed, i)`` only, so a scene
does not depend on the other images or on the number of worker processes.

Example:
    >>> scene = render_scene(0, 3)
    >>> scene['image'].shape
    (64, 64, 3)
"""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .spec import COLOURS, DOWNSTREAM_CLASSES, GV_WORLD_VERSION, SHAPES, TEXTURES

__all__ = ['render_scene']

_BG_PATTERNS = ('noise', 'gradient', 'blotches', 'grid')
_MAX_OBJECTS = len(DOWNSTREAM_CLASSES)


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
