# Frozen-backbone variant: the whole generalist (main stream, transfer layers, auxiliary
# expert) and its BN statistics stay fixed; FPN, RPN and RoI heads train.
_base_ = './central-mn-b4_faster-rcnn_fpn_1x_voc0712.py'

model = dict(
    backbone=dict(
        main=dict(drop_path_rate=0.0),
        frozen_stages=6,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/central-mn-b4_intern.pth')))
