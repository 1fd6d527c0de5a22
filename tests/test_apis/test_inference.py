"""intern_mm.apis.inference: the deploy switch and the frozen compiled inference path."""
import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from intern_mm.apis import optimize_for_inference, switch_to_deploy
from intern_mm.models import CentralModel, MetaNet
from model_testutils import randomise_bn

TESTS_DIR = Path(__file__).resolve().parents[1]


def _max_rel(a, b) -> float:
    return max(((x - y).abs().max() / x.abs().max()).item() for x, y in zip(a, b))


@pytest.mark.slow
def test_frozen_compiled_metanet_matches_eager():  # freezing and the C++ wrapper
    # in a subprocess: after torch.compile, a process that has also run backward can no
    # longer start fork-based workers that run backward (PyTorch's autograd-and-fork
    # check), which the DDP tests of this suite do
    code = textwrap.dedent('''
        import copy, torch, torch.nn as nn
        from intern_mm.apis import optimize_for_inference
        from intern_mm.models import MetaNet
        from model_testutils import randomise_bn
        torch.manual_seed(0)
        eager = randomise_bn(MetaNet(arch='tiny', out_indices=(1, 3)))
        fast = optimize_for_inference(copy.deepcopy(eager), freezing=True, cpp_wrapper=True)
        x = torch.randn(2, 3, 64, 64)
        xc = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            ref, out, again = eager(x), fast(xc), fast(xc)
        rel = max(((a - b).abs().max() / a.abs().max()).item() for a, b in zip(ref, out))
        same = all(torch.equal(a, b) for a, b in zip(out, again))
        bn = any(isinstance(m, nn.BatchNorm2d) for m in fast._orig_mod.modules())
        print('RESULT', rel, same, bn)
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(TESTS_DIR), str(TESTS_DIR.parent), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env, cwd=str(TESTS_DIR.parent), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rel, same, bn = proc.stdout.split('RESULT')[1].split()
    assert float(rel) < 1e-4
    assert same == 'True'  # a second call reuses the compiled graph, same values
    assert bn == 'False'  # the deploy switch folded every BN before freezing


def test_deploy_of_central_model_keeps_the_chosen_task():
    torch.manual_seed(0)
    eager = randomise_bn(
        CentralModel(main=dict(type='MetaNet', arch='tiny'), bn_tasks=('cls', 'det'),
                     out_indices=(3, )))
    eager.task = 'det'
    det = optimize_for_inference(copy.deepcopy(eager), compile=False, task='det')
    eager_cls = copy.deepcopy(eager)
    eager_cls.task = 'cls'
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref_det, ref_cls = eager(x), eager_cls(x)
        out = det(x.contiguous(memory_format=torch.channels_last))
    assert _max_rel(ref_det, out) < 1e-4
    assert _max_rel(ref_cls, out) > 1e-2  # the other task's BN would differ
    assert out[0].is_contiguous(memory_format=torch.channels_last)


def test_switch_to_deploy_folds_bn_of_backbones_without_the_method():
    from mmpretrain.models import ResNet
    torch.manual_seed(0)
    eager = randomise_bn(ResNet(depth=18, out_indices=(3, )))
    assert not hasattr(eager, 'switch_to_deploy')
    fused = switch_to_deploy(copy.deepcopy(eager))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _max_rel(eager(x), fused(x)) < 1e-4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
