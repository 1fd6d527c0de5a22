"""Commands run as parallel processes that share the machine's cores.

Small CPU models train faster as N one-thread processes than as one process on every
core (docs/claim.md, "Budget"). :func:`run_processes` runs commands, at most N at once,
each with ``cpus // N`` threads (``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``) and its
output in its own log file, in the order given, and returns the ones that failed.
``make claim`` runs its world seeds this way, ``downstream.workers`` its rows.

Example:
    >>> import sys, tempfile, os.path as osp
    >>> folder = tempfile.mkdtemp()
    >>> jobs = [ProcessJob(name, [sys.executable, '-c', code], osp.join(folder, name))
    ...         for name, code in (('ok', 'pass'), ('bad', 'raise SystemExit(3)'))]
    >>> [job.name for job in run_processes(jobs, processes=2)]
    ['bad']
"""
import os
import subprocess
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

__all__ = ['ProcessJob', 'process_threads', 'run_processes']


class ProcessJob(NamedTuple):
    """One command of :func:`run_processes`.

    Args:
        name (str): What the caller calls it (a seed, a row).
        cmd (list[str]): The command line.
        log_file (str): Where its stdout and stderr go (overwritten).
    """
    name: str
    cmd: List[str]
    log_file: str


def process_threads(processes: int) -> int:
    """Threads per process when ``processes`` share the machine: ``cpus // processes``,
    at least one.

    Example:
        >>> process_threads(10 ** 6)
        1
    """
    return max(1, (os.cpu_count() or 1) // max(1, processes))


def run_processes(jobs: Sequence[ProcessJob],
                  processes: int,
                  env: Optional[Dict[str, str]] = None,
                  on_start: Optional[Callable[[ProcessJob, int], None]] = None,
                  poll_interval: float = 0.5,
                  threads: Optional[int] = None) -> List[ProcessJob]:
    """Run ``jobs``, at most ``processes`` at once, each with ``threads`` threads;
    wait for all of them.

    Args:
        jobs (Sequence[ProcessJob]): Started in this order.
        processes (int): Processes at once (at least one).
        env (dict, optional): The children's environment (default: this process's);
            the thread variables are set on top of it. Defaults to None.
        on_start (callable, optional): Called with each job and its thread count as
            it starts (to say where its log is). Defaults to None.
        poll_interval (float): Seconds between looks at the running ones.
            Defaults to 0.5.
        threads (int, optional): Threads per process; a run's floating-point results
            depend on it, so pin it to reproduce figures on another machine.
            Defaults to None: :func:`process_threads`.

    Returns:
        list[ProcessJob]: The jobs that exited with a non-zero status, in the order
        they ended.
    """
    threads = process_threads(processes) if threads is None else max(1, int(threads))
    env = dict(os.environ if env is None else env, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    pending, running, failed = list(jobs), [], []
    while pending or running:
        for proc, job in [r for r in running if r[0].poll() is not None]:
            running.remove((proc, job))
            if proc.returncode:
                failed.append(job)
        while pending and len(running) < max(1, processes):
            job = pending.pop(0)
            if on_start is not None:
                on_start(job, threads)
            with open(job.log_file, 'w') as f:
                running.append((subprocess.Popen(job.cmd, env=env, stdout=f,
                                                 stderr=subprocess.STDOUT), job))
        if pending or running:
            time.sleep(poll_interval)
    return failed
