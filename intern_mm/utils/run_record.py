"""The record of a run folder: atomic JSON files, done-markers and stamps.

Every "skip it if it is done" of intern_mm reads and writes through this module, one way:
a run folder holds a *done-marker* (a JSON file written last and atomically: its presence
means the run finished, its content is the result) and, where a run depends on inputs
that may change, a *stamp* (what the run was made from; a different stamp means the
folder is stale and is started afresh). The file names are those existing work dirs use:

=======================  =================================  ===============================
run                      done-marker                        stamp
=======================  =================================  ===============================
paradigm stage           ``done.json`` (+ ``metrics.json``)  -
downstream run           ``result.json``                    ``backbone.json``
GV-B task / trial        ``result.json`` / ``trial.json``   -
stage export             the exported files                 the checkpoint's mtime
                                                            (:func:`is_up_to_date`)
=======================  =================================  ===============================

Every JSON file is written to a temporary file of its own (``<file>.<pid>.tmp``) and then
renamed over the target (``os.replace``): a reader (or a resumed run) sees the old file
or the new one, never a partial one, also when two processes write the same file.

Example:
    >>> record = RunRecord('/tmp/run', done_name='result.json', stamp_name='stamp.json')
    >>> if not record.stamp_matches(dict(checkpoint='a.pth')):
    ...     record.clear()
    >>> result = record.done() or record.mark_done(dict(score=1.0))  # doctest: +SKIP
"""
import json
import os
import os.path as osp
import shutil
from typing import Any, Callable, Iterable, Optional

from mmengine.fileio import dump

__all__ = ['to_jsonable', 'dump_json', 'load_json', 'normalize_json', 'is_up_to_date',
           'RunRecord']


def to_jsonable(obj: Any) -> Any:
    """Convert tensors / numpy values inside ``obj`` into JSON types (others: ``repr``).

    Args:
        obj (Any): Nested dicts / lists / tuples of numbers, strings, tensors, arrays.

    Returns:
        Any: The same structure of JSON types (keys become strings, tuples lists).

    Example:
        >>> import torch
        >>> to_jsonable({1: (torch.tensor(0.5), torch.zeros(2))})
        {'1': [0.5, [0.0, 0.0]]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, type):  # a class (``tolist`` / ``item`` would be unbound)
        return repr(obj)
    if hasattr(obj, 'item') and getattr(obj, 'ndim', 0) == 0:
        return obj.item()
    if hasattr(obj, 'tolist'):
        return obj.tolist()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def dump_json(path: str, data: Any, indent: int = 1) -> str:
    """Write ``data`` as JSON to ``path`` atomically (temporary file + ``os.replace``).

    Values JSON does not know are written as their ``repr``. When serialising or writing
    fails, ``path`` keeps its old content (or stays absent) and no temporary file is left.

    Args:
        path (str): The JSON file.
        data (Any): JSON-serialisable data.
        indent (int): Indentation. Defaults to 1.

    Returns:
        str: ``path``.

    Example:
        >>> dump_json('/tmp/result.json', dict(score=1.0))
        '/tmp/result.json'
    """
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        # mmengine serialises to a string first, then writes the file
        dump(data, tmp, file_format='json', indent=indent, default=repr)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_json(path: str) -> Optional[Any]:
    """The content of a JSON file, or None when it does not exist.

    Args:
        path (str): The JSON file.

    Returns:
        Any: The data, None when the file is absent.

    Example:
        >>> load_json('/tmp/no-such-file.json') is None
        True
    """
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def normalize_json(data: Any) -> Any:
    """``data`` as it reads back from a JSON file (tuples -> lists, unknowns -> ``repr``),
    so that it compares equal with a stored copy.

    Args:
        data (Any): JSON-like data.

    Returns:
        Any: The round-tripped data.

    Example:
        >>> normalize_json(dict(a=(1, 2)))
        {'a': [1, 2]}
    """
    return json.loads(json.dumps(data, default=repr))


def is_up_to_date(outputs: Iterable[str], source: str) -> bool:
    """Whether every output file exists and is not older than ``source`` (an export is
    redone when its checkpoint changed).

    Args:
        outputs (Iterable[str]): Files made from ``source``.
        source (str): The file they were made from.

    Returns:
        bool: True when none is missing or older than ``source``.

    Example:
        >>> is_up_to_date(['/tmp/no-such-export.pth'], '/tmp/ckpt.pth')
        False
    """
    source_time = osp.getmtime(source)
    return all(osp.isfile(p) and osp.getmtime(p) >= source_time for p in outputs)


class RunRecord:
    """The done-marker, stamp and side records of one run folder.

    Args:
        run_dir (str): The run folder.
        done_name (str): File name of the done-marker. Defaults to ``'result.json'``.
        stamp_name (str, optional): File name of the stamp (None: the run has none).
        indent (int): JSON indentation of the files written. Defaults to 1.

    Example:
        >>> record = RunRecord('/tmp/stage', done_name='done.json', indent=2)
        >>> record.mark_done(dict(checkpoint='iter_10.pth'))  # doctest: +SKIP
        >>> record.done()['checkpoint']  # doctest: +SKIP
        'iter_10.pth'
    """

    def __init__(self,
                 run_dir: str,
                 done_name: str = 'result.json',
                 stamp_name: Optional[str] = None,
                 indent: int = 1) -> None:
        self.run_dir = run_dir
        self.done_name = done_name
        self.stamp_name = stamp_name
        self.indent = indent

    def path(self, name: Optional[str] = None) -> str:
        """The path of a file of the run (default: the done-marker)."""
        return osp.join(self.run_dir, name or self.done_name)

    def read(self, name: str) -> Optional[Any]:
        """A JSON file of the run (None when absent)."""
        return load_json(self.path(name))

    def write(self, name: str, data: Any) -> str:
        """Write a JSON file of the run atomically; returns its path."""
        os.makedirs(self.run_dir, exist_ok=True)
        return dump_json(self.path(name), data, indent=self.indent)

    def remove(self, *names: str) -> None:
        """Remove files of the run (absent ones are ignored)."""
        for name in names:
            if osp.isfile(self.path(name)):
                os.remove(self.path(name))

    # ------------------------------------------------------------- done-marker
    def done(self) -> Optional[dict]:
        """The done-marker's content, or None while the run has not finished."""
        return self.read(self.done_name)

    def is_done(self) -> bool:
        """Whether the run finished (its done-marker exists)."""
        return osp.isfile(self.path())

    def mark_done(self, result: dict) -> dict:
        """Write the done-marker (atomically: last, after everything else); returns it."""
        self.write(self.done_name, result)
        return result

    # ------------------------------------------------------------------- stamp
    def stamp_matches(self,
                      stamp: dict,
                      upgrade: Optional[Callable[[dict, dict, Optional[dict]],
                                                 bool]] = None) -> bool:
        """Whether the folder may be reused for a run made from ``stamp``.

        True when no stamp is stored (nothing contradicts it) or the stored one equals
        ``stamp`` (compared as JSON: :func:`normalize_json`). A differing stored stamp
        still matches when ``upgrade(stored, stamp, done)`` says so (an older form of the
        same stamp); it is then rewritten in the current form.

        Args:
            stamp (dict): What the run depends on now.
            upgrade (Callable, optional): ``(stored, stamp, done_marker) -> bool``.

        Returns:
            bool: False when the folder was made from other inputs.
        """
        if self.stamp_name is None:
            raise ValueError(f'{self.run_dir}: this record has no stamp')
        stored = self.read(self.stamp_name)
        stamp = normalize_json(stamp)
        if stored is None or stored == stamp:
            return True
        if upgrade is not None and upgrade(stored, stamp, self.done()):
            self.write_stamp(stamp)
            return True
        return False

    def write_stamp(self, stamp: dict) -> str:
        """Write the stamp (before the run starts); returns its path."""
        return self.write(self.stamp_name, normalize_json(stamp))

    def clear(self) -> None:
        """Remove the run folder (a stale run is started afresh)."""
        if osp.isdir(self.run_dir):
            shutil.rmtree(self.run_dir)
