"""Depth-estimation metrics of GV-B (RMSE, lower is better, and the usual others).

Reuses mmseg's :class:`~mmseg.evaluation.DepthMetric` (per-image ``d1/d2/d3``,
``abs_rel``, ``sq_rel``, ``rmse``, ``rmse_log``, ``log10``, ``silog`` averaged over
images) and adds the KITTI evaluation crops of Garg et al. (``'garg'``) and Eigen et al.
(``'eigen'``) next to mmseg's ``'nyu_crop'``.
"""
from typing import Optional

import torch
from mmseg.evaluation import DepthMetric

from intern_mm.registry import METRICS

__all__ = ['GVBDepthMetric']

#: fractional (top, bottom, left, right) crops of the KITTI protocols
KITTI_CROPS = dict(
    garg=(0.40810811, 0.99189189, 0.03594771, 0.96405229),
    eigen=(0.3324324, 0.91351351, 0.0359477, 0.96405229),
)


@METRICS.register_module()
class GVBDepthMetric(DepthMetric):
    """mmseg ``DepthMetric`` with the KITTI Garg / Eigen crops.

    Args:
        crop_type (str, optional): ``None``, ``'nyu_crop'``, ``'garg'`` or ``'eigen'``.
        min_depth_eval (float): Ground truth <= this is invalid. Defaults to 1e-3.
        max_depth_eval (float): Ground truth >= this is invalid. Defaults to 80.
        **kwargs: Passed to :class:`mmseg.evaluation.DepthMetric` (``depth_metrics``
            is not forwarded: mmseg 1.2.2 cannot validate a given list, all metrics are
            computed).

    Example:
        >>> metric = GVBDepthMetric(crop_type='garg', max_depth_eval=80.0)
    """

    def __init__(self,
                 crop_type: Optional[str] = None,
                 min_depth_eval: float = 1e-3,
                 max_depth_eval: float = 80.0,
                 **kwargs) -> None:
        if crop_type not in (None, 'nyu_crop', *KITTI_CROPS):
            raise ValueError(f'unknown crop_type "{crop_type}", expected None, '
                             f"'nyu_crop', 'garg' or 'eigen'")
        kwargs.pop('depth_metrics', None)
        super().__init__(
            crop_type=crop_type if crop_type in (None, 'nyu_crop') else None,
            min_depth_eval=min_depth_eval, max_depth_eval=max_depth_eval, **kwargs)
        self.kitti_crop = KITTI_CROPS.get(crop_type)
        self.crop_type = crop_type

    def _get_eval_mask(self, gt_depth: torch.Tensor) -> torch.Tensor:
        """Valid-depth mask, with the configured crop."""
        if self.kitti_crop is None:
            return super()._get_eval_mask(gt_depth)
        valid = torch.logical_and(gt_depth > self.min_depth_eval,
                                  gt_depth < self.max_depth_eval)
        h, w = gt_depth.shape[-2:]
        top, bottom, left, right = self.kitti_crop
        crop = torch.zeros_like(valid)
        crop[..., int(top * h):int(bottom * h), int(left * w):int(right * w)] = True
        return torch.logical_and(valid, crop)
