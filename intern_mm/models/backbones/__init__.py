"""GV-A backbones of intern_mm: MetaNet (MN-B4 / MN-B15 / tiny), the Up-G CentralModel and
the frozen-backbone wrapper of the GV-B probes."""
from .attention_blocks import (CrossCovarianceAttention, MetaAttentionBlock, Mlp,
                               MultiHeadSelfAttention)
from .central_model import CentralModel
from .channels_last import ChannelsLastGELU, gelu, spatial_mean
from .frozen_backbone import FrozenBackbone
from .gvb_checkpoint import (CheckpointMismatchError, convert_gvb_checkpoint,
                             load_gvb_state_dict, map_gvb_keys)
from .mbconv import DownsampleResidual, FusedMBConv, MBConv
from .metanet import MetaNet
from .squeeze_excitation import HardSigmoidSE, make_divisible
from .task_norm import TaskBatchNorm2d, convert_to_task_bn, set_bn_task
from .transfer_layer import TransferLayer

__all__ = [
    'MetaNet', 'CentralModel', 'TransferLayer', 'TaskBatchNorm2d', 'convert_to_task_bn',
    'set_bn_task', 'MBConv', 'FusedMBConv', 'DownsampleResidual', 'HardSigmoidSE',
    'make_divisible', 'Mlp', 'MultiHeadSelfAttention', 'CrossCovarianceAttention',
    'MetaAttentionBlock', 'CheckpointMismatchError', 'convert_gvb_checkpoint',
    'load_gvb_state_dict', 'map_gvb_keys', 'ChannelsLastGELU', 'gelu', 'spatial_mean',
    'FrozenBackbone'
]
