"""Switch the source ratio of a multi-source sampler on a schedule."""
import inspect
from typing import List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log

from intern_mm.registry import HOOKS
from ._schedule_utils import check_milestones, current_step

__all__ = ['SourceRatioScheduleHook']


@HOOKS.register_module()
class SourceRatioScheduleHook(Hook):
    """Set a multi-source sampler's per-batch source ratio at milestones.

    The training dataloader's sampler or batch sampler must have a
    ``set_source_ratio(ratio)`` method (intern_mm's multi-source samplers do). For the
    multi-task loop (:class:`~intern_mm.engine.MultiTaskIterBasedTrainLoop`) name the
    task whose dataloader is scheduled with ``task``. The ratio in force at step ``t``
    is the value of the last milestone ``<= t``; ``before_train`` sets it for the
    (resumed) step, so resuming replays the schedule.

    Exactness: for iteration-based schedules on a sampler whose ``set_source_ratio``
    takes ``start_iter`` (intern_mm's :class:`~intern_mm.datasets.MultiSourceSampler`),
    the whole schedule is registered in ``before_train`` with each milestone as the
    ``start_iter`` of its ratio, so batch ``t`` uses the ratio of iteration ``t`` even
    with prefetching workers and after resuming. Otherwise the ratio is switched when the
    milestone is reached; with ``num_workers > 0`` the DataLoader then has a few batches
    prefetched with the previous ratio (``prefetch_factor * num_workers``).

    Args:
        schedule (Sequence[tuple[int, Sequence[float]]]): ``[(milestone, ratio), ...]``;
            the first milestone must be 0.
        by_epoch (bool): Milestones count epochs. Defaults to False.
        task (str, optional): Task key of a multi-task loop's dataloaders.

    Example:
        >>> custom_hooks = [dict(type='SourceRatioScheduleHook',
        ...                      schedule=[(0, [1, 1]), (200, [3, 1])])]
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: Sequence[Tuple[int, Sequence[float]]],
                 by_epoch: bool = False,
                 task: Optional[str] = None) -> None:
        self.schedule = check_milestones(schedule, 'SourceRatioScheduleHook')
        if self.schedule[0][0] != 0:
            raise ValueError('SourceRatioScheduleHook: the first milestone must be 0, got '
                             f'{self.schedule[0][0]}')
        for _, ratio in self.schedule:
            if not isinstance(ratio, (list, tuple)) or not ratio or min(ratio) < 0 \
                    or sum(ratio) <= 0:
                raise ValueError('SourceRatioScheduleHook: each ratio must be a non-empty '
                                 f'list of non-negative numbers with a positive sum, got '
                                 f'{ratio!r}')
        self.by_epoch = by_epoch
        self.task = task
        self._current: Optional[int] = None
        self._registered = False

    def ratio_at(self, step: int) -> List[float]:
        """The ratio in force at ``step``."""
        ratio = self.schedule[0][1]
        for milestone, value in self.schedule:
            if milestone <= step:
                ratio = value
        return list(ratio)

    def _sampler(self, runner):
        loop = runner.train_loop
        if self.task is not None:
            loaders = getattr(loop, 'dataloaders', None)
            if not loaders or self.task not in loaders:
                raise KeyError(f'SourceRatioScheduleHook: the train loop has no dataloader '
                               f'for task {self.task!r}')
            loader = loaders[self.task]
        else:
            loader = loop.dataloader
        for obj in (getattr(loader, 'batch_sampler', None), getattr(loader, 'sampler', None)):
            if obj is not None and hasattr(obj, 'set_source_ratio'):
                return obj
        raise TypeError('SourceRatioScheduleHook: neither the sampler '
                        f'({type(loader.sampler).__name__}) nor the batch sampler of the '
                        'training dataloader has set_source_ratio()')

    def _update(self, runner, force: bool = False) -> None:
        step = current_step(runner, self.by_epoch)
        index = sum(1 for m, _ in self.schedule if m <= step) - 1
        if index == self._current and not force:
            return
        ratio = self.ratio_at(step)
        self._sampler(runner).set_source_ratio(ratio)
        self._current = index
        unit = 'epoch' if self.by_epoch else 'iter'
        print_log(f'SourceRatioScheduleHook: source ratio {ratio} from {unit} {step}',
                  logger='current')

    def before_train(self, runner) -> None:
        """Register the schedule (exact mode) or set the ratio of the (resumed) step."""
        sampler = self._sampler(runner)
        try:
            params = inspect.signature(sampler.set_source_ratio).parameters
        except (TypeError, ValueError):
            params = {}
        if not self.by_epoch and 'start_iter' in params:
            for milestone, ratio in self.schedule:
                sampler.set_source_ratio(list(ratio), start_iter=milestone)
            self._registered = True
            print_log(f'SourceRatioScheduleHook: registered {self.schedule} with '
                      f'{type(sampler).__name__}', logger='current')
            return
        self._update(runner, force=True)

    def before_train_epoch(self, runner) -> None:
        """Switch at epoch milestones."""
        if not self._registered:
            self._update(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Switch at iteration milestones."""
        if not self.by_epoch and not self._registered:
            self._update(runner)
