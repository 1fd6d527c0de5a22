"""The pipeline as parallel jobs: stages and downstream parts in worker processes.

With the pipeline config's ``workers = N`` > 1, every stage that is not done and every
downstream *part* (one row's backbone role or counterpart, ``cls/up-g``,
``det/conventional``: :func:`~.adaptation.downstream_parts`) runs in a process of its
own, at most N at once, each with ``cpus // N`` threads (``worker_threads`` pins it)
(:func:`intern_mm.utils.processes.run_processes`). Small CPU models train faster as N
one-thread runs than as one run on every core (docs/claim.md, "Budget"), and the jobs
that do not need each other overlap: the experts train side by side, the counterparts
beside the stages.

A job starts as soon as what it needs is done: a stage waits for the stages it hands off
from and a distill stage for its teacher; a part waits for its role's stages (a
conventional counterpart for its stage; scratch for none; a role for an earlier role of
its row that names one of its stages, whose run folders it shares). Stages start before
parts, each in the config's order. A generalist or distill stage is exported, in the pipeline's
process, before a job that needs it starts. The first failure starts nothing further;
the running jobs finish, then :class:`~.launch.StageFailedError` names every failed job
and its log. A part's runs land in their usual folders; the pipeline then reads every
run as finished (:func:`~.adaptation.run_downstream`).

Logs: a stage's in ``<work_dir>/stages/<name>/stage_output.log`` (its progress lines are
printed), a part's in ``<work_dir>/downstream/workers/<row>.<part>.log``.

Example:
    >>> run_pipeline_jobs(ParadigmPipeline(cfg), workers=2)  # doctest: +SKIP
"""
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Tuple

from ..utils.processes import ProcessJob, run_processes
from .adaptation import (COUNTERPART_KEYS, downstream_fractions, downstream_parts,
                         downstream_rows)
from .launch import (OUTPUT_LOG, ProgressFollower, StageFailedError, log, repo_env,
                     stage_command)
from .stage_runner import PROGRESS_FILE, read_done

__all__ = ['stage_needs', 'part_waits', 'run_pipeline_jobs']


def stage_needs(stage: dict) -> Tuple[str, ...]:
    """The stages a stage needs finished: those it hands off from, a distill stage's
    teacher.

    Example:
        >>> stage_needs(dict(name='up-g', handoffs=[dict(stage='up-a')]))
        ('up-a',)
    """
    needs = [h['stage'] for h in stage.get('handoffs') or []]
    return tuple(needs + ([stage['teacher']] if stage.get('teacher') else []))


def part_waits(parts: List[Tuple[str, str, Tuple[str, ...]]]) -> List[Tuple[int, ...]]:
    """For each downstream part, the earlier parts it waits for: the roles of its row
    that name one of its stages. A row's runs of a stage live in one folder
    (``<row>/<stage>/...``), so two roles sharing a stage would write the same runs; the
    later one waits and then reads them as finished.

    Args:
        parts (list[tuple]): :func:`~.adaptation.downstream_parts`.

    Returns:
        list[tuple[int, ...]]: Indices into ``parts``, per part.

    Example:
        >>> part_waits([('cls', 'a', ('x', )), ('cls', 'b', ('y', 'x')),
        ...             ('det', 'b', ('x', )), ('cls', 'scratch', ())])
        [(), (0,), (), ()]
    """
    waits = []
    for i, (row, part, needs) in enumerate(parts):
        waits.append(() if part in COUNTERPART_KEYS else tuple(
            j for j, (row_j, part_j, needs_j) in enumerate(parts[:i])
            if row_j == row and part_j not in COUNTERPART_KEYS
            and set(needs) & set(needs_j)))
    return waits


class _Jobs:
    """The job list of a pipeline and the callbacks that run around each job."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.stages: Dict[str, dict] = {}  # job name -> stage entry
        self.started: Dict[str, float] = {}
        self.followers: Dict[str, ProgressFollower] = {}
        self.failures: List[str] = []
        self.not_started: List[str] = []

    def stage_jobs(self) -> List[ProcessJob]:
        """A job per stage that is not done (a done one is skipped and exported)."""
        jobs = []
        for stage in self.pipe.stages:
            name, wd = stage['name'], self.pipe.stage_dir(stage['name'])
            if read_done(wd) is not None:
                self.pipe.run_stage(stage)  # 'done already', its warnings
                self.pipe.export_finished(stage)
                continue
            job = ProcessJob(f'stage {name}', stage_command(
                name, osp.join(wd, 'stage_config.py'), wd), osp.join(wd, OUTPUT_LOG),
                tuple(f'stage {s}' for s in stage_needs(stage) if f'stage {s}' in
                      self.stages), append=True)  # as launch._run_process
            self.stages[job.name] = stage
            jobs.append(job)
        return jobs

    def part_jobs(self, waiting: set) -> List[ProcessJob]:
        """A job per downstream part, after the unfinished stages it needs. The
        subsets are made here first (parts of a row share them)."""
        ds = dict(self.pipe.cfg.get('downstream') or {})
        if not ds:
            return []
        adapter = self.pipe.downstream_adapter()
        for row in downstream_rows(ds):
            for fraction in downstream_fractions(ds):
                adapter.subset(row, fraction)
        folder = osp.join(self.pipe.work_dir, 'downstream', 'workers')
        os.makedirs(folder, exist_ok=True)
        cfg_file = osp.join(folder, 'pipeline_config.json')
        self.pipe.cfg.dump(cfg_file)
        parts = downstream_parts(ds)
        names = [f'downstream {row}/{part}' for row, part, _ in parts]
        return [ProcessJob(
            name, [sys.executable, '-m', __name__, cfg_file, self.pipe.work_dir, row, part],
            osp.join(folder, f'{row}.{part}.log'),
            tuple(f'stage {s}' for s in needs if f'stage {s}' in waiting) +
            tuple(names[j] for j in waits))
            for name, (row, part, needs), waits in zip(names, parts, part_waits(parts))]

    def on_start(self, job: ProcessJob, threads: int) -> None:
        self.started[job.name] = time.time()
        if job.name in self.stages:
            stage = self.stages[job.name]
            self.pipe.prepare_stage(stage, f'worker process, {threads} thread(s)')
            self.followers[job.name] = ProgressFollower(
                stage['name'], osp.join(self.pipe.stage_dir(stage['name']), PROGRESS_FILE))
        else:
            log(f'{job.name}: worker process ({threads} thread(s)), log {job.log_file}')

    def on_finish(self, job: ProcessJob, code) -> None:
        follower = self.followers.pop(job.name, None)
        if follower is not None:
            follower.poll()
        if code is None:
            self.not_started.append(job.name)
            return
        seconds = time.time() - self.started[job.name]
        stage = self.stages.get(job.name)
        done = read_done(self.pipe.stage_dir(stage['name'])) if stage else None
        if code or (stage and done is None):
            why = f'exit code {code}' if code else 'exited without its done-marker'
            self.failures.append(f'{job.name} failed ({why}); log: {job.log_file}')
            log(self.failures[-1])
        elif stage is None:
            log(f'{job.name}: finished in {seconds:.1f}s')
        else:
            self.pipe.record_stage(stage, done, seconds)
            self.pipe.export_finished(stage)

    def on_poll(self) -> None:
        for follower in self.followers.values():
            follower.poll()


def run_pipeline_jobs(pipe, workers: int, threads: Optional[int] = None) -> None:
    """Run ``pipe``'s unfinished stages and its downstream parts as jobs, at most
    ``workers`` processes at once; the finished stages' results land in ``pipe``.

    Args:
        pipe (ParadigmPipeline): The pipeline (world and leak check done).
        workers (int): Processes at once.
        threads (int, optional): Threads per process (figures depend on it).
            Defaults to None: ``cpus // workers``.

    Raises:
        StageFailedError: A job failed (every failed job and its log named).
    """
    jobs = _Jobs(pipe)
    stage_jobs = jobs.stage_jobs()
    part_jobs = jobs.part_jobs({job.name for job in stage_jobs})
    log(f'{len(stage_jobs)} stage(s) and {len(part_jobs)} downstream part(s) as jobs, '
        f'{workers} at once')
    start = time.time()
    run_processes(stage_jobs + part_jobs, workers, env=repo_env(), on_start=jobs.on_start,
                  on_finish=jobs.on_finish, on_poll=jobs.on_poll, poll_interval=1.0,
                  threads=threads, stop_on_failure=True)
    pipe.timings['jobs'] = round(time.time() - start, 1)
    if jobs.not_started:
        log(f'not started after the failure: {", ".join(jobs.not_started)}')
    if jobs.failures:
        raise StageFailedError('; '.join(jobs.failures))


def _worker(argv: List[str]) -> None:
    """``python -m intern_mm.paradigm.jobs CONFIG WORK_DIR ROW PART``: one part."""
    from mmengine.config import Config

    from .adaptation import run_downstream
    from .pipeline import ParadigmPipeline
    cfg_file, work_dir, row, part = argv
    run_downstream(ParadigmPipeline(Config.fromfile(cfg_file), work_dir=work_dir),
                   rows=[row], parts=[part])


if __name__ == '__main__':
    _worker(sys.argv[1:])
