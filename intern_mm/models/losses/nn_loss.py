"""DeCLIP's nearest-neighbour supervision from a text-feature memory bank."""
import torch.nn as nn
from torch import Tensor

from intern_mm.registry import MODELS
from .dist_utils import gather_features
from .infonce_loss import symmetric_infonce
from .memory_bank import FeatureMemoryBank

__all__ = ['NearestNeighbourLoss']


@MODELS.register_module()
class NearestNeighbourLoss(nn.Module):
    """InfoNCE between images and the nearest neighbours of their captions.

    For each caption embedding the top-1 cosine neighbour in a FIFO bank of earlier
    text embeddings is an extra positive of the image (negatives: the neighbours of the
    other captions, gathered across processes). After the loss, the (gathered, detached)
    caption embeddings are pushed into the bank, so every process keeps the same bank.
    While the bank is empty the loss is zero (still connected to the inputs).

    Args:
        embed_dim (int): Dimension of the text embeddings.
        bank_size (int): Number of text embeddings in the bank (DeCLIP: ``2 ** 16``).
            Defaults to 4096.
        loss_weight (float): Weight of the loss. Defaults to 0.2.
        gather_distributed (bool): Gather images, neighbours and enqueued texts across
            processes. Defaults to True.

    Example:
        >>> import torch, torch.nn.functional as F
        >>> loss = NearestNeighbourLoss(embed_dim=8, bank_size=16)
        >>> img = F.normalize(torch.randn(4, 8), dim=-1)
        >>> txt = F.normalize(torch.randn(4, 8), dim=-1)
        >>> float(loss(img, txt, 10.))   # empty bank -> 0, then the texts are enqueued
        0.0
        >>> len(loss.bank)
        4
    """

    def __init__(self,
                 embed_dim: int,
                 bank_size: int = 4096,
                 loss_weight: float = 0.2,
                 gather_distributed: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.gather_distributed = gather_distributed
        self.bank = FeatureMemoryBank(bank_size, embed_dim)

    def forward(self, image_embeds: Tensor, text_embeds: Tensor,
                logit_scale: Tensor | float) -> Tensor:
        """Compute the weighted loss and update the bank.

        Args:
            image_embeds (Tensor): L2-normalised image embeddings ``(N, D)``.
            text_embeds (Tensor): L2-normalised embeddings of the images' captions
                ``(N, D)`` (queries; detached).
            logit_scale (Tensor | float): Similarity multiplier.

        Returns:
            Tensor: The scalar loss.
        """
        if self.gather_distributed:
            all_txt, _ = gather_features(text_embeds.detach(), with_grad=False)
        else:
            all_txt = text_embeds.detach()
        if len(self.bank) == 0:
            loss = image_embeds.sum() * 0.
        else:
            nn_txt, _ = self.bank.nearest(text_embeds)
            if self.gather_distributed:
                all_img, offset = gather_features(image_embeds)
                all_nn, _ = gather_features(nn_txt, with_grad=False)
            else:
                all_img, all_nn, offset = image_embeds, nn_txt, 0
            loss = self.loss_weight * symmetric_infonce(image_embeds, nn_txt, logit_scale,
                                                        all_img, all_nn, offset)
        if self.training:
            self.bank.enqueue(all_txt)
        return loss
