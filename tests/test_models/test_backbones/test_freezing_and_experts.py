"""The freeze contract (freezing.py) and the CentralModel expert interface (expert.py)."""
import pytest
import torch
from mmpretrain.models import ResNet
from torch import nn

from intern_mm.models.backbones import CentralModel, MetaNet
from intern_mm.models.backbones.expert import PyramidExpert, ResNetExpert, as_expert
from intern_mm.models.backbones.freezing import (freeze_contract, freeze_module,
                                                 set_frozen_stages)

TINY = dict(type='MetaNet', arch='tiny')


def _trainable(module: nn.Module) -> set:
    return {n for n, p in module.named_parameters() if p.requires_grad}


@pytest.mark.parametrize('stages', [-1, 0, 2, 4])
def test_resnet_contract_matches_resnet_own_freezing(stages):
    """The contract's view of a ResNet freezes exactly what ResNet(frozen_stages) does."""
    own = ResNet(depth=18, frozen_stages=stages)
    own.train()
    viewed = ResNet(depth=18)
    for module in freeze_contract(viewed).frozen_modules(stages):
        freeze_module(module)
    assert _trainable(viewed) == _trainable(own)
    assert freeze_contract(viewed).num_freeze_stages == 4


def test_metanet_contract_is_the_frozen_stages_convention():
    net = MetaNet(arch='tiny', out_indices=(0, 4), frozen_stages=6)
    assert freeze_contract(net) is net and not _trainable(net)
    set_frozen_stages(net, 2)  # release stages 3..6 and the head
    net.train()  # train() keeps the new value, not the build-time one
    frozen = {n for n, _ in net.named_parameters()} - _trainable(net)
    assert frozen and all(n.startswith(('stem.', 'blocks.0.', 'blocks.1.')) for n in frozen)
    assert net.head.training and not net.stem.training
    with pytest.raises(ValueError, match=r'\[-1, 6\]'):
        set_frozen_stages(net, 7)
    with pytest.raises(TypeError, match='Linear has no frozen_stages'):
        freeze_contract(nn.Linear(2, 2))


def test_central_model_contract_includes_transfers_and_drives_main():
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3), frozen_stages=3)
    # MetaNet levels end at stages 2, 3, 5: transfers into levels 0 and 1 are frozen
    assert [model.trans[f'layer{k}'] in model.frozen_modules() for k in (1, 2, 3)] == \
        [True, True, False]
    set_frozen_stages(model, 5)
    model.train()
    assert model.main.frozen_stages == 5
    assert not any(p.requires_grad for p in model.trans['layer3'].parameters())
    set_frozen_stages(model, -1)
    model.train()
    assert all(p.requires_grad for p in model.main.parameters())
    assert all(p.requires_grad for p in model.trans.parameters())
    assert not any(p.requires_grad for p in model.aux.parameters())  # freeze_aux stays


def test_resnet_expert_levels_equal_resnet_forward():
    net = ResNet(depth=18, out_indices=(0, 1, 2, 3))
    net.eval()  # mmpretrain's ResNet.train() returns None
    expert = as_expert(net)
    assert isinstance(expert, ResNetExpert) and expert.resnet is net
    assert (expert.level_channels, expert.level_strides, expert.head_channels) == \
        ([64, 128, 256, 512], [4, 8, 16, 32], 512)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = net(x)
        y = x
        for level in range(4):
            y = expert.forward_level(y, level)
            torch.testing.assert_close(y, ref[level], rtol=0, atol=0)
        pooled = expert.forward_head(y)
    torch.testing.assert_close(pooled, ref[3].mean((2, 3)))
    assert [expert.level_stage(k) for k in range(4)] == [1, 2, 3, 4]


def test_metanet_is_a_native_expert_and_others_are_refused():
    net = MetaNet(arch='tiny', out_indices=(4, ))
    assert isinstance(net, PyramidExpert) and as_expert(net) is net
    assert net.head_channels == 1280
    assert [net.level_stage(k) for k in range(4)] == [2, 3, 5, 6]
    with pytest.raises(TypeError, match='not a supported CentralModel expert'):
        as_expert(nn.Conv2d(3, 3, 1))


def test_central_head_width_comes_from_the_expert():
    resnet = CentralModel(main=dict(type='mmpretrain.ResNet', depth=18),
                          out_indices=(4, ))
    assert resnet.out_channels == [512]
    metanet = CentralModel(main=TINY, out_indices=(4, ))
    assert metanet.out_channels == [1280]
    # the expert views add no state-dict keys
    assert not [k for k in resnet.state_dict() if '_experts' in k]
    assert {k.split('.')[0] for k in resnet.state_dict()} == {'main', 'aux', 'trans'}
