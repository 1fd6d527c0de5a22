"""Writing the GV world: image / mask / depth PNGs, captions and every source's annotations.

Example:
    >>> meta = generate_gv_world('/tmp/gv_world_small', num=30, seed=1)  # doctest: +SKIP
"""
import json
import os
import os.path as osp
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .scene import render_scene
from .spec import (CLS_SOURCES, COARSE, COLOURS, DET_SOURCES, DOWNSTREAM_CLASSES,
                   DOWNSTREAM_DET_CLASSES, DOWNSTREAM_SEG_CLASSES, GV_WORLD_VERSION,
                   SEG_SOURCES, SHAPE_TO_COARSE, SHAPES, SPLITS, gv_world_metainfo,
                   split_sizes)

__all__ = ['generate_gv_world']


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
            'coarse': tuple(COARSE).index(SHAPE_TO_COARSE[main['shape']]),
        },
        count=len(objects),
        objects=[dict(shape=o['shape'], colour=o['colour'], texture=o['texture'],
                      bbox=o['bbox'], area=o['area']) for o in objects],
        background=scene['background'])


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
    for split in SPLITS:
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


def _write_splits(out: str, seed: int, img_size: int, splits: Dict[str, int],
                  first_index: int, workers: int, verbose: bool) -> None:
    """Render and write every split's images (ids from ``first_index`` on, in the order
    train, val, test) and annotation files."""
    start = first_index
    pool = Pool(workers) if workers > 0 else None
    try:
        for split in SPLITS:
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


def generate_gv_world(out: str,
                      num: int = 2000,
                      seed: int = 0,
                      img_size: int = 64,
                      val_ratio: float = 0.15,
                      test_ratio: float = 0.15,
                      workers: int = 0,
                      verbose: bool = False,
                      splits: Optional[Dict[str, int]] = None,
                      first_index: int = 0) -> Dict:
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
        splits (dict, optional): Images per split (``{'train': n, 'val': n, 'test':
            n}``) instead of ``num`` and the ratios.
        first_index (int): Global id of the first image. Scenes are drawn from ``(seed,
            id)`` only, so worlds with disjoint id ranges share no image: the
            pipeline's downstream stream starts at
            :data:`~.spec.DOWNSTREAM_FIRST_INDEX`. Defaults to 0.

    Returns:
        dict: The content written to ``meta.json``.

    Example:
        >>> meta = generate_gv_world('/tmp/gv_world_small', num=30, seed=1)
        >>> meta['splits']
        {'train': 22, 'val': 4, 'test': 4}
    """
    if img_size < 32:
        raise ValueError(f'img_size must be >= 32, got {img_size}')
    if splits is None:
        splits = split_sizes(num, val_ratio, test_ratio)
    else:
        splits = {split: int(splits[split]) for split in SPLITS}
        if min(splits.values()) < 1:
            raise ValueError(f'every split needs an image, got {splits}')
        num = sum(splits.values())
    _make_world_dirs(out)
    meta = gv_world_metainfo(seed, num, img_size, splits)
    if first_index:
        meta['first_index'] = int(first_index)
    for source, classes in CLS_SOURCES.items():
        _write_lines(osp.join(out, 'cls', source, 'classes.txt'), classes)
    _write_lines(osp.join(out, 'downstream', 'classes.txt'), DOWNSTREAM_CLASSES)

    _write_splits(out, seed, img_size, splits, int(first_index), workers, verbose)
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta
