"""Standard RoI head that passes each image's source to the box head's loss."""
from typing import List, Optional, Tuple

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from mmengine.registry import DefaultScope
from torch import Tensor

from intern_mm.registry import MODELS
from .multi_source_bbox_head import MultiSourceBBoxHead

__all__ = ['MultiSourceRoIHead']


@MODELS.register_module()
class MultiSourceRoIHead(StandardRoIHead):
    """:class:`mmdet.models.StandardRoIHead` for multi-source detection training.

    Identical to the standard head except that the box loss receives the images'
    metainfo, so that :class:`~intern_mm.models.heads.MultiSourceBBoxHead` can leave out
    the classes each image's source (``dataset_source``) does not annotate. Prediction is
    unchanged (the box head reads the source from the image metainfo itself).

    Args:
        **kwargs: Arguments of :class:`mmdet.models.StandardRoIHead`;
            ``bbox_head`` must be a :class:`MultiSourceBBoxHead`.

    Example:
        >>> roi_head = dict(
        ...     type='MultiSourceRoIHead',
        ...     bbox_roi_extractor=dict(...),
        ...     bbox_head=dict(type='MultiSourceBBoxHead',
        ...                    sources=dict(det_a=[0, 1], det_b=[1, 2]), num_classes=3))
    """

    def __init__(self, **kwargs) -> None:
        # Unprefixed sub-module types (e.g. mmdet's 'Linear') resolve in mmdet
        # whatever the caller's default scope is.
        with DefaultScope.overwrite_default_scope('mmdet'):
            super().__init__(**kwargs)
        if not isinstance(self.bbox_head, MultiSourceBBoxHead):
            raise TypeError('MultiSourceRoIHead needs a MultiSourceBBoxHead, got '
                            f'{type(self.bbox_head).__name__}')
        self._batch_img_metas: Optional[List[dict]] = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Standard RoI losses with the box classification masked per source."""
        self._batch_img_metas = [s.metainfo for s in batch_data_samples]
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._batch_img_metas = None

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult]) -> dict:
        """Box head forward + loss, handing the images' metainfo to the box head."""
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        bbox_loss_and_target = self.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'],
            bbox_pred=bbox_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.train_cfg,
            batch_img_metas=self._batch_img_metas)
        bbox_results.update(loss_bbox=bbox_loss_and_target['loss_bbox'])
        return bbox_results
