"""Task-specific BatchNorm: one set of BN parameters / statistics per task.

This module owns the checkpoint layout of task-specific BN, ``<bn>.bns.<task>.<entry>``:
:class:`TaskBatchNorm2d` reads the plain layout into every task, :func:`select_bn_task`
splits one task's set back into the plain layout (Up-G export) and
:func:`merge_task_bn` merges plain-layout variants (the release's ``cls-bn`` / ``det-bn``
files) into it.
"""
import re
from collections import OrderedDict
from typing import Mapping, Optional, Sequence

import torch
import torch.nn as nn

__all__ = [
    'TaskBatchNorm2d', 'convert_to_task_bn', 'set_bn_task', 'select_bn_task', 'merge_task_bn',
    'freeze_bn_task'
]

_BN_ENTRIES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
#: ``.bns.<task>.`` inside a key of the task-specific layout.
_TASK_KEY = re.compile(r'\.bns\.([^.]+)\.')
_MAX_LISTED = 50


class TaskBatchNorm2d(nn.Module):
    """A BatchNorm2d per task (``bns.<task>``); :attr:`task` selects the one in use.

    INTERN's Up-G release ships ``cls-bn`` and ``det-bn`` checkpoints: the same
    weights with task-specific BN parameters. A model whose BNs are converted with
    :func:`convert_to_task_bn` holds both sets and switches with :func:`set_bn_task`.
    Each task's BN has the type of the BN it copies (``nn.BatchNorm2d`` or
    ``nn.SyncBatchNorm``, i.e. a backbone's ``norm_cfg`` ``'BN'`` / ``'SyncBN'``).

    A checkpoint in the plain single-BN layout (``<prefix>.weight`` etc.) also loads:
    its values are copied into every task's BN.

    Args:
        bn (nn.BatchNorm2d | nn.SyncBatchNorm): The BN to copy (type, parameters,
            statistics and settings).
        tasks (Sequence[str]): Task names.
        task (str, optional): Initially active task. Defaults to ``tasks[0]``.

    Example:
        >>> bn = TaskBatchNorm2d(nn.BatchNorm2d(8), ('cls', 'det'))
        >>> bn.task = 'det'
        >>> bn(torch.rand(2, 8, 4, 4)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, tasks: Sequence[str],
                 task: Optional[str] = None) -> None:
        super().__init__()
        tasks = list(tasks)
        if not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(f'tasks must be non-empty and unique, got {tasks}')
        bn_type = type(bn) if isinstance(bn, nn.SyncBatchNorm) else nn.BatchNorm2d
        self.bns = nn.ModuleDict()
        for name in tasks:
            new = bn_type(
                bn.num_features,
                eps=bn.eps,
                momentum=bn.momentum,
                affine=bn.affine,
                track_running_stats=bn.track_running_stats,
                device=bn.weight.device if bn.weight is not None else None,
                dtype=bn.weight.dtype if bn.weight is not None else None)
            if bn.weight is not None and bn.weight.device.type != 'meta':
                new.load_state_dict(bn.state_dict())
            new.train(bn.training)
            if bn.affine:
                new.weight.requires_grad_(bn.weight.requires_grad)
                new.bias.requires_grad_(bn.bias.requires_grad)
            self.bns[name] = new
        self._task = tasks[0]
        self.task = task or tasks[0]

    @property
    def tasks(self) -> list:
        """Task names."""
        return list(self.bns.keys())

    @property
    def task(self) -> str:
        """Active task."""
        return self._task

    @task.setter
    def task(self, value: str) -> None:
        if value not in self.bns:
            raise KeyError(f'Unknown BN task {value!r}; this layer has {self.tasks}')
        self._task = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise with the active task's BN."""
        return self.bns[self._task](x)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # Plain single-BN layout: copy into every task's BN.
        plain = {k: prefix + k for k in _BN_ENTRIES if prefix + k in state_dict}
        if plain:
            for entry, key in plain.items():
                value = state_dict.pop(key)
                for name in self.bns:
                    state_dict.setdefault(f'{prefix}bns.{name}.{entry}', value)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return f'tasks={self.tasks}, task={self._task!r}'


def convert_to_task_bn(module: nn.Module, tasks: Sequence[str]) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` / ``nn.SyncBatchNorm`` inside ``module`` by a
    :class:`TaskBatchNorm2d`.

    Task BN is this swap after construction, not a ``norm_cfg`` type: it composes with
    any BN ``norm_cfg`` and with experts built by other libraries, and the active task
    is a model-wide setting (:func:`set_bn_task`); see ``docs/backbones.md``.

    Args:
        module (nn.Module): Module to convert in place (a bare BN is returned converted).
        tasks (Sequence[str]): Task names.

    Returns:
        nn.Module: The converted module.

    Example:
        >>> m = convert_to_task_bn(nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8)),
        ...                        ('cls', 'det'))
        >>> sorted(k for k in m.state_dict() if k.endswith('.weight'))
        ['0.weight', '1.bns.cls.weight', '1.bns.det.weight']
    """
    if type(module) is nn.BatchNorm2d or isinstance(module, nn.SyncBatchNorm):
        return TaskBatchNorm2d(module, tasks)
    for name, child in module.named_children():
        if isinstance(child, TaskBatchNorm2d):
            continue
        setattr(module, name, convert_to_task_bn(child, tasks))
    return module


def set_bn_task(module: nn.Module, task: str) -> None:
    """Select ``task`` in every :class:`TaskBatchNorm2d` inside ``module``."""
    for m in module.modules():
        if isinstance(m, TaskBatchNorm2d):
            m.task = task


def select_bn_task(state_dict: Mapping[str, torch.Tensor],
                   task: str) -> 'OrderedDict[str, torch.Tensor]':
    """Split one task's BN set out of task-specific weights, in the plain BN layout.

    ``x.bns.<task>.weight`` becomes ``x.weight``; the other tasks' sets are dropped;
    keys without task BN pass unchanged.

    Args:
        state_dict (Mapping[str, Tensor]): Weights with :class:`TaskBatchNorm2d` layers.
        task (str): The BN set to keep.

    Returns:
        OrderedDict[str, Tensor]: Plain-BN weights.

    Raises:
        KeyError: If the state dict has task BN but none for ``task``.

    Example:
        >>> sd = {'bn.bns.cls.weight': 1, 'bn.bns.det.weight': 2, 'conv.weight': 3}
        >>> dict(select_bn_task(sd, 'det'))
        {'bn.weight': 2, 'conv.weight': 3}
    """
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    seen = set()
    for key, value in state_dict.items():
        m = _TASK_KEY.search(key)
        if m is None:
            out[key] = value
            continue
        seen.add(m.group(1))
        if m.group(1) == task:
            out[key[:m.start()] + '.' + key[m.end():]] = value
    if seen and task not in seen:
        raise KeyError(f'no task-specific BN set {task!r} in the checkpoint (has '
                       f'{sorted(seen)})')
    return out


def _listing(title: str, items: Sequence[str]) -> str:
    items = list(items)
    more = f' ... and {len(items) - _MAX_LISTED} more' if len(items) > _MAX_LISTED else ''
    return f'{title} ({len(items)}): {items[:_MAX_LISTED]}{more}'


def merge_task_bn(
        variants: Mapping[str, Mapping[str, torch.Tensor]]) -> 'OrderedDict[str, torch.Tensor]':
    """Merge plain-BN variants of one set of weights into the task-specific layout.

    Non-BN tensors must be identical in all variants; every BN (a prefix with a
    ``running_mean``) gets ``<bn>.bns.<task>.<entry>`` per task.

    Args:
        variants (Mapping[str, Mapping[str, Tensor]]): Task name -> state dict (same
            keys), e.g. ``{'cls': cls_bn, 'det': det_bn}``.

    Returns:
        OrderedDict[str, Tensor]: Weights for a model with ``bn_tasks=tuple(variants)``.

    Raises:
        ValueError: If the key sets or the non-BN tensors differ (the message lists
            the keys).

    Example:
        >>> w, one, two = torch.zeros(1), torch.ones(1), torch.full((1, ), 2.)
        >>> merged = merge_task_bn({'cls': {'c.weight': w, 'bn.running_mean': one},
        ...                         'det': {'c.weight': w, 'bn.running_mean': two}})
        >>> list(merged)
        ['c.weight', 'bn.bns.cls.running_mean', 'bn.bns.det.running_mean']
    """
    tasks = list(variants)
    ref = variants[tasks[0]]
    for task in tasks[1:]:
        other = variants[task]
        if set(other) != set(ref):
            raise ValueError(
                f'BN variants {tasks[0]!r} and {task!r} have different keys:\n' + '\n'.join([
                    _listing(f'only in {tasks[0]}', sorted(set(ref) - set(other))),
                    _listing(f'only in {task}', sorted(set(other) - set(ref)))
                ]))
    bn_prefixes = tuple(k[:-len('running_mean')] for k in ref if k.endswith('running_mean'))
    merged: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    differing = []
    for key, value in ref.items():
        prefix = next((p for p in bn_prefixes if key.startswith(p)), None)
        if prefix is not None:
            for task in tasks:
                merged[f'{prefix}bns.{task}.{key[len(prefix):]}'] = variants[task][key]
            continue
        if any(variants[t][key].shape != value.shape or not torch.equal(variants[t][key], value)
               for t in tasks[1:]):
            differing.append(key)
        merged[key] = value
    if differing:
        raise ValueError(
            _listing('BN variants differ outside BatchNorm layers (not variants of one '
                     'checkpoint?)', differing))
    return merged


def freeze_bn_task(module: nn.Module, task: str) -> None:
    """Replace every :class:`TaskBatchNorm2d` in ``module`` by its ``task`` BN (in place).

    Used by deployment: the model then holds plain BN layers of one task.

    Args:
        module (nn.Module): Model holding task-specific BN layers.
        task (str): The task whose BN set is kept.

    Example:
        >>> bn = nn.Sequential(TaskBatchNorm2d(nn.BatchNorm2d(4), ('cls', 'det')))
        >>> freeze_bn_task(bn, 'det')
        >>> type(bn[0]).__name__
        'BatchNorm2d'
    """
    for name, child in module.named_children():
        if isinstance(child, TaskBatchNorm2d):
            setattr(module, name, child.bns[task])
        else:
            freeze_bn_task(child, task)
