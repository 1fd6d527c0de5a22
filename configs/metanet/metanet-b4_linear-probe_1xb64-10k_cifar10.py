# GV-B linear probe: frozen MetaNet (weights and BN statistics fixed), a linear head on the pooled
# 1280-d feature trained with the original fixed recipe. Load pretrained weights with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH (see tools/model_converters/gvb2intern.py).
_base_ = './metanet-b4_1xb64-10k_cifar10.py'

model = dict(
    backbone=dict(
        frozen_stages=6,  # stem + all six stages + the 1280-d head conv
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mn-b4_intern.pth')))
