# The Up-E segmentation expert of metanet-tiny_up-e-seg_gv-world_300it.py trained 3x as long
# (900 iterations; the cosine decay stretched with them). The claim's stages
# (intern-paradigm_metanet-tiny_gv-world_claim.py) use it: on world seed 0's upstream val,
# from the same Up-A, mIoU 28.3 -> 88.1 (docs/claim.md, "The upstream learns").
_base_ = ['./metanet-tiny_up-e-seg_gv-world_300it.py']

max_iters = 900
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-3),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
