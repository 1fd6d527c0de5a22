"""Masked language modelling loss (DeCLIP's text self-supervision)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from intern_mm.registry import MODELS

__all__ = ['MaskedLMLoss', 'mask_tokens']


def mask_tokens(input_ids: Tensor,
                mask_token_id: int,
                vocab_size: int,
                maskable: Tensor,
                mask_prob: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """BERT-style masking: choose ``mask_prob`` of the maskable tokens (at least one per
    sequence that has one), replace 80% of them by ``mask_token_id``, 10% by a random
    token and keep 10%.

    Args:
        input_ids (Tensor): Token ids ``(N, L)``.
        mask_token_id (int): Id of the mask token.
        vocab_size (int): Size of the vocabulary (random replacements are drawn from
            ``[0, vocab_size)``).
        maskable (Tensor): Bool ``(N, L)``, True where a token may be masked (not padding
            or special tokens).
        mask_prob (float): Fraction of maskable tokens to choose. Defaults to 0.15.
        generator (torch.Generator, optional): Random generator. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: The corrupted ids ``(N, L)`` and the bool mask ``(N, L)``
        of the chosen positions (the positions the loss is computed on).

    Example:
        >>> ids = torch.tensor([[2, 7, 8, 9, 3, 0]])
        >>> maskable = (ids > 4)
        >>> new_ids, chosen = mask_tokens(ids, 4, 20, maskable, mask_prob=0.5)
        >>> bool((chosen & ~maskable).any())
        False
    """
    device = input_ids.device
    scores = torch.rand(input_ids.shape, generator=generator).to(device)
    chosen = (scores < mask_prob) & maskable
    # guarantee one masked token per sequence that has a maskable token
    best = torch.where(maskable, scores, torch.full_like(scores, 2.)).argmin(dim=1)
    has_any = maskable.any(dim=1)
    chosen[has_any, best[has_any]] = True
    action = torch.rand(input_ids.shape, generator=generator).to(device)
    random_ids = torch.randint(0, vocab_size, input_ids.shape, generator=generator).to(device)
    corrupted = input_ids.clone()
    corrupted[chosen & (action < 0.8)] = mask_token_id
    replace = chosen & (action >= 0.8) & (action < 0.9)
    corrupted[replace] = random_ids[replace]
    return corrupted, chosen


@MODELS.register_module()
class MaskedLMLoss(nn.Module):
    """Cross-entropy of the token predictions on the masked positions only.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 0.2.

    Example:
        >>> logits = torch.randn(2, 5, 10)
        >>> target = torch.randint(0, 10, (2, 5))
        >>> mask = torch.zeros(2, 5, dtype=torch.bool); mask[0, 1] = True
        >>> MaskedLMLoss(loss_weight=1.)(logits, target, mask).shape
        torch.Size([])
    """

    def __init__(self, loss_weight: float = 0.2) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Compute the weighted loss.

        Args:
            logits (Tensor): Token logits ``(N, L, V)``.
            target (Tensor): Original token ids ``(N, L)``.
            mask (Tensor): Bool ``(N, L)``; True at the masked positions.

        Returns:
            Tensor: Mean cross-entropy over the masked positions, times ``loss_weight``.
            Zero (still connected to ``logits``, for DDP) when nothing is masked.
        """
        if logits.shape[:2] != target.shape or target.shape != mask.shape:
            raise ValueError('MaskedLMLoss: logits (N, L, V), target (N, L) and mask '
                             f'(N, L) disagree: {tuple(logits.shape)}, '
                             f'{tuple(target.shape)}, {tuple(mask.shape)}')
        mask = mask.bool()
        if not mask.any():
            return logits.sum() * 0.
        loss = F.cross_entropy(logits[mask], target[mask])
        return self.loss_weight * loss
