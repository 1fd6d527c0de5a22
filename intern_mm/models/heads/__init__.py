"""Heads of intern_mm: multi-source classification, detection and segmentation, and the
GV-B depth head."""
from .gvb_depth_head import GVBDepthHead
from .multi_source_bbox_head import MultiSourceBBoxHead
from .multi_source_cls_head import MultiSourceLinearClsHead
from .multi_source_fcn_head import MultiSourceFCNHead
from .multi_source_roi_head import MultiSourceRoIHead
from .source_masks import MASKED_LOGIT, SourceClassMask, mask_logits

__all__ = [
    'MultiSourceLinearClsHead', 'MultiSourceBBoxHead', 'MultiSourceRoIHead',
    'MultiSourceFCNHead', 'SourceClassMask', 'mask_logits', 'MASKED_LOGIT', 'GVBDepthHead'
]
