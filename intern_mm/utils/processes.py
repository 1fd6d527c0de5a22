"""Commands run as parallel processes that share the machine's cores.

Small CPU models train faster as N one-thread processes than as one process on every
core (docs/claim.md, "Budget"). :func:`run_processes` runs commands, at most N at once,
each with ``cpus // N`` threads (``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``) and its
output in its own log file, in the order given, and returns the ones that failed. A job
may wait for others (``after``): it starts once they all exited with status 0, and never
when one of them failed. ``make claim`` runs its world seeds this way, a pipeline with
``workers`` its stages and downstream parts.

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
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

__all__ = ['ProcessJob', 'process_threads', 'run_processes']


class ProcessJob(NamedTuple):
    """One command of :func:`run_processes`.

    Args:
        name (str): What the caller calls it (a seed, a stage); unique among the jobs.
        cmd (list[str]): The command line.
        log_file (str): Where its stdout and stderr go.
        after (tuple[str]): Names of earlier jobs that must exit with status 0 before
            this one starts. Defaults to ().
        append (bool): Append to ``log_file`` (a log that keeps earlier attempts)
            instead of overwriting it. Defaults to False.
    """
    name: str
    cmd: List[str]
    log_file: str
    after: Tuple[str, ...] = ()
    append: bool = False


def process_threads(processes: int) -> int:
    """Threads per process when ``processes`` share the machine: ``cpus // processes``,
    at least one.

    Example:
        >>> process_threads(10 ** 6)
        1
    """
    return max(1, (os.cpu_count() or 1) // max(1, processes))


class _Pool:
    """The jobs' state: pending, running (process, job), finished (name -> status;
    None: never started)."""

    def __init__(self, jobs: Sequence[ProcessJob], processes: int, env: dict) -> None:
        seen = set()
        for job in jobs:
            missing = [name for name in job.after if name not in seen]
            if job.name in seen or missing:
                raise ValueError(f'job {job.name!r}: ' + (
                    f'waits for {missing}, which are not earlier jobs' if missing
                    else 'a second job of that name'))
            seen.add(job.name)
        self.pending, self.running = list(jobs), []
        self.status: Dict[str, Optional[int]] = {}
        self.processes, self.env = max(1, processes), env

    def reap(self) -> List[Tuple[ProcessJob, Optional[int]]]:
        """The jobs that ended since the last call, with their status; the pending ones
        that wait for a job that failed (or never started), with None."""
        ended = [(job, proc.returncode) for proc, job in self.running
                 if proc.poll() is not None]
        self.running = [(p, j) for p, j in self.running if p.returncode is None]
        for job, code in ended:
            self.status[job.name] = code
        for job in list(self.pending):
            if any(self.status.get(name, 0) != 0 for name in job.after
                   if name in self.status):
                self.pending.remove(job)
                self.status[job.name] = None
                ended.append((job, None))
        return ended

    def ready(self) -> List[ProcessJob]:
        """Pending jobs that may start now (free slots, whatever they wait for done),
        in the order given."""
        free = self.processes - len(self.running)
        ready = [job for job in self.pending
                 if all(self.status.get(name) == 0 for name in job.after)]
        return ready[:max(0, free)]

    def start(self, job: ProcessJob) -> None:
        self.pending.remove(job)
        with open(job.log_file, 'a' if job.append else 'w') as f:
            self.running.append((subprocess.Popen(job.cmd, env=self.env, stdout=f,
                                                  stderr=subprocess.STDOUT), job))

    def run(self, threads: int, poll_interval: float, stop_on_failure: bool,
            on_start: Callable, on_finish: Callable, on_poll: Callable) -> List[ProcessJob]:
        """Run every job (:func:`run_processes`); returns the failed ones."""
        failed = []
        while self.pending or self.running:
            for job, code in self.reap():
                failed += [job] if code else []
                on_finish(job, code)
            if stop_on_failure and failed:
                for job in self.pending:
                    self.status[job.name] = None
                    on_finish(job, None)
                self.pending = []
            for job in self.ready():
                on_start(job, threads)
                self.start(job)
            on_poll()
            if self.pending or self.running:
                time.sleep(poll_interval)
        return failed

    def kill(self) -> None:
        for proc, _ in self.running:
            proc.kill()
            proc.wait()


def run_processes(jobs: Sequence[ProcessJob],
                  processes: int,
                  env: Optional[Dict[str, str]] = None,
                  on_start: Optional[Callable[[ProcessJob, int], None]] = None,
                  poll_interval: float = 0.5,
                  threads: Optional[int] = None,
                  on_finish: Optional[Callable[[ProcessJob, Optional[int]], None]] = None,
                  on_poll: Optional[Callable[[], None]] = None,
                  stop_on_failure: bool = False) -> List[ProcessJob]:
    """Run ``jobs``, at most ``processes`` at once, each with ``threads`` threads;
    wait for all of them.

    A job starts when a slot is free and every job it waits for (``after``) exited with
    status 0; among those, the earliest in ``jobs`` first. If this process is
    interrupted or a callback raises, the running jobs are killed.

    Args:
        jobs (Sequence[ProcessJob]): The jobs; ``after`` names earlier ones only.
        processes (int): Processes at once (at least one).
        env (dict, optional): The children's environment (default: this process's);
            the thread variables are set on top of it. Defaults to None.
        on_start (callable, optional): Called with each job and its thread count just
            before it starts (to write its inputs, to say where its log is).
            Defaults to None.
        poll_interval (float): Seconds between looks at the running ones.
            Defaults to 0.5.
        threads (int, optional): Threads per process; a run's floating-point results
            depend on it, so pin it to reproduce figures on another machine.
            Defaults to None: :func:`process_threads`.
        on_finish (callable, optional): Called with each job and its exit status as
            it ends, before any job waiting for it starts; status None: it never
            started (a job it waits for failed, or ``stop_on_failure``).
            Defaults to None.
        on_poll (callable, optional): Called at every look (to follow the running
            ones' progress). Defaults to None.
        stop_on_failure (bool): After a failure start no further job (the running
            ones finish). Defaults to False.

    Returns:
        list[ProcessJob]: The jobs that exited with a non-zero status, in the order
        they ended.

    Raises:
        ValueError: A job waits for a job that is not earlier in ``jobs``, or two jobs
            share a name.
    """
    threads = process_threads(processes) if threads is None else max(1, int(threads))
    pool = _Pool(jobs, processes, dict(os.environ if env is None else env,
                                       OMP_NUM_THREADS=str(threads),
                                       MKL_NUM_THREADS=str(threads)))
    try:
        return pool.run(threads, poll_interval, stop_on_failure, on_start or _nothing,
                        on_finish or _nothing, on_poll or _nothing)
    except BaseException:
        pool.kill()
        raise


def _nothing(*args) -> None:
    """A callback that does nothing."""
