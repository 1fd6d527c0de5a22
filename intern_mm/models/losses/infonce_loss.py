"""CLIP's symmetric InfoNCE loss with cross-process negatives."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from intern_mm.registry import MODELS
from .dist_utils import gather_features

__all__ = ['InfoNCELoss', 'symmetric_infonce']


def symmetric_infonce(image_embeds: Tensor,
                      text_embeds: Tensor,
                      logit_scale: Tensor | float,
                      all_image_embeds: Optional[Tensor] = None,
                      all_text_embeds: Optional[Tensor] = None,
                      offset: int = 0) -> Tensor:
    """Symmetric image-text InfoNCE of the local rows against all (gathered) rows.

    Row ``i`` of ``image_embeds`` and ``text_embeds`` is a positive pair; every other
    row of the gathered tensors is a negative. The loss is the mean of the image->text
    and text->image cross-entropies over the local rows ("local loss"): averaged over
    processes it equals the full-batch CLIP loss.

    Args:
        image_embeds (Tensor): Local L2-normalised image embeddings ``(N, D)``.
        text_embeds (Tensor): Local L2-normalised text embeddings ``(N, D)``.
        logit_scale (Tensor | float): Multiplier of the cosine similarities
            (CLIP's ``exp(t)``).
        all_image_embeds (Tensor, optional): Image embeddings of all processes
            ``(M, D)``. Defaults to ``image_embeds``.
        all_text_embeds (Tensor, optional): Text embeddings of all processes
            ``(M, D)``. Defaults to ``text_embeds``.
        offset (int): Index of the first local row inside the gathered tensors.
            Defaults to 0.

    Returns:
        Tensor: The scalar loss.

    Example:
        >>> x = F.normalize(torch.randn(4, 8), dim=-1)
        >>> symmetric_infonce(x, x, 100.) < 1e-3
        tensor(True)
    """
    if image_embeds.shape != text_embeds.shape:
        raise ValueError('image and text embeddings must have the same shape, got '
                         f'{tuple(image_embeds.shape)} and {tuple(text_embeds.shape)}')
    all_image_embeds = image_embeds if all_image_embeds is None else all_image_embeds
    all_text_embeds = text_embeds if all_text_embeds is None else all_text_embeds
    labels = torch.arange(image_embeds.shape[0], device=image_embeds.device) + offset
    logits_per_image = logit_scale * image_embeds @ all_text_embeds.t()
    logits_per_text = logit_scale * text_embeds @ all_image_embeds.t()
    return (F.cross_entropy(logits_per_image, labels) +
            F.cross_entropy(logits_per_text, labels)) / 2


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """CLIP's symmetric InfoNCE loss; negatives gathered across processes under DDP.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 0.4 (DeCLIP's CLIP weight).
        gather_distributed (bool): Use the image and text embeddings of every process
            as negatives (with gradients, see :func:`gather_features`). Defaults to True.

    Example:
        >>> loss = InfoNCELoss(loss_weight=1.0)
        >>> x = F.normalize(torch.randn(4, 8), dim=-1)
        >>> loss(x, x, logit_scale=100.) < 1e-3
        tensor(True)
    """

    def __init__(self, loss_weight: float = 0.4, gather_distributed: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.gather_distributed = gather_distributed

    def forward(self, image_embeds: Tensor, text_embeds: Tensor,
                logit_scale: Tensor | float) -> Tensor:
        """Compute the weighted loss.

        Args:
            image_embeds (Tensor): L2-normalised image embeddings ``(N, D)``.
            text_embeds (Tensor): L2-normalised text embeddings ``(N, D)``; row ``i``
                describes image ``i``.
            logit_scale (Tensor | float): Similarity multiplier.

        Returns:
            Tensor: ``loss_weight *`` the symmetric InfoNCE.
        """
        if self.gather_distributed:
            all_img, offset = gather_features(image_embeds)
            all_txt, _ = gather_features(text_embeds)
        else:
            all_img, all_txt, offset = image_embeds, text_embeds, 0
        return self.loss_weight * symmetric_infonce(image_embeds, text_embeds, logit_scale,
                                                    all_img, all_txt, offset)
