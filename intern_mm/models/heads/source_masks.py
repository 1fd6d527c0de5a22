"""Per-source class masks: which classes of a unified label space a source annotates.

With ``parents`` (a class hierarchy of the unified space, e.g. from
``intern_mm.datasets.gvd.build_label_space``), a target of class ``c`` also leaves the
descendants of ``c`` out of the softmax: a ``dog`` label does not teach that the image is
not a ``puppy``.
"""
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from torch import nn

__all__ = ['MASKED_LOGIT', 'SourceClassMask', 'mask_logits', 'descendant_table']

#: A class hierarchy: child index -> parent index, or a list of each class's parent (None
#: or -1 for a class without one).
Parents = Union[Mapping[int, int], Sequence[Optional[int]]]

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
        valid (Tensor): ``(N, C)`` boolean mask, True where the class is annotated, or
            a mask of the logits' own shape (one per pixel).

    Returns:
        Tensor: Masked logits, same shape as ``logits``.

    Example:
        >>> logits = torch.zeros(1, 3)
        >>> mask_logits(logits, torch.tensor([[True, False, True]]))
        tensor([[ 0.0000e+00, -1.0000e+04,  0.0000e+00]])
    """
    if valid.shape == logits.shape and logits.dim() > 2:
        return logits.masked_fill(~valid, MASKED_LOGIT)
    if valid.shape != logits.shape[:2]:
        raise ValueError(f'mask of shape {tuple(valid.shape)} does not match logits '
                         f'{tuple(logits.shape)}')
    valid = valid.view(*valid.shape, *([1] * (logits.dim() - 2)))
    return logits.masked_fill(~valid, MASKED_LOGIT)


def descendant_table(parents: Parents, num_classes: int) -> torch.Tensor:
    """``(C, C)`` boolean table: ``[c, d]`` is True when ``d`` descends from ``c``.

    Args:
        parents (Mapping[int, int] | Sequence[int | None]): Child -> parent unified
            index (a mapping, keys may be strings of ints as in JSON), or each class's
            parent in order (None or -1: no parent).
        num_classes (int): Size of the table (the logits' class axis).

    Returns:
        Tensor: The transitive closure of the parent links (no class descends from
        itself).

    Example:
        >>> descendant_table({1: 0, 2: 1}, 3).int()  # 2 -> 1 -> 0
        tensor([[0, 1, 1],
                [0, 0, 1],
                [0, 0, 0]], dtype=torch.int32)
    """
    if isinstance(parents, Mapping):
        pairs = [(int(c), int(p)) for c, p in parents.items() if p is not None]
    else:
        pairs = [(c, int(p)) for c, p in enumerate(parents) if p is not None and int(p) >= 0]
    parent_of: Dict[int, int] = {}
    for child, parent in pairs:
        bad = [i for i in (child, parent) if not 0 <= i < num_classes]
        if bad or child == parent:
            raise ValueError(f'parents: link {child} -> {parent} is not valid for '
                             f'{num_classes} classes')
        parent_of[child] = parent
    table = torch.zeros(num_classes, num_classes, dtype=torch.bool)
    for child in parent_of:
        seen, node = {child}, child
        while node in parent_of:
            node = parent_of[node]
            if node in seen:
                raise ValueError(f'parents: the links through class {child} form a cycle')
            seen.add(node)
            table[node, child] = True
    return table


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
        parents (Mapping[int, int] | Sequence[int | None], optional): Class hierarchy
            (see :func:`descendant_table`); a loss then also leaves out the descendants
            of each target's class (:meth:`descendant_mask`). Defaults to None (no
            hierarchy: the masks depend on the source only).

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
                 default_source: Optional[str] = None,
                 parents: Optional[Parents] = None) -> None:
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
        self.has_parents = parents is not None
        if self.has_parents:
            self.register_buffer('descendants', descendant_table(parents, num_classes),
                                 persistent=False)

    def descendant_mask(self, target: torch.Tensor) -> torch.Tensor:
        """``(*target.shape, num_classes)``: True for the descendants of each target.

        Targets outside ``[0, num_classes)`` (an ignore index) have no descendants; so
        has every class when the mask has no ``parents``.

        Args:
            target (Tensor): Integer class targets of any shape.

        Returns:
            Tensor: Boolean mask on the buffers' device.

        Example:
            >>> masks = SourceClassMask(dict(a=[0, 1, 2]), 3, parents=[None, 0, 0])
            >>> masks.descendant_mask(torch.tensor([0, 1]))
            tensor([[False,  True,  True],
                    [False, False, False]])
        """
        target = target.long().to(self.table.device)
        if not self.has_parents:
            return torch.zeros(*target.shape, self.num_classes, dtype=torch.bool,
                               device=self.table.device)
        inside = (target >= 0) & (target < self.num_classes)
        rows = self.descendants[target.clamp(0, self.num_classes - 1)]
        return rows & inside.unsqueeze(-1)

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
