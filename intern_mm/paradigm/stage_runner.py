"""Run one paradigm stage through MMEngine's ``Runner`` and record its result.

A stage is an ordinary intern_mm / mmpretrain / mmdet / mmseg training config. The stage
runner trains it with auto-resume (an interrupted stage continues from the last
checkpoint in its work dir), makes sure the final validation metrics exist (running the
validation loop once more when a resumed run had nothing left to train), and writes

* ``metrics.json``: the last validation metrics and the last logged training losses,
* ``done.json``: the done-marker (final checkpoint, metrics, wall time) that the
  pipeline uses to skip finished stages,
* ``progress.jsonl``: one JSON record per line, written while the stage runs by
  :class:`ProgressHook` (``{"event": "start" | "train" | "val" | "done", "iter": ...,
  "max_iters": ..., "loss": ..., "metrics": {...}, "time": ...}``); the pipeline prints
  them as progress lines.

Command line (the pipeline runs stages this way, one process per stage, or under
torchrun with ``nproc_per_stage > 1``)::

    python -m intern_mm.paradigm.stage_runner STAGE_CONFIG --work-dir DIR [--name NAME]
    torchrun --standalone --nproc_per_node 2 -m intern_mm.paradigm.stage_runner \
        STAGE_CONFIG --work-dir DIR --launcher pytorch
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Any, Dict, Optional

from mmengine.config import Config
from mmengine.dist import barrier, get_rank, get_world_size
from mmengine.hooks import Hook

from intern_mm.datasets.transforms.decode_failures import decode_failure_summary
from intern_mm.utils.checkpoint import last_checkpoint
from intern_mm.utils.run_record import RunRecord, to_jsonable

__all__ = ['train_stage', 'read_done', 'stage_record', 'DONE_FILE', 'METRICS_FILE',
           'PROGRESS_FILE', 'ProgressHook']

DONE_FILE = 'done.json'
METRICS_FILE = 'metrics.json'
PROGRESS_FILE = 'progress.jsonl'


def stage_record(work_dir: str) -> RunRecord:
    """The run record of a stage work dir (done-marker ``done.json``).

    Args:
        work_dir (str): Stage work dir.

    Returns:
        RunRecord: Its record.

    Example:
        >>> stage_record('work_dirs/demo/stages/up-a').path()
        'work_dirs/demo/stages/up-a/done.json'
    """
    return RunRecord(work_dir, done_name=DONE_FILE, indent=2)


def read_done(work_dir: str) -> Optional[dict]:
    """The done-marker of a stage work dir, or None when the stage has not finished."""
    return stage_record(work_dir).done()


class _MetricsRecorder(Hook):
    """Keep the last validation metrics of a run (``after_val_epoch``)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.metrics: Optional[Dict[str, Any]] = None
        self.start_iter = 0

    def before_train(self, runner) -> None:
        self.start_iter = int(runner.iter)

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if metrics is not None:
            self.metrics = dict(metrics)


class ProgressHook(Hook):
    """Append the stage's progress to a JSON-lines file (rank 0 only).

    Records: ``start`` (iteration the run starts at, > 0 when resumed), ``train`` (every
    ``interval`` iterations and the last one: iteration, total loss), ``val``
    (validation metrics), ``done``. Each line is flushed when written, so a reader
    following the file sees complete records.

    Args:
        path (str): The JSON-lines file (appended to).
        interval (int): Iterations between ``train`` records. Defaults to 10.

    Example:
        >>> runner.register_hook(ProgressHook('work_dirs/x/progress.jsonl'))
    """

    priority = 'LOW'

    def __init__(self, path: str, interval: int = 10) -> None:
        self.path = path
        self.interval = max(1, int(interval))
        self._start = time.time()

    def _write(self, runner, **record) -> None:
        if get_rank() != 0:
            return
        record = dict(record, max_iters=int(runner.max_iters),
                      time=round(time.time() - self._start, 1))
        with open(self.path, 'a') as f:
            f.write(json.dumps(to_jsonable(record)) + '\n')

    def before_train(self, runner) -> None:
        self._start = time.time()
        self._write(runner, event='start', iter=int(runner.iter))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        it = runner.iter + 1
        if it % self.interval and it != runner.max_iters:
            return
        loss = None
        if isinstance(outputs, dict) and 'loss' in outputs:
            loss = float(outputs['loss'])
        self._write(runner, event='train', iter=it, loss=loss)

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        self._write(runner, event='val', iter=int(runner.iter), metrics=dict(metrics or {}))

    def after_train(self, runner) -> None:
        self._write(runner, event='done', iter=int(runner.iter))


def _train_scalars(runner) -> Dict[str, float]:
    scalars = {}
    for key, buf in runner.message_hub.log_scalars.items():
        if key.startswith('train/') and ('loss' in key or 'acc' in key):
            try:
                scalars[key[len('train/'):]] = float(buf.current())
            except (TypeError, ValueError):
                continue
    return scalars


def _stage_cfg(config: str, work_dir: str, launcher: str) -> Config:
    """The stage's config set to auto-resume in ``work_dir`` under ``launcher``."""
    return runtime_stage_cfg(Config.fromfile(config), work_dir, launcher)


def runtime_stage_cfg(cfg: Config, work_dir: str, launcher: str) -> Config:
    """Set ``cfg`` (in place; returned) to run as a stage: auto-resume in ``work_dir``
    under ``launcher``. The Runner saves this form as the stage's ``stage_config.py``."""
    cfg.work_dir = work_dir
    cfg.resume = True  # auto-resume from the work dir's last checkpoint, if any
    cfg.load_from = None
    cfg.launcher = launcher
    ckpt_hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if ckpt_hook and 0 < ckpt_hook.get('max_keep_ckpts', -1) < 2:
        # mmengine deletes old checkpoints before writing the new one and updates
        # last_checkpoint after it: keeping one, a kill in between leaves nothing to resume
        ckpt_hook['max_keep_ckpts'] = 2
    return cfg


def _register_hooks(runner, cfg: Config, work_dir: str) -> _MetricsRecorder:
    """Add the metrics recorder (returned), the RNG-state hook and the progress hook."""
    recorder = _MetricsRecorder()
    runner.register_hook(recorder)
    from intern_mm.engine.hooks.rng_state_hook import ensure_rng_state_hook
    ensure_rng_state_hook(runner)  # a resumed stage continues the random streams
    from intern_mm.engine.hooks.decode_failure_hook import ensure_decode_failure_hook
    ensure_decode_failure_hook(runner)  # logs the images skipped as undecodable
    interval = (cfg.get('default_hooks') or {}).get('logger', {}).get('interval', 10)
    runner.register_hook(ProgressHook(osp.join(work_dir, PROGRESS_FILE), interval))
    return recorder


def train_stage(config: str,
                work_dir: str,
                name: Optional[str] = None,
                launcher: str = 'none') -> dict:
    """Train one stage (auto-resuming) and write its metrics and done-marker.

    Under a distributed launcher every process trains; only rank 0 writes the metrics
    file and the done-marker (after all ranks finished).

    Args:
        config (str): The stage's complete config file (the pipeline writes it).
        work_dir (str): Stage work dir (checkpoints, logs, markers).
        name (str, optional): Stage name for the marker. Defaults to the config name.
        launcher (str): mmengine launcher: ``'none'``, ``'pytorch'`` (torchrun),
            ``'slurm'`` or ``'mpi'``. Defaults to ``'none'``.

    Returns:
        dict: The done-marker content (``stage``, ``config``, ``checkpoint``,
        ``iters``, ``metrics``, ``train``, ``wall_time_s``, ``resumed_from_iter``: the
        iteration this invocation started at, 0 unless resumed), ``decode_failures``
        (images of this invocation that did not decode and were skipped: ``count``,
        ``skips``, ``files``).

    Raises:
        FileNotFoundError: If the config does not exist.
        RuntimeError: If training finished without writing a checkpoint.
    """
    from intern_mm.apis import build_runner
    if not osp.isfile(config):
        raise FileNotFoundError(f'stage config {config} does not exist')
    name = name or osp.splitext(osp.basename(config))[0]
    start = time.time()
    cfg = _stage_cfg(config, work_dir, launcher)
    os.makedirs(work_dir, exist_ok=True)
    runner = build_runner(cfg)
    recorder = _register_hooks(runner, cfg, work_dir)
    runner.train()
    if recorder.metrics is None and runner.val_loop is not None:
        # resumed at max_iters (killed between the last checkpoint and the marker)
        recorder.metrics = dict(runner.val_loop.run())
    ckpt = last_checkpoint(work_dir)
    if ckpt is None:
        raise RuntimeError(f'stage {name}: training finished but {work_dir} has no '
                           'last_checkpoint (is the CheckpointHook disabled?)')
    result = dict(
        stage=name,
        config=osp.abspath(config),
        checkpoint=ckpt,
        iters=int(runner.iter),
        metrics=to_jsonable(recorder.metrics or {}),
        train=_train_scalars(runner),
        wall_time_s=round(time.time() - start, 1),
        resumed_from_iter=recorder.start_iter,
        finished_at=time.strftime('%Y-%m-%d %H:%M:%S'),
        world_size=get_world_size(),
        decode_failures=decode_failure_summary(runner.log_dir))
    _write_markers(work_dir, result)
    return result


def _write_markers(work_dir: str, result: dict) -> None:
    """Write ``metrics.json`` and ``done.json`` (atomically, the marker last) on rank 0
    once every rank finished."""
    barrier()  # every rank finished (and saved) before the marker says so
    if get_rank() == 0:
        record = stage_record(work_dir)
        record.write(METRICS_FILE, dict(val=result['metrics'], train=result['train']))
        record.mark_done(result)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run one paradigm stage')
    parser.add_argument('config', help='the stage config file')
    parser.add_argument('--work-dir', required=True, help='stage work dir')
    parser.add_argument('--name', help='stage name')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (pytorch: under torchrun)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    result = train_stage(args.config, args.work_dir, args.name, args.launcher)
    if get_rank() != 0:
        return
    print(f'[stage {result["stage"]}] done in {result["wall_time_s"]}s: '
          f'{json.dumps(result["metrics"])}', flush=True)


if __name__ == '__main__':
    main()
