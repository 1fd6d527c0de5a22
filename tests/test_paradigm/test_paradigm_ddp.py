"""The paradigm pipeline with every stage under torchrun: 2 CPU processes, gloo, DDP."""
import json

import pytest
import torch
from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline
from intern_mm.paradigm.exports import probe_backbone_cfg
from paradigm_testutils import UP_A, two_stages


@pytest.mark.slow
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


@pytest.mark.slow
def test_distill_stage_trains_data_parallel_from_the_generalist_export(tiny_world,
                                                                        tmp_path):
    """kind='distill': teacher = the generalist's exported backbone, 2 gloo processes."""
    import os
    import os.path as osp
    from intern_mm.registry import MODELS
    from paradigm_testutils import REPO
    up_g = osp.join(REPO, 'configs/paradigm/metanet-tiny_up-g_gv-world_200it.py')
    distill = osp.join(REPO, 'configs/paradigm/metanet-tiny_distill_gv-world_300it.py')
    wd = tmp_path / 'wd'
    # a finished generalist stage with its export (the pipeline skips and reuses it)
    gdir = wd / 'stages' / 'up-g'
    os.makedirs(gdir / 'export')
    torch.save(dict(state_dict={}), gdir / 'iter_1.pth')
    (gdir / 'done.json').write_text(json.dumps(dict(
        stage='up-g', checkpoint=str(gdir / 'iter_1.pth'), iters=1, metrics={},
        wall_time_s=0.0)))
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(distill).model.teacher)
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in
                                teacher.state_dict().items()}),
               gdir / 'export' / 'backbone.pth')
    cfg = Config(dict(
        launcher='subprocess', nproc_per_stage=2, world=dict(root=tiny_world),
        stages=[dict(name='up-g', kind='generalist', config=up_g, export=dict(bn_tasks=())),
                dict(name='distill', kind='distill', teacher='up-g', config=distill)],
        stage_cfg_options={'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
                           'default_hooks.logger.interval': 1}))
    pipe = ParadigmPipeline(cfg, work_dir=str(wd))
    summary = pipe.run()
    with open(wd / 'stages' / 'distill' / 'done.json') as f:
        done = json.load(f)
    assert done['world_size'] == 2 and done['iters'] == 2
    stage_cfg = Config.fromfile(str(wd / 'stages' / 'distill' / 'stage_config.py'))
    assert stage_cfg.model.teacher_checkpoint == str(gdir / 'export' / 'backbone.pth')
    # the exported student is a plain backbone the downstream runs can load
    files = pipe.export_stage(pipe.stages[1])
    state = torch.load(files['backbone'], map_location='cpu', weights_only=False)
    state = state.get('state_dict', state)
    student = MODELS.build(probe_backbone_cfg(pipe.stages[1]))
    student.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()}, strict=True)
    assert summary['stages']['distill']['kind'] == 'distill'
