"""The GV world of a pipeline: generated once, regenerated when it is stale.

The world's ``meta.json`` is its done-marker (written last by
:func:`~intern_mm.datasets.gv_world.generate_gv_world`). A world written before the
downstream tasks existed (no ``downstream_tasks`` in its meta) is *stale*: it is
generated again with its own ``num`` / ``seed`` / ``img_size`` (the same images, the
downstream task files added).

``world.downstream`` (INTERN's setting: the target tasks on images no upstream stage
saw) writes the downstream tasks' data as a second world, the *downstream stream*: the
same seed and image size, its own split sizes, image ids from
:data:`~intern_mm.datasets.gv_world.DOWNSTREAM_FIRST_INDEX` on (disjoint from the
upstream world's, so no scene is shared), under ``downstream.root`` (default: the
world root with ``_downstream`` appended). Its downstream task files are the ones the
family rows read; its upstream sources are never read.

Example:
    >>> meta, seconds = ensure_world('data/gv_world', dict(num=2000, seed=0))
    ... # doctest: +SKIP
    >>> downstream_root('/d/gv_world', dict(downstream=dict(train=140, val=100, test=300)))
    '/d/gv_world_downstream'
"""
import os.path as osp
import time
from typing import Optional, Tuple

from intern_mm.datasets.gv_world import DOWNSTREAM_FIRST_INDEX, generate_gv_world
from intern_mm.utils.run_record import RunRecord
from .launch import log

__all__ = ['WORLD_META', 'world_record', 'ensure_world', 'downstream_root']

WORLD_META = 'meta.json'
#: The world's generation arguments recorded in its meta (and compared with the config).
WORLD_ARGS = ('num', 'seed', 'img_size')
#: Keys of ``world.downstream``.
DOWNSTREAM_STREAM_KEYS = {'root', 'train', 'val', 'test'}


def downstream_root(root: str, world: dict) -> str:
    """Where the family rows' data is: the downstream stream's root with
    ``world.downstream``, else the world root itself.

    Args:
        root (str): The world root (absolute).
        world (dict): The pipeline config's ``world``.

    Returns:
        str: The root the downstream family rows read.
    """
    stream = world.get('downstream')
    if not stream:
        return root
    unknown = set(stream) - DOWNSTREAM_STREAM_KEYS
    if unknown:
        raise KeyError(f'world.downstream: unknown keys {sorted(unknown)} (allowed: '
                       f'{sorted(DOWNSTREAM_STREAM_KEYS)})')
    return osp.abspath(stream.get('root') or root.rstrip('/') + '_downstream')


def world_record(root: str) -> RunRecord:
    """The record of a world folder (done-marker ``meta.json``).

    Args:
        root (str): The world root.

    Returns:
        RunRecord: Its record.
    """
    return RunRecord(root, done_name=WORLD_META, indent=2)


def ensure_world(root: str, world: dict) -> Tuple[dict, Optional[float]]:
    """Generate the world unless its ``meta.json`` exists (and is not stale).

    Args:
        root (str): The world root (absolute).
        world (dict): The pipeline config's ``world`` (``root`` and generation options).

    Returns:
        tuple: The world's meta and the generation time in seconds (None: it existed).
    """
    record = world_record(root)
    meta = record.done()
    stale = meta is not None and 'downstream_tasks' not in meta
    if stale:
        log(f'the world at {root} predates the downstream tasks: regenerating it '
            '(same images)')
    seconds = None
    if meta is None or stale:
        args = {k: v for k, v in world.items() if k not in ('root', 'downstream')}
        if stale:  # the same world, with the downstream task files added
            args.update({k: meta[k] for k in WORLD_ARGS})
        log(f'generating the GV world at {root} ({args})')
        start = time.time()
        generate_gv_world(root, **args)
        seconds = round(time.time() - start, 1)
        meta = record.done()
    for key in WORLD_ARGS:
        if key in world and meta.get(key) != world[key]:
            log(f'WARNING: existing world at {root} has {key}={meta.get(key)}, the '
                f'pipeline config asks for {world[key]}')
    if world.get('downstream'):
        meta = dict(meta, downstream_stream=_ensure_stream(root, world, meta))
    return meta, seconds


def _ensure_stream(root: str, world: dict, meta: dict) -> dict:
    """Generate the downstream stream unless it exists with the asked split sizes."""
    stream_root = downstream_root(root, world)
    splits = {s: int(world['downstream'][s]) for s in ('train', 'val', 'test')}
    record = world_record(stream_root)
    done = record.done()
    if done is not None and (done.get('splits') != splits or done.get('seed') != meta['seed']
                             or done.get('first_index') != DOWNSTREAM_FIRST_INDEX):
        log(f'the downstream stream at {stream_root} has other splits or seed: '
            'regenerating it')
        done = None
    if done is None:
        log(f'generating the downstream stream at {stream_root} ({splits}, seed '
            f'{meta["seed"]}, image ids from {DOWNSTREAM_FIRST_INDEX})')
        done = generate_gv_world(stream_root, seed=meta['seed'], img_size=meta['img_size'],
                                 splits=splits, first_index=DOWNSTREAM_FIRST_INDEX)
    return dict(root=stream_root, splits=done['splits'], first_index=done['first_index'])
