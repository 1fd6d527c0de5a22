"""The expert interface of :class:`~intern_mm.models.backbones.CentralModel`.

An expert is a backbone with four pyramid levels (strides 4, 8, 16, 32) that can be run
level by level, plus a pooled classification head:

* ``level_channels`` / ``level_strides``: channels and strides of levels 0..3,
* ``head_channels``: width of the pooled feature (out index 4),
* ``forward_level(x, level)``: the blocks producing ``level`` from the previous level
  (level 0 starts from the image),
* ``forward_head(x)``: the pooled ``(N, head_channels)`` feature from level 3,
* ``level_stage(level)``: the ``frozen_stages`` value whose stage ends ``level`` (the
  freeze contract of :mod:`~intern_mm.models.backbones.freezing`).

:class:`~intern_mm.models.backbones.MetaNet` implements it natively; mmpretrain / mmdet
``ResNet`` through the thin :class:`ResNetExpert` adapter, which holds a reference to the
ResNet and adds no parameters (state dicts keep the ResNet's own keys). :func:`as_expert`
picks one by type.

Example:
    >>> from mmpretrain.models import ResNet
    >>> expert = as_expert(ResNet(depth=18))
    >>> expert.level_channels, expert.level_strides, expert.head_channels
    ([64, 128, 256, 512], [4, 8, 16, 32], 512)
"""
from abc import ABCMeta, abstractmethod
from typing import List, Sequence

import torch
from torch import nn

from .channels_last import spatial_mean
from .freezing import ResNetStages, resnet_types
from .reparam import fuse_conv_bn

__all__ = ['PyramidExpert', 'ResNetExpert', 'as_expert', 'NUM_LEVELS']

#: Pyramid levels of every expert (strides 4, 8, 16, 32).
NUM_LEVELS = 4


class PyramidExpert(metaclass=ABCMeta):
    """Interface of a CentralModel expert (see the module docstring).

    Implementers provide :attr:`level_channels`, :attr:`level_strides`,
    :attr:`head_channels` and the three methods.
    """

    level_channels: List[int]
    level_strides: Sequence[int]

    @property
    @abstractmethod
    def head_channels(self) -> int:
        """Width of the pooled feature returned by :meth:`forward_head`."""

    @abstractmethod
    def forward_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Run the blocks that produce ``level`` (0..3) from the previous level's map."""

    @abstractmethod
    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled ``(N, head_channels)`` feature from the level-3 map."""

    @abstractmethod
    def level_stage(self, level: int) -> int:
        """The ``frozen_stages`` value whose last stage produces ``level``."""

    @abstractmethod
    def switch_to_deploy(self) -> None:
        """Re-parameterise for inference with equal eval-mode outputs (idempotent)."""


class ResNetExpert(PyramidExpert):
    """mmpretrain / mmdet ``ResNet`` as a :class:`PyramidExpert` (no parameters of its own).

    Args:
        resnet (nn.Module): The ResNet (four residual layers).

    Example:
        >>> from mmpretrain.models import ResNet
        >>> expert = ResNetExpert(ResNet(depth=18))
        >>> expert.forward_level(torch.rand(1, 3, 64, 64), 0).shape
        torch.Size([1, 64, 16, 16])
    """

    def __init__(self, resnet: nn.Module) -> None:
        if not isinstance(resnet, resnet_types()):
            raise TypeError(f'{type(resnet).__name__} is not an mmpretrain / mmdet ResNet')
        if len(resnet.res_layers) != NUM_LEVELS:
            raise ValueError(f'a ResNet expert needs {NUM_LEVELS} residual layers, got '
                             f'{len(resnet.res_layers)}')
        self.resnet = resnet
        self.level_channels = [
            getattr(resnet, name)[-1].out_channels for name in resnet.res_layers
        ]
        strides, stride = [], 4  # the stem (conv + max-pool) has stride 4
        for s in resnet.strides[:NUM_LEVELS]:
            stride *= s
            strides.append(stride)
        self.level_strides = strides
        self.stages = ResNetStages(resnet)

    @property
    def head_channels(self) -> int:
        """Global average pooling keeps the last level's width."""
        return self.level_channels[-1]

    def forward_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Level 0 runs the stem as ``ResNet.forward`` does (conv, norm, ReLU or the
        deep stem, then max-pool) and the first residual layer."""
        net = self.resnet
        if level == 0:
            x = net.stem(x) if net.deep_stem else net.relu(net.norm1(net.conv1(x)))
            x = net.maxpool(x)
        return getattr(net, net.res_layers[level])(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Global average pooling of the level-3 map."""
        return spatial_mean(x)

    def level_stage(self, level: int) -> int:
        """Residual layer ``level + 1`` ends ``level`` (ResNet's convention)."""
        return level + 1

    def switch_to_deploy(self) -> None:
        """Fuse every conv -> BN pair of the ResNet."""
        fuse_conv_bn(self.resnet)


def as_expert(backbone: nn.Module) -> PyramidExpert:
    """The :class:`PyramidExpert` view of a backbone, chosen by type.

    Args:
        backbone (nn.Module): A :class:`PyramidExpert` (MetaNet) or a ResNet.

    Returns:
        PyramidExpert: ``backbone`` itself, or a :class:`ResNetExpert` around it.

    Raises:
        TypeError: For any other backbone.
    """
    if isinstance(backbone, PyramidExpert):
        return backbone
    if isinstance(backbone, resnet_types()):
        return ResNetExpert(backbone)
    raise TypeError(f'{type(backbone).__name__} is not a supported CentralModel expert: '
                    'use MetaNet or a ResNet (mmpretrain / mmdet), or implement '
                    'intern_mm.models.backbones.expert.PyramidExpert')
