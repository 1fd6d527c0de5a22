"""A parameter-free "backbone" that picks precomputed features for a task model."""
from typing import Sequence, Tuple

import torch
from torch import nn

from intern_mm.registry import MODELS

__all__ = ['FeatureSelector']


@MODELS.register_module()
class FeatureSelector(nn.Module):
    """Stand-in backbone of a stock task model inside the Up-G generalist.

    The generalist runs its shared backbone once per task batch and hands the output
    tuple to the stock mmpretrain / mmdet / mmseg model's ``loss`` / ``predict`` in place
    of the images; this module, sitting where the task model expects its backbone,
    selects the levels the task's neck / head consume.

    Args:
        indices (Sequence[int]): Indices into the shared backbone's output tuple.

    Example:
        >>> sel = FeatureSelector(indices=(1, 2))
        >>> feats = (torch.zeros(1), torch.ones(1), torch.full((1, ), 2.))
        >>> [float(f) for f in sel(feats)]
        [1.0, 2.0]
    """

    def __init__(self, indices: Sequence[int]) -> None:
        super().__init__()
        if isinstance(indices, int):
            indices = (indices, )
        if not indices:
            raise ValueError('FeatureSelector needs at least one index')
        self.indices = tuple(int(i) for i in indices)

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Select ``indices`` from the shared backbone's outputs.

        Raises:
            TypeError: If ``feats`` is a single tensor (images were passed instead of
                backbone features).
            IndexError: If an index exceeds the number of backbone outputs.
        """
        if isinstance(feats, torch.Tensor):
            raise TypeError('FeatureSelector expects the tuple of shared-backbone '
                            'features, got a tensor (images?)')
        n = len(feats)
        bad = [i for i in self.indices if not -n <= i < n]
        if bad:
            raise IndexError(f'FeatureSelector indices {bad} out of range for {n} backbone '
                             'outputs; check the shared backbone\'s out_indices')
        return tuple(feats[i] for i in self.indices)
