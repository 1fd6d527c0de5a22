"""GV-B protocol configs: the ``backbone_lr_mult`` recipe key reaches the optimizer."""
import dataclasses

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from intern_mm.benchmark import get_task, parse_backbone_spec
from intern_mm.benchmark.protocols import ProtocolContext, build_runner_cfg, family_recipe
from intern_mm.benchmark.tasks import resolve_layout
from test_det_recipes import OUT, TINY, _coco_task_dir


def _optimizer_lrs(tmp_path, mode, checkpoint, overrides):
    """``{'backbone': lr, 'head': lr}`` of the optimizer mmengine builds from the run's
    config (a CityPersons Faster R-CNN on a tiny ResNet)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS
    task = get_task('citypersons_det')
    root, subset = _coco_task_dir(tmp_path)
    layout, _ = resolve_layout(task, str(root))
    if checkpoint:  # a backbone checkpoint (the protocol checks that it exists)
        checkpoint = str(tmp_path / checkpoint)
        torch.save({'state_dict': {}}, checkpoint)
    spec = dataclasses.replace(parse_backbone_spec(TINY), checkpoint=checkpoint)
    ctx = ProtocolContext(task=task, data_root=str(root), layout=layout,
                          subset_dir=str(subset), backbone=spec, out_channels=OUT,
                          mode=mode, recipe=family_recipe(task, overrides),
                          work_dir=str(tmp_path / 'wd'), num_workers=0)
    cfg = Config(build_runner_cfg(ctx))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    lrs = {}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            part = 'backbone' if names[id(p)].startswith('backbone.') else 'head'
            lrs.setdefault(part, set()).add(group['lr'])
    return {k: sorted(v) for k, v in lrs.items()}


LR = 0.01  # the CityPersons recipe's


@pytest.mark.parametrize('checkpoint,factor', [
    ('pretrained.pth', 0.1),  # a pre-trained backbone moves slower than the new head
    (None, 1.0),  # random init (scratch) trains at the full rate
])
def test_backbone_lr_mult_scales_a_pretrained_backbone(tmp_path, checkpoint, factor):
    lrs = _optimizer_lrs(tmp_path, 'finetune', checkpoint, dict(backbone_lr_mult=0.1))
    assert lrs == {'backbone': [pytest.approx(LR * factor)], 'head': [pytest.approx(LR)]}


def test_backbone_lr_mult_defaults_to_the_full_rate(tmp_path):
    recipe = family_recipe(get_task('citypersons_det'))
    assert recipe['backbone_lr_mult'] == 1.0 and recipe['lr'] == LR
    lrs = _optimizer_lrs(tmp_path, 'finetune', 'pretrained.pth', None)
    assert lrs == {'backbone': [pytest.approx(LR)], 'head': [pytest.approx(LR)]}
