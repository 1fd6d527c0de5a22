"""Faster R-CNN box head whose classification ignores classes a source does not box."""
from typing import List, Mapping, Optional, Sequence

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmengine.registry import DefaultScope
from torch import Tensor

from intern_mm.registry import MODELS
from .source_masks import Parents, SourceClassMask, mask_logits

__all__ = ['MultiSourceBBoxHead']


@MODELS.register_module()
class MultiSourceBBoxHead(Shared2FCBBoxHead):
    """:class:`mmdet.models.Shared2FCBBoxHead` over a unified class space of sources.

    A detection source boxes only its own classes: an object of another class is in its
    images but unboxed, so the RoI around it is sampled as *background*. Training the
    plain softmax classifier on such RoIs would teach "that object is background" for
    every class the source does not annotate. Here, for every RoI of an image of source
    ``s``, the logits of the classes ``s`` does not annotate are masked out
    (:func:`~intern_mm.models.heads.source_masks.mask_logits`) before the cross-entropy:
    the loss is the softmax over ``s``'s classes + background, independent of those
    logits, and passes them no gradient. Box regression is unaffected (it only applies
    to positive RoIs, which always carry an annotated class).

    With ``parents`` (a hierarchy of the unified classes), an RoI labelled ``c`` also
    leaves the descendants of ``c`` out of its softmax (a ``dog`` box does not teach
    ``puppy`` as a negative); background RoIs are unaffected.

    At test time the scores of an image with a known source are computed within its
    source's classes (per-source evaluation); images without a source get all classes.

    Use it inside :class:`~intern_mm.models.heads.MultiSourceRoIHead`, which hands the
    images' metainfo (``dataset_source``) to :meth:`loss_and_target`.

    Args:
        sources (Mapping[str, Sequence[int]]): Unified class indices each source
            annotates (background excluded; it is valid for every source).
        default_source (str, optional): Source assumed for images without one.
            Defaults to None (such images raise in the loss).
        parents (Mapping[int, int] | Sequence[int | None], optional): Unified class
            hierarchy, child index -> parent index (or each class's parent, None / -1
            for none). Defaults to None (no hierarchy).
        **kwargs: Arguments of :class:`mmdet.models.Shared2FCBBoxHead`
            (``num_classes`` is the unified class count).

    Example:
        >>> head = MultiSourceBBoxHead(
        ...     sources=dict(det_a=[0, 1], det_b=[1, 2]), num_classes=3,
        ...     in_channels=16, fc_out_channels=32, roi_feat_size=7)
    """

    def __init__(self,
                 sources: Mapping[str, Sequence[int]],
                 default_source: Optional[str] = None,
                 parents: Optional[Parents] = None,
                 **kwargs) -> None:
        # Unprefixed sub-module types (e.g. mmdet's 'Linear') resolve in mmdet
        # whatever the caller's default scope is.
        with DefaultScope.overwrite_default_scope('mmdet'):
            super().__init__(**kwargs)
        if self.custom_cls_channels:
            raise ValueError('MultiSourceBBoxHead needs a softmax classification loss '
                             'with num_classes + 1 channels')
        self.source_masks = SourceClassMask(
            sources,
            self.num_classes + 1,
            always_valid=[self.num_classes],
            default_source=default_source,
            parents=parents)

    def loss_and_target(self,
                        cls_score: Tensor,
                        bbox_pred: Tensor,
                        rois: Tensor,
                        sampling_results: List[SamplingResult],
                        rcnn_train_cfg: ConfigDict,
                        concat: bool = True,
                        reduction_override: Optional[str] = None,
                        batch_img_metas: Optional[List[dict]] = None) -> dict:
        """Masked classification loss + box regression loss.

        Args:
            cls_score (Tensor): ``(num_rois, num_classes + 1)`` logits.
            bbox_pred (Tensor): Box deltas.
            rois (Tensor): ``(num_rois, 5)``, column 0 = image index in the batch.
            sampling_results (list[SamplingResult]): Per-image sampling results.
            rcnn_train_cfg (ConfigDict): ``train_cfg`` of the R-CNN.
            concat (bool): Concatenate the targets of all images. Defaults to True.
            reduction_override (str, optional): Loss reduction override.
            batch_img_metas (list[dict]): Metainfo of each image with its
                ``dataset_source`` (required).

        Returns:
            dict: ``loss_bbox`` (loss components) and ``bbox_targets``.
        """
        if batch_img_metas is None:
            raise ValueError('MultiSourceBBoxHead.loss_and_target needs batch_img_metas '
                             '(use it inside MultiSourceRoIHead)')
        valid = self.source_masks.masks_for(
            SourceClassMask.sources_of(batch_img_metas), require=True)
        if cls_score is not None and cls_score.numel() > 0:
            valid = valid[rois[:, 0].long()]
            if self.source_masks.has_parents:
                # labels in the order of ``rois`` (each image's positives, negatives)
                labels = self.get_targets(sampling_results, rcnn_train_cfg)[0]
                valid = valid & ~self.source_masks.descendant_mask(labels)
            cls_score = mask_logits(cls_score, valid)
        return super().loss_and_target(
            cls_score,
            bbox_pred,
            rois,
            sampling_results,
            rcnn_train_cfg,
            concat=concat,
            reduction_override=reduction_override)

    def _predict_by_feat_single(self,
                                roi: Tensor,
                                cls_score: Tensor,
                                bbox_pred: Tensor,
                                img_meta: dict,
                                rescale: bool = False,
                                rcnn_test_cfg: Optional[ConfigDict] = None
                                ) -> InstanceData:
        """Boxes of one image, scored within its source's classes if it has one."""
        source = SourceClassMask.sources_of([img_meta])[0]
        if cls_score is not None and cls_score.numel() > 0 and (
                source is not None or self.source_masks.default_source is not None):
            valid = self.source_masks.masks_for([source]).expand(cls_score.size(0), -1)
            cls_score = mask_logits(cls_score, valid)
        return super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta,
                                               rescale, rcnn_test_cfg)
