"""MetaNet convolution blocks: MBConv and FusedMBConv with max-pool down-sampling residuals."""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from torch.nn.modules.batchnorm import _BatchNorm

from .channels_last import build_map_activation
from .reparam import fold_bn_into_next_conv, fuse_conv_act, fuse_conv_bn
from .squeeze_excitation import HardSigmoidSE

__all__ = ['MBConv', 'FusedMBConv', 'DownsampleResidual']


class DownsampleResidual(nn.Sequential):
    """Shortcut of a block that changes resolution or width: 3x3 max-pool + 1x1 conv.

    Index 0 is ``MaxPool2d(3, stride, padding=1)``, index 1 a biased 1x1 convolution (the
    original state-dict keys are ``residual.1.weight`` / ``residual.1.bias``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Down-sampling stride of the max pool.

    Example:
        >>> DownsampleResidual(16, 24, 2)(torch.rand(1, 16, 9, 9)).shape
        torch.Size([1, 24, 5, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.MaxPool2d(kernel_size=3, stride=stride, padding=1),
            nn.Conv2d(in_channels, out_channels, kernel_size=1))


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if in_channels != out_channels or stride != 1:
        return DownsampleResidual(in_channels, out_channels, stride)
    return nn.Identity()


def _norm(norm_cfg: dict, channels: int) -> nn.Module:
    return build_norm_layer(norm_cfg, channels)[1]


def _zero_init_last_norm(seq: nn.Sequential) -> None:
    """Zero the scale of the branch's last norm: the block starts as its shortcut."""
    if getattr(seq[-1], 'weight', None) is not None:
        nn.init.zeros_(seq[-1].weight)


class _PreNormResidualBlock(nn.Module):
    """``shortcut(x) + drop_path(b2(b1(x)))``, the forward both MetaNet conv blocks share.

    Subclasses build ``residual``, ``b1`` (or None), ``b2`` and ``drop_path``; the
    norm / activation layers come from ``norm_cfg`` / ``act_cfg`` (defaults BN / GELU,
    GELU built as :class:`~.channels_last.ChannelsLastGELU`).
    """

    deploy = False

    def switch_to_deploy(self) -> None:
        """Fold the BNs into the convolutions (eval-mode statistics; exact).

        Every conv -> BN pair is fused; the pre-norm BN of ``b1`` is folded into the
        following conv when that conv is unpadded (MBConv's 1x1) and kept otherwise
        (FusedMBConv's padded 3x3, where folding would change the borders). Each
        conv -> GELU / ReLU pair then becomes one :class:`~.reparam.ConvAct`. Norms
        other than BN (e.g. GN) have no fixed affine form and stay. Idempotent.
        """
        if self.deploy:
            return
        if self.b1 is not None:
            fuse_conv_bn(self.b1)
            pre_bn, conv = self.b1[0], self.b1[1]
            if (isinstance(pre_bn, _BatchNorm) and pre_bn.running_var is not None
                    and conv.padding in ((0, 0), 'valid')):
                fold_bn_into_next_conv(pre_bn, conv)
                self.b1[0] = nn.Identity()
        fuse_conv_bn(self.b2)
        fuse_conv_act(self)
        self.deploy = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward an NCHW map."""
        shortcut = self.residual(x)
        if self.b1 is not None:
            x = self.b1(x)
        return shortcut + self.drop_path(self.b2(x))


class MBConv(_PreNormResidualBlock):
    """Pre-norm inverted-residual block with a depthwise 3x3 conv and a hard-sigmoid SE.

    ``out = shortcut(x) + drop_path(b2(b1(x)))`` with

    * ``b1`` (only when the width changes or ``stride > 1``): BN -> 1x1 conv (no bias)
      -> BN -> GELU;
    * ``b2``: depthwise 3x3 conv (stride) -> BN -> GELU -> SE -> 1x1 conv -> BN, the last
      BN initialised to zero so that the block starts as its shortcut;
    * ``shortcut``: identity, or 3x3 max-pool (stride) + 1x1 conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int, optional): Output channels. Defaults to ``in_channels``.
        stride (int): Stride of the depthwise conv. Defaults to 1.
        expansion (float): Hidden width = ``int(in_channels * expansion)``. Defaults to 4.
        use_se (bool): Whether to use the SE gate. Defaults to True.
        drop_path (float): Stochastic-depth rate of the residual branch. Defaults to 0.
        norm_cfg (dict): Config of the norm layers (``BN`` above).
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations (``GELU`` above; the SE gate keeps
            its own ReLU / hard sigmoid). Defaults to ``dict(type='GELU')``.

    Example:
        >>> block = MBConv(16, 24, stride=2, expansion=4)
        >>> block(torch.rand(2, 16, 16, 16)).shape
        torch.Size([2, 24, 8, 8])
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 stride: int = 1,
                 expansion: float = 4,
                 use_se: bool = True,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        hidden = int(in_channels * expansion)
        self.residual = _shortcut(in_channels, out_channels, stride)
        self.b1 = None
        if in_channels != hidden or stride != 1:
            self.b1 = nn.Sequential(
                _norm(norm_cfg, in_channels),
                nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False),
                _norm(norm_cfg, hidden), build_map_activation(act_cfg))
        layers = [
            nn.Conv2d(
                hidden,
                hidden,
                kernel_size=3,
                stride=stride,
                padding=1,
                groups=hidden,
                bias=False),
            _norm(norm_cfg, hidden),
            build_map_activation(act_cfg)
        ]
        if use_se:
            layers.append(HardSigmoidSE(hidden))
        layers += [
            nn.Conv2d(hidden, out_channels, kernel_size=1),
            _norm(norm_cfg, out_channels)
        ]
        self.b2 = nn.Sequential(*layers)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        _zero_init_last_norm(self.b2)


class FusedMBConv(_PreNormResidualBlock):
    """Pre-norm fused inverted-residual block (full 3x3 conv expansion) with an SE gate.

    ``out = shortcut(x) + drop_path(b2(b1(x)))`` with

    * ``b1`` (only when ``expansion != 1``): BN -> 3x3 conv (stride, no bias) -> BN -> GELU;
    * ``b2``: SE -> conv (1x1 after an expansion, else 3x3 with the stride) -> BN, the
      last BN initialised to zero;
    * ``shortcut``: identity, or 3x3 max-pool (stride) + 1x1 conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int, optional): Output channels. Defaults to ``in_channels``.
        stride (int): Down-sampling stride. Defaults to 1.
        expansion (float): Hidden width = ``int(in_channels * expansion)``. Defaults to 4.
        use_se (bool): Whether to use the SE gate. Defaults to True.
        drop_path (float): Stochastic-depth rate of the residual branch. Defaults to 0.
        norm_cfg (dict): Config of the norm layers (``BN`` above).
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations (``GELU`` above; the SE gate keeps
            its own ReLU / hard sigmoid). Defaults to ``dict(type='GELU')``.

    Example:
        >>> block = FusedMBConv(16, 24, stride=2, expansion=4)
        >>> block(torch.rand(2, 16, 16, 16)).shape
        torch.Size([2, 24, 8, 8])
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 stride: int = 1,
                 expansion: float = 4,
                 use_se: bool = True,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        hidden = int(in_channels * expansion)
        self.residual = _shortcut(in_channels, out_channels, stride)
        self.b1 = None
        if in_channels != hidden:
            self.b1 = nn.Sequential(
                _norm(norm_cfg, in_channels),
                nn.Conv2d(
                    in_channels, hidden, kernel_size=3, stride=stride, padding=1, bias=False),
                _norm(norm_cfg, hidden), build_map_activation(act_cfg))
            project = nn.Conv2d(hidden, out_channels, kernel_size=1)
        else:
            project = nn.Conv2d(hidden, out_channels, kernel_size=3, stride=stride, padding=1)
        layers = [HardSigmoidSE(hidden)] if use_se else []
        layers += [project, _norm(norm_cfg, out_channels)]
        self.b2 = nn.Sequential(*layers)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        _zero_init_last_norm(self.b2)
