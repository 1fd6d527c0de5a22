"""``tools/analysis_tools/gvb_probe_cache.py`` (the benchmark README.md and docs/gvb.md
quote), scaled down: both protocols on a CIFAR-10 slice must train the same head, and the
``--runner-iters`` slice must extrapolate by the formula it reports."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'gvb_probe_cache.py'


def _run(tmp_path, data_root, backbone, name, *extra):
    out = tmp_path / name / 'result.md'
    proc = subprocess.run(
        [sys.executable, str(TOOL), '--data-root', str(data_root), '--backbone', backbone,
         '--work-dir', str(tmp_path / name), '--out', str(out), '--ratio', '0.5',
         '--max-iters', '12', '--img-size', '32', '--batch-size', '16', '--lr', '1.0',
         '--calib-images', '32', '--num-workers', '0', *extra],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.with_suffix('.json').read_text()), out.read_text()


@pytest.mark.slow
def test_cached_probe_equals_runner_and_slice_extrapolates(tmp_path, datasets_dir,
                                                           link_subset, tiny_backbone):
    root = link_subset(datasets_dir / 'cifar10', tmp_path / 'cifar10',
                       dict(train=8, test=2))
    full, table = _run(tmp_path, root, tiny_backbone, 'full')
    cache, runner = full['cache'], full['runner']
    # the same head from the same sampling: the comparison the benchmark exists to make
    assert runner['metrics']['top1'] == pytest.approx(cache['metrics']['top1'])
    assert runner['max_weight_diff'] < 1e-5 and runner['max_bias_diff'] < 1e-5
    assert '| Runner, iteration by iteration |' in table
    assert f"{cache['metrics']['top1']:.2f}" in table

    sliced, table = _run(tmp_path, root, tiny_backbone, 'slice', '--runner-iters', '4')
    res = sliced['runner']
    assert res['measured_iters'] == 4
    assert res['train_s_extrapolated'] > res['median_iter_s'] * 11
    assert res['total_s'] == pytest.approx(res['build_s'] + res['train_s_extrapolated']
                                           + res['test_s'])
    assert '**extrapolated** from 4 of 12 iterations' in table
    # the same frozen weights and subset as the full run (seeded): same cached result
    assert sliced['cache']['metrics'] == full['cache']['metrics']
