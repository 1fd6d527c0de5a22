"""The pipeline's leak check: upstream training images against every downstream image.

Before the first stage trains, :func:`pipeline_leak_check` hashes every image an upstream
stage trains on (the train split of every declared source, or of the GV world's sources
for a world pipeline: :func:`~intern_mm.datasets.gvd.sources.world_sources`) and every
train / val / test image of every downstream row
(:meth:`~.downstream.DownstreamAdapter.images`) and runs
:func:`~intern_mm.datasets.gvd.leak_check.leak_check`. The record (the report's JSON plus
``leaked_images``, the downstream images with an upstream near duplicate) is written to
``<work_dir>/leak_check.json``, stored in ``summary.json`` as ``leak_check`` and named in
the claim's verdict line when it found leaks. Nothing is hidden: a world pipeline whose
downstream tasks reuse the upstream images reports them.

The record is reused while the files are unchanged (its ``fingerprint`` hashes every
file's path, size and mtime), so a re-run does not hash again.

Example:
    >>> record = pipeline_leak_check(ParadigmPipeline(cfg))  # doctest: +SKIP
    >>> record['ok'], record['leaked_images']  # doctest: +SKIP
    (False, 300)
"""
import hashlib
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

from intern_mm.datasets.gvd.leak_check import (DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MAX_DISTANCE,
                                               leak_check)
from intern_mm.datasets.gvd.source_data import load_source
from intern_mm.datasets.gvd.sources import parse_sources, world_sources
from intern_mm.utils.run_record import dump_json
from .adaptation import downstream_rows
from .launch import log

__all__ = ['LEAK_FILE', 'upstream_images', 'downstream_images', 'fingerprint',
           'pipeline_leak_check', 'leak_lines', 'LEAK_OPTIONS']

#: The record in the pipeline's work dir.
LEAK_FILE = 'leak_check.json'
#: Keys a config's ``leak_check=dict(...)`` may set.
LEAK_OPTIONS = ('enabled', 'max_distance', 'max_colour_distance')


def upstream_images(pipe) -> Dict[str, List[str]]:
    """Source -> the images its upstream stages train on (train split).

    Args:
        pipe (ParadigmPipeline): The pipeline (its world generated).

    Returns:
        dict[str, list[str]]: Absolute image paths per source.
    """
    plan = pipe.source_plan()
    if plan is not None:
        return plan.upstream_images()
    sources = parse_sources(world_sources(pipe.world_root))
    return {n: load_source(s).images('train') for n, s in sources.items()}


def downstream_images(pipe) -> Dict[str, List[str]]:
    """``'<row>/<split>'`` -> the images of every downstream row's train / val / test.

    Args:
        pipe (ParadigmPipeline): The pipeline.

    Returns:
        dict[str, list[str]]: Absolute image paths per row and split.
    """
    rows = downstream_rows(pipe.cfg.get('downstream'))
    if not rows:
        return {}
    adapter = pipe.downstream_adapter()
    return {f'{row}/{split}': paths for row in rows
            for split, paths in adapter.images(row).items()}


def fingerprint(groups: Dict[str, List[str]]) -> str:
    """SHA-1 over every group's files (path, size, mtime): same value = same files.

    Args:
        groups (dict[str, list[str]]): Group -> files.

    Returns:
        str: The hex digest.

    Example:
        >>> len(fingerprint({'a': []}))
        40
    """
    sha = hashlib.sha1()
    for group in sorted(groups):
        sha.update(group.encode())
        for path in groups[group]:
            st = os.stat(path) if osp.exists(path) else None
            sha.update(f'{path}|{st.st_size if st else -1}|'
                       f'{st.st_mtime_ns if st else -1}\n'.encode())
    return sha.hexdigest()


def _thresholds(opts: dict, max_distance: Optional[int]) -> Dict[str, float]:
    """``max_distance`` and ``max_colour_distance`` of the check (argument, config, default)."""
    unknown = sorted(set(opts) - set(LEAK_OPTIONS))
    if unknown:
        raise KeyError(f'leak_check: unknown keys {unknown} (allowed: {", ".join(LEAK_OPTIONS)})')
    return dict(
        max_distance=int(max_distance or opts.get('max_distance', DEFAULT_MAX_DISTANCE)),
        max_colour_distance=float(opts.get('max_colour_distance',
                                           DEFAULT_MAX_COLOUR_DISTANCE)))


def pipeline_leak_check(pipe, max_distance: Optional[int] = None) -> Optional[dict]:
    """Run (or reuse) the leak check of a pipeline and log its result.

    Args:
        pipe (ParadigmPipeline): The pipeline (world generated).
        max_distance (int, optional): pHash threshold (default: the config's
            ``leak_check.max_distance``, else
            :data:`~intern_mm.datasets.gvd.leak_check.DEFAULT_MAX_DISTANCE`). The colour
            threshold is the config's ``leak_check.max_colour_distance``, else
            :data:`~intern_mm.datasets.gvd.leak_check.DEFAULT_MAX_COLOUR_DISTANCE`.

    Returns:
        dict | None: The record (None when the config sets ``leak_check=dict(
        enabled=False)`` or has no downstream rows).

    Raises:
        GVDInputError: A bad declared source (:meth:`ParadigmPipeline.source_plan` runs
            first, so bad sources fail here, before any training, also without a check).
        KeyError: A ``leak_check`` key not in :data:`LEAK_OPTIONS`.

    Example:
        >>> pipeline_leak_check(pipe)['max_colour_distance']  # doctest: +SKIP
        7.0
    """
    pipe.source_plan()
    opts = dict(pipe.cfg.get('leak_check') or {})
    limits = _thresholds(opts, max_distance)
    if not opts.get('enabled', True):
        return None
    down = downstream_images(pipe)
    if not down:
        return None
    up = upstream_images(pipe)
    key = fingerprint(dict({f'up:{k}': v for k, v in up.items()},
                           **{f'down:{k}': v for k, v in down.items()}))
    path = osp.join(pipe.work_dir, LEAK_FILE)
    if osp.isfile(path):
        with open(path) as f:
            old = json.load(f)
        if old.get('fingerprint') == key and all(old.get(k) == v for k, v in limits.items()):
            log(f'leak check: unchanged files, reused {path} '
                f'({old["leaked_images"]} leaked images)')
            return old
    start = time.time()
    report = leak_check(up, down, **limits)
    record = dict(report.to_json(), fingerprint=key, seconds=round(time.time() - start, 1),
                  leaked_images=report.counts.get('leaked_downstream_images', 0),
                  upstream_groups={k: len(v) for k, v in up.items()},
                  downstream_groups={k: len(v) for k, v in down.items()})
    dump_json(path, record)
    for line in report.summary(max_pairs=5).splitlines():
        if not line.startswith('same file'):  # one file declared by several sources
            log(line)
    return record


def leak_lines(record: Optional[dict]) -> List[str]:
    """The ``summary.md`` section of a leak-check record (empty without one).

    Args:
        record (dict, optional): ``summary['leak_check']``.

    Returns:
        list[str]: Markdown lines.

    Example:
        >>> leak_lines(dict(ok=True, max_distance=10, max_colour_distance=7.0, counts=dict(
        ...     upstream_images=5, downstream_images=3), leaks=[], leaked_images=0))[2]
        'No leak: no upstream training image is within pHash distance 10 and colour distance 7 of a downstream image (5 upstream, 3 downstream images).'
    """
    if not record:
        return []
    c = record.get('counts') or {}
    sizes = (f'{c.get("upstream_images", 0)} upstream, {c.get("downstream_images", 0)} '
             'downstream images')
    limit = f'pHash distance {record["max_distance"]}'
    if record.get('max_colour_distance') is not None:  # records before the colour gate
        limit += f' and colour distance {record["max_colour_distance"]:g}'
    if record.get('ok'):
        return ['', '## Leak check', f'No leak: no upstream training image is within '
                f'{limit} of a downstream image ({sizes}).']
    lines = ['', '## Leak check', f'**{record["leaked_images"]} downstream images have an '
             f'upstream near duplicate** (within {limit}; {c.get("leaks", 0)} pairs; '
             f'{sizes}); closest pairs (all counts in summary.json `leak_check`):', '']
    lines += [f'* `{p["upstream"]}` [{", ".join(p["upstream_groups"])}] ~ `{p["downstream"]}` '
              f'[{", ".join(p["downstream_groups"])}] (distance {p["distance"]}'
              + (f', colour {p["colour_distance"]:g})' if 'colour_distance' in p else ')')
              for p in record.get('leaks', [])[:5]]
    if c.get('upstream_duplicates'):
        lines.append(f'* {c["upstream_duplicates"]} near-duplicate pairs inside the upstream '
                     'images (exclude them in the sources)')
    return lines
