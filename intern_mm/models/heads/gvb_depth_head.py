"""A plain multi-scale depth head for the GV-B depth tasks (KITTI, NYUv2).

The original GV-B release never implemented depth; mmseg 1.2.2 ships only the diffusion
based ``VPDDepthHead``. This head is the standard light decoder of depth probes: 1x1
lateral convs on the four backbone maps, top-down upsample-and-add (FPN style) to stride
4, a 3x3 conv block, a 1-channel prediction ``sigmoid(x) * max_depth``, bilinear
upsampling to the input size, and mmseg's ``SiLogLoss`` on valid pixels.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList

from intern_mm.registry import MODELS

__all__ = ['GVBDepthHead']


@MODELS.register_module()
class GVBDepthHead(BaseDecodeHead):
    """FPN-style depth decoder over multi-scale features.

    Args:
        in_channels (Sequence[int]): Channels of the selected backbone maps.
        channels (int): Decoder width. Defaults to 256.
        max_depth (float): Largest predictable depth (metres). Defaults to 10.
        in_index (Sequence[int]): Backbone maps used. Defaults to (0, 1, 2, 3).
        loss_decode (dict): Loss config. Defaults to mmseg ``SiLogLoss``.
        **kwargs: Passed to :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``norm_cfg``, ``align_corners``, ...).

    Example:
        >>> head = GVBDepthHead(in_channels=[8, 16, 32, 64], channels=16)
        >>> feats = [torch.rand(1, c, 32 // 2**i, 32 // 2**i)
        ...          for i, c in enumerate([8, 16, 32, 64])]
        >>> head(feats).shape
        torch.Size([1, 1, 32, 32])
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 max_depth: float = 10.0,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 loss_decode: dict = dict(type='SiLogLoss', loss_weight=1.0),
                 **kwargs) -> None:
        if isinstance(loss_decode, dict) and '.' not in loss_decode.get('type', '.'):
            loss_decode = dict(loss_decode, type=f"mmseg.{loss_decode['type']}")
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            num_classes=1,
            out_channels=1,
            in_index=list(in_index),
            input_transform='multiple_select',
            loss_decode=loss_decode,
            dropout_ratio=0.0,
            **kwargs)
        self.max_depth = max_depth
        self.laterals = nn.ModuleList(
            ConvModule(c, channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for c in self.in_channels)
        self.fuse = ConvModule(channels, channels, 3, padding=1, norm_cfg=self.norm_cfg,
                               act_cfg=self.act_cfg)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Depth map ``(N, 1, H/4, W/4)`` (metres) from the backbone maps."""
        feats = self._transform_inputs(inputs)
        x = self.laterals[-1](feats[-1])
        for lateral, feat in zip(self.laterals[-2::-1], feats[-2::-1]):
            x = lateral(feat) + F.interpolate(
                x, size=feat.shape[2:], mode='bilinear', align_corners=self.align_corners)
        x = self.fuse(x)
        return torch.sigmoid(self.conv_seg(x)) * self.max_depth

    def loss_by_feat(self, pred_depth: torch.Tensor,
                     batch_data_samples: SampleList) -> dict:
        """SiLog loss between the upsampled prediction and ``gt_depth_map``."""
        gt = torch.stack([s.gt_depth_map.data for s in batch_data_samples], dim=0)
        pred = resize(pred_depth, size=gt.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)
        losses = {}
        decoders = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) \
            else [self.loss_decode]
        for loss in decoders:
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + loss(pred, gt)
        return losses
