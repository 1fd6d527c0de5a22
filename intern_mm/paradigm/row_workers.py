"""Downstream rows in worker processes (``downstream.workers``).

With ``workers = N`` > 1 the pipeline runs each downstream row (a family or a ``tasks``
row) in its own process, at most N at once, each with ``cpus // N`` threads (at least
one): small CPU models train faster as N one-thread runs than as one run on every core
(docs/claim.md, "Budget"). A worker is this module run on the pipeline's dumped config;
its runs land in the usual run folders, so the pipeline then reads every row's results
as finished runs. A worker that fails raises :class:`~.launch.StageFailedError`, one line
naming its rows and its log.

Example:
    >>> run_rows_in_workers(pipe, ['cls', 'det', 'seg'], workers=2)  # doctest: +SKIP
"""
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List

from .launch import REPO_ROOT, StageFailedError, log

__all__ = ['run_rows_in_workers', 'worker_threads']


def worker_threads(workers: int) -> int:
    """Threads per worker: the machine's cores shared out, at least one.

    Example:
        >>> worker_threads(10 ** 6)
        1
    """
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_rows_in_workers(pipe, rows: List[str], workers: int) -> None:
    """Run ``rows`` of ``pipe``'s downstream entry in worker processes.

    Args:
        pipe (ParadigmPipeline): The pipeline (its stages are finished).
        rows (list[str]): Rows, started in this order.
        workers (int): Processes at once.

    Raises:
        StageFailedError: A worker failed (its rows and log named).
    """
    folder = osp.join(pipe.work_dir, 'downstream', 'workers')
    os.makedirs(folder, exist_ok=True)
    cfg_file = osp.join(folder, 'pipeline_config.json')
    pipe.cfg.dump(cfg_file)
    threads = str(worker_threads(workers))
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT,
                                                        os.environ.get('PYTHONPATH')])))
    pending, running, failed = list(rows), [], []
    while pending or running:
        for proc, row, log_file in [r for r in running if r[0].poll() is not None]:
            running.remove((proc, row, log_file))
            if proc.returncode:
                failed.append((row, log_file))
        while pending and len(running) < workers:
            row = pending.pop(0)
            log_file = osp.join(folder, f'{row}.log')
            log(f'downstream {row}: worker process ({threads} threads), log {log_file}')
            with open(log_file, 'w') as f:
                proc = subprocess.Popen(
                    [sys.executable, '-m', __name__, cfg_file, pipe.work_dir, row],
                    env=env, stdout=f, stderr=subprocess.STDOUT)
            running.append((proc, row, log_file))
        time.sleep(0.5)
    if failed:
        raise StageFailedError('downstream worker failed: ' + '; '.join(
            f'row {row}, log {log_file}' for row, log_file in failed))


def _worker(argv: List[str]) -> None:
    """``python -m intern_mm.paradigm.row_workers CONFIG WORK_DIR ROW``: one row."""
    from mmengine.config import Config

    from .adaptation import run_downstream
    from .pipeline import ParadigmPipeline
    cfg_file, work_dir, row = argv
    cfg = Config.fromfile(cfg_file)
    cfg.downstream.workers = 1
    run_downstream(ParadigmPipeline(cfg, work_dir=work_dir), rows=[row])


if __name__ == '__main__':
    _worker(sys.argv[1:])
