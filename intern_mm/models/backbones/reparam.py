"""Exact re-parameterisations behind the backbones' ``switch_to_deploy()``.

Conv -> BN pairs inside containers are fused by :func:`mmcv.cnn.fuse_conv_bn` (which
walks ``named_children`` and folds every BN into the conv right before it). The helpers
here cover the other exact rewrites MetaNet needs:

* a BN *before* a 1x1 convolution (the pre-norm of MBConv) folds into that conv;
* ``x + depthwise_conv(x)`` (the conv positional encoding) is one depthwise conv with
  1 added to the centre tap;
* a per-channel scale after a Linear (layer scale) folds into its weight and bias.

All of them evaluate the same function up to float rounding; BN uses its running
statistics, so the rewrites describe the model in eval mode.
"""
import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn

__all__ = ['fuse_conv_bn', 'fold_bn_into_next_conv', 'fold_residual_into_dwconv',
           'fold_scale_into_linear']


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm):
    """``(scale, shift)`` with ``bn(x) == scale * x + shift`` per channel (eval mode)."""
    if bn.running_var is None:
        raise ValueError('cannot fold a BatchNorm without running statistics '
                         '(track_running_stats=False)')
    scale = torch.rsqrt(bn.running_var + bn.eps)
    shift = -bn.running_mean * scale
    if bn.affine:
        scale = scale * bn.weight
        shift = shift * bn.weight + bn.bias
    return scale, shift


@torch.no_grad()
def fold_bn_into_next_conv(bn: nn.modules.batchnorm._BatchNorm,
                           conv: nn.Conv2d) -> nn.Conv2d:
    """Fold ``conv(bn(x))`` into one convolution (exact for unpadded, ungrouped convs).

    With zero padding the folded conv would pad ``x`` instead of ``bn(x)``, which
    differs at the borders, so only ``padding == 0`` (e.g. 1x1) convs are accepted.

    Args:
        bn (nn.BatchNorm2d): The BN applied first (eval-mode statistics are used).
        conv (nn.Conv2d): The following convolution, ``groups=1``, no padding.

    Returns:
        nn.Conv2d: ``conv`` itself, with updated weight and a (new) bias.

    Example:
        >>> bn, conv = nn.BatchNorm2d(4).eval(), nn.Conv2d(4, 8, 1, bias=False)
        >>> x = torch.rand(2, 4, 5, 5)
        >>> ref = conv(bn(x))
        >>> torch.allclose(fold_bn_into_next_conv(bn, conv)(x), ref, atol=1e-6)
        True
    """
    unpadded = conv.padding == 'valid' or (not isinstance(conv.padding, str)
                                           and all(p == 0 for p in conv.padding))
    if conv.groups != 1 or not unpadded:
        raise ValueError('fold_bn_into_next_conv needs an ungrouped conv without padding, '
                         f'got {conv}')
    scale, shift = _bn_affine(bn)
    weight = conv.weight
    bias = conv.bias if conv.bias is not None else weight.new_zeros(conv.out_channels)
    new_bias = bias + (weight * shift.reshape(1, -1, 1, 1)).sum(dim=(1, 2, 3))
    conv.weight = nn.Parameter(weight * scale.reshape(1, -1, 1, 1))
    conv.bias = nn.Parameter(new_bias)
    return conv


@torch.no_grad()
def fold_residual_into_dwconv(conv: nn.Conv2d) -> nn.Conv2d:
    """Rewrite a depthwise conv ``f`` so that ``f'(x) == x + f(x)``.

    Args:
        conv (nn.Conv2d): Depthwise (``groups == in == out channels``), stride 1, odd
            kernel with "same" padding.

    Returns:
        nn.Conv2d: ``conv`` itself with 1 added to the centre tap.

    Example:
        >>> conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        >>> x = torch.rand(1, 4, 6, 6)
        >>> ref = x + conv(x)
        >>> torch.allclose(fold_residual_into_dwconv(conv)(x), ref, atol=1e-6)
        True
    """
    kh, kw = conv.kernel_size
    if not (conv.groups == conv.in_channels == conv.out_channels and conv.stride == (1, 1)
            and kh % 2 and kw % 2 and conv.padding == (kh // 2, kw // 2)
            and conv.dilation == (1, 1)):
        raise ValueError(f'fold_residual_into_dwconv needs a stride-1 "same" depthwise '
                         f'conv, got {conv}')
    conv.weight[:, 0, kh // 2, kw // 2] += 1
    return conv


@torch.no_grad()
def fold_scale_into_linear(scale: torch.Tensor, linear: nn.Linear) -> nn.Linear:
    """Fold ``scale * linear(x)`` (per output feature) into ``linear``.

    Args:
        scale (torch.Tensor): ``(out_features, )`` scale, e.g. a layer-scale gamma.
        linear (nn.Linear): The linear layer.

    Returns:
        nn.Linear: ``linear`` itself with scaled weight and bias.

    Example:
        >>> lin, gamma = nn.Linear(4, 3), torch.rand(3)
        >>> x = torch.rand(2, 4)
        >>> ref = gamma * lin(x)
        >>> torch.allclose(fold_scale_into_linear(gamma, lin)(x), ref, atol=1e-6)
        True
    """
    if scale.shape != (linear.out_features, ):
        raise ValueError(f'scale of shape {tuple(scale.shape)} does not match '
                         f'{linear.out_features} output features')
    linear.weight.mul_(scale.reshape(-1, 1))
    if linear.bias is not None:
        linear.bias.mul_(scale)
    return linear
