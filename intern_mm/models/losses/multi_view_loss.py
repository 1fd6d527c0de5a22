"""DeCLIP's multi-view supervision: InfoNCE over every image-view x text-view pair."""
from typing import Sequence

import torch.nn as nn
from torch import Tensor

from intern_mm.registry import MODELS
from .dist_utils import gather_features
from .infonce_loss import symmetric_infonce

__all__ = ['MultiViewInfoNCELoss']


@MODELS.register_module()
class MultiViewInfoNCELoss(nn.Module):
    """Mean symmetric InfoNCE over all pairs of image views and text views.

    With two augmented image views and two text views (the caption and an EDA-augmented
    copy) this is DeCLIP's multi-view supervision: four image-text pairs per sample.
    Every view is gathered across processes once.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 0.2.
        gather_distributed (bool): Use every process's embeddings as negatives.
            Defaults to True.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> imgs = [F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2)]
        >>> txts = [F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2)]
        >>> MultiViewInfoNCELoss()(imgs, txts, logit_scale=10.).shape
        torch.Size([])
    """

    def __init__(self, loss_weight: float = 0.2, gather_distributed: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.gather_distributed = gather_distributed

    def forward(self, image_embeds: Sequence[Tensor], text_embeds: Sequence[Tensor],
                logit_scale: Tensor | float) -> Tensor:
        """Compute the weighted loss.

        Args:
            image_embeds (Sequence[Tensor]): ``V_i`` image views, each ``(N, D)``,
                L2-normalised.
            text_embeds (Sequence[Tensor]): ``V_t`` text views, each ``(N, D)``.
            logit_scale (Tensor | float): Similarity multiplier.

        Returns:
            Tensor: ``loss_weight *`` the mean InfoNCE over the ``V_i * V_t`` pairs.
        """
        if len(image_embeds) == 0 or len(text_embeds) == 0:
            raise ValueError('MultiViewInfoNCELoss needs at least one image view and one '
                             f'text view, got {len(image_embeds)} and {len(text_embeds)}')
        gather = gather_features if self.gather_distributed else (lambda x: (x, 0))
        imgs = [gather(x) for x in image_embeds]
        txts = [gather(x) for x in text_embeds]
        losses = []
        for img, (all_img, offset) in zip(image_embeds, imgs):
            for txt, (all_txt, _) in zip(text_embeds, txts):
                losses.append(
                    symmetric_infonce(img, txt, logit_scale, all_img, all_txt, offset))
        return self.loss_weight * sum(losses) / len(losses)
