"""SimSiam's symmetric negative-cosine loss with stop-gradient (image self-supervision)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from intern_mm.registry import MODELS

__all__ = ['SimSiamLoss']


@MODELS.register_module()
class SimSiamLoss(nn.Module):
    """``-(cos(p1, sg(z2)) + cos(p2, sg(z1))) / 2`` of SimSiam (Chen & He, 2021).

    ``z1``/``z2`` are the projector outputs of two image views and ``p1``/``p2`` the
    predictor outputs; ``sg`` is stop-gradient, so targets receive no gradient. The
    minimum is ``-1 * loss_weight``.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 0.2.

    Example:
        >>> import torch
        >>> z = torch.randn(4, 16)
        >>> SimSiamLoss(loss_weight=1.)(z, z, z, z)
        tensor(-1.)
    """

    def __init__(self, loss_weight: float = 0.2) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
        """Compute the weighted loss.

        Args:
            p1 (Tensor): Predictor output of view 1 ``(N, D)``.
            p2 (Tensor): Predictor output of view 2 ``(N, D)``.
            z1 (Tensor): Projector output of view 1 ``(N, D)`` (target of ``p2``).
            z2 (Tensor): Projector output of view 2 ``(N, D)`` (target of ``p1``).

        Returns:
            Tensor: The scalar loss.
        """
        if not (p1.shape == p2.shape == z1.shape == z2.shape):
            raise ValueError('SimSiamLoss needs equally shaped inputs, got '
                             f'{[tuple(t.shape) for t in (p1, p2, z1, z2)]}')
        loss = -(F.cosine_similarity(p1, z2.detach(), dim=-1).mean() +
                 F.cosine_similarity(p2, z1.detach(), dim=-1).mean()) / 2
        return self.loss_weight * loss
