# Frozen-backbone variant: MetaNet weights and BN statistics fixed, only the heads train.
_base_ = './metanet-b4_deeplabv3_4xb4-20k_voc12aug-512x512.py'

model = dict(
    backbone=dict(
        frozen_stages=6,
        norm_eval=True,
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mn-b4_intern.pth')))
