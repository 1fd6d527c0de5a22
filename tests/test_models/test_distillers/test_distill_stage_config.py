"""The upstream distillation stage config: Up-G export as teacher, GV-world images."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

CONFIG = Path(__file__).resolve().parents[3] / \
    'configs/paradigm/metanet-tiny_distill_gv-world_300it.py'


def test_stage_config_distils_the_exported_up_g_backbone(tiny_world, tmp_path):
    from mmengine.runner import Runner

    from intern_mm.models import export_generalist
    from intern_mm.paradigm.stage_configs import rebase_paths
    from intern_mm.registry import MODELS
    # an Up-G backbone with task-specific BN, exported as the pipeline does
    torch.manual_seed(0)
    up_g = MODELS.build(dict(type='CentralModel', main=dict(type='MetaNet', arch='tiny'),
                             out_indices=(0, 1, 2, 3, 4), bn_tasks=('cls', 'det')))
    up_g.init_weights()
    up_g.train()
    with torch.no_grad():  # distinct BN statistics per set
        for task in ('cls', 'det'):
            up_g.task = task
            up_g(torch.randn(4, 3, 64, 64))
    up_g.task = 'cls'
    ckpt = tmp_path / 'up-g.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in up_g.state_dict().items()}),
               ckpt)
    exports = export_generalist(str(ckpt), str(tmp_path / 'export'))

    cfg = Config.fromfile(str(CONFIG))
    cfg = Config(rebase_paths(cfg.to_dict(), cfg.data_root, tiny_world))
    cfg.merge_from_dict({'model.teacher_checkpoint': exports['backbone'],
                         'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
                         'work_dir': str(tmp_path / 'wd')})
    runner = Runner.from_cfg(cfg)
    # the teacher is the exported Up-G backbone with its cls BN set
    up_g.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = up_g(x)
    for e, g in zip(expected, runner.model.teacher_features(x)):
        torch.testing.assert_close(g, e)
    runner.train()
    metrics = runner.val()
    levels = [metrics[f'feat_cosine/level_{i}'] for i in range(5)]
    assert metrics['feat_cosine/mean'] == pytest.approx(sum(levels) / 5)
    assert (tmp_path / 'wd' / 'iter_2.pth').is_file()
