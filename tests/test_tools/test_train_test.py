"""tools/train.py, tools/test.py, resume and 2-process DDP on generated data (CPU)."""
import json
import os
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from intern_mm.apis import UnknownConfigKeyError, merge_cfg_options, run_train
from intern_mm.registry import HOOKS

from tools_testutils import (CIFAR_CFG, PYTHON, REPO_ROOT, run_tool, tiny_cfg,
                             tiny_classifier_options)


def test_train_then_test_tool(tmp_path, image_folder):
    data = image_folder
    work = tmp_path / 'work'
    opts = tiny_classifier_options(data, work, max_iters=20, ckpt_interval=20)
    out = run_tool([PYTHON, 'tools/train.py', str(CIFAR_CFG), '--work-dir', str(work),
                    '--cfg-options', *opts])
    assert (work / 'iter_20.pth').is_file()
    acc = [float(a) for a in re.findall(r'accuracy/top1: ([\d.]+)', out)]
    assert acc, out[-2000:]
    # bright vs dark images are trivially separable: 20 SGD steps must learn it
    assert acc[-1] >= 75.0

    eval_dir = tmp_path / 'eval'
    run_tool([PYTHON, 'tools/test.py', str(CIFAR_CFG), str(work / 'iter_20.pth'),
              '--work-dir', str(eval_dir), '--out', str(tmp_path / 'preds.pkl'),
              '--cfg-options', *opts])
    metrics = json.loads((eval_dir / 'test_metrics.json').read_text())
    assert metrics['accuracy/top1'] == pytest.approx(acc[-1], abs=1e-6)
    assert (tmp_path / 'preds.pkl').is_file()


@HOOKS.register_module(force=True)
class _InterruptAfterIter(Hook):
    """Simulates a crash right after iteration ``at`` (its checkpoint already saved)."""
    priority = 'LOWEST'

    def __init__(self, at: int):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt(f'simulated interruption after iteration {self.at}')


def test_resume_after_interruption_matches_uninterrupted(tmp_path, image_folder,
                                                         eager_classifier_run):
    data = image_folder
    # the uninterrupted run: tiny_cfg(data, ..., 8), trained once per session
    assert eager_classifier_run.iter == 8
    reference = eager_classifier_run.state

    cfg = tiny_cfg(data, tmp_path / 'crash', 8,
                   [dict(type='intern_mm._InterruptAfterIter', at=4)])
    with pytest.raises(KeyboardInterrupt):
        run_train(cfg)
    assert (tmp_path / 'crash' / 'iter_4.pth').is_file()
    assert not (tmp_path / 'crash' / 'iter_6.pth').exists()

    # --resume (auto): picks up iter_4.pth; the checkpoint holds a message hub with
    # HistoryBuffer objects, which only loads with the weights_only fix in intern_mm.
    cfg = tiny_cfg(data, tmp_path / 'crash', 8)
    cfg.resume = True
    resumed = run_train(cfg)
    assert resumed.iter == 8
    state = resumed.model.state_dict()
    assert state.keys() == reference.keys()
    for key, value in reference.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)


def test_unknown_cfg_option_is_refused():
    cfg = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=10)))
    with pytest.raises(UnknownConfigKeyError, match='train_cfgg.max_iters.*train_cfg.max_iters'):
        merge_cfg_options(cfg, {'train_cfgg.max_iters': 3})
    merge_cfg_options(cfg, {'+work_dir': 'x', 'train_cfg.max_iters': 3})
    assert cfg.work_dir == 'x' and cfg.train_cfg.max_iters == 3


def test_train_tool_errors_name_the_problem(tmp_path):
    with pytest.raises(AssertionError, match='does not exist'):
        run_tool([PYTHON, 'tools/train.py', str(tmp_path / 'missing.py')])
    with pytest.raises(AssertionError, match='train_cfg.max_iterz'):
        run_tool([PYTHON, 'tools/train.py', str(CIFAR_CFG), '--cfg-options',
                  'train_cfg.max_iterz=1'])


@pytest.mark.slow
def test_dist_train_two_process_gloo(tmp_path, image_folder):
    data = image_folder
    env = dict(os.environ, PYTHON=PYTHON, PORT='29613', OMP_NUM_THREADS='1')
    # the same run in NCHW and with ChannelsLastHook (a config inheriting the CIFAR one)
    cl_cfg = tmp_path / 'cifar_channels_last.py'
    cl_cfg.write_text(f"_base_ = ['{CIFAR_CFG}']\n"
                      "custom_hooks = [dict(type='intern_mm.ChannelsLastHook')]\n")
    states = {}
    for name, cfg in (('nchw', CIFAR_CFG), ('channels_last', cl_cfg)):
        work = tmp_path / name
        out = run_tool(['bash', 'tools/dist_train.sh', str(cfg), '2', '--work-dir',
                        str(work), '--cfg-options', *tiny_classifier_options(data, work, 4, 4)],
                       env=env)
        assert (work / 'iter_4.pth').is_file()
        assert re.search(r'Distributed launcher: pytorch', out)
        assert re.search(r'Distributed training: True', out)
        assert re.search(r'GPU number: 2', out)  # mmengine's name for the world size
        ckpt = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=False)
        assert ckpt['meta']['iter'] == 4
        states[name] = ckpt['state_dict']
        assert ('ChannelsLastHook: ' in out) == (name == 'channels_last')
    # NHWC feature maps, NCHW parameters: the same training, to rounding
    for key, value in states['nchw'].items():
        torch.testing.assert_close(states['channels_last'][key], value, rtol=1e-4, atol=1e-5,
                                   msg=key)


def test_channels_last_hook_trains_like_nchw(tmp_path, image_folder, eager_classifier_run):
    # the NCHW run: tiny_cfg(data, ..., 8), trained once per session
    nchw = eager_classifier_run
    cl = run_train(tiny_cfg(image_folder, tmp_path / 'cl', nchw.iter,
                            [dict(type='intern_mm.ChannelsLastHook')]))
    # the backbone's feature maps are NHWC in the hooked model only
    images = torch.rand(2, 3, 32, 32)
    for model, channels_last in ((nchw.model, False), (cl.model, True)):
        model.eval()
        feats = []
        handle = model.backbone.blocks[0].register_forward_hook(
            lambda module, args, out: feats.append(out))
        with torch.no_grad():
            model(images, mode='tensor')
        handle.remove()
        assert (not feats[0].is_contiguous()) == channels_last
    reference = nchw.state
    for key, value in cl.model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5, msg=key)


def test_parallel_runs_benchmark_times_one_run_and_two_at_once(image_folder, tmp_path):
    """tools/analysis_tools/parallel_runs_benchmark.sh (docs/claim.md, "Budget") on a
    2-iteration run: both lines with their times; a missing config is one line."""
    import subprocess
    cfg = tiny_cfg(image_folder, tmp_path / 'unused', max_iters=2)
    cfg.dump(str(tmp_path / 'run_config.py'))
    script = 'tools/analysis_tools/parallel_runs_benchmark.sh'
    env = dict(os.environ, PY=PYTHON)
    out = run_tool(['bash', script, str(tmp_path / 'run_config.py'), '1'], env=env)
    alone = re.search(r'one run, \d+ threads, alone: (\d+) ms', out)
    both = re.search(r'two runs at once, 1 thread each, both done: (\d+) ms', out)
    assert alone and both and int(alone.group(1)) > 0 and int(both.group(1)) > 0, out
    proc = subprocess.run(['bash', script, str(tmp_path / 'missing.py')], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == (
        f'parallel_runs_benchmark: {tmp_path / "missing.py"} does not exist (run make '
        'claim-design, or pass a run_config.py)')
