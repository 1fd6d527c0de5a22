"""The freeze contract of intern_mm backbones: which modules a ``frozen_stages`` freezes.

One convention (ResNet's, extended with the head), documented in ``docs/backbones.md``:

* ``frozen_stages = -1``: nothing is frozen;
* ``0``: the stem;
* ``k``: the stem and the first ``k`` stages;
* ``num_freeze_stages`` (the largest value): everything the backbone owns, including a
  pooled head (MetaNet: ``6`` = stem, six stages and the 1280-d head).

A frozen module is in eval mode with ``requires_grad=False``; ``norm_eval=True`` also
keeps every BatchNorm in eval mode while training. :class:`FreezeStagesMixin` implements
``train()`` on top of :meth:`FreezeStagesMixin.stage_modules`, which a backbone defines.
The same contract is used by

* ``train()`` of :class:`~intern_mm.models.backbones.MetaNet` and
  :class:`~intern_mm.models.backbones.CentralModel` (re-applied at every call),
* :class:`~intern_mm.models.backbones.FrozenBackbone` and the feature probes
  (:func:`freeze_module` on the whole backbone),
* :class:`~intern_mm.engine.hooks.FreezeScheduleHook` (``frozen_stages`` events call
  :func:`set_frozen_stages`, so the backbone's own ``train()`` agrees with the schedule).

mmpretrain / mmdet ``ResNet`` follow the same convention natively (``frozen_stages`` 0..4);
:func:`set_frozen_stages` drives them through their ``frozen_stages`` attribute.

Example:
    >>> from intern_mm.models.backbones import MetaNet
    >>> net = MetaNet(arch='tiny', frozen_stages=2)
    >>> [type(m).__name__ for m in net.frozen_modules()]
    ['Sequential', 'MBConv', 'MBConv']
"""
from typing import List, Optional

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'FreezeStagesMixin', 'ResNetStages', 'freeze_module', 'set_norm_eval', 'freeze_contract',
    'set_frozen_stages', 'resnet_types'
]


def freeze_module(module: nn.Module) -> None:
    """Put ``module`` in eval mode and set ``requires_grad=False`` on its parameters.

    Args:
        module (nn.Module): The module to freeze (in place).

    Example:
        >>> bn = nn.BatchNorm2d(4)
        >>> freeze_module(bn)
        >>> bn.training, bn.weight.requires_grad
        (False, False)
    """
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)


def set_norm_eval(module: nn.Module) -> None:
    """Put every BatchNorm inside ``module`` in eval mode (statistics fixed).

    Args:
        module (nn.Module): The module (in place).
    """
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()


class FreezeStagesMixin:
    """``frozen_stages`` / ``norm_eval`` for a backbone that lists its stage modules.

    A subclass sets ``self.frozen_stages`` and ``self.norm_eval`` and implements
    :attr:`num_freeze_stages` and :meth:`stage_modules`; it calls
    :meth:`_freeze_stages` at the end of ``__init__``. ``train()`` re-applies the state
    (mmengine loops call ``model.train()`` every iteration).
    """

    frozen_stages: int = -1
    norm_eval: bool = False

    @property
    def num_freeze_stages(self) -> int:
        """The largest ``frozen_stages`` value (freezes the whole backbone)."""
        raise NotImplementedError

    def stage_modules(self, stage: int) -> List[nn.Module]:
        """Modules of ``stage`` in the freeze convention (0 = stem, 1.. = stages).

        Args:
            stage (int): ``0..num_freeze_stages``.

        Returns:
            list[nn.Module]: What ``frozen_stages >= stage`` freezes beyond
            ``frozen_stages = stage - 1``.
        """
        raise NotImplementedError

    def check_frozen_stages(self, frozen_stages: int) -> None:
        """Raise ``ValueError`` unless ``-1 <= frozen_stages <= num_freeze_stages``."""
        if frozen_stages not in range(-1, self.num_freeze_stages + 1):
            raise ValueError(f'frozen_stages must be in [-1, {self.num_freeze_stages}], '
                             f'got {frozen_stages}')

    def set_frozen_stages(self, frozen_stages: int) -> None:
        """Set the value (checked); :func:`set_frozen_stages` also releases modules."""
        self.check_frozen_stages(frozen_stages)
        self.frozen_stages = frozen_stages

    def frozen_modules(self, frozen_stages: Optional[int] = None) -> List[nn.Module]:
        """The modules frozen at ``frozen_stages`` (default: the current value)."""
        stages = self.frozen_stages if frozen_stages is None else frozen_stages
        return [m for stage in range(stages + 1) for m in self.stage_modules(stage)]

    def norm_eval_modules(self) -> List[nn.Module]:
        """The modules whose BNs ``norm_eval`` keeps in eval mode. Defaults to all."""
        return [self]

    def _freeze_stages(self) -> None:
        for module in self.frozen_modules():
            freeze_module(module)

    def train(self, mode: bool = True):
        """Set train mode, keeping frozen stages (and BNs with ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.norm_eval_modules():
                set_norm_eval(module)
        return self


def resnet_types() -> tuple:
    """The installed mmpretrain / mmdet ``ResNet`` classes (their subclasses included)."""
    import importlib
    types = []
    for module in ('mmpretrain.models.backbones', 'mmdet.models.backbones'):
        try:
            types.append(importlib.import_module(module).ResNet)
        except ImportError:
            continue
    return tuple(types)


class ResNetStages(FreezeStagesMixin):
    """The freeze contract of an mmpretrain / mmdet ``ResNet``, seen from outside.

    ResNet implements the convention natively (``frozen_stages`` 0..4, ``norm_eval``,
    re-applied in its ``train()``); this view lists its stage modules and sets the value.

    Args:
        resnet (nn.Module): The ResNet.
    """

    def __init__(self, resnet: nn.Module) -> None:
        if not isinstance(resnet, resnet_types()):
            raise TypeError(f'{type(resnet).__name__} is not an mmpretrain / mmdet ResNet')
        self.resnet = resnet

    @property
    def frozen_stages(self) -> int:  # type: ignore[override]
        return self.resnet.frozen_stages

    @property
    def num_freeze_stages(self) -> int:
        return len(self.resnet.res_layers)

    def stage_modules(self, stage: int) -> List[nn.Module]:
        net = self.resnet
        if stage == 0:
            return [net.stem] if net.deep_stem else [net.conv1, net.norm1]
        return [getattr(net, net.res_layers[stage - 1])]

    def set_frozen_stages(self, frozen_stages: int) -> None:
        self.check_frozen_stages(frozen_stages)
        self.resnet.frozen_stages = frozen_stages


def freeze_contract(backbone: nn.Module) -> FreezeStagesMixin:
    """The freeze contract of ``backbone``: itself, or the view of a ``ResNet``.

    Args:
        backbone (nn.Module): A :class:`FreezeStagesMixin` backbone or a ResNet.

    Returns:
        FreezeStagesMixin: Has ``frozen_stages``, ``num_freeze_stages``,
        ``frozen_modules()`` and ``set_frozen_stages()``.

    Raises:
        TypeError: For any other backbone (wrap it in ``FrozenBackbone`` or freeze it
            by parameter patterns with ``FreezeScheduleHook``).
    """
    if isinstance(backbone, FreezeStagesMixin):
        return backbone
    if isinstance(backbone, resnet_types()):
        return ResNetStages(backbone)
    raise TypeError(f'{type(backbone).__name__} has no frozen_stages contract (intern_mm '
                    'backbones and mmpretrain / mmdet ResNet have one)')


def set_frozen_stages(backbone: nn.Module, frozen_stages: int) -> None:
    """Change a backbone's ``frozen_stages`` at run time, unfreezing what it releases.

    Modules frozen by the old value but not by the new one get ``requires_grad=True``
    and the backbone's train / eval mode; then the new value is applied, and the
    backbone's own ``train()`` keeps applying it.

    Args:
        backbone (nn.Module): See :func:`freeze_contract`.
        frozen_stages (int): The new value.

    Example:
        >>> from intern_mm.models.backbones import MetaNet
        >>> net = MetaNet(arch='tiny', frozen_stages=6, out_indices=(4, ))
        >>> set_frozen_stages(net, 1)
        >>> net.frozen_stages, next(net.blocks[1].parameters()).requires_grad
        (1, True)
    """
    contract = freeze_contract(backbone)
    released = contract.frozen_modules()
    contract.set_frozen_stages(frozen_stages)
    on_hold = {id(m) for m in contract.frozen_modules()}
    for module in released:
        if id(module) not in on_hold:
            module.train(backbone.training)
            for param in module.parameters():
                param.requires_grad_(True)
    backbone.train(backbone.training)
