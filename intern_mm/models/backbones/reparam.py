"""Exact re-parameterisations behind the backbones' ``switch_to_deploy()``.

Conv -> BN pairs inside containers are fused by :func:`mmcv.cnn.fuse_conv_bn` (which
walks ``named_children`` and folds every BN into the conv right before it). The helpers
here cover the other exact rewrites MetaNet needs:

* a BN *before* a 1x1 convolution (the pre-norm of MBConv) folds into that conv;
* ``x + depthwise_conv(x)`` (the conv positional encoding) is one depthwise conv with
  1 added to the centre tap;
* a per-channel scale after a Linear (layer scale) folds into its weight and bias;
* a convolution followed by an exact GELU or a ReLU becomes a :class:`ConvAct`, which
  runs both as one oneDNN kernel on CPU (the activation as a post-op).

All of them evaluate the same function up to float rounding; BN uses its running
statistics, so the rewrites describe the model in eval mode.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import fuse_conv_bn

from .channels_last import ChannelsLastGELU, gelu

__all__ = ['fuse_conv_bn', 'fold_bn_into_next_conv', 'fold_residual_into_dwconv',
           'fold_scale_into_linear', 'ConvAct', 'fuse_conv_act']

#: oneDNN's convolution with a fused pointwise post-op (what inductor emits for CPU).
_CONV_POINTWISE = (torch.ops.mkldnn._convolution_pointwise
                   if torch.backends.mkldnn.is_available()
                   and hasattr(torch.ops.mkldnn, '_convolution_pointwise') else None)


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


class ConvAct(nn.Conv2d):
    """``act(conv(x))`` for an exact GELU or a ReLU, fused into one oneDNN kernel on CPU.

    Same parameters and state-dict keys as the :class:`torch.nn.Conv2d` it replaces. The
    fused kernel (the activation as a oneDNN post-op, so the convolution's output is
    not written and read again) runs for float32 CPU inputs when no gradient is needed;
    otherwise (autograd, CUDA, autocast, TorchScript or ONNX export) the module runs
    the convolution and the activation as two operators, with the same result up to
    float rounding.

    Args:
        *args: :class:`torch.nn.Conv2d` arguments (zero padding only).
        act (str): ``'gelu'`` (exact, erf-based) or ``'relu'``. Defaults to ``'gelu'``.
        **kwargs: :class:`torch.nn.Conv2d` keyword arguments.

    Example:
        >>> conv = nn.Conv2d(4, 8, 3, padding=1)
        >>> x = torch.rand(2, 4, 6, 6)
        >>> ref = F.gelu(conv(x))
        >>> with torch.no_grad():
        ...     out = ConvAct.from_conv(conv, 'gelu')(x)
        >>> torch.allclose(out, ref, atol=1e-6)
        True
    """

    ACTS = ('gelu', 'relu')

    def __init__(self, *args, act: str = 'gelu', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if act not in self.ACTS:
            raise ValueError(f'act must be one of {self.ACTS}, got {act!r}')
        if self.padding_mode != 'zeros' or isinstance(self.padding, str):
            raise ValueError(f'ConvAct needs numeric zero padding, got {self.padding!r} / '
                             f'{self.padding_mode!r}')
        self.act = act

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, act: str) -> 'ConvAct':
        """A :class:`ConvAct` sharing ``conv``'s parameters (no copy)."""
        fused = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                    act=act, device='meta')
        fused.weight = conv.weight
        fused.bias = conv.bias
        fused.train(conv.training)
        return fused

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, act={self.act}'

    def _fusable(self, x: torch.Tensor) -> bool:
        return (_CONV_POINTWISE is not None and x.device.type == 'cpu'
                and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and not (torch.is_grad_enabled() and
                         (x.requires_grad or self.weight.requires_grad))
                and not torch.is_autocast_enabled('cpu') and not torch.jit.is_scripting()
                and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``act(conv(x))``."""
        if self._fusable(x):
            return _CONV_POINTWISE(x, self.weight, self.bias, self.padding, self.stride,
                                   self.dilation, self.groups, self.act, [],
                                   'none' if self.act == 'gelu' else '')
        y = super().forward(x)
        return gelu(y) if self.act == 'gelu' else F.relu(y)


def _activation_name(module: nn.Module) -> Optional[str]:
    if type(module) in (nn.GELU, ChannelsLastGELU) and module.approximate == 'none':
        return 'gelu'
    if type(module) is nn.ReLU:
        return 'relu'
    return None


def fuse_conv_act(module: nn.Module) -> nn.Module:
    """Replace every ``Conv2d -> [Identity ...] -> GELU / ReLU`` run inside the
    ``nn.Sequential`` containers of ``module`` by a :class:`ConvAct`.

    The activation's slot becomes an ``nn.Identity`` so that the container's indices and
    state-dict keys do not change. Run it after BN folding (which leaves the Identity
    slots). Only plain ``nn.Conv2d`` with zero padding and exact GELU / ReLU are fused.

    Args:
        module (nn.Module): The module to rewrite in place.

    Returns:
        nn.Module: ``module``.

    Example:
        >>> seq = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Identity(), nn.GELU())
        >>> fuse_conv_act(seq)[0].act, type(seq[2]).__name__
        ('gelu', 'Identity')
    """
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        children = list(seq)
        for i, conv in enumerate(children):
            if type(conv) is not nn.Conv2d or conv.padding_mode != 'zeros' or isinstance(
                    conv.padding, str):
                continue
            j = i + 1
            while j < len(children) and type(children[j]) is nn.Identity:
                j += 1
            act = _activation_name(children[j]) if j < len(children) else None
            if act is None:
                continue
            seq[i] = ConvAct.from_conv(conv, act)
            seq[j] = nn.Identity()
            children[i], children[j] = seq[i], seq[j]
    return module
