"""Linear classification head over a unified label space with per-source masks."""
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample

from intern_mm.registry import MODELS
from .source_masks import Parents, SourceClassMask, mask_logits

__all__ = ['MultiSourceLinearClsHead']


@MODELS.register_module()
class MultiSourceLinearClsHead(LinearClsHead):
    """Linear head over the union of several sources' label spaces.

    Design choice: one linear layer over a **unified label space with per-source
    masks** rather than one head per source. For disjoint label spaces the two are the
    same model (a per-source head is the masked slice of the unified one), but the unified
    form also handles overlapping sources (a class two sources annotate gets one set of
    weights trained by both, as the unified detection / segmentation spaces need), runs
    one matrix product per batch whatever its source mix, and keeps every parameter in
    every step's graph (no unused parameters under DDP).

    For a sample of source ``s`` the logits of classes ``s`` does not annotate are replaced
    by :data:`~intern_mm.models.heads.source_masks.MASKED_LOGIT` before the softmax
    cross-entropy, so the loss is the cross-entropy within ``s``'s label space and those
    classes get no gradient from it. Predictions are restricted the same way (a sample of
    source ``s`` is classified within ``s``'s classes); samples without a source are
    classified over all classes.

    With ``parents`` (a hierarchy of the unified classes, e.g. from
    ``tools/gvd.py taxonomy``), the loss of a sample labelled ``c`` also leaves out the
    descendants of ``c``: a ``dog`` label does not push ``puppy`` down, even where the
    source annotates ``puppy`` too. Predictions are unchanged.

    The source of a sample is ``data_sample.metainfo['dataset_source']``
    (:class:`~intern_mm.datasets.MultiSourceDataset` sets it), and ``gt_label`` is in
    the unified space.

    Args:
        num_classes (int): Size of the unified label space.
        in_channels (int): Input feature channels.
        sources (Mapping[str, Sequence[int]]): Unified class indices each source
            annotates.
        default_source (str, optional): Source assumed for samples without one.
            Defaults to None (such samples raise in the loss).
        loss (dict): Loss config; must be a softmax cross-entropy (label smoothing
            or sigmoid losses would spread targets onto masked classes).
            Defaults to ``dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)``.
        parents (Mapping[int, int] | Sequence[int | None], optional): Unified class
            hierarchy, child index -> parent index (or each class's parent, None / -1
            for none). Defaults to None (no hierarchy).
        **kwargs: Other arguments of :class:`mmpretrain.models.LinearClsHead`.

    Example:
        >>> head = MultiSourceLinearClsHead(
        ...     num_classes=5, in_channels=8,
        ...     sources=dict(shape=[0, 1, 2], colour=[3, 4]))
        >>> sample = DataSample(metainfo=dict(dataset_source='colour')).set_gt_label(4)
        >>> head.loss((torch.rand(1, 8), ), [sample])['loss'].shape
        torch.Size([])
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 sources: Mapping[str, Sequence[int]],
                 default_source: Optional[str] = None,
                 loss: dict = dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
                 parents: Optional[Parents] = None,
                 **kwargs) -> None:
        if loss.get('use_sigmoid') or loss.get('label_smooth_val'):
            raise ValueError('MultiSourceLinearClsHead needs a softmax cross-entropy '
                             f'loss, got {loss}')
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(num_classes=num_classes, in_channels=in_channels,
                             loss=loss, **kwargs)
        self.source_masks = SourceClassMask(sources, num_classes,
                                            default_source=default_source,
                                            parents=parents)

    def _loss_valid(self, valid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``valid`` less each target's descendants (``valid`` itself without parents)."""
        if not self.source_masks.has_parents:
            return valid
        return valid & ~self.source_masks.descendant_mask(target)

    def _valid(self, data_samples: Optional[Sequence], batch: int,
               require: bool) -> Optional[torch.Tensor]:
        if data_samples is None:
            return None
        sources = SourceClassMask.sources_of(
            [s if s is not None else {} for s in data_samples])
        if len(sources) != batch:
            raise ValueError(f'{len(sources)} data samples for a batch of {batch}')
        return self.source_masks.masks_for(sources, require=require)

    def _get_loss(self, cls_score: torch.Tensor, data_samples: List[DataSample],
                  **kwargs) -> dict:
        """Masked cross-entropy: each sample within its own source's classes."""
        valid = self._valid(data_samples, cls_score.size(0), require=True)
        if 'gt_score' in data_samples[0]:
            raise ValueError('MultiSourceLinearClsHead needs hard labels (gt_label); '
                             'batch augmentations producing gt_score are unsupported')
        target = torch.cat([s.gt_label for s in data_samples]).to(cls_score.device)
        hit = valid.gather(1, target.view(-1, 1)).squeeze(1)
        if not bool(hit.all()):
            bad = [(SourceClassMask.sources_of([data_samples[i]])[0], int(target[i]))
                   for i in torch.nonzero(~hit).flatten().tolist()]
            raise ValueError(f'gt labels outside their source\'s classes (source, '
                             f'label): {bad}')
        return super()._get_loss(mask_logits(cls_score, self._loss_valid(valid, target)),
                                 data_samples, **kwargs)

    def _get_predictions(self, cls_score: torch.Tensor,
                         data_samples: Optional[List[DataSample]]) -> List[DataSample]:
        """Softmax within each sample's source (all classes if it has none)."""
        valid = self._valid(data_samples, cls_score.size(0), require=False)
        if valid is not None:
            cls_score = mask_logits(cls_score, valid)
        return super()._get_predictions(cls_score, data_samples)

    def loss_per_source(self, feats: Tuple[torch.Tensor],
                        data_samples: List[DataSample]) -> dict:
        """Mean masked cross-entropy of each source present in the batch (for logging).

        Args:
            feats (tuple[Tensor]): Backbone / neck features.
            data_samples (list[DataSample]): Samples with ``dataset_source``.

        Returns:
            dict[str, Tensor]: ``{source: loss}``.
        """
        cls_score = self(feats)
        valid = self._valid(data_samples, cls_score.size(0), require=True)
        target = torch.cat([s.gt_label for s in data_samples]).to(cls_score.device)
        losses = F.cross_entropy(mask_logits(cls_score, self._loss_valid(valid, target)),
                                 target, reduction='none')
        sources = SourceClassMask.sources_of(data_samples)
        return {
            name: losses[[i for i, s in enumerate(sources) if s == name]].mean()
            for name in dict.fromkeys(sources)
        }
