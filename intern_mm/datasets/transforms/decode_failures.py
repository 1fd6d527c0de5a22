"""The record of images that failed to decode during a run (:class:`LoadImageFromFileOrSkip`).

Each failure is kept in the process that met it and appended as one JSON line to
``decode_failures.jsonl`` next to the run's log file (the folder of the current
``MMLogger``'s log file: ``<work_dir>/<timestamp>/`` under mmengine's Runner). The file
collects the failures of every process of the run: dataloader workers (forked after the
Runner created its logger) and distributed ranks write to the same file, so the run's
summary (:class:`~intern_mm.engine.hooks.DecodeFailureHook`, a paradigm stage's
``done.json``) counts them all. Without a log file (no Runner) only the process's own
record exists.

Example:
    >>> record_decode_failure('data/a.jpg', 'AssertionError: failed to load image')
    True
    >>> decode_failure_summary()['count']
    1
"""
import json
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.logging import MMLogger

__all__ = ['DECODE_FAILURE_FILE', 'record_decode_failure', 'decode_failure_summary',
           'reset_decode_failures', 'decode_failure_record_file']

#: File (in the run's log folder) that collects the failures of all processes.
DECODE_FAILURE_FILE = 'decode_failures.jsonl'

#: This process: file -> reason of its first failure; and the number of skips.
_FAILURES: Dict[str, str] = {}
_SKIPS = {'count': 0}


def decode_failure_record_file() -> Optional[str]:
    """The run's record file: next to the current ``MMLogger``'s log file, or None."""
    log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
    return osp.join(osp.dirname(log_file), DECODE_FAILURE_FILE) if log_file else None


def record_decode_failure(path: str, reason: str) -> bool:
    """Record that ``path`` could not be decoded and was skipped.

    Args:
        path (str): The image file.
        reason (str): One line: why (the decoder's error).

    Returns:
        bool: Whether this is the file's first failure in this process (log it then).

    Example:
        >>> record_decode_failure('a.jpg', 'OSError: image file is truncated')
        True
    """
    first = path not in _FAILURES
    _FAILURES.setdefault(path, reason)
    _SKIPS['count'] += 1
    record = decode_failure_record_file()
    if record is not None and osp.isdir(osp.dirname(record)):
        line = json.dumps(dict(file=path, reason=reason, pid=os.getpid()))
        with open(record, 'a', encoding='utf-8') as f:  # one short append per line
            f.write(line + '\n')
    return first


def _summary(failures: Dict[str, str], skips: int) -> dict:
    return dict(count=len(failures), skips=skips, files=dict(sorted(failures.items())))


def decode_failure_summary(log_dir: Optional[str] = None) -> dict:
    """The decode failures of a run (``log_dir`` given) or of this process.

    Args:
        log_dir (str, optional): The run's log folder (``runner.log_dir``): the failures
            of all its processes, read from :data:`DECODE_FAILURE_FILE` (none when it is
            absent). None: this process's record. Defaults to None.

    Returns:
        dict: ``count`` (files that failed), ``skips`` (samples skipped, a file may
        be drawn again) and ``files`` (file -> reason of its first failure, sorted).

    Example:
        >>> decode_failure_summary('work_dirs/demo/20261206_101500')  # doctest: +SKIP
        {'count': 1, 'skips': 2, 'files': {'data/b.jpg': 'AssertionError: ...'}}
    """
    if log_dir is None:
        return _summary(_FAILURES, _SKIPS['count'])
    failures: Dict[str, str] = {}
    skips = 0
    path = osp.join(log_dir, DECODE_FAILURE_FILE)
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            for line in f:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a line cut off by a killed process
                failures.setdefault(item['file'], item['reason'])
                skips += 1
    return _summary(failures, skips)


def reset_decode_failures() -> None:
    """Forget this process's record (the files of finished runs stay)."""
    _FAILURES.clear()
    _SKIPS['count'] = 0
