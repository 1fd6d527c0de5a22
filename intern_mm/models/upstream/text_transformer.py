"""A small bidirectional Transformer text encoder (used by DeCLIP's text tower)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from intern_mm.registry import MODELS

__all__ = ['TextTransformer']


@MODELS.register_module()
class TextTransformer(BaseModule):
    """Token + position embedding, pre-LN Transformer encoder layers, final LayerNorm.

    Attention is bidirectional (not CLIP's causal mask) so that the same encoder serves
    masked language modelling; padding positions are masked out of attention.

    Args:
        vocab_size (int): Number of token ids.
        context_length (int): Maximum sequence length. Defaults to 32.
        width (int): Model width. Defaults to 256.
        depth (int): Number of layers. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 4.
        mlp_ratio (float): FFN hidden size / width. Defaults to 4.
        dropout (float): Dropout in attention and FFN. Defaults to 0.
        pad_token_id (int): Id of the padding token. Defaults to 0.
        pooling (str): Sentence feature: ``'first'`` (the ``<sot>`` token),
            ``'eot'`` (the last non-padding token, as CLIP) or ``'mean'`` (mean over
            non-padding tokens). Defaults to ``'first'``.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> enc = TextTransformer(vocab_size=50, context_length=8, width=32, depth=1)
        >>> ids = torch.tensor([[2, 7, 9, 3, 0, 0]])
        >>> tokens, pooled = enc(ids)
        >>> tokens.shape, pooled.shape
        (torch.Size([1, 6, 32]), torch.Size([1, 32]))
    """

    POOLINGS = ('first', 'eot', 'mean')

    def __init__(self,
                 vocab_size: int,
                 context_length: int = 32,
                 width: int = 256,
                 depth: int = 4,
                 num_heads: int = 4,
                 mlp_ratio: float = 4.,
                 dropout: float = 0.,
                 pad_token_id: int = 0,
                 pooling: str = 'first',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pooling not in self.POOLINGS:
            raise ValueError(f'pooling must be one of {self.POOLINGS}, got {pooling!r}')
        if width % num_heads != 0:
            raise ValueError(f'width {width} is not divisible by num_heads {num_heads}')
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.width = width
        self.pad_token_id = pad_token_id
        self.pooling = pooling
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.zeros(context_length, width))
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=num_heads,
            dim_feedforward=int(width * mlp_ratio),
            dropout=dropout,
            activation='gelu',
            batch_first=True,
            norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.ln_final = nn.LayerNorm(width)

    def init_weights(self) -> None:
        """CLIP-like initialisation (normal embeddings, truncated-normal linears)."""
        super().init_weights()
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            return
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for m in self.encoder.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, input_ids: Tensor,
                attention_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Encode token ids.

        Args:
            input_ids (Tensor): ``(N, L)`` token ids, ``L <= context_length``.
            attention_mask (Tensor, optional): Bool ``(N, L)``, True at real tokens.
                Defaults to ``input_ids != pad_token_id``.

        Returns:
            Tuple[Tensor, Tensor]: Token features ``(N, L, width)`` and the pooled
            sentence feature ``(N, width)``.
        """
        if input_ids.dim() != 2:
            raise ValueError(f'input_ids must be (N, L), got {tuple(input_ids.shape)}')
        n, length = input_ids.shape
        if length > self.context_length:
            raise ValueError(f'sequence length {length} exceeds context_length '
                             f'{self.context_length}')
        if attention_mask is None:
            attention_mask = input_ids != self.pad_token_id
        attention_mask = attention_mask.bool()
        x = self.token_embedding(input_ids) + self.positional_embedding[:length]
        x = self.encoder(x, src_key_padding_mask=~attention_mask)
        x = self.ln_final(x)
        if self.pooling == 'first':
            pooled = x[:, 0]
        elif self.pooling == 'eot':
            last = attention_mask.long().sum(dim=1).clamp(min=1) - 1
            pooled = x[torch.arange(n, device=x.device), last]
        else:
            m = attention_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.)
        return x, pooled
