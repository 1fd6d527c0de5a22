"""Schedule the loss weights of a model by epoch or iteration."""
from typing import Dict, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log

from intern_mm.registry import HOOKS
from ._schedule_utils import check_milestones, current_step, unwrap_model

__all__ = ['LossWeightScheduleHook', 'interpolate_schedule']


def interpolate_schedule(points: Sequence[Tuple[int, float]], step: int,
                         mode: str = 'linear') -> float:
    """Value of a piecewise schedule at ``step``.

    Args:
        points (Sequence[tuple[int, float]]): ``(milestone, value)`` pairs sorted by
            milestone.
        step (int): The current epoch / iteration.
        mode (str): ``'linear'`` interpolates between milestones, ``'step'`` holds each
            value until the next milestone. Before the first milestone the first value
            holds, after the last the last one.

    Returns:
        float: The value.

    Example:
        >>> interpolate_schedule([(0, 1.0), (10, 0.0)], 5)
        0.5
        >>> interpolate_schedule([(0, 1.0), (10, 0.0)], 5, mode='step')
        1.0
    """
    if step <= points[0][0]:
        return float(points[0][1])
    for (s0, v0), (s1, v1) in zip(points[:-1], points[1:]):
        if s0 <= step < s1:
            if mode == 'step':
                return float(v0)
            return float(v0) + (float(v1) - float(v0)) * (step - s0) / (s1 - s0)
    return float(points[-1][1])


@HOOKS.register_module()
class LossWeightScheduleHook(Hook):
    """Change entries of a model's loss-weight dict over training.

    The model (unwrapped from DDP) must hold a ``dict`` at the dotted attribute path
    ``attr`` (e.g. the Up-G :class:`~intern_mm.models.generalist.GeneralistModel`'s
    ``task_loss_weights``); every scheduled key must already exist in it. The value at
    step ``t`` is a pure function of ``t``, so resuming replays it (``before_train``).
    The current weights are logged as ``loss_weight/<key>`` scalars.

    Args:
        schedule (dict[str, Sequence[tuple[int, float]]]): ``{key: [(milestone, value),
            ...]}``.
        attr (str): Dotted attribute path of the weight dict on the model.
            Defaults to ``'task_loss_weights'``.
        mode (str): ``'linear'`` or ``'step'``, see :func:`interpolate_schedule`.
            Defaults to ``'linear'``.
        by_epoch (bool): Milestones count epochs instead of iterations.
            Defaults to False.

    Example:
        >>> custom_hooks = [dict(type='LossWeightScheduleHook',
        ...                      schedule=dict(det=[(0, 0.), (100, 1.)]))]
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: Dict[str, Sequence[Tuple[int, float]]],
                 attr: str = 'task_loss_weights',
                 mode: str = 'linear',
                 by_epoch: bool = False) -> None:
        if mode not in ('linear', 'step'):
            raise ValueError(f"LossWeightScheduleHook: mode must be 'linear' or 'step', "
                             f'got {mode!r}')
        if not schedule:
            raise ValueError('LossWeightScheduleHook: the schedule is empty')
        self.schedule = {
            key: check_milestones(points, f'LossWeightScheduleHook[{key}]')
            for key, points in schedule.items()
        }
        self.attr = attr
        self.mode = mode
        self.by_epoch = by_epoch
        self._last: Optional[Dict[str, float]] = None

    def _weights(self, runner) -> dict:
        obj = unwrap_model(runner.model)
        for part in self.attr.split('.'):
            if not hasattr(obj, part):
                raise AttributeError(
                    f'LossWeightScheduleHook: {type(unwrap_model(runner.model)).__name__} '
                    f'has no attribute path {self.attr!r} (missing {part!r})')
            obj = getattr(obj, part)
        if not isinstance(obj, dict):
            raise TypeError(f'LossWeightScheduleHook: {self.attr!r} must be a dict, got '
                            f'{type(obj).__name__}')
        return obj

    def values_at(self, step: int) -> Dict[str, float]:
        """The scheduled weights at ``step``."""
        return {k: interpolate_schedule(p, step, self.mode) for k, p in self.schedule.items()}

    def _update(self, runner) -> None:
        weights = self._weights(runner)
        values = self.values_at(current_step(runner, self.by_epoch))
        weights.update(values)
        for key, value in values.items():
            runner.message_hub.update_scalar(f'train/loss_weight/{key}', value)
        if values != self._last:
            self._last = values

    def before_train(self, runner) -> None:
        """Check the keys and replay the schedule at the (resumed) step."""
        weights = self._weights(runner)
        unknown = sorted(set(self.schedule) - set(weights))
        if unknown:
            raise KeyError(f'LossWeightScheduleHook: keys {unknown} are not in the model\'s '
                           f'{self.attr} (has {sorted(weights)})')
        self._update(runner)
        print_log(f'LossWeightScheduleHook: {self.attr} = {dict(weights)}', logger='current')

    def before_train_epoch(self, runner) -> None:
        """Update at epoch boundaries (epoch-based schedules)."""
        if self.by_epoch:
            self._update(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Update every iteration (iteration-based schedules)."""
        if not self.by_epoch:
            self._update(runner)
