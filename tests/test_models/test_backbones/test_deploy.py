"""switch_to_deploy() of MetaNet / CentralModel, the re-parameterisation helpers and
channels_last."""
import pytest
import torch
import torch.nn as nn

from intern_mm.models import CentralModel, MetaNet
from intern_mm.models.backbones.attention_blocks import MetaAttentionBlock
from intern_mm.models.backbones.mbconv import FusedMBConv, MBConv
from intern_mm.models.backbones.reparam import (ConvAct, fold_bn_into_next_conv,
                                                fold_residual_into_dwconv,
                                                fold_scale_into_linear, fuse_conv_act)

RTOL = 1e-4  # the bound: deploy outputs equal eager within 1e-4 relative


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters (fresh BNs fold to ~identity,
    and the zero-initialised last BNs would hide a wrong fold)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
        elif isinstance(m, MetaAttentionBlock):
            m.gamma_1.data.uniform_(0.5, 1.5, generator=g)
            if not m.downsample:
                m.gamma_2.data.uniform_(0.5, 1.5, generator=g)
    return model


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _assert_outputs_equal(outs, refs, rtol=RTOL):
    assert len(outs) == len(refs)
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape
        assert _rel_err(out, ref) <= rtol


def test_fold_bn_into_next_conv_is_exact_and_refuses_padding():
    torch.manual_seed(0)
    bn = _randomise_bn(nn.BatchNorm2d(4)).eval()
    conv = nn.Conv2d(4, 6, 1, bias=True)
    x = torch.randn(2, 4, 5, 5)
    ref = conv(bn(x))
    out = fold_bn_into_next_conv(bn, conv)(x)
    assert _rel_err(out, ref) < 1e-6
    with pytest.raises(ValueError, match='without padding'):
        fold_bn_into_next_conv(bn, nn.Conv2d(4, 6, 3, padding=1))


def test_fold_residual_and_scale():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    x = torch.randn(1, 4, 6, 6)
    ref = x + conv(x)
    assert _rel_err(fold_residual_into_dwconv(conv)(x), ref) < 1e-6
    with pytest.raises(ValueError, match='depthwise'):
        fold_residual_into_dwconv(nn.Conv2d(4, 4, 3, padding=1))
    lin, gamma = nn.Linear(4, 3), torch.rand(3) + 0.5
    t = torch.randn(2, 4)
    ref = gamma * lin(t)
    assert _rel_err(fold_scale_into_linear(gamma, lin)(t), ref) < 1e-6
    with pytest.raises(ValueError, match='does not match'):
        fold_scale_into_linear(torch.ones(4), lin)


@pytest.mark.parametrize('in_channels,block', [
    (16, lambda: MBConv(16, 24, stride=2)), (16, lambda: MBConv(16, 16, expansion=1)),
    (16, lambda: FusedMBConv(16, 24, stride=2)), (16, lambda: FusedMBConv(16, 16, expansion=1)),
    (32, lambda: MetaAttentionBlock(32, 32, head_dim=16)),
    (32, lambda: MetaAttentionBlock(32, 64, stride=2, head_dim=16, attn_type='xca'))
])
def test_block_switch_to_deploy_keeps_outputs(in_channels, block):
    torch.manual_seed(0)
    m = _randomise_bn(block()).eval()
    x = torch.randn(2, in_channels, 8, 8)
    with torch.no_grad():
        ref = m(x)
        m.switch_to_deploy()
        assert m.deploy
        assert _rel_err(m(x), ref) <= RTOL


def test_metanet_deploy_removes_bns_and_keeps_outputs():
    torch.manual_seed(0)
    model = _randomise_bn(MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        refs = model(x)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    model.switch_to_deploy()
    model.switch_to_deploy()  # idempotent
    # only the pre-norm BNs in front of padded 3x3 convs may remain (none in MN-B4 / tiny)
    left = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert n_bn == 16 and left == []
    assert not any(k.endswith(('gamma_1', 'gamma_2', 'running_mean'))
                   for k in model.state_dict())
    with torch.no_grad():
        _assert_outputs_equal(model(x), refs)


def _ops_run(fn) -> set:
    with torch.profiler.profile() as prof:
        fn()
    return {e.key for e in prof.key_averages()}


@pytest.mark.parametrize('act', ['gelu', 'relu'])
@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_conv_act_fuses_on_cpu_inference_and_falls_back_under_autograd(act, memory_format):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8).to(memory_format=memory_format)
    x = torch.randn(2, 8, 9, 9).contiguous(memory_format=memory_format)
    ref_fn = nn.functional.gelu if act == 'gelu' else nn.functional.relu
    ref = ref_fn(conv(x)).detach()
    fused = ConvAct.from_conv(conv, act)
    assert fused.weight is conv.weight  # shared, not copied
    with torch.no_grad():
        ops = _ops_run(lambda: fused(x))
        out = fused(x)
    assert 'mkldnn::_convolution_pointwise' in ops and f'aten::{act}' not in ops
    assert _rel_err(out, ref) < 1e-6
    assert out.is_contiguous(memory_format=memory_format)
    # with autograd the module runs conv + activation (differentiable)
    assert f'aten::{act}' in _ops_run(lambda: fused(x))
    out = fused(x)
    assert _rel_err(out.detach(), ref) < 1e-6
    out.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_fuse_conv_act_keeps_indices_and_skips_other_activations():
    seq = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.Identity(), nn.GELU(),
        nn.Conv2d(4, 4, 1), nn.GELU(approximate='tanh'),  # tanh GELU: not fused
        nn.Conv2d(4, 4, 1), nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, padding_mode='reflect'), nn.ReLU())
    keys = list(seq.state_dict())
    fuse_conv_act(seq)
    assert [type(m).__name__ for m in seq] == [
        'ConvAct', 'Identity', 'Identity', 'Conv2d', 'GELU', 'ConvAct', 'Identity',
        'Conv2d', 'ReLU'
    ]
    assert [seq[0].act, seq[5].act] == ['gelu', 'relu']
    assert list(seq.state_dict()) == keys


def test_metanet_deploy_fuses_every_conv_gelu_pair():
    model = MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4)).eval()
    model.switch_to_deploy()
    # stem, head, and per MBConv block b1's 1x1 (where it exists) and b2's depthwise conv
    fused = [n for n, m in model.named_modules() if isinstance(m, ConvAct)]
    assert 'stem.0' in fused and 'head.0' in fused and 'blocks.0.b2.0' in fused
    assert len(fused) == 2 + 4 + 3  # tiny: 4 MBConv blocks, 3 of them with b1
    assert not [n for n, m in model.named_modules() if isinstance(m, nn.GELU)
                and not n.endswith('mlp.act')]  # only the attention MLPs' GELUs remain


def test_metanet_deploy_flag_loads_a_deployed_checkpoint():
    torch.manual_seed(0)
    eager = _randomise_bn(MetaNet(arch='tiny')).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        refs = eager(x)
    # the eager checkpoint loads before the switch ...
    model = MetaNet(arch='tiny')
    model.load_state_dict(eager.state_dict())
    model.eval().switch_to_deploy()
    # ... and the deployed one into a model built with deploy=True
    built = MetaNet(arch='tiny', deploy=True).eval()
    built.load_state_dict(model.state_dict())  # strict: same structure
    with torch.no_grad():
        _assert_outputs_equal(built(x), refs)


def test_metanet_b15_blocks_deploy():
    """MN-B15 layout (FusedMBConv + XCA) on a narrow custom arch."""
    arch = dict(repeats=[1, 2, 1, 1, 2, 1], expansion=[1, 4, 6, 3, 2, 5],
                channels=[16, 24, 32, 48, 48, 64], mtb_type=15, head_dim=16, stem_dim=16)
    torch.manual_seed(0)
    model = _randomise_bn(MetaNet(arch=arch, out_indices=(0, 1, 2, 3, 4))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        refs = model(x)
        model.switch_to_deploy()
        _assert_outputs_equal(model(x), refs)
    # FusedMBConv's pre-norm BN before the padded 3x3 conv stays (folding it is not exact)
    assert isinstance(model.blocks[1].b1[0], nn.BatchNorm2d)


def test_central_model_deploy_per_bn_task():
    torch.manual_seed(0)
    model = CentralModel(main=dict(type='MetaNet', arch='tiny'), out_indices=(0, 1, 2, 3, 4),
                         bn_tasks=('cls', 'det'))
    _randomise_bn(model)  # also the transfer layers, whose BNs start at zero
    # make the det BNs differ from the cls BNs
    _randomise_bn(nn.ModuleList(m.bns['det'] for m in model.modules()
                                if hasattr(m, 'bns')), seed=1)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model.task = 'cls'
        ref_cls = model(x)
        model.task = 'det'
        ref_det = model(x)
    assert _rel_err(ref_det[0], ref_cls[0]) > 1e-2  # the tasks really differ
    model.task = 'cls'
    model.switch_to_deploy(task='det')
    assert model.task == 'det'
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        _assert_outputs_equal(model(x), ref_det)
    with pytest.raises(ValueError, match="deploy for BN task 'det'"):
        model.task = 'cls'
    with pytest.raises(ValueError, match="already deployed for BN task 'det'"):
        model.switch_to_deploy(task='cls')


def test_central_model_deploy_rejects_unknown_task():
    model = CentralModel(main=dict(type='MetaNet', arch='tiny'), bn_tasks=('cls', 'det'))
    with pytest.raises(KeyError, match="Unknown BN task 'seg'"):
        model.switch_to_deploy(task='seg')
    plain = CentralModel(main=dict(type='MetaNet', arch='tiny'))
    with pytest.raises(ValueError, match='only meaningful with bn_tasks'):
        plain.switch_to_deploy(task='cls')


def test_central_model_with_resnet_experts_deploys():
    torch.manual_seed(0)
    model = CentralModel(
        main=dict(type='mmpretrain.ResNet', depth=18, base_channels=8, stem_channels=8))
    _randomise_bn(model).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        refs = model(x)
        model.switch_to_deploy()
        assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        _assert_outputs_equal(model(x), refs)


@pytest.mark.parametrize('deploy', [False, True])
def test_channels_last_end_to_end(deploy):
    torch.manual_seed(0)
    model = _randomise_bn(CentralModel(main=dict(type='MetaNet', arch='tiny'),
                                       out_indices=(0, 1, 2, 3, 4))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        refs = model(x)
        if deploy:
            model.switch_to_deploy()
        model = model.to(memory_format=torch.channels_last)
        outs = model(x.contiguous(memory_format=torch.channels_last))
    _assert_outputs_equal(outs, refs)
    for out in outs[:4]:  # every pyramid level stays NHWC (no hidden NCHW copies)
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('name', ['metanet_tiny-b4.pt', 'metanet_tiny-b15.pt'])
def test_metanet_parity_fixture_after_deploy(parity_dir, name):
    """The original implementation's outputs (trained-like weights) after the switch."""
    fixture = torch.load(parity_dir / name, weights_only=False)
    model = MetaNet(arch=fixture['arch'], out_indices=(0, 1, 2, 3, 4)).eval()
    model.load_state_dict(fixture['state_dict'], strict=True)
    model.switch_to_deploy()
    with torch.no_grad():
        outs = model(fixture['input'])
    _assert_outputs_equal(outs, list(fixture['multiscale']) + [fixture['pre_fc']])


@pytest.mark.parametrize('name', ['central_tiny-b4.pt', 'central_tiny-b15.pt'])
def test_central_parity_fixture_after_deploy(parity_dir, name):
    from intern_mm.models.backbones import convert_gvb_checkpoint
    fixture = torch.load(parity_dir / name, weights_only=False)
    arch = fixture['arch']
    ckpt = convert_gvb_checkpoint(fixture['state_dict'], arch=arch, prefix='')
    model = CentralModel(main=dict(type='MetaNet', arch=arch),
                         aux=dict(type='MetaNet', arch=arch, out_indices=(0, 1, 2, 3, 4)),
                         out_indices=(0, 1, 2, 3, 4), reverse_transfer=True).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.switch_to_deploy()
    with torch.no_grad():
        outs = model(fixture['input'])
    _assert_outputs_equal(outs, list(fixture['multiscale']) + [fixture['pre_fc']])
