"""The records of a GV-B run: a task's result / missing / failed files and provenance.

A task folder (``<run-dir>/<task>/``) is a :class:`~intern_mm.utils.run_record.RunRecord`
whose done-marker is ``result.json`` (presence = finished, the suite skips it); beside it

* ``missing.json``: the task's data are absent (with the prepare command),
* ``failed.json`` and ``failed_traceback[_rank<r>].txt``: the task raised (error,
  traceback file, the command that retries it); removed once the task succeeds.

Example:
    >>> record = task_record('work_dirs/gvb/run/cifar10')
    >>> record.is_done()  # doctest: +SKIP
    True
"""
import os
import os.path as osp
import platform
import shlex
import subprocess
import sys
import traceback
from datetime import datetime, timezone
from typing import Dict, Optional

import torch

from intern_mm.utils.run_record import RunRecord
from .tasks import GVBTask

__all__ = ['RESULT_NAME', 'MISSING_NAME', 'FAILED_NAME', 'TRACEBACK_NAME', 'TRIAL_NAME',
           'task_record', 'provenance', 'retry_command', 'record_missing', 'record_failure',
           'clear_failure']

RESULT_NAME = 'result.json'
MISSING_NAME = 'missing.json'
FAILED_NAME = 'failed.json'
TRACEBACK_NAME = 'failed_traceback.txt'
TRIAL_NAME = 'trial.json'


def task_record(task_dir: str) -> RunRecord:
    """The record of a task folder (done-marker ``result.json``).

    Args:
        task_dir (str): ``<run-dir>/<task>``.

    Returns:
        RunRecord: Its record.
    """
    return RunRecord(task_dir, done_name=RESULT_NAME)


def _versions() -> Dict[str, str]:
    import importlib
    versions = {'python': platform.python_version()}
    for name in ('torch', 'torchvision', 'numpy', 'mmengine', 'mmcv', 'mmpretrain',
                 'mmdet', 'mmseg', 'intern_mm'):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:  # noqa: BLE001  (absent or broken optional package)
            versions[name] = None
    return versions


def _git_commit() -> Optional[str]:
    try:
        root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        out = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


def provenance() -> dict:
    """Package versions, platform, git commit, command line and time.

    Returns:
        dict: The provenance record.
    """
    return dict(
        versions=_versions(),
        platform=platform.platform(),
        hostname=platform.node(),
        cuda=torch.cuda.is_available(),
        git_commit=_git_commit(),
        argv=list(sys.argv),
        time=datetime.now(timezone.utc).isoformat(timespec='seconds'))


def retry_command(cfg, task: str) -> str:
    """The command that reruns only ``task`` (finished tasks are skipped anyway).

    Args:
        cfg (SuiteConfig): Run options (``command`` is the original command line).
        task (str): Task name.

    Returns:
        str: A shell command (``cd DIR && python tools/gvb.py run ... --tasks TASK``), or
        a Python call when the suite was not started from the command line.
    """
    if not cfg.command:
        return (f"run_suite(SuiteConfig(..., tasks='{task}')) with the same options "
                f"(work_dir={cfg.work_dir!r}, run_name={cfg.run_name!r})")
    argv, out, i = list(cfg.command), [], 0
    replaced = False
    while i < len(argv):
        if argv[i] == '--tasks' and i + 1 < len(argv):
            out += ['--tasks', task]
            i, replaced = i + 2, True
            continue
        if argv[i].startswith('--tasks='):
            out.append(f'--tasks={task}')
            i, replaced = i + 1, True
            continue
        out.append(argv[i])
        i += 1
    if not replaced:
        out += ['--tasks', task]
    return f'cd {shlex.quote(os.getcwd())} && {shlex.join(out)}'


def record_missing(task: GVBTask, root: str, missing: list, task_dir: str) -> dict:
    """The result of a task whose data are absent; rank 0 writes it to ``missing.json``."""
    info = dict(task=task.name, status='missing', data_root=osp.abspath(root),
                missing=missing, prepare=task.prepare,
                subset=f'python tools/dataset_converters/make_subset.py ... (created '
                       'automatically by tools/gvb.py run once the data exist)')
    from mmengine.dist import is_main_process
    if is_main_process():
        task_record(task_dir).write(MISSING_NAME, info)
    return info


def record_failure(cfg, task: GVBTask, run_dir: str, exc: BaseException,
                   wall: float) -> dict:
    """Write ``failed.json`` and the traceback file of a task that raised.

    Args:
        cfg (SuiteConfig): Run options (for the retry command).
        task (GVBTask): The task.
        run_dir (str): The run folder.
        exc (BaseException): What the task raised.
        wall (float): Seconds until it raised.

    Returns:
        dict: The failure record (``status='failed'``, ``failed_json`` its file).
    """
    from mmengine.dist import get_rank, get_world_size
    task_dir = osp.join(run_dir, task.name)
    os.makedirs(task_dir, exist_ok=True)
    rank, world = get_rank(), get_world_size()
    tb_name = TRACEBACK_NAME if world == 1 else \
        TRACEBACK_NAME.replace('.txt', f'_rank{rank}.txt')
    tb_path = osp.abspath(osp.join(task_dir, tb_name))
    with open(tb_path, 'w') as f:
        f.write(''.join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    error = f'{type(exc).__name__}: {exc}'.strip().splitlines()
    info = dict(task=task.name, status='failed', family=task.family, column=task.column,
                in_gvb=task.in_gvb, metric=task.metric, error=error[0] if error else '',
                traceback=tb_path, retry=retry_command(cfg, task.name),
                log_dir=osp.abspath(task_dir), rank=rank, world_size=world,
                wall_time_s=wall, provenance=provenance())
    info['failed_json'] = osp.abspath(task_record(task_dir).path(FAILED_NAME))
    task_record(task_dir).write(FAILED_NAME, info)
    return info


def clear_failure(run_dir: str, task: str) -> None:
    """Remove a task's ``failed.json`` and traceback files (it succeeded since)."""
    task_dir = osp.join(run_dir, task)
    for name in os.listdir(task_dir) if osp.isdir(task_dir) else []:
        if name == FAILED_NAME or name.startswith(TRACEBACK_NAME[:-4]):
            os.remove(osp.join(task_dir, name))
