"""A hook for DDP tests: every rank saves its parameters, the images it trained on and
its losses (``<work_dir>/rank<R>_params.pth``), so a test can compare the replicas.

Import it in a training config with ``custom_imports`` (the tests put ``tests/`` on
``PYTHONPATH``) and add ``dict(type='intern_mm.DumpRankStateHook')`` to ``custom_hooks``.
"""
import math
import os.path as osp

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook

from intern_mm.registry import HOOKS


def _image_paths(obj, out):
    """Collect ``img_path`` of every data sample inside a (multi-task) batch."""
    if isinstance(obj, dict):
        for value in obj.values():
            _image_paths(value, out)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _image_paths(value, out)
    elif hasattr(obj, 'metainfo') and 'img_path' in obj.metainfo:
        out.append(obj.metainfo['img_path'])


def _params(runner):
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    return {k: v.detach().cpu().clone() for k, v in model.named_parameters()}


@HOOKS.register_module(force=True)
class DumpRankStateHook(Hook):
    """Save each rank's parameters (before / after training), images and losses."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.seen, self.losses, self.init, self.tasks = [], [], None, set()
        self.seen_by_task = {}  # multi-task batches: task -> [[paths of iteration 1], ...]

    def before_train(self, runner) -> None:
        self.init = _params(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        _image_paths(data_batch, self.seen)
        if isinstance(data_batch, dict) and 'inputs' not in data_batch:
            self.tasks.update(data_batch)  # a multi-task batch: task -> batch
            for task, batch in data_batch.items():
                paths = []
                _image_paths(batch, paths)
                self.seen_by_task.setdefault(task, []).append(paths)
        if outputs is not None and 'loss' in outputs:
            self.losses.append(float(outputs['loss']))

    def after_train(self, runner) -> None:
        assert all(math.isfinite(v) for v in self.losses), self.losses
        torch.save(dict(init=self.init, params=_params(runner), seen=self.seen,
                        seen_by_task=self.seen_by_task,
                        losses=self.losses, tasks=sorted(self.tasks),
                        world_size=get_world_size()),
                   osp.join(runner.work_dir, f'rank{get_rank()}_params.pth'))
