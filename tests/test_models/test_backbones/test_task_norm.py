"""The task-specific BN layout: TaskBatchNorm2d, select_bn_task and merge_task_bn."""
import pytest
import torch
from torch import nn

from intern_mm.models.backbones.task_norm import (convert_to_task_bn, merge_task_bn,
                                                  select_bn_task)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    with torch.no_grad():
        net[1].weight.uniform_()
        net[1].running_mean.uniform_()
    return net


def test_select_bn_task():
    sd = {'a.bns.cls.weight': 1, 'a.bns.det.weight': 2, 'b.weight': 3}
    assert dict(select_bn_task(sd, 'cls')) == {'a.weight': 1, 'b.weight': 3}
    assert dict(select_bn_task(sd, 'det')) == {'a.weight': 2, 'b.weight': 3}
    with pytest.raises(KeyError, match="'seg'"):
        select_bn_task(sd, 'seg')


def test_merge_then_select_round_trip_and_loads_into_task_bn():
    cls_net, det_net = _net(0), _net(0)
    with torch.no_grad():  # same conv, different BN
        det_net[1].weight.add_(1.)
        det_net[1].running_mean.add_(2.)
    variants = dict(cls=cls_net.state_dict(), det=det_net.state_dict())
    merged = merge_task_bn(variants)
    task_net = convert_to_task_bn(_net(1), ('cls', 'det'))
    task_net.load_state_dict(merged, strict=True)  # exactly the TaskBatchNorm2d layout
    for task, ref in variants.items():
        split = select_bn_task(merged, task)
        assert split.keys() == ref.keys()
        assert all(torch.equal(split[k], ref[k]) for k in ref)
        task_net[1].task = task
        plain = cls_net if task == 'cls' else det_net
        x = torch.rand(2, 3, 5, 5)
        torch.testing.assert_close(task_net.eval()(x), plain.eval()(x), rtol=0, atol=0)


def test_merge_refuses_variants_that_differ_outside_bn():
    a, b = _net(0).state_dict(), _net(1).state_dict()
    with pytest.raises(ValueError, match=r"outside BatchNorm.*'0.weight'"):
        merge_task_bn(dict(cls=a, det=b))
    b.pop('0.bias')
    with pytest.raises(ValueError, match="only in cls .*0.bias"):
        merge_task_bn(dict(cls=a, det=b))
