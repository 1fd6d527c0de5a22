"""Backbone specifications and the task table."""
import csv

import pytest
import torch

from intern_mm.benchmark import (GVB_TASKS, build_backbone, get_task, load_task_file,
                                 parse_backbone_spec, select_tasks)
from intern_mm.benchmark.official import OFFICIAL_CSV
from intern_mm.benchmark.tasks import EXTRA_TASKS, resolve_layout
from intern_mm.models.utils import describe_backbone_outputs

TINY = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)


def test_parse_backbone_specs(tmp_path):
    assert parse_backbone_spec("dict(type='ResNet', depth=18)").cfg['type'] == \
        'mmpretrain.ResNet'
    assert parse_backbone_spec("{'type': 'ResNet', 'depth': 18}").cfg['depth'] == 18
    model_cfg = tmp_path / 'model.py'
    model_cfg.write_text(f"model = dict(type='ImageClassifier', backbone={TINY!r}, "
                         "data_preprocessor=dict(mean=[1, 2, 3], std=[1, 1, 1]))\n")
    spec = parse_backbone_spec(str(model_cfg))
    assert spec.cfg['base_channels'] == 8 and spec.data_preprocessor['mean'] == [1, 2, 3]
    bare = tmp_path / 'bare.py'
    bare.write_text(f'backbone = {TINY!r}\n')
    assert parse_backbone_spec(str(bare)).cfg['stem_channels'] == 8
    net = build_backbone(TINY)
    ckpt = tmp_path / 'full.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in net.state_dict().items()},
                'meta': {}}, ckpt)
    with pytest.raises(ValueError, match='--backbone-cfg'):
        parse_backbone_spec(str(ckpt))
    spec = parse_backbone_spec(str(ckpt), backbone_cfg=str(bare))
    loaded = build_backbone(spec)
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    with pytest.raises(KeyError, match='unknown backbone type'):
        parse_backbone_spec("dict(type='NoSuchNet')")
    with pytest.raises(FileNotFoundError):
        parse_backbone_spec(str(tmp_path / 'missing.py'))
    outs = describe_backbone_outputs(build_backbone(dict(TINY, out_indices=(0, 1, 2, 3))))
    assert outs == [(8, 4), (16, 8), (32, 16), (64, 32)]


def test_task_table_matches_published_columns():
    header = next(csv.reader(OFFICIAL_CSV.splitlines()))[2:]
    assert [t.column for t in GVB_TASKS.values()] == header
    assert len(GVB_TASKS) == 26
    families = [t.family for t in GVB_TASKS.values()]
    assert families.count('cls') == 20 and families.count('det') == 3
    assert families.count('seg') == 1 and families.count('depth') == 2
    mpc = {n for n, t in GVB_TASKS.items() if t.metric == 'mean_per_class'}
    assert mpc == {'pets', 'flowers102', 'caltech101', 'aircraft'}
    lower = {n for n, t in GVB_TASKS.items() if t.lower_is_better}
    assert lower == {'citypersons_det', 'kitti_depth', 'nyuv2_depth'}
    assert all(t.prepare for t in GVB_TASKS.values())
    assert [t.name for t in select_tasks('det')] == ['voc0712_det', 'widerface_det',
                                                     'citypersons_det']
    assert [t.name for t in select_tasks('pets,cls')][0] == 'pets'
    assert len(select_tasks('all')) == 26
    with pytest.raises(KeyError, match='unknown GV-B task'):
        get_task('mnist')


def test_resolve_layout_and_task_file(tmp_path):
    layout, missing = resolve_layout(get_task('cifar10'), str(tmp_path / 'none'))
    assert layout is None and missing
    (tmp_path / 'c' / 'train' / 'x').mkdir(parents=True)
    (tmp_path / 'c' / 'test' / 'x').mkdir(parents=True)
    layout, missing = resolve_layout(get_task('cifar10'), str(tmp_path / 'c'))
    assert layout['train'] == dict(img_dir='train') and not missing
    task_file = tmp_path / 'tasks.py'
    task_file.write_text(
        "tasks = [dict(name='my_cls', title='Mine', family='cls', metric='top1', "
        "num_classes=2, layout=dict(format='cls', train=dict(ann_file='a.txt'), "
        "test=dict(ann_file='b.txt'), classes=None), prepare='by hand')]\n")
    try:
        (task,) = load_task_file(str(task_file))
        assert get_task('my_cls') is task and not task.in_gvb
    finally:
        EXTRA_TASKS.pop('my_cls', None)
    bad = tmp_path / 'bad.py'
    bad.write_text("tasks = [dict(name='x', colour='red')]\n")
    with pytest.raises(KeyError, match='unknown task keys'):
        load_task_file(str(bad))


def test_metanet_pooled_vector_through_both_probe_implementations(tmp_path, tiny_cifar):
    """MetaNet's out index 4 (the pooled 1280-d vector) feeds the linear head directly."""
    from intern_mm.benchmark import SuiteConfig, run_suite
    backbone = "dict(type='MetaNet', arch='tiny', out_indices=(4, ))"
    for impl in ('cache', 'runner'):
        cfg = SuiteConfig(backbone=backbone, tasks='cifar10',
                          data_roots={'cifar10': str(tiny_cifar)},
                          work_dir=str(tmp_path / 'wd'), run_name=impl,
                          subset_base=str(tmp_path / 's'), ratio=0.2, num_workers=0,
                          impl=impl, recipe={'cls': dict(max_iters=3, img_size=32,
                                                         batch_size=8)})
        (res, ) = run_suite(cfg)
        assert res['status'] == 'done' and res['impl'] == impl
    cache = json_load(tmp_path / 'wd' / 'cache' / 'cifar10' / 'result.json')
    runner = json_load(tmp_path / 'wd' / 'runner' / 'cifar10' / 'result.json')
    assert cache['score'] == pytest.approx(runner['score'], abs=1e-6)


def json_load(path):
    import json
    return json.loads(path.read_text())
