"""Downstream-Adaptation on a tiny world: GV-B subsets, probe vs fine-tune semantics,
val-based selection, scratch baselines and the registered GV-B tasks."""
import json
import os.path as osp

import pytest
import torch

from intern_mm.benchmark.tasks import get_task
from intern_mm.datasets.gvb.manifest import verify_subset
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


def test_gv_world_tasks_are_registered_for_gvb(tmp_path):
    adapter = DownstreamAdapter(None, str(tmp_path))  # a family's task needs no world
    for family, name in (('cls', 'gvw_count_cls'), ('det', 'gvw_colour_det'),
                         ('seg', 'gvw_texture_seg'), ('depth', 'gvw_depth')):
        task = get_task(name)
        assert task.family == family and not task.in_gvb
        assert adapter.task(family) is task
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
    # a changed recipe is not served from the cache: the run is redone with it
    changed = DownstreamAdapter(tiny_world, str(tmp_path / 'ds'), fraction=0.25,
                                probe_grid=grid,
                                recipes=dict(RECIPES, cls=dict(RECIPES['cls'], max_iters=4)))
    redone = changed.run('cls', 'bb', backbone_spec(TINY, ckpt), 'probe')
    assert res['recipe']['max_iters'] == 3 and redone['recipe']['max_iters'] == 4
    stamp_file = osp.join(tmp_path, 'ds/cls/bb/probe_25pct/backbone.json')
    with open(stamp_file) as f:
        stamp = json.load(f)
    assert stamp['recipe']['max_iters'] == 4
    # a stamp of the earlier form (checkpoint only) stands when result.json's recipe
    # matches, and is rewritten; with another recipe the run is redone
    with open(stamp_file, 'w') as f:
        json.dump(dict(checkpoint=stamp['checkpoint'], ckpt_mtime=stamp['ckpt_mtime']), f)
    assert changed.run('cls', 'bb', backbone_spec(TINY, ckpt), 'probe') == redone
    with open(stamp_file) as f:
        assert json.load(f) == stamp
    with open(stamp_file, 'w') as f:
        json.dump(dict(checkpoint=stamp['checkpoint'], ckpt_mtime=stamp['ckpt_mtime']), f)
    assert adapter.run('cls', 'bb', backbone_spec(TINY, ckpt), 'probe')['recipe'][
        'max_iters'] == 3


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


def test_seg_heads_read_the_recipe_levels(tiny_world, tmp_path):
    """GV-B's seg heads sit on strides 32 / 16 by default; the world's 64 px texture task
    puts them on strides 8 / 4 (``head_level`` / ``aux_level``), with the widths of
    those levels."""
    from intern_mm.benchmark.protocols import build_runner_cfg
    from intern_mm.paradigm.downstream import DownstreamAdapter as Adapter
    # batches of 4: a 0.25 subset of the tiny world has 7 images (training drops the
    # last incomplete batch, so a larger batch is refused)
    adapter = Adapter(tiny_world, str(tmp_path / 'ds'), fraction=0.25,
                      recipes=dict(seg=dict(batch_size=4)))
    assert adapter.recipe('seg', 0.25)['head_level'] == 1
    ctx = adapter._context('seg', backbone_spec(TINY, None), 'probe', 0.25,
                           str(tmp_path / 'run'), None, 'probe')
    widths = [c for c, s in ctx.out_channels if s is not None]
    model = build_runner_cfg(ctx)['model']
    assert (model['decode_head']['in_index'], model['auxiliary_head']['in_index']) == (1, 0)
    assert model['decode_head']['in_channels'] == widths[1]
    assert model['auxiliary_head']['in_channels'] == widths[0]
    default = Adapter(tiny_world, str(tmp_path / 'ds'), fraction=0.25,
                      recipes=dict(seg=dict(head_level=3, aux_level=2, batch_size=4)))
    ctx = default._context('seg', backbone_spec(TINY, None), 'probe', 0.25,
                           str(tmp_path / 'run2'), None, 'probe')
    model = build_runner_cfg(ctx)['model']
    assert model['decode_head']['in_channels'] == widths[3] != widths[1]
