"""Downstream-Adaptation on a tiny world: GV-B subsets, probe vs fine-tune semantics,
val-based selection, scratch baselines and the registered GV-B tasks."""
import json
import os.path as osp

import pytest
import torch

from intern_mm.benchmark.subsets import verify_subset
from intern_mm.benchmark.tasks import get_task
from intern_mm.paradigm import DownstreamAdapter, backbone_spec

TINY = dict(type='MetaNet', arch='tiny', out_indices=(4, ))
RECIPES = dict(cls=dict(max_iters=3, milestones=[2], batch_size=4),
               det=dict(repeat=1, batch_size=4, warmup_iters=1),
               seg=dict(max_iters=2, batch_size=4),
               depth=dict(max_iters=2, batch_size=4))


def _adapter(world, tmp_path, **kw):
    return DownstreamAdapter(world, str(tmp_path / 'ds'), fraction=0.25, recipes=RECIPES,
                             **kw)


def _backbone_ckpt(tmp_path):
    from intern_mm.registry import MODELS
    torch.manual_seed(0)
    net = MODELS.build(dict(TINY, type='intern_mm.MetaNet'))
    path = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in net.state_dict().items()}),
               path)
    return path, net.state_dict()


def test_gv_world_tasks_are_registered_for_gvb():
    for family, name in (('cls', 'gvw_count_cls'), ('det', 'gvw_colour_det'),
                         ('seg', 'gvw_texture_seg'), ('depth', 'gvw_depth')):
        task = get_task(name)
        assert task.family == family and not task.in_gvb
        assert DownstreamAdapter.task(family) is task
        assert set(task.layout) >= {'train', 'val', 'test'}
    assert get_task('gvw_depth').lower_is_better


def test_subsets_come_from_gvb_and_scale_detection_repeats(tiny_world, tmp_path):
    adapter = _adapter(tiny_world, tmp_path)
    manifest = adapter.subset('cls', 0.25)
    verify_subset(manifest['dir'])  # seeded, stratified, with a manifest
    assert manifest['val_ratio'] == 0.0 and manifest['counts']['val'] == 0
    with open(osp.join(tiny_world, 'downstream/train.txt')) as f:
        labels = [ln.split()[1] for ln in f if ln.strip()]
    with open(osp.join(manifest['dir'], 'subset.txt')) as f:
        picked = [ln.split()[1] for ln in f if ln.strip()]
    for label in set(labels):  # per class: max(1, round(0.25 * n))
        assert picked.count(label) == max(1, round(0.25 * labels.count(label)))
    assert adapter.subset('cls', 1.0)['counts']['subset'] == len(labels)
    # detection: 100% gets repeat x 0.25 so that both fractions train equally long
    adapter = DownstreamAdapter(tiny_world, str(tmp_path / 'ds2'), fraction=0.25,
                                recipes=dict(det=dict(repeat=8)))
    assert adapter.recipe('det', 0.25)['repeat'] == 8
    assert adapter.recipe('det', 1.0)['repeat'] == 2


def test_cls_probe_selects_on_val_and_keeps_the_backbone(tiny_world, tmp_path):
    ckpt, _ = _backbone_ckpt(tmp_path)
    grid = [dict(lr=lr, weight_decay=1e-4, momentum=0.9) for lr in (1e-4, 0.01, 0.3)]
    adapter = _adapter(tiny_world, tmp_path, probe_grid=grid)
    res = adapter.run('cls', 'bb', backbone_spec(TINY, ckpt), 'probe')
    trials = res['trials']
    assert len(trials) == 3
    best = max(trials, key=lambda t: t['val']['top1'])  # first of ties, like select_best
    assert res['val'] == best['val'] and res['test'] == best['test']
    assert res['val_score'] == best['val']['top1']
    assert res['num_train'] == adapter.subset('cls', 0.25)['counts']['subset']
    # cached: a second call returns the stored result without recomputing
    assert adapter.run('cls', 'bb', backbone_spec(TINY, ckpt), 'probe') == res


@pytest.mark.parametrize('family', ['seg', 'depth'])
def test_probe_freezes_and_finetune_trains_the_backbone(family, tiny_world, tmp_path):
    ckpt, init = _backbone_ckpt(tmp_path)
    adapter = _adapter(tiny_world, tmp_path)
    spec = backbone_spec(TINY, ckpt)
    changed = {}
    for protocol in ('probe', 'finetune'):
        res = adapter.run(family, 'bb', spec, protocol)
        task = get_task(res['task'])
        assert set(res['val']) >= {task.metric} and set(res['test']) >= {task.metric}
        assert res['test_score'] == res['test'][task.metric]
        run_dir = osp.join(tmp_path, 'ds', family, 'bb', f'{protocol}_25pct')
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            state = torch.load(f.read().strip(), map_location='cpu',
                               weights_only=False)['state_dict']
        prefix = 'backbone.module.' if protocol == 'probe' else 'backbone.'
        weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        # the dense variant has no pooled head; every stage's weights are there
        keys = [k for k in init if not k.startswith('head.')]
        assert keys and set(keys) <= set(weights)
        changed[protocol] = any(not torch.equal(weights[k], init[k]) for k in keys
                                if init[k].is_floating_point())
    assert changed == dict(probe=False, finetune=True)


def test_det_finetune_and_scratch_runs_score_val_and_test(tiny_world, tmp_path):
    adapter = _adapter(tiny_world, tmp_path)
    spec = backbone_spec(TINY, None)
    res = adapter.run('det', 'scratch', spec, 'finetune', fraction=1.0, scratch=True)
    assert res['metric'] == 'mAP' and res['fraction'] == 1.0
    assert 'mAP' in res['val'] and 'mAP' in res['test']
    with open(osp.join(tmp_path, 'ds/det/scratch/finetune_100pct/result.json')) as f:
        assert json.load(f)['num_train'] == res['num_train']
