"""channels_last operators (GELU, spatial mean) and MetaNet's channels_last training step."""
import collections

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from intern_mm.models import MetaNet
from intern_mm.models.backbones.channels_last import ChannelsLastGELU, gelu, spatial_mean
from intern_mm.models.backbones.squeeze_excitation import HardSigmoidSE

CL = torch.channels_last


def _layout(t) -> str:
    """'nchw' / 'nhwc' / 'strided' for a dense 4-D feature map, else None."""
    if (not isinstance(t, torch.Tensor) or t.dim() != 4 or 0 in t.stride()
            or t.shape[1] == 1 or t.shape[2] * t.shape[3] == 1):
        return None  # not a feature map, or a broadcast view (cheap in any layout)
    if t.is_contiguous():
        return 'nchw'
    return 'nhwc' if t.is_contiguous(memory_format=CL) else 'strided'


class _LayoutAudit(TorchDispatchMode):
    """Records aten ops whose feature-map operands mix NCHW and NHWC (PyTorch then runs
    a strided loop and, for a result, picks one of the two layouts), and GELU kernels
    that read anything but a contiguous tensor (their channels_last path is slower)."""

    def __init__(self):
        super().__init__()
        self.mixed = collections.Counter()
        self.gelu_inputs = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split('.')[0]  # 'gelu.default' -> 'gelu'
        layouts = {_layout(a) for a in args} - {None}
        if {'nchw', 'nhwc'} <= layouts:
            self.mixed[name] += 1
        if name.startswith('gelu'):
            for a in args:
                if isinstance(a, torch.Tensor) and _layout(a) not in (None, 'nchw'):
                    self.gelu_inputs[(name, _layout(a))] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
def test_gelu_equals_the_contiguous_result_bit_for_bit(approximate):
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 7)
    g = torch.randn_like(x)
    ref_in = x.clone().requires_grad_()
    ref = F.gelu(ref_in, approximate=approximate)
    ref.backward(g)
    x_cl = x.contiguous(memory_format=CL).requires_grad_()
    out = gelu(x_cl, approximate)
    out.backward(g.contiguous(memory_format=CL))
    assert out.is_contiguous(memory_format=CL) and x_cl.grad.is_contiguous(memory_format=CL)
    assert torch.equal(out, ref) and torch.equal(x_cl.grad, ref_in.grad)
    # other inputs go straight to F.gelu
    tokens = torch.randn(2, 9, 16)
    assert torch.equal(gelu(tokens, approximate), F.gelu(tokens, approximate=approximate))
    act = ChannelsLastGELU(approximate=approximate)
    assert isinstance(act, nn.GELU) and not list(act.state_dict())
    assert torch.equal(act(x_cl.detach()), ref.detach())


def test_gelu_runs_the_dense_kernels_for_channels_last_input():
    x = torch.randn(2, 16, 5, 7).contiguous(memory_format=CL).requires_grad_()
    with _LayoutAudit() as audit:
        gelu(x).sum().backward()
    assert not audit.gelu_inputs
    with _LayoutAudit() as audit:  # the check above can fail: plain F.gelu is flagged
        F.gelu(x).backward(torch.ones_like(x))
    assert audit.gelu_inputs[('gelu', 'nhwc')] == 1
    assert audit.gelu_inputs[('gelu_backward', 'nhwc')] == 2


def test_spatial_mean_equals_adaptive_avg_pool_and_keeps_gradients_channels_last():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 7).contiguous(memory_format=CL)
    assert torch.equal(spatial_mean(x), F.adaptive_avg_pool2d(x, 1).flatten(1))
    se = HardSigmoidSE(16).to(memory_format=CL)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = F.hardsigmoid(se.fc2(se.relu(se.fc1(F.adaptive_avg_pool2d(a, 1))))) * a
    g = torch.randn_like(x)
    ref.backward(g)
    with _LayoutAudit() as audit:
        out = se(b)
        out.backward(g)
    assert torch.allclose(out, ref, atol=1e-6) and torch.allclose(b.grad, a.grad, atol=1e-6)
    assert b.grad.is_contiguous(memory_format=CL)
    assert not audit.mixed
    with _LayoutAudit() as audit:  # adaptive_avg_pool2d's gradient is NCHW: flagged
        (F.adaptive_avg_pool2d(a, 1) * a).backward(g)
    assert audit.mixed['add'] >= 1


def test_metanet_channels_last_training_step_matches_nchw_and_stays_nhwc():
    torch.manual_seed(0)
    ref = MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4)).train()
    model = MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4)).train()
    model.load_state_dict(ref.state_dict())
    model = model.to(memory_format=CL)
    x = torch.randn(3, 3, 64, 64)
    ref_outs = ref(x)
    weights = [torch.randn_like(o) for o in ref_outs]
    sum((o * w).sum() for o, w in zip(ref_outs, weights)).backward()
    weights = [w.contiguous(memory_format=CL) if w.dim() == 4 else w for w in weights]
    with _LayoutAudit() as audit:
        outs = model(x.contiguous(memory_format=CL))
        sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    assert not audit.mixed and not audit.gelu_inputs
    for out, r in zip(outs, ref_outs):
        assert ((out - r).abs().max() / r.abs().max()).item() < 1e-5
    for out in outs[:4]:
        assert out.is_contiguous(memory_format=CL)
    grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        r = grads[name].grad
        assert ((p.grad - r).abs().max() / r.abs().max().clamp_min(1e-12)).item() < 1e-4, name
