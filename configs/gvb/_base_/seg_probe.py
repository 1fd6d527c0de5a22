# GV-B seg probe: the backbone frozen (no gradient, eval-mode BN), the heads trained.
_base_ = ['./seg.py']
model = dict(backbone=dict(_delete_=True, type='intern_mm.FrozenBackbone', backbone=None))
