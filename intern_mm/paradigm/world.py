"""The GV world of a pipeline: generated once, regenerated when it is stale.

The world's ``meta.json`` is its done-marker (written last by
:func:`~intern_mm.datasets.gv_world.generate_gv_world`). A world written before the
downstream tasks existed (no ``downstream_tasks`` in its meta) is *stale*: it is
generated again with its own ``num`` / ``seed`` / ``img_size`` (the same images, the
downstream task files added).

Example:
    >>> meta, seconds = ensure_world('data/gv_world', dict(num=2000, seed=0))
    ... # doctest: +SKIP
"""
import time
from typing import Optional, Tuple

from intern_mm.datasets.gv_world import generate_gv_world
from intern_mm.utils.run_record import RunRecord
from .launch import log

__all__ = ['WORLD_META', 'world_record', 'ensure_world']

WORLD_META = 'meta.json'
#: The world's generation arguments recorded in its meta (and compared with the config).
WORLD_ARGS = ('num', 'seed', 'img_size')


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
        args = {k: v for k, v in world.items() if k != 'root'}
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
    return meta, seconds
