# Frozen-backbone (GV-B "linear probe" style) variant: MetaNet weights and BN statistics stay
# fixed; only FPN, RPN and RoI heads train. Load pretrained weights with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './metanet-b4_faster-rcnn_fpn_1x_voc0712.py'

model = dict(
    backbone=dict(
        frozen_stages=6,  # stem + all six stages
        norm_eval=True,
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mn-b4_intern.pth')))
