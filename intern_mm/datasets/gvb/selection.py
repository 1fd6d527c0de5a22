"""Seeded, stratified selection of a GV-B subset and the carving of its validation split.

Within each stratum (see :mod:`intern_mm.datasets.gvb.units`) the units are sorted,
shuffled with ``random.Random(seed)`` and the first ``max(1, round(ratio * n))`` (ratio
mode) or ``min(shot, n)`` (k-shot mode) kept; a validation split is carved out of the
subset the same way (``val_ratio`` per stratum, strata of one unit stay in training),
never from the test split.

Example:
    >>> stratified_select({'a': 0, 'b': 0, 'c': 1}, seed=0, shot=1)  # doctest: +SKIP
    ['b', 'c']
"""
import os.path as osp
import random
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

from .units import (READERS, SUBSET_FORMATS, UnreadableDataError, unit_id,
                    unreadable_units)

__all__ = ['stratified_select', 'carve_val', 'select_splits', 'select_readable', 'SPLITS']

#: The splits of a subset: ``subset`` = ``train`` + ``val``.
SPLITS = ('subset', 'train', 'val')


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


def carve_val(keys: Dict[Hashable, Hashable], subset: List[Hashable], seed: int,
              val_ratio: float) -> Tuple[List[Hashable], List[Hashable]]:
    """Split ``subset`` into (train, val) per stratum; strata of one unit stay in train.

    Args:
        keys (dict): ``unit -> group key``.
        subset (list): The selected units.
        seed (int): Random seed.
        val_ratio (float): Fraction per stratum moved to val (at least one, never all).

    Returns:
        tuple[list, list]: Sorted train and val units.

    Example:
        >>> carve_val({'a': 0, 'b': 0, 'c': 1}, ['a', 'b', 'c'], 0, 0.5)  # doctest: +SKIP
        (['a', 'c'], ['b'])
    """
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


def select_splits(fmt: str, data_root: str, sources: Sequence[dict],
                  classes: Optional[Sequence[str]], ratio: Optional[float],
                  shot: Optional[int], val_ratio: float, seed: int,
                  excluded: Sequence[str] = ()) -> tuple:
    """Read the training units and select the subset and its train / val splits.

    Args:
        fmt (str): Subset format (:data:`~intern_mm.datasets.gvb.units.SUBSET_FORMATS`).
        data_root (str): Dataset root.
        sources (Sequence[dict]): Training annotation sources.
        classes (Sequence[str], optional): Expected class names.
        ratio (float, optional): Fraction per stratum (None in k-shot mode).
        shot (int, optional): Units per stratum.
        val_ratio (float): Fraction of the subset carved out as val.
        seed (int): Seed.
        excluded (Sequence[str]): Unit ids left out of the candidates.

    Returns:
        tuple: ``keys`` (unit -> stratum), ``classes``, ``ann_files`` and ``splits``
        (``dict(subset=, train=, val=)`` of sorted units).

    Example:
        >>> keys, classes, ann_files, splits = select_splits(
        ...     'cls', '/data/cifar10', [dict(img_dir='train')], None, 0.1, None, 0.2,
        ...     0)  # doctest: +SKIP
    """
    if fmt not in READERS:
        raise ValueError(f'unknown subset format "{fmt}", expected one of {SUBSET_FORMATS}')
    keys, classes, ann_files = READERS[fmt](data_root, sources, classes)
    if excluded:
        drop = set(excluded)
        keys = {u: k for u, k in keys.items() if unit_id(fmt, u) not in drop}
    if not keys:
        raise ValueError(f'no training units found under {data_root} for {sources}')
    subset = stratified_select(keys, seed, ratio=ratio, shot=shot)
    train, val = carve_val(keys, subset, seed, val_ratio)
    return keys, classes, ann_files, dict(subset=subset, train=train, val=val)


def select_readable(fmt: str, data_root: str, sources: Sequence[dict],
                    classes: Optional[Sequence[str]], ratio: Optional[float],
                    shot: Optional[int], val_ratio: float, seed: int, check_decode: bool,
                    exclude_unreadable: bool, coco_images: dict) -> tuple:
    """Select the splits, redoing the selection without units whose files do not decode.

    Args:
        fmt, data_root, sources, classes, ratio, shot, val_ratio, seed: See
            :func:`select_splits`.
        check_decode (bool): Decode every selected file.
        exclude_unreadable (bool): Leave units with unreadable files out instead of
            refusing.
        coco_images (dict): ``image id -> COCO image entry`` (COCO only).

    Returns:
        tuple: ``keys``, ``classes``, ``ann_files``, ``splits`` (see
        :func:`select_splits`) and ``excluded`` (unit id -> {path: reason}).

    Raises:
        UnreadableDataError: If a selected file does not decode and not
            ``exclude_unreadable``.

    Example:
        >>> *_, excluded = select_readable('cls', '/data', [dict(img_dir='train')], None,
        ...                                0.1, None, 0.2, 0, True, True, {})  # doctest: +SKIP
    """
    excluded: Dict[str, Dict[str, str]] = {}
    checked = set()
    while True:
        keys, classes, ann_files, splits = select_splits(fmt, data_root, sources, classes,
                                                         ratio, shot, val_ratio, seed,
                                                         list(excluded))
        if not check_decode:
            break
        todo = [u for u in splits['subset'] if u not in checked]
        bad = unreadable_units(fmt, data_root, sources, todo, coco_images)
        checked.update(todo)
        if not bad:
            break
        if not exclude_unreadable:
            raise UnreadableDataError(
                {path: reason for files in bad.values() for path, reason in files.items()})
        for unit, files in bad.items():
            excluded[unit_id(fmt, unit)] = {osp.relpath(p, data_root): r
                                            for p, r in files.items()}
    return keys, classes, ann_files, splits, excluded
