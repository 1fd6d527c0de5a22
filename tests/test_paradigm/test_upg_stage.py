"""The Up-G stage config through MMEngine's Runner on a tiny world: multi-task train and
val loops, the three stock task models, hand-off from expert checkpoints, exports."""
import os.path as osp

import torch
from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline, train_stage
from intern_mm.paradigm.exports import probe_backbone_cfg
from intern_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
UP_G = osp.join(REPO, 'configs/paradigm/metanet-tiny_up-g_gv-world_200it.py')
UP_E_CLS = osp.join(REPO, 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py')


def test_upg_stage_trains_validates_and_exports(tiny_world, tmp_path):
    # a classification-expert checkpoint with recognisable backbone weights
    expert = MODELS.build(Config.fromfile(UP_E_CLS).model)
    with torch.no_grad():
        expert.backbone.stem[0].weight.fill_(0.25)
    expert_ckpt = str(tmp_path / 'cls_expert.pth')
    torch.save(dict(state_dict=expert.state_dict()), expert_ckpt)

    pipe = ParadigmPipeline(Config(dict(
        launcher='inprocess', world=dict(root=tiny_world),
        stages=[dict(name='up-g', kind='generalist', config=UP_G,
                     export=dict(bn_tasks=('cls', 'det'))),
                ])), work_dir=str(tmp_path / 'wd'))
    stage = pipe.stages[0]
    cfg = pipe.build_stage_config(dict(stage, cfg_options={
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.logger.interval': 1,
        '+custom_hooks': [dict(
            type='StageHandoffHook', checkpoint=expert_ckpt, strict=True,
            prefix_mapping={'backbone.': 'backbone.main.', 'head.': 'tasks.cls.head.'})]}))
    cfg_file = str(tmp_path / 'upg.py')
    cfg.dump(cfg_file)
    done = train_stage(cfg_file, cfg.work_dir, 'up-g')

    metrics = done['metrics']
    assert done['iters'] == 2
    for key in ('cls/mean/accuracy/top1', 'det/mean/pascal_voc/mAP', 'seg/mean/mIoU'):
        assert key in metrics, sorted(metrics)
    assert any(k.startswith('cls.') for k in done['train'])

    pipe.results['up-g'] = done
    files = pipe.export_generalist(stage)
    ckpt = torch.load(done['checkpoint'], weights_only=False)['state_dict']
    # the hand-off put the expert's stem into the main stream (then 2 training steps)
    assert torch.allclose(ckpt['backbone.main.stem.0.weight'], torch.tensor(0.25), atol=0.05)
    bb = torch.load(files['backbone'], weights_only=False)['state_dict']
    assert all(k.startswith('backbone.') and '.bns.' not in k for k in bb)
    plain = MODELS.build(probe_backbone_cfg(stage))
    plain.load_state_dict({k[9:]: v for k, v in bb.items()}, strict=True)
    assert plain(torch.rand(1, 3, 64, 64))[-1].shape == (1, 1280)
