"""Feature-imitation losses between a (connected) student feature and a teacher feature."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from intern_mm.registry import MODELS

__all__ = ['FeatureDistillLoss', 'feature_distill_loss', 'DISTILL_MODES']

#: Supported comparison modes of :class:`FeatureDistillLoss`.
DISTILL_MODES = ('mse', 'norm_mse', 'cosine')


def _standardise(x: torch.Tensor) -> torch.Tensor:
    dims = tuple(range(1, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.var(dim=dims, keepdim=True, unbiased=False).add(1e-5).sqrt()
    return (x - mean) / std


def feature_distill_loss(student: torch.Tensor, teacher: torch.Tensor,
                         mode: str = 'norm_mse') -> torch.Tensor:
    """Distance between a student feature and the teacher feature of the same shape.

    Args:
        student (Tensor): ``(N, C, H, W)`` or ``(N, C)``, already mapped by a connector.
        teacher (Tensor): Same shape; treated as a constant (detached).
        mode (str): ``'mse'`` (plain mean squared error), ``'norm_mse'`` (MSE after
            standardising each sample's feature to zero mean / unit variance over all its
            elements: invariant to the teacher's per-level scale) or ``'cosine'`` (``1 -``
            cosine similarity of the channel vectors, averaged over positions).
            Defaults to ``'norm_mse'``.

    Returns:
        Tensor: The scalar loss.

    Example:
        >>> t = torch.randn(2, 8, 4, 4)
        >>> float(feature_distill_loss(3 * t + 1, t))  # scale / shift invariant
        0.0
    """
    if student.shape != teacher.shape:
        raise ValueError(f'student feature {tuple(student.shape)} and teacher feature '
                         f'{tuple(teacher.shape)} differ in shape')
    teacher = teacher.detach()
    if mode == 'mse':
        return F.mse_loss(student, teacher)
    if mode == 'norm_mse':
        return F.mse_loss(_standardise(student), _standardise(teacher))
    if mode == 'cosine':
        return (1 - F.cosine_similarity(student, teacher, dim=1, eps=1e-6)).mean()
    raise ValueError(f'unknown feature distillation mode {mode!r}; expected one of '
                     f'{DISTILL_MODES}')


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """Module form of :func:`feature_distill_loss` with a loss weight.

    Args:
        mode (str): See :func:`feature_distill_loss`. Defaults to ``'norm_mse'``.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.

    Example:
        >>> loss = FeatureDistillLoss(mode='cosine', loss_weight=2.0)
        >>> t = torch.randn(2, 8, 4, 4)
        >>> round(float(loss(t, t)), 6)
        0.0
    """

    def __init__(self, mode: str = 'norm_mse', loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in DISTILL_MODES:
            raise ValueError(f'unknown feature distillation mode {mode!r}; expected one '
                             f'of {DISTILL_MODES}')
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Weighted loss between ``student`` and ``teacher`` (see the function)."""
        return self.loss_weight * feature_distill_loss(student, teacher, self.mode)
