"""Detection recipes: the release's CityPersons recipe is the default of ``citypersons_det``
and gradient clipping is reachable through ``family_recipe`` for every detection task."""
import json

import pytest

from intern_mm.benchmark import get_task, parse_backbone_spec
from intern_mm.benchmark.protocols import ProtocolContext, build_runner_cfg, family_recipe
from intern_mm.benchmark.tasks import resolve_layout

TINY = "dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, base_channels=8)"
OUT = [(8, 4), (16, 8), (32, 16), (64, 32)]


def _coco_task_dir(tmp_path):
    """A prepared CityPersons-style layout (COCO files only) and its subset folder."""
    root = tmp_path / 'cp'
    (root / 'annotations').mkdir(parents=True)
    coco = dict(images=[dict(id=0, file_name='a.png', width=64, height=32)],
                annotations=[dict(id=1, image_id=0, category_id=1, bbox=[1, 1, 8, 20],
                                  area=160, iscrowd=0, vis_ratio=1.0, ignore=0)],
                categories=[dict(id=1, name='person')])
    for split in ('train', 'val'):
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(coco))
    subset = tmp_path / 'subset'
    subset.mkdir()
    (subset / 'subset.json').write_text(json.dumps(coco))
    return root, subset


def _cfg(tmp_path, task_name, overrides=None):
    task = get_task(task_name)
    root, subset = _coco_task_dir(tmp_path)
    layout, missing = resolve_layout(task, str(root))
    assert layout is not None, missing
    ctx = ProtocolContext(task=task, data_root=str(root), layout=layout,
                          subset_dir=str(subset), backbone=parse_backbone_spec(TINY),
                          out_channels=OUT, recipe=family_recipe(task, overrides),
                          work_dir=str(tmp_path / 'wd'), num_workers=0)
    return build_runner_cfg(ctx)


def test_citypersons_default_recipe_is_the_release_recipe(tmp_path):
    recipe = family_recipe(get_task('citypersons_det'))
    # configs/det/_base_/schedules/schedule_cityperson.py of the release
    assert (recipe['max_epochs'], recipe['lr'], recipe['grad_clip'],
            recipe['milestones'], recipe['warmup_iters']) == (60, 0.01, 35.0, [30, 40], 500)
    assert recipe['warmup_ratio'] == pytest.approx(1 / 3)
    cfg = _cfg(tmp_path, 'citypersons_det')
    assert cfg['optim_wrapper']['clip_grad'] == dict(max_norm=35.0, norm_type=2)
    assert cfg['optim_wrapper']['optimizer']['lr'] == 0.01
    assert cfg['train_cfg']['max_epochs'] == 60
    warmup, steps = cfg['param_scheduler']
    assert warmup['start_factor'] == pytest.approx(1 / 3) and warmup['end'] == 500
    assert steps['milestones'] == [30, 40]
    # multi-scale training: a random scale in the range, single-scale test at 2048x1024
    resize = cfg['train_dataloader']['dataset']['pipeline'][2]
    assert resize == dict(type='RandomResize', scale=[(1216, 608), (2048, 1024)],
                          keep_ratio=True)
    test_resize = cfg['test_dataloader']['dataset']['pipeline'][1]
    assert test_resize['scale'] == (2048, 1024)
    assert cfg['test_evaluator'][0]['type'] == 'intern_mm.CityPersonsMetric'


def test_grad_clip_reachable_through_family_recipe(tmp_path):
    import torch
    from mmengine.optim import build_optim_wrapper
    assert family_recipe(get_task('voc0712_det'))['grad_clip'] is None
    assert family_recipe(get_task('voc0712_det'), dict(grad_clip=3))['grad_clip'] == 3
    cfg = _cfg(tmp_path / 'b', 'citypersons_det', dict(grad_clip=2.0))
    assert cfg['optim_wrapper']['clip_grad'] == dict(max_norm=2.0, norm_type=2)
    # the built optimizer wrapper really clips: a gradient of norm 10 (5 per entry)
    # becomes norm 2 (1 per entry); SGD lr 0.01, wd 1e-4, first momentum step = grad
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1, bias=False)
    w0 = net.weight.detach().clone()
    wrapper = build_optim_wrapper(net, cfg['optim_wrapper'])
    wrapper.update_params((net.weight * 5).sum())
    expected = w0 - 0.01 * (1.0 + 1e-4 * w0)
    assert torch.allclose(net.weight.detach(), expected, atol=1e-7)
    with pytest.raises(KeyError, match='unknown recipe keys'):
        family_recipe(get_task('cifar10'), dict(grad_clip=1.0))
    cfg = _cfg(tmp_path / 'c', 'citypersons_det', dict(grad_clip=None, train_scales=None))
    assert 'clip_grad' not in cfg['optim_wrapper']
    assert cfg['train_dataloader']['dataset']['pipeline'][2]['type'] == 'Resize'
