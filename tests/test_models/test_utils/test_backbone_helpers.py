"""intern_mm.models.utils: a backbone's outputs (channels / strides, pooled vector) and
its weights from full-model or backbone-only checkpoints."""
import pytest
import torch
from mmpretrain.models import ResNet

from intern_mm.models.utils import (checkpoint_prefix, describe_backbone_outputs,
                                    load_backbone_weights, pool_features)

TINY = dict(depth=18, stem_channels=8, base_channels=8)


def test_describe_outputs_restores_the_mode():
    net = ResNet(out_indices=(0, 3), **TINY)
    net.train()
    assert describe_backbone_outputs(net, img_size=32) == [(8, 4), (64, 32)]
    assert net.training
    vector = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 5))
    assert describe_backbone_outputs(vector, img_size=16) == [(5, None)]


def test_pool_features_shapes():
    maps = (torch.ones(2, 8, 4, 4), torch.arange(32.).reshape(2, 16, 1, 1))
    assert torch.equal(pool_features(maps), maps[1].flatten(1))
    assert pool_features(torch.ones(2, 7, 5)).shape == (2, 5)  # (N, L, C) tokens
    vec = torch.rand(3, 4)
    assert pool_features([vec]) is vec
    with pytest.raises(ValueError, match='cannot pool'):
        pool_features(torch.ones(1, 1, 1, 1, 1))


def test_load_backbone_weights_full_and_backbone_only(tmp_path):
    src = ResNet(**TINY)
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    full, bare = tmp_path / 'full.pth', tmp_path / 'bare.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in src.state_dict().items()},
                'meta': {}}, full)
    torch.save(src.state_dict(), bare)
    assert checkpoint_prefix(str(full)) == 'backbone.' and checkpoint_prefix(str(bare)) == ''
    for path in (full, bare):
        dst = ResNet(**TINY)
        load_backbone_weights(dst, str(path))
        for k, v in src.state_dict().items():
            assert torch.equal(dst.state_dict()[k], v), k


def test_load_backbone_weights_mismatch_is_one_line(tmp_path):
    state = ResNet(**TINY).state_dict()
    state['conv1.weight'] = torch.zeros(8, 3, 3, 3)
    state['extra.weight'] = torch.zeros(1)
    del state['bn1.bias']
    path = tmp_path / 'other.pth'
    torch.save(state, path)
    with pytest.raises(RuntimeError) as err:
        load_backbone_weights(ResNet(**TINY), str(path))
    assert str(err.value) == (
        f'checkpoint {path} does not match the backbone: 1 keys missing from it (first: '
        'bn1.bias); 1 unexpected keys (first: extra.weight); 1 keys of another shape '
        '(first: conv1.weight)')
