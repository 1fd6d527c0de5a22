"""The three Up-E expert configs build, train two iterations and evaluate per source."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import intern_mm  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIGS = {
    'cls': 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py',
    'det': 'configs/paradigm/metanet-tiny_up-e-det_gv-world_300it.py',
    'seg': 'configs/paradigm/metanet-tiny_up-e-seg_gv-world_300it.py',
}
EXPECTED_KEYS = {
    'cls': ['shape/accuracy/top1', 'colour/accuracy/top1', 'coarse/accuracy/top1',
            'mean/accuracy/top1'],
    'det': ['det_a/pascal_voc/mAP', 'det_b/pascal_voc/mAP', 'mean/pascal_voc/mAP'],
    'seg': ['seg_a/mIoU', 'seg_b/mIoU', 'mean/mIoU'],
}


def _cfg(task, world, work_dir, iters=2):
    cfg = Config.fromfile(str(REPO_ROOT / CONFIGS[task]))
    cfg.work_dir = str(work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(world)
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.sampler.batch_size = 4
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    return cfg


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_expert_trains_and_evaluates_per_source(task, tiny_world, tmp_path):
    torch.manual_seed(0)
    runner = Runner.from_cfg(_cfg(task, tiny_world, tmp_path / task))
    assert runner.cfg.model.backbone.init_cfg is None  # random init without Up-A
    runner.train()
    metrics = runner.val_loop.run()
    for key in EXPECTED_KEYS[task]:
        assert key in metrics, sorted(metrics)
    assert (tmp_path / task / 'iter_2.pth').is_file()


def test_expert_initialised_from_up_a_checkpoint(tiny_world, tmp_path):
    """`init_cfg=Pretrained(prefix='backbone.')` loads an Up-A-style checkpoint."""
    from intern_mm.registry import MODELS
    from mmengine.registry import DefaultScope
    DefaultScope.get_instance('up_e_init_test', scope_name='intern_mm')
    tower = MODELS.build(dict(type='MetaNet', arch='tiny', out_indices=(4, )))
    state = {f'backbone.{k}': v for k, v in tower.state_dict().items()}
    state['text_encoder.weight'] = torch.zeros(2)  # other Up-A keys are ignored
    ckpt = tmp_path / 'up_a.pth'
    torch.save(dict(state_dict=state, meta=dict()), ckpt)

    for task in ('cls', 'seg'):
        cfg = _cfg(task, tiny_world, tmp_path / f'init_{task}')
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt),
                                           prefix='backbone.')
        runner = Runner.from_cfg(cfg)
        runner._init_model_weights()
        model = runner.model
        loaded = model.backbone.state_dict()
        shared = [k for k in loaded if k in tower.state_dict()]
        assert len(shared) > 0.9 * len(loaded)  # all but nothing (cls) / the 1280 head
        for key in shared:
            assert torch.equal(loaded[key], tower.state_dict()[key]), key
