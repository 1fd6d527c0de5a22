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
import sys
from typing import List

from ..utils.processes import ProcessJob, run_processes
from .launch import REPO_ROOT, StageFailedError, log

__all__ = ['run_rows_in_workers']


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
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
    jobs = [ProcessJob(row, [sys.executable, '-m', __name__, cfg_file, pipe.work_dir, row],
                       osp.join(folder, f'{row}.log')) for row in rows]
    failed = run_processes(jobs, workers, env=env, on_start=lambda job, threads: log(
        f'downstream {job.name}: worker process ({threads} threads), log {job.log_file}'))
    if failed:
        raise StageFailedError('downstream worker failed: ' + '; '.join(
            f'row {job.name}, log {job.log_file}' for job in failed))


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
