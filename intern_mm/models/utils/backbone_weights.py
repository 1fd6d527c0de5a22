"""A backbone's weights from a full-model or a backbone-only checkpoint.

Used by the GV-B protocols and backbone builder, and by the feature distiller's teacher.
Reading and unwrapping are :mod:`intern_mm.utils.checkpoint`'s; the check against the
backbone's keys is :func:`~intern_mm.utils.checkpoint.load_state_dict_diff`.
"""
import torch.nn as nn

from intern_mm.utils.checkpoint import (backbone_state_dict, has_prefix,
                                        load_state_dict_diff, read_state_dict)

__all__ = ['checkpoint_prefix', 'load_backbone_weights']


def checkpoint_prefix(checkpoint: str) -> str:
    """Return ``'backbone.'`` when the checkpoint is a full model, else ``''``.

    Args:
        checkpoint (str): Path of the checkpoint.

    Returns:
        str: The key prefix of the backbone weights inside the checkpoint.

    Example:
        >>> checkpoint_prefix('work_dirs/up-e-cls/iter_400.pth')  # doctest: +SKIP
        'backbone.'
    """
    return 'backbone.' if has_prefix(read_state_dict(checkpoint), 'backbone.') else ''


def load_backbone_weights(backbone: nn.Module, checkpoint: str) -> None:
    """Load backbone weights from a full-model or backbone-only checkpoint (strict).

    Args:
        backbone (nn.Module): The backbone.
        checkpoint (str): Checkpoint path; ``backbone.`` / ``module.`` prefixes are
            stripped and other keys (heads) ignored.

    Raises:
        RuntimeError: If keys are missing or unexpected, or have another shape (the
            message gives the count and first key of each).

    Example:
        >>> load_backbone_weights(net, 'work_dirs/up-e-cls/iter_400.pth')  # doctest: +SKIP
    """
    state = backbone_state_dict(read_state_dict(checkpoint))
    diff = load_state_dict_diff(backbone, state)
    if diff:
        raise RuntimeError(f'checkpoint {checkpoint} does not match the backbone: '
                           f'{diff.summary()}')
