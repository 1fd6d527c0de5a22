"""Up-G transfer layer: maps auxiliary-expert features onto one main-stream level."""
import math
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer, is_norm

__all__ = ['TransferLayer']


class TransferLayer(nn.Module):
    """Sum of per-source transforms of auxiliary features to one main-stream level.

    For every source level ``j`` (stride ``s_j``) and the target (stride ``t``):

    * same or coarser source (``s_j >= t``): 1x1 conv (no bias) + BN, then nearest
      upsampling to the target size (factor ``s_j / t``);
    * finer source (``s_j < t``): ``log2(t / s_j)`` 3x3 stride-2 convs (no bias), each
      followed by BN, with ReLU between them.

    Ratios come from the strides (the original hard-coded them by channel count).
    Convs are initialised N(0, 1e-3) and the norms with gamma = beta = 0, so the layer
    initially outputs zeros and the generalist equals its main expert. Sub-module
    names (``convs.layer<j>.<i>``) follow the original ``Cross_Conv_HRNet_Layer``.

    Args:
        src_channels (Sequence[int]): Channels of the source levels (``layer1``, ...).
        src_strides (Sequence[int]): Strides of the source levels.
        out_channels (int): Channels of the target level.
        out_stride (int): Stride of the target level.
        norm_cfg (dict): Config of the norm layers (``BN`` above).
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations (``ReLU`` above).
            Defaults to ``dict(type='ReLU')``.

    Example:
        >>> t = TransferLayer([24, 32], [4, 8], out_channels=32, out_stride=8)
        >>> t([torch.rand(2, 24, 16, 16), torch.rand(2, 32, 8, 8)], (8, 8)).shape
        torch.Size([2, 32, 8, 8])
    """

    def __init__(self,
                 src_channels: Sequence[int],
                 src_strides: Sequence[int],
                 out_channels: int,
                 out_stride: int,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__()
        if len(src_channels) != len(src_strides) or not src_channels:
            raise ValueError('src_channels and src_strides must be non-empty and of '
                             f'equal length, got {src_channels} and {src_strides}')
        self.convs = nn.ModuleDict()
        for j, (cin, stride) in enumerate(zip(src_channels, src_strides)):
            if stride >= out_stride:
                if stride % out_stride:
                    raise ValueError(f'source stride {stride} is not a multiple of '
                                     f'target stride {out_stride}')
                layers = [
                    nn.Conv2d(cin, out_channels, kernel_size=1, bias=False),
                    build_norm_layer(norm_cfg, out_channels)[1]
                ]
            else:
                ratio = out_stride // stride
                num = int(round(math.log2(ratio)))
                if out_stride % stride or 2**num != ratio:
                    raise ValueError(f'target stride {out_stride} must be a power-of-two '
                                     f'multiple of source stride {stride}')
                layers = []
                for _ in range(num - 1):
                    layers += [
                        nn.Conv2d(cin, cin, 3, stride=2, padding=1, bias=False),
                        build_norm_layer(norm_cfg, cin)[1],
                        build_activation_layer(act_cfg)
                    ]
                layers += [
                    nn.Conv2d(cin, out_channels, 3, stride=2, padding=1, bias=False),
                    build_norm_layer(norm_cfg, out_channels)[1]
                ]
            self.convs[f'layer{j + 1}'] = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, mean=0.0, std=1e-3)
            elif is_norm(m) and m.weight is not None:
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[torch.Tensor], size: Tuple[int, int]) -> torch.Tensor:
        """Transform and sum the source features.

        Args:
            feats (Sequence[torch.Tensor]): Source maps (already detached), at least as
                many as this layer has sources.
            size (tuple[int, int]): Spatial size of the target level.

        Returns:
            torch.Tensor: ``(N, out_channels, *size)``.
        """
        out = 0
        for j, conv in enumerate(self.convs.values()):
            y = conv(feats[j])
            if tuple(y.shape[-2:]) != tuple(size):
                y = F.interpolate(y, size=tuple(size), mode='nearest')
            out = out + y
        return out
