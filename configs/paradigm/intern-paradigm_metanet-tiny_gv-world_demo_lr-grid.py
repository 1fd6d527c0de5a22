# Learning-rate grid of the downstream runs on world seed 0 (the design seed; compare val
# only; docs/claim.md, "Learning rates"). Every family's Up-G fine-tuning on 10% and both
# counterparts on 100% at the claim's schedules, with each row's recipe learning rate at
# 1x (this config) and at a multiple of it (--cfg-options). The stages are the demo's as
# they were measured (the experts at 300 iterations, the claim config's `_stages_300it`):
# the 1x run trains them, and each further grid point runs in a copy of its work dir (its
# stages and finished runs at the same recipe are reused; a changed learning rate starts
# a run afresh):
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_demo_lr-grid.py \
#       --work-dir work_dirs/demo_lr-1x
#   cp -r work_dirs/demo_lr-1x work_dirs/demo_lr-3x
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_demo_lr-grid.py \
#       --work-dir work_dirs/demo_lr-3x --cfg-options downstream.recipes.cls.lr=0.03 \
#       downstream.recipes.det.lr=0.06 downstream.recipes.seg.lr=0.3 \
#       downstream.recipes.depth.lr=0.003
#   # 10x: seg lr=1.0, depth lr=0.01; 30x / 100x / 300x: depth lr=0.03 / 0.1 / 0.3
#   # (one family: --cfg-options "downstream.families=('depth', )")
#
# The counterparts' and the 10% runs' rates are chosen apart, each the grid's last point
# that improves val by more than 1% (the schedule grids' rule); the claim config sets
# the chosen ones (downstream.recipes, and the counterparts' own recipes).
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_demo.py']

work_dir = 'work_dirs/demo_lr-1x'
stage_overrides = _base_._stages_300it
_all = ('cls', 'det', 'seg', 'depth')
downstream = dict(
    families=_all,
    protocols=dict(_delete_=True, **{'up-g': {row: ('finetune', ) for row in _all}}),
    finetune_schedules=dict(_delete_=True, **{'up-g': dict(cls=(1, ), det=(3, ), seg=(10, ),
                                                            depth=(10, ))}),
    scratch=dict(schedules=dict(_delete_=True, cls=(3, ), det=(3, ), seg=(10, ),
                                depth=(10, )), recipes=dict(_delete_=True)),
    conventional=dict(schedules=dict(_delete_=True, cls=(3, ), det=(3, ), seg=(10, ),
                                     depth=(10, )), recipes=dict(_delete_=True)),
    # the recipes' rates (intern_mm/benchmark/gv_world_tasks.py) at 1x
    recipes=dict(_delete_=True, cls=dict(batch_size=16, lr=0.01),
                 det=dict(repeat=70, lr=0.02), seg=dict(lr=0.1), depth=dict(lr=1e-3)),
)
