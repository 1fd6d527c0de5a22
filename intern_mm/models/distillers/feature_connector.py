"""Connector mapping a student feature onto the shape of the teacher's feature."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from intern_mm.registry import MODELS

__all__ = ['FeatureConnector']


@MODELS.register_module()
class FeatureConnector(BaseModule):
    """1x1 conv + BN from student channels to teacher channels, then resize if needed.

    Vectors ``(N, C)`` (e.g. MetaNet's pooled output, index 4) are treated as ``1x1``
    maps and returned as vectors. When the student map's spatial size differs from
    ``target_size`` given to :meth:`forward`, the mapped feature is bilinearly resized to
    it (strides of student and teacher may differ).

    Args:
        in_channels (int): Student channels.
        out_channels (int): Teacher channels.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None
            (PyTorch's default conv init, BN weight 1 / bias 0).

    Example:
        >>> conn = FeatureConnector(16, 32)
        >>> conn(torch.rand(2, 16, 8, 8), target_size=(4, 4)).shape
        torch.Size([2, 32, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, feat: torch.Tensor,
                target_size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Map ``feat`` to the teacher's channels (and spatial size).

        Args:
            feat (Tensor): ``(N, C_s, H, W)`` or ``(N, C_s)``.
            target_size (Sequence[int], optional): ``(H_t, W_t)`` of the teacher map.

        Returns:
            Tensor: ``(N, C_t, H_t, W_t)`` (or ``(N, C_t)`` for vectors).
        """
        vector = feat.dim() == 2
        x = feat[:, :, None, None] if vector else feat
        x = self.bn(self.conv(x))
        if vector:
            return x.flatten(1)
        if target_size is not None and tuple(x.shape[-2:]) != tuple(target_size):
            x = F.interpolate(x, size=tuple(target_size), mode='bilinear',
                              align_corners=False)
        return x
