"""Per-source class masks: which classes of a unified label space a source annotates."""
from typing import Dict, Mapping, Optional, Sequence

import torch
from torch import nn

__all__ = ['MASKED_LOGIT', 'SourceClassMask', 'mask_logits']

#: Value written into the logits of classes a sample's source does not annotate. Finite
#: (unlike ``-inf``) so that resizing / mixed precision never produces NaN, and small
#: enough that ``exp(MASKED_LOGIT - max_logit)`` is exactly 0 in float32 and float16.
MASKED_LOGIT = -1e4


def mask_logits(logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Replace the logits of invalid classes by :data:`MASKED_LOGIT`.

    The result does not depend on the replaced logits and passes no gradient to them,
    so a softmax loss over it ignores the masked classes entirely.

    Args:
        logits (Tensor): ``(N, C, ...)`` class logits.
        valid (Tensor): ``(N, C)`` boolean mask, True where the class is annotated.

    Returns:
        Tensor: Masked logits, same shape as ``logits``.

    Example:
        >>> logits = torch.zeros(1, 3)
        >>> mask_logits(logits, torch.tensor([[True, False, True]]))
        tensor([[ 0.0000e+00, -1.0000e+04,  0.0000e+00]])
    """
    if valid.shape != logits.shape[:2]:
        raise ValueError(f'mask of shape {tuple(valid.shape)} does not match logits '
                         f'{tuple(logits.shape)}')
    valid = valid.view(*valid.shape, *([1] * (logits.dim() - 2)))
    return logits.masked_fill(~valid, MASKED_LOGIT)


class SourceClassMask(nn.Module):
    """Class masks of the supervision sources over a unified label space.

    Args:
        sources (Mapping[str, Sequence[int]]): For each source name, the indices of the
            unified classes it annotates.
        num_classes (int): Size of the unified label space (the logits' class axis,
            including e.g. a background column).
        always_valid (Sequence[int]): Class indices valid for every source, e.g. the
            background column of a detector. Defaults to ().
        default_source (str, optional): Source assumed for samples without a
            ``dataset_source``. ``None`` means: all classes valid when predicting, an
            error when computing a loss. Defaults to None.

    Example:
        >>> masks = SourceClassMask(dict(a=[0, 1], b=[1, 2]), num_classes=3)
        >>> masks.masks_for(['b', 'a'])
        tensor([[False,  True,  True],
                [ True,  True, False]])
    """

    def __init__(self,
                 sources: Mapping[str, Sequence[int]],
                 num_classes: int,
                 always_valid: Sequence[int] = (),
                 default_source: Optional[str] = None) -> None:
        super().__init__()
        if not sources:
            raise ValueError('sources must name at least one source')
        self.names = [str(name) for name in sources]
        table = torch.zeros(len(self.names), num_classes, dtype=torch.bool)
        for row, (name, indices) in enumerate(sources.items()):
            indices = [int(i) for i in indices]
            bad = [i for i in indices if not 0 <= i < num_classes]
            if bad or not indices:
                raise ValueError(f'source {name!r}: class indices {bad or indices} are '
                                 f'not valid for {num_classes} classes')
            table[row, indices] = True
        table[:, [int(i) for i in always_valid]] = True
        if default_source is not None and default_source not in self.names:
            raise ValueError(f'default_source {default_source!r} is not one of '
                             f'{self.names}')
        self.default_source = default_source
        self.num_classes = num_classes
        # Not persistent: masks come from the config, never from a checkpoint.
        self.register_buffer('table', table, persistent=False)

    def index_of(self, source: str) -> int:
        """Row of ``source`` in the table (raises a clear error if unknown)."""
        try:
            return self.names.index(source)
        except ValueError:
            raise KeyError(f'unknown dataset_source {source!r}; this head knows the '
                           f'sources {self.names}') from None

    def masks_for(self,
                  sources: Sequence[Optional[str]],
                  require: bool = False) -> torch.Tensor:
        """``(N, num_classes)`` boolean masks for a batch's sources.

        Args:
            sources (Sequence[str | None]): Each sample's source (None if unknown).
            require (bool): Raise if a sample has no source and there is no
                ``default_source``. Otherwise such samples get all classes.
                Defaults to False.

        Returns:
            Tensor: Boolean masks on the buffer's device.
        """
        rows = []
        for source in sources:
            if source is None:
                source = self.default_source
            if source is None:
                if require:
                    raise KeyError(
                        'a sample has no "dataset_source" in its metainfo; wrap the '
                        'datasets in MultiSourceDataset or set default_source')
                rows.append(torch.ones_like(self.table[0]))
            else:
                rows.append(self.table[self.index_of(source)])
        if not rows:
            return self.table.new_zeros((0, self.num_classes))
        return torch.stack(rows)

    @staticmethod
    def sources_of(samples_or_metas: Sequence) -> list:
        """Read ``dataset_source`` of data samples or image-meta dicts."""
        sources = []
        for item in samples_or_metas:
            meta: Dict = item if isinstance(item, dict) else getattr(
                item, 'metainfo', {})
            sources.append(meta.get('dataset_source'))
        return sources
