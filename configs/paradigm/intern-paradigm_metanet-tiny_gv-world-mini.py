# A minute-scale variant of the paradigm pipeline for tests and quick checks: a 48-image
# world, every stage (and the scratch baselines) trained for 2 iterations with a checkpoint
# after each, short probes, all stages in one process. Numbers are meaningless; it checks the
# plumbing (hand-offs, exports, skip / resume, summary).
_base_ = ['./intern-paradigm_metanet-tiny_gv-world.py']

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
downstream = dict(probe=dict(lrs=(0.03, ), max_iters=10, batch_size=16))
