"""Losses of intern_mm: CLIP InfoNCE and DeCLIP's extra supervisions."""
from .dist_utils import GatherLayer, gather_features, get_dist_info
from .infonce_loss import InfoNCELoss, symmetric_infonce
from .memory_bank import FeatureMemoryBank
from .mlm_loss import MaskedLMLoss, mask_tokens
from .multi_view_loss import MultiViewInfoNCELoss
from .nn_loss import NearestNeighbourLoss
from .simsiam_loss import SimSiamLoss

__all__ = [
    'GatherLayer', 'gather_features', 'get_dist_info', 'InfoNCELoss',
    'symmetric_infonce', 'FeatureMemoryBank', 'MaskedLMLoss', 'mask_tokens',
    'MultiViewInfoNCELoss', 'NearestNeighbourLoss', 'SimSiamLoss'
]
