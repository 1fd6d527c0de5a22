# GV-B classification linear probe: the backbone frozen (no gradient, eval-mode BN), the
# linear head trained on un-augmented crops (the test pipeline).
_base_ = ['./cls.py']
model = dict(backbone=dict(_delete_=True, type='intern_mm.FrozenBackbone', backbone=None))
