"""GV-B protocol configs: the templates in configs/gvb/_base_ (defaults, frozen probe), checked
``cfg_options``, ``run_config.py``, and the ``backbone_lr_mult`` recipe key reaching the
optimizer."""
import dataclasses
import os

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


# ----------------------------------------------------------------------------------------
# the protocol templates (configs/gvb/_base_), checked cfg_options, run_config.py
# ----------------------------------------------------------------------------------------
def _ctx(task, tmp_path, mode='probe', **kw):
    """A context on the task's declared layout (no files: ``check_files=False``)."""
    import copy
    args = dict(task=task, data_root=str(tmp_path / 'data'), layout=copy.deepcopy(task.layout),
                subset_dir=str(tmp_path / 'subset'), backbone=parse_backbone_spec(TINY),
                out_channels=OUT if task.family != 'cls' else [(64, 32)], mode=mode,
                recipe=family_recipe(task), work_dir=str(tmp_path / 'wd'), num_workers=0,
                check_files=False)
    args.update(kw)
    return ProtocolContext(**args)


def _pipeline(ds):
    """The (first) leaf pipeline of a dataset config (Repeat / Concat wrappers)."""
    if 'pipeline' in ds:
        return ds['pipeline']
    return _pipeline(ds['dataset'] if 'dataset' in ds else ds['datasets'][0])


@pytest.mark.parametrize('mode', ['probe', 'finetune'])
@pytest.mark.parametrize('name', ['cifar10', 'voc0712_det', 'voc2012_seg', 'nyuv2_depth'])
def test_templates_hold_the_default_recipe(tmp_path, name, mode):
    """A task without recipe overrides resolves to the template's numbers: the files in
    configs/gvb/_base_ and DEFAULT_RECIPES say the same."""
    from intern_mm.benchmark.protocols import load_template
    task = get_task(name)
    assert not task.recipe and not task.cfg_options
    tpl = load_template(task.family, mode)
    cfg = build_runner_cfg(_ctx(task, tmp_path, mode))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'test_cfg', 'custom_hooks',
                'default_scope', 'custom_imports', 'visualizer', 'log_processor'):
        assert cfg[key] == tpl[key], key
    assert cfg['default_hooks']['checkpoint'] == tpl['default_hooks']['checkpoint']
    for loader in ('train_dataloader', 'test_dataloader'):
        assert cfg[loader]['batch_size'] == tpl[loader]['batch_size']
        assert _pipeline(cfg[loader]['dataset']) == _pipeline(tpl[loader]['dataset'])
    if task.family == 'det':
        assert cfg['train_dataloader']['dataset']['times'] == \
            tpl['train_dataloader']['dataset']['times'] == 3
    for head in ('decode_head', 'auxiliary_head'):
        if head in tpl['model']:
            for key in ('channels', 'in_index'):
                assert cfg['model'][head][key] == tpl['model'][head][key]
    assert cfg['model']['data_preprocessor'] == tpl['model']['data_preprocessor']


@pytest.mark.parametrize('family', ['cls', 'det', 'seg', 'depth'])
def test_probe_templates_freeze_the_backbone(family):
    from intern_mm.benchmark.protocols import SCOPES, load_template, template_path
    probe, finetune = load_template(family, 'probe'), load_template(family, 'finetune')
    assert probe['model']['backbone'] == dict(type='intern_mm.FrozenBackbone', backbone=None)
    assert finetune['model']['backbone'] is None
    assert probe['default_scope'] == finetune['default_scope'] == SCOPES[family]
    assert 'train_pipeline' not in probe and 'test_pipeline' not in probe
    with pytest.raises(ValueError, match='unknown mode'):
        template_path(family, 'linear')


def test_cfg_options_typo_is_refused(tmp_path):
    """A misspelt key raises (bare merge_from_dict used to add it silently); ``+key``
    adds one on purpose; the task's own options (GV world) still merge."""
    from intern_mm.utils.config import UnknownConfigKeyError
    task = get_task('cifar10')
    with pytest.raises(UnknownConfigKeyError,
                       match='train_dataloader.batchsize".*train_dataloader.batch_size'):
        build_runner_cfg(_ctx(task, tmp_path, cfg_options={'train_dataloader.batchsize': 5}))
    cfg = build_runner_cfg(_ctx(task, tmp_path, cfg_options={
        'train_cfg.max_iters': 5, '+model.head.cal_acc': True}))
    assert cfg['train_cfg']['max_iters'] == 5 and cfg['model']['head']['cal_acc'] is True
    det = build_runner_cfg(_ctx(get_task('gvw_colour_det'), tmp_path))
    assert det['model']['neck']['out_channels'] == 64  # the task's cfg_options


def test_build_protocol_runner_writes_the_config_it_runs(tmp_path):
    """``run_config.py`` in the work dir, read back by Config.fromfile as the config of
    the Runner."""
    from intern_mm.benchmark.protocols import RUN_CONFIG_NAME, build_protocol_runner
    from intern_mm.benchmark.suite import preserve_default_scope
    task = get_task('citypersons_det')
    root, subset = _coco_task_dir(tmp_path)
    layout, _ = resolve_layout(task, str(root))
    ctx = ProtocolContext(task=task, data_root=str(root), layout=layout,
                          subset_dir=str(subset), backbone=parse_backbone_spec(TINY),
                          out_channels=OUT, mode='finetune', recipe=family_recipe(task),
                          work_dir=str(tmp_path / 'wd'), num_workers=0)
    cfg = build_runner_cfg(ctx)
    with preserve_default_scope():
        runner, again = build_protocol_runner(cfg), build_protocol_runner(cfg)
    written = Config.fromfile(str(tmp_path / 'wd' / RUN_CONFIG_NAME))
    ran = runner.cfg.to_dict()
    name = ran.pop('experiment_name')
    assert written.to_dict() == Config(cfg).to_dict() == ran
    # two Runners built within one second keep their own logger and visualizer
    assert runner.experiment_name.startswith(f'wd_{os.getpid()}_')
    assert runner.experiment_name.startswith(name) and again.experiment_name != \
        runner.experiment_name
    assert again.visualizer is not runner.visualizer
    assert again.logger is not runner.logger
