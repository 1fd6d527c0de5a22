"""Where a GV-B suite stands: one line per task start / end, a suite line, a TTY bar.

``run_suite`` reports through :class:`SuiteProgress`; ``tools/gvb.py run`` prints, for
every task, a start line and an end line (status, score, wall time), then a suite line
with tasks done / failed / missing / left, the time so far and an estimate of the time
left. The estimate is the sum, over the tasks left, of the mean wall time of the tasks
of the same family that ran in this invocation (of all tasks that ran, for a family not
seen yet); tasks skipped because their ``result.json`` exists do not count. With a TTY,
mmengine's :class:`~mmengine.utils.ProgressBar` is drawn after each task as well.

Example:
    >>> import io
    >>> from intern_mm.benchmark.progress import SuiteProgress
    >>> out = io.StringIO()
    >>> progress = SuiteProgress([('cifar10', 'cls')], stream=out, bar=False)
    >>> progress.start('cifar10')
    >>> progress.end('cifar10', dict(status='done', metric='top1', score=50.0))
    >>> out.getvalue().splitlines()[1].startswith('[gvb 1/1] cifar10: done, top1 = 50 in')
    True
    >>> progress.counts()
    {'done': 1, 'failed': 0, 'missing': 0, 'left': 0}
"""
import sys
import time
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

__all__ = ['SuiteProgress', 'format_duration', 'format_score']


def format_duration(seconds: Optional[float]) -> str:
    """``75.0`` -> ``'1m15s'``; ``4000`` -> ``'1h06m40s'``; below a minute ``'12.3 s'``."""
    if seconds is None:
        return '?'
    if seconds < 60:
        return f'{seconds:.1f} s'
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f'{hours}h{minutes:02d}m{secs:02d}s' if hours else f'{minutes}m{secs:02d}s'


def format_score(score) -> str:
    """A task score to 4 significant digits: ``41.234`` -> ``'41.23'``, ``3.1812`` ->
    ``'3.181'``, ``{'easy': 90.1, 'medium': 88.0, ...}`` -> ``'90.1/88/...'``."""
    if isinstance(score, dict):
        return '/'.join(f'{float(v):.4g}' for v in score.values())
    if isinstance(score, (int, float)):
        return f'{float(score):.4g}'
    return str(score)


class SuiteProgress:
    """Progress lines (and, on a TTY, a bar) of a GV-B suite.

    Args:
        tasks (Sequence[tuple[str, str]]): ``(task name, family)`` in run order.
        stream (TextIO, optional): Where the lines go. Defaults to ``sys.stdout``.
        bar (bool, optional): Draw mmengine's ``ProgressBar`` after each task.
            Defaults to whether ``stream`` is a TTY.
        enabled (bool): Print anything at all (False on non-main ranks).
            Defaults to True.
        pending (Sequence[str], optional): Tasks that still have to run (the bar counts
            only those). Defaults to all tasks.
    """

    def __init__(self,
                 tasks: Sequence[Tuple[str, str]],
                 stream: Optional[TextIO] = None,
                 bar: Optional[bool] = None,
                 enabled: bool = True,
                 pending: Optional[Sequence[str]] = None):
        self.tasks: List[Tuple[str, str]] = list(tasks)
        self.family = dict(self.tasks)
        self.stream = stream or sys.stdout
        self.enabled = enabled
        if bar is None:
            bar = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.pending = set(pending) if pending is not None else set(self.family)
        self._bar = None
        if enabled and bar and self.pending:
            from mmengine.utils import ProgressBar
            self._bar = ProgressBar(len(self.pending), file=self.stream, start=False)
        self.status: Dict[str, str] = {}
        self.walls: Dict[str, float] = {}
        self._started: Dict[str, float] = {}
        self._t0 = time.perf_counter()
        self.lines: List[str] = []

    def _print(self, text: str) -> None:
        self.lines.append(text)
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def _index(self, task: str) -> str:
        names = [t for t, _ in self.tasks]
        return f'{names.index(task) + 1}/{len(names)}'

    def start(self, task: str) -> None:
        """Say that ``task`` starts."""
        if self._bar is not None and self._bar.completed == 0 and not self._started:
            self._bar.start()
            self.stream.write('\n')
        self._started[task] = time.perf_counter()
        self._print(f'[gvb {self._index(task)}] {task}: start ({self.family[task]})')

    def end(self, task: str, result: dict) -> None:
        """Say how ``task`` ended, then where the suite stands.

        Args:
            task (str): The task.
            result (dict): ``run_task``'s result or the failure record (``status`` is
                ``done``, ``skipped``, ``missing`` or ``failed``).
        """
        status = result['status']
        wall = time.perf_counter() - self._started.get(task, time.perf_counter())
        self.status[task] = status
        head = f'[gvb {self._index(task)}] {task}:'
        if status in ('done', 'skipped'):
            text = f"{head} {status}, {result['metric']} = {format_score(result['score'])}"
            if status == 'done':
                self.walls[task] = wall
                text += f' in {format_duration(wall)}'
            else:
                text += ' (result.json exists)'
        elif status == 'failed':
            self.walls[task] = wall
            text = (f"{head} FAILED after {format_duration(wall)}: {result['error']} "
                    f"(details: {result['failed_json']})")
        else:
            text = f"{head} missing data -> prepare: {result.get('prepare')}"
        self._print(text)
        if self._bar is not None and task in self.pending:
            self._bar.update()
            self.stream.write('\n')
            self.stream.flush()
        self._print(self.suite_line())

    def counts(self) -> Dict[str, int]:
        """Tasks per state: ``done`` (run or skipped), ``failed``, ``missing``, ``left``."""
        values = list(self.status.values())
        return dict(done=sum(v in ('done', 'skipped') for v in values),
                    failed=values.count('failed'), missing=values.count('missing'),
                    left=len(self.tasks) - len(values))

    def estimate_left(self) -> Optional[float]:
        """Seconds the tasks left should take (None before any task ran here)."""
        left = [t for t, _ in self.tasks if t not in self.status]
        if not left:
            return 0.0
        if not self.walls:
            return None
        overall = sum(self.walls.values()) / len(self.walls)
        per_family: Dict[str, List[float]] = {}
        for name, wall in self.walls.items():
            per_family.setdefault(self.family[name], []).append(wall)
        total = 0.0
        for name in left:
            walls = per_family.get(self.family[name])
            total += sum(walls) / len(walls) if walls else overall
        return total

    def suite_line(self) -> str:
        """``[gvb] 2 done, 1 failed, 0 missing, 3 left; 1m05s so far; ~2m10s left``."""
        c = self.counts()
        est = self.estimate_left()
        tail = '' if c['left'] == 0 else (
            '; estimate unknown until a task has run' if est is None else
            f'; ~{format_duration(est)} left (mean wall time per family so far)')
        return (f"[gvb] {c['done']} done, {c['failed']} failed, {c['missing']} missing, "
                f"{c['left']} left; {format_duration(time.perf_counter() - self._t0)} so far"
                + tail)
