# A minute-scale variant of the worked example (intern-paradigm_metanet-tiny_your-data.py)
# for tests and quick checks: a 48-image world and a few images of each real source
# (CIFAR-10 folder, raccoon VOC), every stage trained for 2 iterations in one process,
# the leak check, then Up-G probed on the world's counting task (a GV-B task row) against
# the scratch baseline. Numbers are meaningless; it checks the plumbing from declared
# sources to the claim table.
#
#   python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_your-data-mini.py
_base_ = ['./intern-paradigm_metanet-tiny_your-data.py']

from intern_mm.datasets.gvd.sources import world_sources  # noqa: E402  (function: dropped)

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_your-data-mini'
launcher = 'inprocess'
world = dict(root='data/gv_world_mini', num=48, seed=0, img_size=64)
sources = dict(
    **world_sources('data/gv_world_mini'),
    cifar10=dict(limit=dict(train=16, val=8)),
    raccoon=dict(limit=dict(train=8, val=4)),
)
stage_cfg_options = {
    'train_cfg.max_iters': 2,
    'train_cfg.val_interval': 2,
    'default_hooks.checkpoint.interval': 2,
    'default_hooks.logger.interval': 1,
}
downstream = dict(
    fraction=0.25,
    tasks=dict(_delete_=True, count=dict(
        task='gvw_count_cls', data_root='data/gv_world_mini',
        recipe=dict(max_iters=3, milestones=[2], batch_size=4))),
    backbones={'_delete_': True, 'up-g': 'up-g'},
    protocols={'_delete_': True, 'default': ('probe', )},
    probe_grid=[dict(lr=0.01, weight_decay=1e-4, momentum=0.9)],
    ota=dict(distill=dict(max_iters=2, batch_size=4)))
