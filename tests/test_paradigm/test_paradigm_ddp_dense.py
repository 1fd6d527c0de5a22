"""Up-E det, Up-E seg and Up-G (cls + det + seg + Up-A's image-text task through
MultiTaskIterBasedTrainLoop, the pipeline's Up-G config) under
torchrun with 2 CPU processes (gloo, DDP), through the paradigm pipeline and mmengine's
Runner, as ``nproc_per_stage=2`` runs them.

Each rank saves its parameters and the images it trained on
(``tests/ddp_rank_dump.py``). Gradients are all-reduced, so both replicas must end with
identical parameters (that moved from the initialisation), having trained on different
images (the samplers shard the data), with finite losses.
"""
import json
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline
from paradigm_testutils import REPO

TESTS_DIR = str(Path(__file__).resolve().parents[1])
STAGES = dict(
    up_e_det='configs/paradigm/metanet-tiny_up-e-det_gv-world_300it.py',
    up_e_seg='configs/paradigm/metanet-tiny_up-e-seg_gv-world_300it.py',
    up_g='configs/paradigm/metanet-tiny_up-g-itc_gv-world_200it.py')
DUMP = {'+custom_hooks': [dict(type='intern_mm.DumpRankStateHook')],
        '+custom_imports': dict(imports=['intern_mm', 'ddp_rank_dump'],
                                allow_failed_imports=False)}


@pytest.mark.slow
def test_dense_and_generalist_stages_under_ddp(tiny_world, tmp_path, monkeypatch):
    # the stage processes import the dump hook from tests/
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [TESTS_DIR] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    wd = tmp_path / 'wd'
    cfg = Config(dict(
        launcher='subprocess',
        nproc_per_stage=2,
        world=dict(root=tiny_world),
        stages=[dict(name=name, config=os.path.join(REPO, path), cfg_options=DUMP)
                for name, path in STAGES.items()],
        stage_cfg_options={
            'train_cfg.max_iters': 2,
            'train_cfg.val_interval': 2,
            'default_hooks.logger.interval': 1,
            'default_hooks.checkpoint.interval': 2,
        }))
    summary = ParadigmPipeline(cfg, work_dir=str(wd)).run()
    assert set(summary['stages']) == set(STAGES)
    for name in STAGES:
        stage = wd / 'stages' / name
        done = json.loads((stage / 'done.json').read_text())
        assert done['world_size'] == 2 and done['iters'] == 2, done
        ranks = [torch.load(stage / f'rank{r}_params.pth', weights_only=False)
                 for r in range(2)]
        assert all(r['world_size'] == 2 for r in ranks)
        # finite losses on both ranks (the hook refuses non-finite ones), 2 iterations
        assert all(len(r['losses']) == 2 for r in ranks), name
        params0, params1 = ranks[0]['params'], ranks[1]['params']
        assert params0.keys() == params1.keys()
        # all-reduced gradients: identical replicas after the optimizer steps
        for key, value in params0.items():
            torch.testing.assert_close(params1[key], value, rtol=0, atol=0,
                                       msg=f'{name}: {key}')
        moved = [k for k, v in params0.items() if not torch.equal(v, ranks[0]['init'][k])]
        assert moved, f'{name}: no parameter changed'
        # data parallelism: the ranks trained on different images (per task for Up-G:
        # over two iterations each rank may see most of a tiny task's images)
        assert ranks[0]['seen'] and ranks[1]['seen']
        assert set(ranks[0]['seen']) != set(ranks[1]['seen']) or name == 'up_g', name
        for task, iters in ranks[0]['seen_by_task'].items():
            assert iters[0] and set(iters[0]) != set(ranks[1]['seen_by_task'][task][0]), task
    # Up-G trained all four tasks on every rank
    for r in range(2):
        upg = torch.load(wd / 'stages' / 'up_g' / f'rank{r}_params.pth', weights_only=False)
        assert upg['tasks'] == ['cls', 'det', 'itc', 'seg']
    metrics = summary['stages']['up_g']['metrics']
    assert {'cls/mean/accuracy/top1', 'det/mean/pascal_voc/mAP', 'seg/mean/mIoU'} <= \
        set(metrics)
