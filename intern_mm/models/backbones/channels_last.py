"""Operators on feature maps that keep channels_last (NHWC) tensors on PyTorch's dense
CPU kernels, forward and backward, with the values of the standard operators."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer

__all__ = ['ChannelsLastGELU', 'gelu', 'spatial_mean', 'build_map_activation']


def _is_strictly_channels_last(x: torch.Tensor) -> bool:
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def gelu(x: torch.Tensor, approximate: str = 'none') -> torch.Tensor:
    """:func:`torch.nn.functional.gelu` that runs a channels_last 4-D tensor as the
    dense NHWC tensor it is.

    PyTorch's CPU GELU kernels (forward and backward) take a slower path for a
    channels_last tensor than for a contiguous one of the same size. This function
    applies GELU to the contiguous ``(N, H, W, C)`` view and returns the result as a
    channels_last ``(N, C, H, W)`` tensor, so forward and backward both take the dense
    kernel. Other inputs go straight to :func:`torch.nn.functional.gelu`. Output and
    gradient equal, bit for bit, those of :func:`torch.nn.functional.gelu` on the same
    values in contiguous format (PyTorch's channels_last kernel itself may differ from
    them in the last bit).

    Args:
        x (torch.Tensor): Input of any shape.
        approximate (str): ``'none'`` (exact, erf-based) or ``'tanh'``. Defaults to
            ``'none'``.

    Returns:
        torch.Tensor: ``GELU(x)``, in ``x``'s memory format.

    Example:
        >>> x = torch.randn(2, 8, 4, 4).contiguous(memory_format=torch.channels_last)
        >>> y = gelu(x)
        >>> torch.equal(y, F.gelu(x.contiguous()))
        True
        >>> y.is_contiguous(memory_format=torch.channels_last)
        True
    """
    if _is_strictly_channels_last(x):
        return F.gelu(x.permute(0, 2, 3, 1), approximate=approximate).permute(0, 3, 1, 2)
    return F.gelu(x, approximate=approximate)


class ChannelsLastGELU(nn.GELU):
    """:class:`torch.nn.GELU` computed by :func:`gelu`: same function, no parameters,
    faster on channels_last feature maps on CPU.

    Args:
        approximate (str): ``'none'`` (exact, erf-based) or ``'tanh'``. Defaults to
            ``'none'``.

    Example:
        >>> act = ChannelsLastGELU()
        >>> x = torch.randn(2, 8, 4, 4).contiguous(memory_format=torch.channels_last)
        >>> torch.equal(act(x), nn.GELU()(x.contiguous()))
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``GELU(x)``."""
        return gelu(x, self.approximate)


def spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling ``(N, C, H, W) -> (N, C)``, equal to
    ``F.adaptive_avg_pool2d(x, 1).flatten(1)``.

    Computed as a sum divided by ``H * W``, so its gradient is a broadcast view of the
    ``(N, C)`` gradient. The gradient of :func:`torch.nn.functional.adaptive_avg_pool2d`
    is materialised as a contiguous ``(N, C, H, W)`` tensor, which for a channels_last
    feature map then meets NHWC gradients in a slow mixed-format addition.

    Args:
        x (torch.Tensor): Feature map ``(N, C, H, W)``, any memory format.

    Returns:
        torch.Tensor: The per-channel means, ``(N, C)``.

    Example:
        >>> x = torch.randn(2, 8, 5, 7)
        >>> torch.equal(spatial_mean(x), F.adaptive_avg_pool2d(x, 1).flatten(1))
        True
    """
    return x.sum((2, 3)) / (x.shape[2] * x.shape[3])


def build_map_activation(act_cfg: dict) -> nn.Module:
    """:func:`mmcv.cnn.build_activation_layer` for activations on NCHW feature maps,
    with a GELU built as :class:`ChannelsLastGELU` (same function, faster on
    channels_last maps on CPU; :func:`~.reparam.fuse_conv_act` fuses it like
    :class:`torch.nn.GELU`).

    Args:
        act_cfg (dict): Activation config, e.g. ``dict(type='GELU')`` or
            ``dict(type='ReLU', inplace=True)``.

    Returns:
        nn.Module: The activation layer.

    Example:
        >>> type(build_map_activation(dict(type='GELU'))).__name__
        'ChannelsLastGELU'
        >>> build_map_activation(dict(type='ReLU'))
        ReLU()
    """
    if not isinstance(act_cfg, dict) or 'type' not in act_cfg:
        raise TypeError(f'act_cfg must be a dict with a "type", got {act_cfg!r}')
    cfg = dict(act_cfg)
    if cfg['type'] in ('GELU', nn.GELU):
        cfg.pop('type')
        return ChannelsLastGELU(**cfg)
    return build_activation_layer(cfg)
