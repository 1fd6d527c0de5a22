"""``norm_cfg`` / ``act_cfg`` of MetaNet, CentralModel and their blocks: the defaults build
the layers (keys, init, outputs) of before, other configs reach every layer, deploy and
task BN keep working."""
import hashlib

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.models.backbones import CentralModel, MetaNet, TaskBatchNorm2d
from intern_mm.models.backbones.channels_last import ChannelsLastGELU, build_map_activation
from intern_mm.models.backbones.reparam import ConvAct

TINY = dict(type='MetaNet', arch='tiny')
ALL_OUT = (0, 1, 2, 3, 4)
SYNC_BN = dict(type='SyncBN', requires_grad=True)
GN = dict(type='GN', num_groups=8)
RELU = dict(type='ReLU')

#: Captured from the code before ``norm_cfg`` / ``act_cfg`` existed (hard-coded BN /
#: GELU / ReLU): a digest of the state-dict keys and shapes, and per output
#: ``(sum, sum of |x|)`` of the seeded build, first in train mode (batch statistics),
#: then in eval mode, on the seeded input of :func:`_inputs`.
PINNED = {
    'metanet': ('a9498eb230b0ceb6',
                [(-155.134562, 10060.82832), (-169.365679, 2153.545864),
                 (27.384087, 576.683161), (10.409095, 118.966434), (759.735053, 776.980053)],
                [(-93.264544, 2034.804586), (-197.522192, 588.946793),
                 (20.252316, 325.025779), (-6.542608, 76.50657), (11.361386, 104.620066)]),
    'central': ('30167fc3f607e2ea',
                [(-155.134585, 10081.158512), (-164.524058, 2303.348551),
                 (27.798806, 934.905531), (-4.402352, 244.386442), (761.976111, 803.800852)],
                [(-91.765899, 2034.519522), (-195.980427, 588.318491),
                 (19.618396, 324.109992), (-6.65084, 76.484767), (9.96298, 103.199948)]),
}


def _inputs(n=2, seed=0):
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _keys_digest(model: nn.Module) -> str:
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _out_stats(model: nn.Module) -> list:
    with torch.no_grad():
        outs = model(_inputs())
    return [(o.double().sum().item(), o.double().abs().sum().item()) for o in outs]


def _build(name: str, **cfgs) -> nn.Module:
    torch.manual_seed(0)
    if name == 'metanet':
        return MetaNet(arch='tiny', out_indices=ALL_OUT, **cfgs)
    model = CentralModel(main=TINY, out_indices=ALL_OUT, bn_tasks=('cls', 'det'),
                         reverse_transfer=True, **cfgs)
    for m in model.trans.modules():  # the transfer layers start at zero output
        if isinstance(m, _BatchNorm):
            m.weight.data.fill_(1.)
    return model


def _types(model: nn.Module, *types) -> list:
    return [n for n, m in model.named_modules() if isinstance(m, types)]


@pytest.mark.parametrize('name', ['metanet', 'central'])
def test_default_build_is_unchanged(name):
    digest, train_stats, eval_stats = PINNED[name]
    explicit = dict(norm_cfg=dict(type='BN'),
                    act_cfg=dict(type='GELU') if name == 'metanet' else RELU)
    for model in (_build(name), _build(name, **explicit)):
        assert _keys_digest(model) == digest
        for got, want in zip(_out_stats(model.train()) + _out_stats(model.eval()),
                             train_stats + eval_stats):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-5)
    default, explicit = _build(name), _build(name, **explicit)
    for (k, v), (k2, v2) in zip(default.state_dict().items(), explicit.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_default_layers_keep_their_types():
    model = MetaNet(arch='tiny', out_indices=ALL_OUT)
    acts = [type(m) for m in model.modules() if isinstance(m, (nn.GELU, nn.ReLU))]
    # conv-part GELUs run channels_last-friendly; the attention MLPs keep nn.GELU
    assert acts.count(ChannelsLastGELU) == 9 and acts.count(nn.GELU) == 1
    assert all(type(m) is nn.BatchNorm2d for m in model.modules() if isinstance(m, _BatchNorm))
    assert len(_types(model, _BatchNorm)) == 16
    assert type(build_map_activation(dict(type='GELU', approximate='tanh'))) is ChannelsLastGELU
    with pytest.raises(TypeError, match='act_cfg'):
        build_map_activation('GELU')


@pytest.mark.parametrize('norm_cfg,norm_type', [(SYNC_BN, nn.SyncBatchNorm),
                                                (GN, nn.GroupNorm)])
def test_metanet_norm_cfg_reaches_every_norm(norm_cfg, norm_type):
    model = MetaNet(arch='tiny', out_indices=ALL_OUT, norm_cfg=norm_cfg)
    norms = _types(model, _BatchNorm, nn.GroupNorm)
    assert len(norms) == 16 and all(isinstance(model.get_submodule(n), norm_type)
                                    for n in norms)
    assert len(_types(model, nn.LayerNorm)) == 3  # the attention blocks keep LN
    # the zero-initialised last norm of every conv block
    assert all(block.b2[-1].weight.abs().sum() == 0 for block in model.blocks[:4])
    outs = model.eval()(_inputs())
    assert [tuple(o.shape[1:]) for o in outs][-1] == (1280, )
    if norm_type is nn.SyncBatchNorm:  # same keys: a BN checkpoint loads as it is
        model.load_state_dict(MetaNet(arch='tiny', out_indices=ALL_OUT).state_dict())


def test_metanet_act_cfg_reaches_every_activation():
    model = MetaNet(arch='tiny', out_indices=ALL_OUT, act_cfg=RELU)
    assert not _types(model, nn.GELU)
    assert len(_types(model, nn.ReLU)) == 10 + 4  # + the ReLU of the four SE gates
    assert all(type(model.get_submodule(n)) is nn.ReLU for n in _types(model, nn.ReLU))
    silu = MetaNet(arch='tiny', act_cfg=dict(type='SiLU'))
    assert len(_types(silu, nn.SiLU)) == 9 and not _types(silu, nn.GELU)  # no head


@pytest.mark.parametrize('cfgs', [dict(act_cfg=RELU), dict(norm_cfg=GN),
                                  dict(norm_cfg=SYNC_BN, act_cfg=RELU)])
def test_metanet_deploy_with_other_layers(cfgs):
    torch.manual_seed(0)
    model = MetaNet(arch='tiny', out_indices=ALL_OUT, **cfgs).eval()
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, (_BatchNorm, nn.GroupNorm)):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)
    x = _inputs()
    with torch.no_grad():
        refs = model(x)
        model.switch_to_deploy()
        outs = model(x)
    for out, ref in zip(outs, refs):
        assert ((out - ref).abs().max() / ref.abs().max()).item() <= 1e-4
    fused = [m.act for m in model.modules() if isinstance(m, ConvAct)]
    if 'norm_cfg' in cfgs and cfgs['norm_cfg'] is GN:
        assert fused == [] and len(_types(model, nn.GroupNorm)) == 16  # nothing to fold
    else:
        assert fused and set(fused) == {'relu'} and not _types(model, _BatchNorm)


def test_central_model_norm_and_act_cfg():
    model = CentralModel(main=dict(TINY, act_cfg=RELU), norm_cfg=SYNC_BN,
                         act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
                         reverse_transfer=True)
    bns = _types(model, _BatchNorm)
    assert bns and all(isinstance(model.get_submodule(n), nn.SyncBatchNorm) for n in bns)
    assert {n.split('.')[0] for n in bns} == {'main', 'aux', 'trans', 'reverse_trans'}
    assert not _types(model, nn.GELU)
    leaky = _types(model, nn.LeakyReLU)
    assert leaky and all(n.startswith(('trans.', 'reverse_trans.')) for n in leaky)
    assert len(_types(model.main, nn.ReLU)) == 9 + 4
    # an expert's own norm_cfg wins over the model's
    mixed = CentralModel(main=dict(TINY, norm_cfg=dict(type='BN')), aux=TINY, norm_cfg=GN)
    assert type(mixed.main.stem[1]) is nn.BatchNorm2d and type(mixed.aux.stem[1]) is nn.GroupNorm
    assert type(mixed.trans['layer1'].convs['layer1'][1]) is nn.GroupNorm


def test_central_model_gn_transfer_starts_at_zero_and_resnet_expert():
    model = CentralModel(main=TINY, norm_cfg=GN, out_indices=ALL_OUT).eval()
    with torch.no_grad():
        for out, ref in zip(model(_inputs()), model.main(_inputs())):
            torch.testing.assert_close(out, ref, rtol=0, atol=0)
    resnet = CentralModel(main=dict(type='mmpretrain.ResNet', depth=18), aux=TINY,
                          norm_cfg=SYNC_BN)
    assert isinstance(resnet.main.norm1, nn.SyncBatchNorm)
    assert isinstance(resnet.aux.stem[1], nn.SyncBatchNorm)


def test_task_bn_with_sync_bn_and_without_bn():
    model = CentralModel(main=TINY, norm_cfg=SYNC_BN, bn_tasks=('cls', 'det')).eval()
    task_bns = [m for m in model.modules() if isinstance(m, TaskBatchNorm2d)]
    assert task_bns and all(isinstance(bn, nn.SyncBatchNorm) for m in task_bns
                            for bn in m.bns.values())
    assert not [n for n, m in model.named_modules()
                if isinstance(m, _BatchNorm) and not n.split('.')[-2] == 'bns']
    model.task = 'det'
    model(_inputs(1))
    model.switch_to_deploy(task='det')
    assert not _types(model, _BatchNorm, TaskBatchNorm2d)
    with pytest.raises(ValueError, match='bn_tasks needs BatchNorm'):
        CentralModel(main=TINY, norm_cfg=GN, bn_tasks=('cls', 'det'))
