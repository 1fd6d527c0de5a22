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

The package holds what the world contains (:mod:`.spec`), how a scene is drawn
(:mod:`.scene`) and how the files are written (:mod:`.writer`). It imports only numpy,
Pillow and its own modules (relative imports), so
``tools/dataset_converters/make_gv_world.py`` can load it by path without the rest of
intern_mm.

Example:
    >>> from intern_mm.datasets.gv_world import generate_gv_world
    >>> meta = generate_gv_world('/tmp/gv_world', num=200, seed=0)
    >>> sorted(meta['sources'])
    ['cls', 'det', 'downstream', 'seg']
"""
from .scene import render_scene
from .spec import (CLS_SOURCES, COARSE, COLOURS, DET_SOURCES, DOWNSTREAM_CLASSES,
                   DOWNSTREAM_DET_CLASSES, DOWNSTREAM_FIRST_INDEX, DOWNSTREAM_SEG_CLASSES,
                   DOWNSTREAM_TASKS, GV_WORLD_VERSION, SEG_SOURCES, SHAPES, TEXTURES, gv_world_metainfo,
                   split_sizes)
from .writer import generate_gv_world

__all__ = [
    'SHAPES', 'COLOURS', 'TEXTURES', 'COARSE', 'CLS_SOURCES', 'DET_SOURCES',
    'SEG_SOURCES', 'DOWNSTREAM_CLASSES', 'DOWNSTREAM_DET_CLASSES',
    'DOWNSTREAM_SEG_CLASSES', 'DOWNSTREAM_TASKS', 'DOWNSTREAM_FIRST_INDEX',
    'GV_WORLD_VERSION', 'render_scene',
    'split_sizes', 'generate_gv_world', 'gv_world_metainfo'
]
