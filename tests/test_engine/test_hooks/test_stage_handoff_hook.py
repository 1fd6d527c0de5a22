"""StageHandoffHook: key mapping, reports, strictness, resume skip."""
import types

import pytest
import torch
from hook_toys import ToyModel, build_runner, clone_state
from torch import nn

from intern_mm.engine.hooks import StageHandoffHook
from intern_mm.models.backbones.task_norm import convert_to_task_bn


def _save(tmp_path, model, name='src.pth'):
    path = tmp_path / name
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


def test_load_reports_and_copies(tmp_path):
    src = ToyModel()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(1.0)
    ckpt = _save(tmp_path, src)
    dst = ToyModel()
    hook = StageHandoffHook(ckpt, prefix_mapping={'backbone.': 'backbone.'})
    report = hook.load(dst)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['dropped'] == ['head.weight', 'head.bias']
    torch.testing.assert_close(dst.backbone.stages[0].weight, src.backbone.stages[0].weight)
    assert not torch.equal(dst.head.weight, src.head.weight)  # not mapped: untouched


def test_missing_unexpected_mismatch_and_strict(tmp_path):
    src = ToyModel()
    state = src.state_dict()
    state.pop('backbone.stages.1.bias')  # missing
    state['backbone.extra.weight'] = torch.zeros(2)  # unexpected
    state['backbone.stages.0.weight'] = torch.zeros(3, 3)  # shape mismatch
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state), path)
    dst = ToyModel()
    before = clone_state(dst)
    report = StageHandoffHook(str(path), prefix_mapping={'backbone.': 'backbone.'}).load(dst)
    assert report['missing'] == ['backbone.stages.0.weight', 'backbone.stages.1.bias'] or \
        report['missing'] == ['backbone.stages.1.bias']
    assert 'backbone.stages.1.bias' in report['missing']
    assert report['unexpected'] == ['backbone.extra.weight']
    assert report['mismatched'][0].startswith('backbone.stages.0.weight')
    dst2 = ToyModel()
    with pytest.raises(RuntimeError, match='strict hand-off'):
        StageHandoffHook(str(path), prefix_mapping={'backbone.': 'backbone.'},
                         strict=True).load(dst2)
    for k, v in clone_state(dst2).items():  # a failed strict load leaves the model as is
        torch.testing.assert_close(v, before[k])


def test_plain_bn_checkpoint_into_task_bn(tmp_path):
    src = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    with torch.no_grad():
        src[1].weight.fill_(3.0)
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
               path)
    dst = nn.Module()
    dst.backbone = convert_to_task_bn(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)),
                                      ('cls', 'det'))
    report = StageHandoffHook(str(path), prefix_mapping={'backbone.': 'backbone.'},
                              strict=True).load(dst)
    assert report['unexpected'] == [] and report['missing'] == []
    assert torch.all(dst.backbone[1].bns['det'].weight == 3.0)
    assert torch.all(dst.backbone[1].bns['cls'].weight == 3.0)


def test_bad_key_mapping_raises(tmp_path):
    ckpt = _save(tmp_path, ToyModel(), 'iter_3.pth')
    with pytest.raises(ValueError):
        StageHandoffHook(ckpt, key_mapping=[('a', 'b', 'c')])


def test_runner_handoff_and_resume_skip(tmp_path):
    src = ToyModel()
    with torch.no_grad():
        for p in src.backbone.parameters():
            p.fill_(0.5)
    ckpt = _save(tmp_path, src)
    hook = StageHandoffHook(ckpt, prefix_mapping={'backbone.': 'backbone.'}, strict=True)
    runner = build_runner(tmp_path / 'wd', max_iters=2, custom_hooks=[hook])
    runner.model.backbone.stages[0].weight.register_hook(lambda g: g * 0)  # keep it fixed
    runner.train()
    assert torch.all(runner.model.backbone.stages[0].weight == 0.5)
    trained = clone_state(runner.model)
    moved = [k for k, v in trained.items()
             if k.startswith('backbone.') and not torch.all(v == 0.5)]
    assert moved, 'training did not move the handed-off backbone away from 0.5'
    # a resumed run keeps its trained weights (the hand-off is skipped): the resumed
    # runner starts from a freshly initialised model; resuming at max_iters trains
    # nothing, so every weight must be the checkpoint's -- none the hand-off's 0.5 and
    # none the fresh initialisation
    resumed = build_runner(tmp_path / 'wd', max_iters=2, custom_hooks=[hook], resume=True)
    fresh = clone_state(resumed.model)
    assert any(not torch.equal(fresh[k], trained[k]) for k in moved)
    resumed.train()
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    hooks = [h for h in resumed.hooks if isinstance(h, StageHandoffHook)]
    assert hooks and hooks[0].report is None


def test_runner_skip_condition_fake():
    hook = StageHandoffHook('does/not/exist.pth')
    runner = types.SimpleNamespace(iter=5, epoch=0, model=ToyModel())
    hook.before_train(runner)  # resumed: nothing loaded, no error
    runner.iter = 0
    with pytest.raises(FileNotFoundError, match='does not exist'):
        hook.before_train(runner)
