"""FCN segmentation head whose loss ignores classes a sample's source does not label."""
from typing import List, Mapping, Optional, Sequence

from mmseg.models.decode_heads import FCNHead
from mmseg.utils import SampleList
from mmengine.registry import DefaultScope
from torch import Tensor

from intern_mm.registry import MODELS
from intern_mm.utils import register_in_openmmlab
from .source_masks import SourceClassMask, mask_logits

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

    At test time, the logits of an image with a known source are restricted to its
    source's classes (per-source evaluation); images without a source keep all classes.

    Args:
        sources (Mapping[str, Sequence[int]]): Unified class indices each source labels
            (include the background class, e.g. 0, in every source that labels it).
        default_source (str, optional): Source assumed for samples without one.
            Defaults to None (such samples raise in the loss).
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
                 **kwargs) -> None:
        # Unprefixed sub-module types (e.g. mmdet's 'Linear') resolve in mmseg
        # whatever the caller's default scope is.
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(**kwargs)
        if self.out_channels != self.num_classes:
            raise ValueError('MultiSourceFCNHead needs a softmax head '
                             '(out_channels == num_classes)')
        self.source_masks = SourceClassMask(sources, self.num_classes,
                                            default_source=default_source)

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> dict:
        """Decode-head losses with the logits masked per sample's source."""
        valid = self.source_masks.masks_for(
            SourceClassMask.sources_of(batch_data_samples), require=True)
        return super().loss_by_feat(mask_logits(seg_logits, valid), batch_data_samples)

    def predict_by_feat(self, seg_logits: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits resized to the input, restricted to each image's source."""
        sources = SourceClassMask.sources_of(batch_img_metas)
        if any(s is not None for s in sources) or \
                self.source_masks.default_source is not None:
            seg_logits = mask_logits(seg_logits, self.source_masks.masks_for(sources))
        return super().predict_by_feat(seg_logits, batch_img_metas)


register_in_openmmlab(MultiSourceFCNHead, scopes=('mmseg', ))
