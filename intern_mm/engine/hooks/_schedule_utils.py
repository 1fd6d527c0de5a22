"""Helpers shared by the schedule hooks of :mod:`intern_mm.engine.hooks`."""
from typing import Any, List, Sequence, Tuple

from mmengine.model import is_model_wrapper
from torch import nn

__all__ = ['unwrap_model', 'current_step', 'check_milestones']


def unwrap_model(model: nn.Module) -> nn.Module:
    """Return the bare model inside an mmengine / torch model wrapper (DDP, FSDP).

    Args:
        model (nn.Module): ``runner.model``.

    Returns:
        nn.Module: ``model.module`` for wrappers, ``model`` otherwise.
    """
    return model.module if is_model_wrapper(model) else model


def current_step(runner, by_epoch: bool) -> int:
    """The runner's current epoch (``by_epoch=True``) or iteration.

    Args:
        runner (Runner): The runner.
        by_epoch (bool): Whether milestones count epochs.

    Returns:
        int: ``runner.epoch`` or ``runner.iter`` (both 0-based; after resuming they hold
        the resumed position, which is what makes the schedule hooks replay correctly).
    """
    return int(runner.epoch if by_epoch else runner.iter)


def check_milestones(points: Sequence[Tuple[int, Any]], what: str) -> List[Tuple[int, Any]]:
    """Validate a list of ``(milestone, value)`` pairs and sort it by milestone.

    Args:
        points (Sequence[tuple[int, Any]]): The schedule points.
        what (str): Name used in error messages.

    Returns:
        list[tuple[int, Any]]: The points sorted by milestone.

    Raises:
        ValueError: On an empty schedule, a negative or duplicate milestone or a point that
            is not a pair.
    """
    if not points:
        raise ValueError(f'{what}: the schedule is empty')
    checked = []
    for point in points:
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ValueError(f'{what}: each schedule point must be a (milestone, value) '
                             f'pair, got {point!r}')
        milestone, value = point
        if int(milestone) != milestone or milestone < 0:
            raise ValueError(f'{what}: milestones must be non-negative integers, '
                             f'got {milestone!r}')
        checked.append((int(milestone), value))
    checked.sort(key=lambda p: p[0])
    steps = [p[0] for p in checked]
    if len(set(steps)) != len(steps):
        raise ValueError(f'{what}: duplicate milestones in {steps}')
    return checked
