# A minute-scale variant of the 4-family paradigm pipeline for tests and quick checks: a
# 48-image world, every stage trained for 2 iterations with a checkpoint after each, every
# Downstream-Adaptation protocol of every family for a few iterations (every protocol on
# Up-G, the probe on the other roles), all in one process. Numbers are meaningless; it
# checks the plumbing (hand-offs, exports, distillation, adaptation protocols, skip /
# resume, summary).
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world-mini'
launcher = 'inprocess'
world = dict(root='data/gv_world_mini', num=48, seed=0, img_size=64)
stage_cfg_options = {
    'train_cfg.max_iters': 2,
    'train_cfg.val_interval': 2,
    'default_hooks.checkpoint.interval': 1,
    'default_hooks.logger.interval': 1,
    'default_hooks.checkpoint.max_keep_ckpts': -1,
}
downstream = dict(
    fraction=0.25,
    protocols={'default': ('probe', ), 'up-g': ('probe', 'finetune', 'ota')},
    recipes=dict(
        cls=dict(max_iters=3, milestones=[2], batch_size=4),
        det=dict(repeat=1, batch_size=4, warmup_iters=1),
        seg=dict(max_iters=2, batch_size=4),
        depth=dict(max_iters=2, batch_size=4)),
    probe_grid=[dict(lr=0.01, weight_decay=1e-4, momentum=0.9)],
    ota=dict(distill=dict(max_iters=2, batch_size=4)))
