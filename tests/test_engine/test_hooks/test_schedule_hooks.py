"""LossWeightScheduleHook and SourceRatioScheduleHook (incl. replay on resume)."""
import types

import pytest
from hook_toys import ToyModel, build_runner
from mmengine.logging import MessageHub

from intern_mm.engine.hooks import (LossWeightScheduleHook, SourceRatioScheduleHook,
                                    interpolate_schedule)


def test_interpolate_schedule():
    pts = [(0, 1.0), (10, 0.0), (20, 2.0)]
    assert interpolate_schedule(pts, 0) == 1.0
    assert interpolate_schedule(pts, 5) == pytest.approx(0.5)
    assert interpolate_schedule(pts, 15) == pytest.approx(1.0)
    assert interpolate_schedule(pts, 99) == 2.0
    assert interpolate_schedule(pts, 15, mode='step') == 0.0


def _fake_runner(model, it=0, loop=None):
    return types.SimpleNamespace(model=model, iter=it, epoch=0, train_loop=loop,
                                 message_hub=MessageHub.get_instance('schedule_hook_test'))


def test_loss_weight_hook_sets_and_replays():
    hook = LossWeightScheduleHook(dict(b=[(0, 0.0), (10, 1.0)]))
    model = ToyModel()
    hook.before_train(_fake_runner(model, it=4))  # resumed at iteration 4
    assert model.task_loss_weights == {'a': 1.0, 'b': pytest.approx(0.4)}
    runner = _fake_runner(model, it=10)
    hook.before_train_iter(runner, 10)
    assert model.task_loss_weights['b'] == 1.0
    assert runner.message_hub.get_scalar('train/loss_weight/b').current() == 1.0


def test_loss_weight_hook_errors():
    with pytest.raises(KeyError, match="not in the model"):
        LossWeightScheduleHook(dict(c=[(0, 1.0)])).before_train(_fake_runner(ToyModel()))
    with pytest.raises(AttributeError, match='no attribute path'):
        LossWeightScheduleHook(dict(a=[(0, 1.0)]), attr='weights').before_train(
            _fake_runner(ToyModel()))
    with pytest.raises(ValueError, match='duplicate'):
        LossWeightScheduleHook(dict(a=[(0, 1.0), (0, 2.0)]))


def test_loss_weight_hook_in_runner_changes_loss(tmp_path):
    # weight of loss_b is 0 until iteration 2, then 1: the logged loss_b jumps from 0
    hook = LossWeightScheduleHook(dict(b=[(0, 0.0), (2, 1.0)]), mode='step')
    runner = build_runner(tmp_path, max_iters=3, custom_hooks=[hook])
    runner.train()
    buf = runner.message_hub.get_scalar('train/loss_b')
    values = list(buf.data[0])
    assert values[0] == 0.0 and values[1] == 0.0 and values[2] > 0.0


class _Sampler:

    def __init__(self):
        self.calls = []

    def set_source_ratio(self, ratio):
        self.calls.append(list(ratio))


def test_source_ratio_hook_switches_and_replays():
    sampler = _Sampler()
    loader = types.SimpleNamespace(sampler=sampler, batch_sampler=None)
    loop = types.SimpleNamespace(dataloader=loader)
    hook = SourceRatioScheduleHook([(0, [1, 1]), (5, [3, 1])])
    hook.before_train(_fake_runner(ToyModel(), it=7, loop=loop))  # resumed after 5
    assert sampler.calls == [[3, 1]]
    hook2 = SourceRatioScheduleHook([(0, [1, 1]), (5, [3, 1])])
    runner = _fake_runner(ToyModel(), it=0, loop=loop)
    hook2.before_train(runner)
    for it in range(7):
        runner.iter = it
        hook2.before_train_iter(runner, it)
    assert sampler.calls[1:] == [[1, 1], [3, 1]]  # set once per switch


def test_source_ratio_hook_registers_schedule_on_multi_source_sampler():
    from torch.utils.data import ConcatDataset

    from intern_mm.datasets.samplers import MultiSourceSampler
    dataset = ConcatDataset([list(range(6)), list(range(4))])
    sampler = MultiSourceSampler(dataset, batch_size=4, source_ratio=[1, 1], seed=0)
    loop = types.SimpleNamespace(dataloader=types.SimpleNamespace(sampler=sampler,
                                                                  batch_sampler=None))
    hook = SourceRatioScheduleHook([(0, [1, 1]), (3, [1, 0])])
    hook.before_train(_fake_runner(ToyModel(), it=0, loop=loop))
    assert sampler.ratio_at(2) == [1.0, 1.0]
    assert sampler.ratio_at(3) == [1.0, 0.0]
    assert sampler.num_per_source(5) == [4, 0]


def test_source_ratio_hook_task_and_errors():
    sampler = _Sampler()
    loop = types.SimpleNamespace(
        dataloader=None,
        dataloaders=dict(det=types.SimpleNamespace(sampler=sampler, batch_sampler=None)))
    SourceRatioScheduleHook([(0, [2, 1])], task='det').before_train(
        _fake_runner(ToyModel(), loop=loop))
    assert sampler.calls == [[2, 1]]
    with pytest.raises(KeyError, match="task 'cls'"):
        SourceRatioScheduleHook([(0, [1])], task='cls').before_train(
            _fake_runner(ToyModel(), loop=loop))
    plain = types.SimpleNamespace(dataloader=types.SimpleNamespace(sampler=object(),
                                                                   batch_sampler=None))
    with pytest.raises(TypeError, match='set_source_ratio'):
        SourceRatioScheduleHook([(0, [1])]).before_train(_fake_runner(ToyModel(), loop=plain))
    with pytest.raises(ValueError, match='first milestone'):
        SourceRatioScheduleHook([(3, [1, 1])])
    with pytest.raises(ValueError, match='positive sum'):
        SourceRatioScheduleHook([(0, [0, 0])])
