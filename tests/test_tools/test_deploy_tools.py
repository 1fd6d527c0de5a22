"""FLOP counting with attention, tools/deployment/pytorch2onnx.py and the backbone
benchmark's variants."""
import importlib.util
import json
import os
import re
import subprocess

import pytest
import torch

from intern_mm.analysis import count_complexity
from intern_mm.models import MetaNet
from intern_mm.models.backbones import MultiHeadSelfAttention
from model_testutils import randomise_bn
from tools_testutils import PYTHON, REPO_ROOT, run_tool

CLS_CFG = REPO_ROOT / 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py'
ONNX_MISSING = [m for m in ('onnx', 'onnxruntime') if importlib.util.find_spec(m) is None]


def test_count_complexity_counts_scaled_dot_product_attention():
    attn = MultiHeadSelfAttention(32, num_heads=2)
    info = count_complexity(attn, (10, 32))  # one sequence of 10 tokens
    linears = 10 * 32 * 96 + 10 * 32 * 32  # qkv + proj
    sdpa = 2 * 10 * 10 * (16 + 16)  # heads x L x S x (q.k + attn.v)
    assert info['by_operator']['scaled_dot_product_attention'] == sdpa
    assert info['flops'] == linears + sdpa


def test_mn_b4_macs_match_the_published_figure():
    torch.manual_seed(0)
    info = count_complexity(MetaNet(arch='mn-b4', out_indices=(4, )), (3, 224, 224))
    ops = info['by_operator']
    matmuls = ops['conv'] + ops['linear'] + ops['scaled_dot_product_attention']
    assert abs(matmuls / 3.17e9 - 1) < 0.01  # published 3.17 G (conv, linear, attention)
    # stage 4: 6 blocks, 14x14 tokens, 4 heads of 48; stage 5: one down-sampling block
    # (7x7 tokens, 192 channels = 4 heads), then 11 blocks of 8 heads
    sdpa = 6 * 4 * 196**2 * 96 + 4 * 49**2 * 96 + 11 * 8 * 49**2 * 96
    assert ops['scaled_dot_product_attention'] == sdpa == 109_716_096
    # mmengine's total also counts BN / pooling / LayerNorm element-wise
    assert info['flops'] == pytest.approx(3.2168e9, rel=1e-4)


def _randomised_tiny_checkpoint(path):
    torch.manual_seed(0)
    model = randomise_bn(MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4)))
    torch.save({'state_dict': {'backbone.' + k: v for k, v in model.state_dict().items()}},
               path)
    return model


@pytest.mark.skipif(bool(ONNX_MISSING), reason=f'{ONNX_MISSING} not installed '
                    '(requirements/optional.txt)')
def test_pytorch2onnx_matches_pytorch(tmp_path):
    ckpt = tmp_path / 'tiny.pth'
    _randomised_tiny_checkpoint(ckpt)
    onnx_file = tmp_path / 'tiny.onnx'
    out = run_tool([
        PYTHON, 'tools/deployment/pytorch2onnx.py', str(CLS_CFG), '--cfg-options',
        'model.backbone.arch=tiny', 'model.backbone.out_indices=(0,1,2,3,4)', '--checkpoint',
        str(ckpt), '--shape', '64', '--dynamic-batch', '--output-file', str(onnx_file)
    ])
    assert 'outputs out0 (1, 24, 16, 16)' in out and 'out4 (1, 1280)' in out
    err = float(re.search(r'largest relative difference ([\d.e+-]+)', out).group(1))
    assert err < 1e-4
    assert '(batch 2)' in out  # the symbolic batch axis was checked with another size
    import onnx
    graph = onnx.load(str(onnx_file)).graph
    # the deploy switch folded every BN: no BatchNormalization node is left
    assert not [n for n in graph.node if n.op_type == 'BatchNormalization']


def test_pytorch2onnx_bad_input_is_one_line(tmp_path):
    with pytest.raises(AssertionError) as exc:
        run_tool([PYTHON, 'tools/deployment/pytorch2onnx.py', str(tmp_path / 'nope.py')])
    assert 'pytorch2onnx.py: error: FileNotFoundError: config file' in str(exc.value)
    assert 'Traceback' not in str(exc.value)


def test_benchmark_backbone_variants(tmp_path):
    out_file = tmp_path / 'bench.json'
    out = run_tool([
        PYTHON, 'tools/analysis_tools/benchmark_backbone.py', '--backbone',
        "tiny=dict(type='intern_mm.MetaNet', arch='tiny')", '--backbone',
        "r18=dict(type='mmpretrain.ResNet', depth=18)", '--backbone',
        # nested dicts, as CentralModel needs (Up-G: two tiny streams)
        "upg=dict(type='intern_mm.CentralModel', main=dict(type='MetaNet', arch='tiny'), "
        "out_indices=(3, ))",
        '--input-size', '32', '--batch-size', '2', '--rounds', '3', '--iters', '1',
        '--variants', 'eager', 'deploy+cl', '--threads', '1', '--out', str(out_file),
        '--profile', '3', '--malloc', 'retain'
    ])
    res = json.loads(out_file.read_text())
    # a ResNet-18's forward is convolutions first; shares in decreasing order
    r18 = res['profiles']['r18 forward eager']
    assert len(r18) == 3 and 'conv' in r18[0][0]
    assert [p for _, p in r18] == sorted((p for _, p in r18), reverse=True)
    # the training step is profiled too: its convolutions run backward
    assert any('convolution_backward' in op for op, _ in res['profiles']['r18 train eager'])
    tiny = res['backbones']['tiny']['results']
    assert set(tiny['forward']) == {'eager', 'deploy+cl'}
    assert set(tiny['train']) == {'eager'}  # a deployed model is not trained
    assert res['backbones']['r18']['params'] == 11_176_512  # mmpretrain ResNet-18, no fc
    # two copies of the tiny MetaNet and the 40,704 parameters of the transfer layers
    assert res['backbones']['upg']['params'] == 2 * res['backbones']['tiny']['params'] + 40_704
    assert set(res['backbones']['upg']['results']['forward']) == {'eager', 'deploy+cl'}
    assert len(tiny['forward']['eager']['step_s']) == 3  # one timing per round
    assert 'load average' in res['machine_before'] and '1 threads' in res['machine_before']
    assert 'freed memory retained' in res['machine_before']  # --malloc retain, logged
    assert isinstance(tiny['forward']['eager']['page_faults'], float)
    rows = [line for line in out.splitlines() if line.startswith('| tiny | eager |')]
    assert rows and rows[0].startswith('| tiny | eager |') and '| 1.00 | 1.00 |' in rows[0]


@pytest.mark.slow
def test_benchmark_backbone_compares_allocator_settings_across_processes(tmp_path):
    out_file = tmp_path / 'both.json'
    out = run_tool([
        PYTHON, 'tools/analysis_tools/benchmark_backbone.py', '--backbone',
        "tiny=dict(type='intern_mm.MetaNet', arch='tiny')", '--input-size', '32',
        '--batch-size', '2', '--rounds', '1', '--iters', '1', '--no-train', '--variants',
        'eager', 'deploy+cl', '--threads', '1', '--malloc', 'both', '--out', str(out_file)
    ])
    res = json.loads(out_file.read_text())
    runs = res['runs']
    assert 'default settings' in runs['default']['machine_before']
    assert 'freed memory retained' in runs['retain']['machine_before']
    rows = {line.split('|')[3].strip(): line for line in out.splitlines()
            if line.startswith('| tiny | forward |')}
    assert set(rows) == {'eager', 'deploy+cl'}
    # the ratio column is computed from the two children's medians
    fwd = {k: runs[k]['backbones']['tiny']['results']['forward'] for k in runs}
    ratio = fwd['retain']['deploy+cl']['img_s'] / fwd['default']['eager']['img_s']
    assert f'| {ratio:.2f} |' in rows['deploy+cl']


@pytest.mark.slow
def test_benchmark_backbone_training_steps_only(tmp_path):
    out_file = tmp_path / 'train.json'
    run_tool([
        PYTHON, 'tools/analysis_tools/benchmark_backbone.py', '--backbone',
        "tiny=dict(type='intern_mm.MetaNet', arch='tiny')", '--input-size', '32',
        '--batch-size', '2', '--rounds', '1', '--iters', '1', '--no-forward', '--variants',
        'eager', 'channels_last', '--threads', '1', '--out', str(out_file)
    ])
    results = json.loads(out_file.read_text())['backbones']['tiny']['results']
    assert list(results) == ['train'] and set(results['train']) == {'eager', 'channels_last'}
    with pytest.raises(AssertionError) as exc:
        run_tool([PYTHON, 'tools/analysis_tools/benchmark_backbone.py', '--no-train',
                  '--no-forward'])
    assert 'leave nothing to measure' in str(exc.value)
    with pytest.raises(AssertionError) as exc:
        run_tool([PYTHON, 'tools/analysis_tools/benchmark_backbone.py', '--rounds', '0'])
    assert '--rounds must be at least 1' in str(exc.value) and 'Traceback' not in str(
        exc.value)


@pytest.mark.slow
def test_benchmark_layout_ops_times_the_backbones_own_feature_maps(tmp_path):
    out_file = tmp_path / 'layout.json'
    out = run_tool([
        PYTHON, 'tools/analysis_tools/benchmark_layout_ops.py', '--arch', 'tiny',
        '--input-size', '64', '--batch-size', '2', '--rounds', '1', '--out', str(out_file)
    ])
    res = json.loads(out_file.read_text())
    # tiny: stem, 4 MBConv blocks (3 with b1), head -> 2 + 4 + 3 GELU calls, 4 SE gates
    assert sum(res['gelu_calls'].values()) == 9 and sum(res['se_calls'].values()) == 4
    # the stem (stride 2) and the first block's depthwise conv (expansion 1) share a shape
    assert res['gelu_calls']['(2, 16, 32, 32)'] == 2
    assert res['equal'] and all(res['equal'].values())
    assert len(res['median_ms']) == 6 * len(res['gelu_calls']) + 2 * len(res['se_calls'])
    assert 'results equal: True' in out and '| (2, 16, 32, 32) | 2 | forward |' in out
    for bad, message in ((['--arch', 'mn-b5'], "invalid choice: 'mn-b5'"),
                         (['--rounds', '0'], '--rounds must be at least 1')):
        with pytest.raises(AssertionError) as exc:
            run_tool([PYTHON, 'tools/analysis_tools/benchmark_layout_ops.py', *bad])
        assert message in str(exc.value) and 'Traceback' not in str(exc.value)


def test_gpu_benchmark_script_runs_its_parts_and_keeps_their_results(tmp_path):
    # TINY=1 on the CPU: the script's plumbing (parts, limits, bf16 autocast, outputs);
    # on a GPU the same parts run MN-B4 / MN-B15 / Up-G / ResNet-50 at 224 px
    env = dict(os.environ, TINY='1', DEVICE='cpu', BATCH='2', SIZE='64', ROUNDS='1',
               ITERS='1', LIMIT='300', PYTHON=PYTHON, PARTS='eager_bf16 nonsense')
    proc = subprocess.run(['bash', 'tools/analysis_tools/gpu_benchmark.sh', str(tmp_path)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and 'unknown part nonsense' in proc.stdout
    res = json.loads((tmp_path / 'eager_bf16.json').read_text())
    assert res['args']['amp'] and res['args']['amp_dtype'] == 'bfloat16'
    assert list(res['backbones']) == ['mn-b4', 'mn-b15', 'up-g', 'resnet18']
    assert set(res['backbones']['mn-b15']['results']) == {'forward', 'train'}
    assert 'amp=True bfloat16' in (tmp_path / 'eager_bf16.log').read_text()
