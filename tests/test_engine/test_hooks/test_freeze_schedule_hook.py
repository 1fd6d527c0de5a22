"""FreezeScheduleHook: schedule, survival of model.train(), optimizer check, resume."""
import types

import pytest
import torch
from hook_toys import ToyModel, build_runner, clone_state
from mmengine.optim import OptimWrapper

from intern_mm.engine.hooks import FreezeScheduleHook


def _changed(before, after, prefix):
    return {k for k in before if k.startswith(prefix) and 'num_batches' not in k
            and not torch.equal(before[k], after[k])}


def test_state_at_applies_events_in_order():
    hook = FreezeScheduleHook([
        dict(begin=0, freeze=['backbone.*']),
        dict(begin=3, unfreeze=['backbone.stages.1.*']),
        dict(begin=5, unfreeze='backbone.*'),
    ])
    model = ToyModel()
    runner = types.SimpleNamespace(model=model, iter=0, epoch=0, optim_wrapper=None)
    hook.before_train(runner)
    s0, s3, s5 = hook.state_at(0), hook.state_at(3), hook.state_at(5)
    assert not s0['backbone.stages.0.weight'] and s0['head.weight']
    assert s3['backbone.stages.1.weight'] and not s3['backbone.stages.0.weight']
    assert all(s5.values())
    # applied to the model at before_train (iter 0)
    assert not model.backbone.stages[0].weight.requires_grad
    assert model.head.weight.requires_grad
    # frozen BN goes to eval mode, also after model.train()
    model.train()
    hook.before_train_iter(runner, 0)
    assert not model.backbone.bn.training


def test_freeze_survives_train_and_unfreeze_beats_frozen_stages(tmp_path):
    # The backbone re-freezes stage 0 in every train(); the schedule freezes the whole
    # backbone for 3 iterations, then trains all of it (stage 0 included).
    hook = FreezeScheduleHook([
        dict(begin=0, freeze=['backbone.*']),
        dict(begin=3, unfreeze=['backbone.*']),
    ])
    runner = build_runner(tmp_path / 'a', max_iters=3, custom_hooks=[hook], frozen_stages=0)
    before = clone_state(runner.model)
    runner.train()
    mid = clone_state(runner.model)
    assert _changed(before, mid, 'backbone.') == set()  # frozen despite model.train()
    assert _changed(before, mid, 'head.')
    runner2 = build_runner(tmp_path / 'a', max_iters=6, custom_hooks=[hook], resume=True,
                           frozen_stages=0)
    runner2.train()
    after = clone_state(runner2.model)
    # stage 0 is frozen by the backbone's own frozen_stages, yet the schedule trains it
    assert {'backbone.stages.0.weight', 'backbone.stages.1.weight'} <= _changed(
        mid, after, 'backbone.')


def test_resume_replays_schedule(tmp_path):
    # Unfreeze at iteration 5. A run resumed at iteration 4 must still be frozen for
    # iteration 4 and end with exactly the weights of an uninterrupted run.
    schedule = [dict(begin=0, freeze=['backbone.*']), dict(begin=5, unfreeze=['backbone.*'])]
    straight = build_runner(tmp_path / 'straight', 7, [FreezeScheduleHook(schedule)])
    straight.train()
    ref = clone_state(straight.model)

    first = build_runner(tmp_path / 'resumed', 4, [FreezeScheduleHook(schedule)],
                         ckpt_interval=4)
    first.train()
    resumed = build_runner(tmp_path / 'resumed', 7, [FreezeScheduleHook(schedule)],
                           resume=True, ckpt_interval=4)
    resumed.train()
    assert resumed.iter == 7
    out = clone_state(resumed.model)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], msg=f'{key} differs after resume')

    # Without the replay (a hook that only acts at its milestone) the result differs:
    # the resumed run would start with everything trainable.
    naive = build_runner(tmp_path / 'naive', 7, [], resume=False)
    naive.train()
    assert _changed(ref, clone_state(naive.model), 'backbone.')


def test_params_missing_from_optimizer_raise():
    model = ToyModel()
    optim = OptimWrapper(torch.optim.SGD(model.head.parameters(), lr=0.1))
    runner = types.SimpleNamespace(model=model, iter=0, epoch=0, optim_wrapper=optim)
    hook = FreezeScheduleHook([dict(begin=2, unfreeze=['backbone.*'])])
    with pytest.raises(RuntimeError, match='not in the optimizer'):
        hook.before_train(runner)


def test_bad_schedules_raise():
    with pytest.raises(ValueError, match='empty'):
        FreezeScheduleHook([])
    with pytest.raises(KeyError, match='unknown event keys'):
        FreezeScheduleHook([dict(begin=0, freez=['a'])])
    with pytest.raises(ValueError, match='nothing'):
        FreezeScheduleHook([dict(begin=0)])
    hook = FreezeScheduleHook([dict(begin=0, freeze=['neck.*'])])
    runner = types.SimpleNamespace(model=ToyModel(), iter=0, epoch=0, optim_wrapper=None)
    with pytest.raises(ValueError, match="matches no parameter"):
        hook.before_train(runner)


def test_by_epoch_uses_epoch():
    hook = FreezeScheduleHook([dict(begin=0, freeze=['head.*']), dict(begin=2,
                                                                       unfreeze=['head.*'])],
                              by_epoch=True)
    model = ToyModel()
    runner = types.SimpleNamespace(model=model, iter=100, epoch=1, optim_wrapper=None)
    hook.before_train(runner)
    assert not model.head.weight.requires_grad
    runner.epoch = 2
    hook.before_train_epoch(runner)
    assert model.head.weight.requires_grad


def test_frozen_stages_events_drive_the_backbone_contract():
    """A frozen_stages event sets the backbone's own value, so its train() agrees."""
    from torch import nn

    from intern_mm.models.backbones import MetaNet

    model = nn.Module()
    model.backbone = MetaNet(arch='tiny', out_indices=(4, ), frozen_stages=-1)
    model.head = nn.Linear(1280, 2)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    runner = types.SimpleNamespace(model=model, iter=0, epoch=0, optim_wrapper=optim)
    hook = FreezeScheduleHook([dict(begin=0, frozen_stages=6, unfreeze=['backbone.head.*']),
                               dict(begin=3, frozen_stages=2)])
    hook.before_train(runner)
    model.train()  # the backbone re-applies frozen_stages=6 itself
    hook.before_train_iter(runner, 0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert model.backbone.frozen_stages == 6
    assert {n.split('.')[1] for n in trainable if n.startswith('backbone.')} == {'head'}
    assert 'head.weight' in trainable
    runner.iter = 3
    model.train()
    hook.before_train_iter(runner, 3)
    assert model.backbone.frozen_stages == 2
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(('backbone.stem.', 'backbone.blocks.0.',
                                        'backbone.blocks.1.')) for n in frozen)
    model.train()  # a plain train() keeps the released stages trainable
    assert model.backbone.blocks[2].training
    assert all(p.requires_grad for p in model.backbone.blocks[2].parameters())


def test_frozen_stages_event_needs_a_contract():
    hook = FreezeScheduleHook([dict(begin=0, frozen_stages=1)])
    runner = types.SimpleNamespace(model=ToyModel(), iter=0, epoch=0, optim_wrapper=None)
    with pytest.raises(TypeError, match='RefreezingBackbone has no frozen_stages'):
        hook.before_train(runner)
    with pytest.raises(ValueError, match='frozen_stages'):
        FreezeScheduleHook([dict(begin=0, frozen_stages=-2)])
