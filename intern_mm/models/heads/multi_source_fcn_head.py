"""FCN segmentation head whose loss ignores classes a sample's source does not label."""
from typing import List, Mapping, Optional, Sequence

from mmseg.models.decode_heads import FCNHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from mmengine.registry import DefaultScope
from torch import Tensor

from intern_mm.registry import MODELS
from .source_masks import Parents, SourceClassMask, mask_logits

__all__ = ['MultiSourceFCNHead']


@MODELS.register_module()
class MultiSourceFCNHead(FCNHead):
    """:class:`mmseg.models.FCNHead` over a unified class space of several sources.

    Two mechanisms keep a source from penalising classes it does not label: its label
    maps mark the pixels of such objects ``255`` (ignore; the GV world writes them so),
    and the logits of those classes are masked out of the softmax for every pixel of the
    source's images (:func:`~intern_mm.models.heads.source_masks.mask_logits`), so the
    loss on background pixels does not push them down either. The loss is therefore
    independent of the logits of classes the source does not annotate.

    With ``parents`` (a hierarchy of the unified classes), a pixel labelled ``c`` also
    leaves the descendants of ``c`` out of its softmax (the logits are resized to the
    labels first; the mask is one boolean per pixel and class).

    At test time, the logits of an image with a known source are restricted to its
    source's classes (per-source evaluation); images without a source keep all classes.

    Args:
        sources (Mapping[str, Sequence[int]]): Unified class indices each source labels
            (include the background class, e.g. 0, in every source that labels it).
        default_source (str, optional): Source assumed for samples without one.
            Defaults to None (such samples raise in the loss).
        parents (Mapping[int, int] | Sequence[int | None], optional): Unified class
            hierarchy, child index -> parent index (or each class's parent, None / -1
            for none). Defaults to None (no hierarchy).
        **kwargs: Arguments of :class:`mmseg.models.FCNHead` (``num_classes`` is the
            unified class count).

    Example:
        >>> head = MultiSourceFCNHead(
        ...     sources=dict(seg_a=[0, 1, 2], seg_b=[0, 3]), num_classes=4,
        ...     in_channels=16, channels=16, num_convs=1)
    """

    def __init__(self,
                 sources: Mapping[str, Sequence[int]],
                 default_source: Optional[str] = None,
                 parents: Optional[Parents] = None,
                 **kwargs) -> None:
        # Unprefixed sub-module types (e.g. mmdet's 'Linear') resolve in mmseg
        # whatever the caller's default scope is.
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(**kwargs)
        if self.out_channels != self.num_classes:
            raise ValueError('MultiSourceFCNHead needs a softmax head '
                             '(out_channels == num_classes)')
        self.source_masks = SourceClassMask(sources, self.num_classes,
                                            default_source=default_source,
                                            parents=parents)

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> dict:
        """Decode-head losses with the logits masked per sample's source."""
        valid = self.source_masks.masks_for(
            SourceClassMask.sources_of(batch_data_samples), require=True)
        if not self.source_masks.has_parents:
            return super().loss_by_feat(mask_logits(seg_logits, valid), batch_data_samples)
        seg_label = self._stack_batch_gt(batch_data_samples)  # (N, 1, H, W)
        seg_logits = resize(seg_logits, size=seg_label.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
        drop = self.source_masks.descendant_mask(seg_label[:, 0]).permute(0, 3, 1, 2)
        keep = valid[:, :, None, None] & ~drop
        # super() resizes to the label size again: the identity at this size
        return super().loss_by_feat(mask_logits(seg_logits, keep), batch_data_samples)

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits resized to the input, restricted to each image's source."""
        sources = SourceClassMask.sources_of(batch_img_metas)
        if any(s is not None for s in sources) or \
                self.source_masks.default_source is not None:
            seg_logits = mask_logits(seg_logits, self.source_masks.masks_for(sources))
        return super().predict_by_feat(seg_logits, batch_img_metas)
