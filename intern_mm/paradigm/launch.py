"""Launching a paradigm stage and following its progress.

A stage runs :mod:`intern_mm.paradigm.stage_runner` either in the pipeline's process
(``launcher='inprocess'``), in a process of its own (``'subprocess'``) or, with
``nproc_per_stage > 1``, under ``torchrun --standalone --nproc_per_node N`` with
mmengine's ``pytorch`` launcher. While a stage process runs, the records its
:class:`~intern_mm.paradigm.stage_runner.ProgressHook` appends to ``progress.jsonl`` are
printed as compact progress lines (``verbose``: the stage's full log instead). A failing
stage raises :class:`StageFailedError`, one line naming the stage and its log.

Example:
    >>> done = launch_stage('up-a', 'work_dirs/demo/stages/up-a/stage_config.py',
    ...                     'work_dirs/demo/stages/up-a')  # doctest: +SKIP
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional

from . import stage_runner
from .stage_runner import PROGRESS_FILE, read_done

__all__ = ['StageFailedError', 'launch_stage', 'progress_line', 'ProgressFollower',
           'mmengine_log', 'failure_message', 'log', 'repo_env', 'stage_command', 'REPO_ROOT',
           'OUTPUT_LOG']

#: The repository root (the stage processes import intern_mm from it).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The file a stage process's stdout / stderr goes to.
OUTPUT_LOG = 'stage_output.log'


class StageFailedError(RuntimeError):
    """A stage failed; the message is one line naming the stage and its log."""


def log(msg: str) -> None:
    """Print one time-stamped line of the paradigm pipeline.

    Args:
        msg (str): The message.

    Example:
        >>> log('stage up-a: starting')  # doctest: +SKIP
        [paradigm 12:00:00] stage up-a: starting
    """
    print(f'[paradigm {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def mmengine_log(wd: str) -> str:
    """The newest mmengine log file under a work dir (or the dir itself).

    Args:
        wd (str): A stage or run work dir.

    Returns:
        str: The log file, ``wd`` when there is none.
    """
    logs = [osp.join(root, f) for root, _, files in os.walk(wd) for f in files
            if f.endswith('.log')]
    return max(logs, key=osp.getmtime) if logs else wd


def failure_message(what: str, err: BaseException, log_file: str) -> str:
    """``'<what> failed (<Error>: <first line>); log: <file>'``.

    Args:
        what (str): What failed (``'stage up-a'``, ``'downstream cls/up-a/probe'``).
        err (BaseException): The exception.
        log_file (str): Where to look.

    Returns:
        str: The one-line message.
    """
    first = str(err).splitlines()[0] if str(err) else ''
    return f'{what} failed ({type(err).__name__}: {first}); log: {log_file}'


def progress_line(name: str, rec: dict, elapsed: float) -> Optional[str]:
    """One console line of a progress record (``None``: nothing to show).

    Args:
        name (str): Stage name.
        rec (dict): A ``progress.jsonl`` record.
        elapsed (float): Seconds since the stage process started.

    Returns:
        str | None: The line.

    Example:
        >>> progress_line('up-a', dict(event='train', iter=25, max_iters=150, loss=1.2), 7)
        '  up-a: iter 25/150  loss 1.200  (7s)'
    """
    event = rec.get('event')
    if event == 'train':
        loss = rec.get('loss')
        return (f'  {name}: iter {rec["iter"]}/{rec["max_iters"]}'
                + (f'  loss {loss:.3f}' if loss is not None else '')
                + f'  ({elapsed:.0f}s)')
    if event == 'start' and rec.get('iter'):
        return f'  {name}: resumed at iteration {rec["iter"]}/{rec["max_iters"]}'
    if event == 'val':
        return f'  {name}: validation ' + ', '.join(
            f'{k}={v:.2f}' for k, v in list(rec.get('metrics', {}).items())[:4]
            if isinstance(v, (int, float)))
    return None


class ProgressFollower:
    """Print a stage's new ``progress.jsonl`` records as progress lines.

    Args:
        name (str): Stage name.
        progress_file (str): The stage's progress file (it may not exist yet).

    Example:
        >>> follower = ProgressFollower('up-a', 'work_dirs/demo/stages/up-a/progress.jsonl')
        >>> follower.poll()  # prints the lines written since the last call
    """

    def __init__(self, name: str, progress_file: str) -> None:
        self.name, self.progress_file = name, progress_file
        self.pos, self.start = 0, time.time()

    def poll(self) -> None:
        """Print the complete records written since the last call."""
        if not osp.isfile(self.progress_file):
            return
        with open(self.progress_file) as f:
            f.seek(self.pos)
            chunk = f.read()
        # only complete lines; a partly written one is read next time
        chunk = chunk[:chunk.rfind('\n') + 1]
        self.pos += len(chunk.encode())
        for line in chunk.splitlines():
            msg = progress_line(self.name, json.loads(line), time.time() - self.start)
            if msg:
                print(msg, flush=True)


def _follow(name: str, proc: subprocess.Popen, progress_file: str, verbose: bool) -> None:
    """Print the progress records the stage's hook writes while its process runs."""
    follower = ProgressFollower(name, progress_file)
    while True:
        ret = proc.poll()
        if not verbose:
            follower.poll()
        if ret is not None:
            return
        time.sleep(1.0)


def stage_command(name: str, cfg_file: str, wd: str, nproc: int = 1) -> list:
    """The command line that trains a stage in a process of its own (under torchrun
    when ``nproc > 1``).

    Example:
        >>> stage_command('up-a', 'cfg.py', 'wd')[1:3]
        ['-m', 'intern_mm.paradigm.stage_runner']
    """
    cmd = [sys.executable, '-m', 'intern_mm.paradigm.stage_runner', cfg_file,
           '--work-dir', wd, '--name', name]
    if nproc > 1:
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
               '--nproc_per_node', str(nproc), '-m'] + cmd[2:] + ['--launcher', 'pytorch']
    return cmd


def repo_env() -> dict:
    """This process's environment with the repository root first on ``PYTHONPATH`` (the
    stage and worker processes import intern_mm from it)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


def _run_process(name: str, cfg_file: str, wd: str, nproc: int, verbose: bool) -> None:
    """Train the stage in a process of its own (under torchrun when ``nproc > 1``)."""
    cmd, env = stage_command(name, cfg_file, wd, nproc), repo_env()
    log_file = osp.join(wd, OUTPUT_LOG)
    with open(log_file, 'a') as out:
        proc = subprocess.Popen(
            cmd, stdout=None if verbose else out,
            stderr=subprocess.STDOUT if not verbose else None, env=env)
        try:
            _follow(name, proc, osp.join(wd, PROGRESS_FILE), verbose)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        raise StageFailedError(f'stage {name} failed (exit code {proc.returncode}); '
                               f'log: {log_file}')


def launch_stage(name: str,
                 cfg_file: str,
                 wd: str,
                 launcher: str = 'subprocess',
                 nproc: int = 1,
                 verbose: bool = False) -> dict:
    """Train one stage from its saved config and return its done-marker.

    Args:
        name (str): Stage name.
        cfg_file (str): The stage's complete config (``stage_config.py``).
        wd (str): Stage work dir.
        launcher (str): ``'subprocess'`` or ``'inprocess'``. Defaults to
            ``'subprocess'``.
        nproc (int): Processes (torchrun, DDP) of a subprocess stage. Defaults to 1.
        verbose (bool): Stream the stage's full log instead of progress lines.

    Returns:
        dict: The done-marker (``done.json``).

    Raises:
        StageFailedError: The stage failed or exited without its done-marker.
    """
    if launcher == 'inprocess':
        try:
            return stage_runner.train_stage(cfg_file, wd, name)
        except Exception as err:
            raise StageFailedError(failure_message(f'stage {name}', err,
                                                   mmengine_log(wd))) from err
    _run_process(name, cfg_file, wd, nproc, verbose)
    done = read_done(wd)
    if done is None:
        raise StageFailedError(f'stage {name} exited without writing its done-marker; '
                               f'log: {osp.join(wd, OUTPUT_LOG)}')
    return done
