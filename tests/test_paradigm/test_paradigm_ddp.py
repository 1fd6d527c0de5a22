"""The paradigm pipeline with every stage under torchrun: 2 CPU processes, gloo, DDP."""
import json

import pytest
import torch
from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline
from paradigm_testutils import UP_A, two_stages


def test_stages_train_data_parallel_under_torchrun(tiny_world, tmp_path):
    wd = tmp_path / 'wd'
    cfg = Config(dict(
        launcher='subprocess',
        nproc_per_stage=2,
        world=dict(root=tiny_world),
        stages=two_stages(),
        stage_cfg_options={
            'train_cfg.max_iters': 2,
            'train_cfg.val_interval': 2,
            'default_hooks.logger.interval': 1,
        }))
    summary = ParadigmPipeline(cfg, work_dir=str(wd)).run()
    assert set(summary['stages']) == {'up-a', 'up-e-cls'}
    for name in ('up-a', 'up-e-cls'):
        with open(wd / 'stages' / name / 'done.json') as f:
            done = json.load(f)
        assert done['world_size'] == 2 and done['iters'] == 2, done
        log = (wd / 'stages' / name / 'stage_output.log').read_text()
        # mmengine's runner itself ran distributed (gloo when there is no CUDA)
        assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
        assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert 'mean/accuracy/top1' in summary['stages']['up-e-cls']['metrics']
    # rank 0 wrote the final checkpoint after both ranks finished
    ckpt = torch.load(summary['stages']['up-e-cls']['checkpoint'], map_location='cpu',
                      weights_only=False)
    assert ckpt['meta']['iter'] == 2


def test_nproc_per_stage_needs_subprocess_launcher(tiny_world):
    cfg = Config(dict(launcher='inprocess', nproc_per_stage=2, world=dict(root=tiny_world),
                      stages=[dict(name='up-a', config=UP_A)]))
    with pytest.raises(ValueError, match="needs launcher='subprocess'"):
        ParadigmPipeline(cfg)
    cfg.nproc_per_stage = 0
    with pytest.raises(ValueError, match='positive integer'):
        ParadigmPipeline(cfg)
