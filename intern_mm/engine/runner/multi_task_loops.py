"""Loops that feed one batch per task to a multi-task model (Up-G)."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.runner.amp import autocast
from mmengine.runner.loops import (BaseLoop, IterBasedTrainLoop, ValLoop, _parse_losses,
                                   _update_losses)
from torch.utils.data import DataLoader

from intern_mm.registry import LOOPS

from .fast_restart_loop import FastRestartDataloaderIterator

__all__ = ['MultiTaskIterBasedTrainLoop', 'MultiTaskValLoop']


def _check_task_dict(obj, what: str) -> None:
    if not isinstance(obj, dict) or not obj:
        raise TypeError(f'{what} must be a non-empty dict {{task: dataloader}}, got '
                        f'{type(obj).__name__}')
    if 'dataset' in obj or 'type' in obj:
        raise TypeError(f'{what} looks like a single dataloader config; the multi-task loops '
                        'need {task: dataloader_cfg}, e.g. dict(cls=dict(dataset=...), '
                        'det=dict(dataset=...))')


def _build_loaders(runner, loaders: dict) -> 'OrderedDict[str, DataLoader]':
    diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
    built = OrderedDict()
    for task, loader in loaders.items():
        if isinstance(loader, dict):
            loader = runner.build_dataloader(
                loader, seed=runner.seed, diff_rank_seed=diff_rank_seed)
        built[task] = loader
    return built


@LOOPS.register_module()
class MultiTaskIterBasedTrainLoop(IterBasedTrainLoop):
    """Iteration-based training with one dataloader per task.

    Every iteration draws one batch from each task's (infinite) dataloader and passes
    ``{task: batch}`` to ``model.train_step``: the model sums all tasks' losses into one
    backward pass, so every parameter gets its gradient in every step (DDP-friendly,
    no ``find_unused_parameters`` needed).

    ``train_dataloader`` in the config is the dict ``{task: dataloader_cfg}``; the first
    task's dataloader is exposed as :attr:`dataloader` (what mmengine hooks inspect),
    all of them as :attr:`dataloaders`. Resuming advances every task's iterator by the
    resumed number of iterations, as :class:`IterBasedTrainLoop` does.

    Args:
        runner (Runner): The runner.
        dataloader (dict): ``{task: DataLoader or dataloader config}``.
        max_iters (int): Total iterations.
        val_begin (int): First iteration that may validate. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1000.
        dynamic_intervals (list[tuple[int, int]], optional): See
            :class:`IterBasedTrainLoop`.

    Example:
        >>> train_dataloader = dict(cls=dict(batch_size=16, dataset=...),
        ...                         det=dict(batch_size=8, dataset=...))
        >>> train_cfg = dict(type='MultiTaskIterBasedTrainLoop', max_iters=300,
        ...                  val_interval=300)
    """

    def __init__(self,
                 runner,
                 dataloader: Dict[str, Union[DataLoader, dict]],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        _check_task_dict(dataloader, 'train_dataloader')
        self.dataloaders = _build_loaders(runner, dataloader)
        main = next(iter(self.dataloaders.values()))
        super().__init__(runner, main, max_iters, val_begin, val_interval,
                         dynamic_intervals)
        # the first task's iterator is the one IterBasedTrainLoop built (wrapped, not
        # rebuilt: a second iter() would draw from the global RNG)
        self.dataloader_iterator = FastRestartDataloaderIterator.wrap(self.dataloader_iterator)
        self.dataloader_iterators = OrderedDict(
            (task, self.dataloader_iterator if i == 0 else FastRestartDataloaderIterator(dl))
            for i, (task, dl) in enumerate(self.dataloaders.items()))

    @property
    def tasks(self) -> List[str]:
        """Task names in batch order."""
        return list(self.dataloaders)

    def _next_batch(self) -> Dict[str, object]:
        return OrderedDict((t, next(it)) for t, it in self.dataloader_iterators.items())

    def run(self) -> torch.nn.Module:
        """Launch training (one batch of every task per iteration)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            print_log(
                f'Advance the {len(self.dataloaders)} task dataloaders {self._iter} steps '
                'to skip data that has already been trained',
                logger='current',
                level=logging.WARNING)
            for _ in range(self._iter):
                for it in self.dataloader_iterators.values():
                    next(it)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            self.run_iter(self._next_batch())
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


@LOOPS.register_module()
class MultiTaskValLoop(ValLoop):
    """Validate a multi-task model on each task's data with the task's own metrics.

    ``val_dataloader`` and ``val_evaluator`` are dicts keyed by task. Every batch goes to
    ``model.val_step({task: batch})``; each task's evaluator (the stock mmpretrain
    ``Accuracy``, mmdet ``CocoMetric``, mmseg ``IoUMetric``, ...) computes its metrics,
    which are reported with the task as prefix (``cls/accuracy/top1``,
    ``det/coco/bbox_mAP``, ``seg/mIoU``).

    Args:
        runner (Runner): The runner.
        dataloader (dict): ``{task: DataLoader or config}``.
        evaluator (dict): ``{task: Evaluator, metric config or list of them}``.
        fp16 (bool): Autocast during validation. Defaults to False.

    Example:
        >>> val_cfg = dict(type='MultiTaskValLoop')
        >>> val_evaluator = dict(cls=dict(type='mmpretrain.Accuracy'),
        ...                      seg=dict(type='mmseg.IoUMetric'))
    """

    def __init__(self,
                 runner,
                 dataloader: Dict[str, Union[DataLoader, dict]],
                 evaluator: Dict[str, Union[Evaluator, dict, list]],
                 fp16: bool = False) -> None:
        _check_task_dict(dataloader, 'val_dataloader')
        if not isinstance(evaluator, dict) or set(evaluator) != set(dataloader):
            got = sorted(evaluator) if isinstance(evaluator, dict) else type(evaluator)
            raise KeyError(f'val_evaluator must be a dict with the same tasks as '
                           f'val_dataloader ({sorted(dataloader)}), got {got}')
        self.dataloaders = _build_loaders(runner, dataloader)
        self.evaluators = OrderedDict()
        for task in self.dataloaders:
            ev = evaluator[task]
            if not isinstance(ev, Evaluator):
                ev = runner.build_evaluator(ev)
            meta = getattr(self.dataloaders[task].dataset, 'metainfo', None)
            if meta is not None:
                ev.dataset_meta = meta
            self.evaluators[task] = ev
        main = next(iter(self.dataloaders))
        BaseLoop.__init__(self, runner, self.dataloaders[main])
        self.evaluator = self.evaluators[main]
        self.fp16 = fp16
        self.val_loss = dict()

    def run(self) -> dict:
        """Validate every task and return the task-prefixed metrics."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        self.val_loss.clear()
        metrics = OrderedDict()
        for task, loader in self.dataloaders.items():
            evaluator = self.evaluators[task]
            for idx, data_batch in enumerate(loader):
                self.runner.call_hook('before_val_iter', batch_idx=idx, data_batch=data_batch)
                with torch.no_grad(), autocast(enabled=self.fp16):
                    outputs = self.runner.model.val_step({task: data_batch})
                outputs, self.val_loss = _update_losses(outputs, self.val_loss)
                evaluator.process(data_samples=outputs, data_batch=data_batch)
                self.runner.call_hook(
                    'after_val_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)
            for key, value in evaluator.evaluate(len(loader.dataset)).items():
                metrics[f'{task}/{key}'] = value
        if self.val_loss:
            metrics.update(_parse_losses(self.val_loss, 'val'))
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics
