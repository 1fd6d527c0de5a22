"""MetaNet transformer blocks: MHSA / XCA attention, conv positional encoding, layer scale."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmcv.cnn.bricks import DropPath

from .mbconv import DownsampleResidual
from .reparam import fold_residual_into_dwconv, fold_scale_into_linear

__all__ = ['Mlp', 'MultiHeadSelfAttention', 'CrossCovarianceAttention', 'MetaAttentionBlock']


class Mlp(nn.Module):
    """Token MLP: Linear -> GELU -> dropout -> Linear -> dropout (``fc1`` / ``fc2``).

    Args:
        in_features (int): Input width.
        hidden_features (int): Hidden width.
        out_features (int, optional): Output width. Defaults to ``in_features``.
        drop (float): Dropout rate. Defaults to 0.
        act_cfg (dict): Config of the activation. Defaults to ``dict(type='GELU')``.

    Example:
        >>> Mlp(8, 16)(torch.rand(2, 5, 8)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: int,
                 out_features: Optional[int] = None,
                 drop: float = 0.,
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward ``(B, N, C)`` tokens."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention over tokens with an optional output width.

    Uses :func:`torch.nn.functional.scaled_dot_product_attention` (scale
    ``head_dim ** -0.5``).

    Args:
        dim (int): Token width; ``num_heads`` must divide it.
        out_dim (int, optional): Width after the output projection. Defaults to ``dim``.
        num_heads (int): Number of heads. Defaults to 8.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        attn_drop (float): Attention dropout (training only). Defaults to 0.
        proj_drop (float): Output dropout. Defaults to 0.

    Example:
        >>> MultiHeadSelfAttention(32, 64, num_heads=2)(torch.rand(2, 10, 32)).shape
        torch.Size([2, 10, 64])
    """

    def __init__(self,
                 dim: int,
                 out_dim: Optional[int] = None,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, out_dim or dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _qkv(self, x: torch.Tensor):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, N, head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward ``(B, N, C)`` tokens."""
        B, N, C = x.shape
        q, k, v = self._qkv(x)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class CrossCovarianceAttention(MultiHeadSelfAttention):
    """Cross-covariance attention (XCiT): attention between channels, not tokens.

    Per head, queries and keys are L2-normalised along the tokens and the
    ``head_dim x head_dim`` attention logits are scaled by a learnable per-head
    ``temperature``. Computed with :func:`torch.nn.functional.scaled_dot_product_attention`
    (temperature folded into the queries, ``scale=1``).

    Args:
        dim (int): Token width; ``num_heads`` must divide it.
        out_dim (int, optional): Width after the output projection. Defaults to ``dim``.
        num_heads (int): Number of heads. Defaults to 8.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        attn_drop (float): Attention dropout (training only). Defaults to 0.
        proj_drop (float): Output dropout. Defaults to 0.

    Example:
        >>> CrossCovarianceAttention(32, num_heads=2)(torch.rand(2, 10, 32)).shape
        torch.Size([2, 10, 32])
    """

    def __init__(self, dim: int, out_dim: Optional[int] = None, num_heads: int = 8,
                 **kwargs) -> None:
        super().__init__(dim, out_dim, num_heads=num_heads, **kwargs)
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward ``(B, N, C)`` tokens."""
        B, N, C = x.shape
        q, k, v = (t.transpose(-2, -1) for t in self._qkv(x))  # (B, heads, head_dim, N)
        q = F.normalize(q, dim=-1) * self.temperature
        k = F.normalize(k, dim=-1)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0., scale=1.0)
        x = x.permute(0, 3, 1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class MetaAttentionBlock(nn.Module):
    """MetaNet transformer block on NCHW maps.

    The block first adds a depthwise 3x3 conv positional encoding (``x + pos_embed(x)``).

    * Same width and stride 1: pre-norm attention and MLP residuals with layer scale,
      ``x + drop_path(gamma_1 * attn(norm1(x)))``, ``x + drop_path(gamma_2 * mlp(norm2(x)))``.
    * Otherwise (down-sampling / widening block, no MLP): ``shortcut(x) + gamma_1 *
      attn(maxpool(norm1(x)))`` where the attention projects to the new width and the
      shortcut is 3x3 max-pool + 1x1 conv.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Down-sampling stride. Defaults to 1.
        expansion (float): MLP ratio. Defaults to 4.
        head_dim (int): Channels per head; ``num_heads = in_channels // head_dim``.
            Defaults to 32.
        attn_type (str): ``'mhsa'`` (multi-head self-attention) or ``'xca'``
            (cross-covariance attention). Defaults to ``'mhsa'``.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        drop (float): Dropout after the projections / MLP. Defaults to 0.
        attn_drop (float): Attention dropout. Defaults to 0.
        drop_path (float): Stochastic-depth rate (same-width blocks only, as in the
            original). Defaults to 0.
        layer_scale_init (float): Initial layer-scale value. Defaults to 1e-6.
        act_cfg (dict): Config of the MLP activation (the norms are LayerNorms, as in
            the original). Defaults to ``dict(type='GELU')``.

    Example:
        >>> block = MetaAttentionBlock(32, 64, stride=2, head_dim=16)
        >>> block(torch.rand(2, 32, 8, 12)).shape
        torch.Size([2, 64, 4, 6])
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 expansion: float = 4,
                 head_dim: int = 32,
                 attn_type: str = 'mhsa',
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 layer_scale_init: float = 1e-6,
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        attn_classes = dict(mhsa=MultiHeadSelfAttention, xca=CrossCovarianceAttention)
        if attn_type not in attn_classes:
            raise ValueError(f'attn_type must be one of {sorted(attn_classes)}, '
                             f'got {attn_type!r}')
        if in_channels % head_dim != 0:
            raise ValueError(f'in_channels {in_channels} is not divisible by '
                             f'head_dim {head_dim}')
        self.downsample = stride != 1 or in_channels != out_channels
        self.norm1 = nn.LayerNorm(in_channels)
        self.pos_embed = nn.Conv2d(
            in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.attn = attn_classes[attn_type](
            in_channels,
            out_channels,
            num_heads=in_channels // head_dim,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop)
        self.gamma_1 = nn.Parameter(layer_scale_init * torch.ones(out_channels))
        if self.downsample:
            self.ds = nn.MaxPool2d(kernel_size=3, stride=stride, padding=1)
            self.residual = DownsampleResidual(in_channels, out_channels, stride)
            self.drop_path = nn.Identity()
        else:
            self.norm2 = nn.LayerNorm(in_channels)
            self.mlp = Mlp(
                in_channels, int(in_channels * expansion), drop=drop, act_cfg=act_cfg)
            self.gamma_2 = nn.Parameter(layer_scale_init * torch.ones(out_channels))
            self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    deploy = False

    def switch_to_deploy(self) -> None:
        """Fold the positional-encoding residual and the layer scales (exact).

        ``x + pos_embed(x)`` becomes one depthwise conv, ``gamma_1`` / ``gamma_2`` are
        folded into the attention output projection / second MLP layer (and removed
        from the state dict). Idempotent.
        """
        if self.deploy:
            return
        fold_residual_into_dwconv(self.pos_embed)
        fold_scale_into_linear(self.gamma_1, self.attn.proj)
        self.gamma_1 = None
        if not self.downsample:
            fold_scale_into_linear(self.gamma_2, self.mlp.fc2)
            self.gamma_2 = None
        self.deploy = True

    @staticmethod
    def _scale(gamma: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return x if gamma is None else gamma * x

    @staticmethod
    def _to_tokens(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)

    @staticmethod
    def _to_map(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward an NCHW map; returns an NCHW map."""
        x = self.pos_embed(x) if self.deploy else x + self.pos_embed(x)
        if not self.downsample:
            h, w = x.shape[-2:]
            t = self._to_tokens(x)
            t = t + self.drop_path(self._scale(self.gamma_1, self.attn(self.norm1(t))))
            t = t + self.drop_path(self._scale(self.gamma_2, self.mlp(self.norm2(t))))
            return self._to_map(t, h, w)
        shortcut = self.residual(x)
        t = self.norm1(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        t = self.ds(t)
        h, w = t.shape[-2:]
        t = self._scale(self.gamma_1, self.attn(self._to_tokens(t)))
        return shortcut + self._to_map(t, h, w)
