# GV-B det probe: the backbone frozen (no gradient, eval-mode BN), the heads trained.
_base_ = ['./det.py']
model = dict(backbone=dict(_delete_=True, type='intern_mm.FrozenBackbone', backbone=None))
