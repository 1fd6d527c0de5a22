"""FrozenBackbone: neither the parameters nor the BN statistics of the wrapped backbone
change, whatever mode or optimizer steps; registered in intern_mm's MODELS."""
import copy

import torch
from mmpretrain.models import ResNet

from intern_mm.models.backbones import FrozenBackbone
from intern_mm.registry import MODELS

TINY = dict(depth=18, stem_channels=8, base_channels=8)


def test_frozen_backbone_params_and_bn_stats_unchanged():
    frozen = FrozenBackbone(dict(type='mmpretrain.ResNet', **TINY))
    head = torch.nn.Linear(64, 3)
    before = copy.deepcopy(frozen.state_dict())
    params = list(frozen.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.5, momentum=0.9, weight_decay=1e-2)
    frozen.train()
    assert not frozen.module.training
    assert not any(p.requires_grad for p in frozen.parameters())
    for _ in range(3):
        feats = frozen(torch.randn(4, 3, 32, 32) * 3 + 1)[-1].mean((2, 3))
        loss = torch.nn.functional.cross_entropy(head(feats), torch.tensor([0, 1, 2, 0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = frozen.state_dict()
    assert before.keys() == after.keys()
    for key in before:  # weights AND running_mean / running_var / num_batches_tracked
        assert torch.equal(before[key], after[key]), key
    # the same steps without the wrapper do change the BN statistics (the check can fail)
    plain = ResNet(**TINY)
    plain.init_weights()
    stats = plain.bn1.running_mean.clone()
    plain.train()
    plain(torch.randn(4, 3, 32, 32) * 3 + 1)
    assert not torch.equal(stats, plain.bn1.running_mean)


def test_registered_name_and_reinit_refreezes():
    frozen = MODELS.build(dict(type='FrozenBackbone',
                               backbone=dict(type='mmpretrain.ResNet', **TINY)))
    assert isinstance(frozen, FrozenBackbone)
    frozen.init_weights()
    assert not any(p.requires_grad for p in frozen.parameters())
    assert set(frozen.state_dict()) == {'module.' + k for k in ResNet(**TINY).state_dict()}
