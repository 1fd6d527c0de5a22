# The Up-E classification expert of metanet-tiny_up-e-cls_gv-world_300it.py trained 3x as long
# (900 iterations; the cosine decay stretched with them). The claim's stages
# (intern-paradigm_metanet-tiny_gv-world_claim.py) use it: on world seed 0's upstream val,
# from the same Up-A, shape top-1 25.6 -> 41.6 (chance 12.5), colour 86.9 -> 91.3, coarse 52.9 -> 62.4 (docs/claim.md, "The upstream learns").
_base_ = ['./metanet-tiny_up-e-cls_gv-world_300it.py']

max_iters = 900
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
