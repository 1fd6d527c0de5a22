# The Up-E detection expert of metanet-tiny_up-e-det_gv-world_300it.py trained 3x as long
# (900 iterations; the cosine decay stretched with them). The claim's stages
# (intern-paradigm_metanet-tiny_gv-world_claim.py) use it: on world seed 0's upstream val,
# from the same Up-A, VOC mAP 0.29 -> 0.81 (docs/claim.md, "The upstream learns").
_base_ = ['./metanet-tiny_up-e-det_gv-world_300it.py']

max_iters = 900
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=2e-4),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
