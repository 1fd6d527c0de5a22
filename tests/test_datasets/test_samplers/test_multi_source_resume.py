"""Resuming an Up-E run replays exactly the batches an uninterrupted run draws."""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import intern_mm  # noqa: F401
from intern_mm.registry import HOOKS

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py'
SEEN = []


@HOOKS.register_module(force=True)
class _RecordBatchesHook(Hook):
    """Record (iteration, image paths, sources) of every training batch."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        SEEN.append((runner.iter, [(s.img_path, s.dataset_source)
                                   for s in data_batch['data_samples']]))


def _run(world, work_dir, iters, resume=False, ratio_schedule=None):
    cfg = Config.fromfile(str(CONFIG))
    cfg.work_dir = str(work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(world)
    cfg.train_dataloader.batch_size = 5
    cfg.train_dataloader.sampler.batch_size = 5
    cfg.train_dataloader.sampler.ratio_schedule = ratio_schedule
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = 1000
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=3)
    cfg.custom_hooks = [dict(type='_RecordBatchesHook')]
    cfg.resume = resume
    SEEN.clear()
    Runner.from_cfg(cfg).train()
    return list(SEEN)


def test_resume_replays_batches(tiny_world, tmp_path):
    world = tiny_world  # the session's 40-image GV world (tests/conftest.py)
    torch.manual_seed(0)
    schedule = [(4, [0, 1, 1])]  # drop `shape` from iteration 4 on
    full = _run(world, tmp_path / 'full', iters=6, ratio_schedule=schedule)
    assert [t for t, _ in full] == list(range(6))
    assert all(src != 'shape' for _, batch in full[4:] for _, src in batch)
    assert any(src == 'shape' for _, batch in full[:4] for _, src in batch)

    # interrupted after 3 iterations (checkpoint iter_3), then resumed to 6
    part = tmp_path / 'part'
    first = _run(world, part, iters=3, ratio_schedule=schedule)
    assert first == full[:3]
    resumed = _run(world, part, iters=6, resume=True, ratio_schedule=schedule)
    assert [t for t, _ in resumed] == [3, 4, 5]
    assert resumed == full[3:]
