"""Kill ``tools/gvb.py run`` in the middle of its second task and rerun the same command:
the first task is skipped and the second resumes, ending with the same weights and
metrics as an uninterrupted run.

Two small Runner-based probes on ../shared data: CIFAR-10 (classification, 6 iterations)
then CamVid (segmentation, 8 iterations, a checkpoint after every iteration: the default
interval is ``max_iters // 10``). The process group is killed with SIGKILL once the CamVid
checkpoint of iteration 3 exists.
"""
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from kill_testutils import run_and_kill_when, run_ok
from gvb_testutils import slice_list

REPO = Path(__file__).resolve().parents[2]
SEG_ITERS = 8


def _cmd(tmp_path, wd, backbone, cifar, camvid):
    return [
        sys.executable, str(REPO / 'tools' / 'gvb.py'), 'run', '--backbone', backbone,
        '--tasks', 'cifar10,camvid_seg', '--data-root', f'cifar10={cifar}',
        f'camvid_seg={camvid}', '--impl', 'runner', '--ratio', '0.5', '--work-dir',
        str(wd), '--run-name', 'kill', '--subset-base', str(tmp_path / 'subsets'),
        '--num-workers', '0', '--recipe', 'cls.max_iters=6', 'cls.milestones=[4]',
        'cls.img_size=32', 'cls.batch_size=8', 'cls.test_batch_size=40',
        f'seg.max_iters={SEG_ITERS}', 'seg.crop_size=(64,64)', 'seg.img_scale=(120,90)',
        'seg.head_channels=8', 'seg.aux_channels=8'
    ]


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def _final(wd: Path):
    task = wd / 'kill' / 'camvid_seg'
    res = json.loads((task / 'result.json').read_text())
    ckpt = torch.load(task / 'final' / f'iter_{SEG_ITERS}.pth', map_location='cpu',
                      weights_only=False)
    return res, ckpt['state_dict']


@pytest.mark.slow
def test_kill_during_second_task_and_rerun(tmp_path, datasets_dir, tiny_backbone,
                                           link_subset):
    cifar = link_subset(datasets_dir / 'cifar10', tmp_path / 'cifar10',
                        dict(train=4, test=2))
    camvid = slice_list(datasets_dir / 'camvid', tmp_path / 'camvid',
                         {'train.txt': 20, 'test.txt': 2})
    env = _env()
    ref_wd, wd = tmp_path / 'reference', tmp_path / 'killed'
    run_ok(_cmd(tmp_path, ref_wd, tiny_backbone, cifar, camvid), tmp_path / 'ref.log',
           env=env)

    seg = wd / 'kill' / 'camvid_seg'
    run_and_kill_when(_cmd(tmp_path, wd, tiny_backbone, cifar, camvid),
                      seg / 'final' / 'iter_3.pth', tmp_path / 'killed.log', env=env)
    first = wd / 'kill' / 'cifar10' / 'result.json'
    assert first.is_file() and not (seg / 'result.json').exists()
    assert not (seg / 'final' / f'iter_{SEG_ITERS}.pth').exists()
    mtime = first.stat().st_mtime

    log = run_ok(_cmd(tmp_path, wd, tiny_backbone, cifar, camvid), tmp_path / 'rerun.log',
                 env=env)
    assert first.stat().st_mtime == mtime  # the finished task was skipped
    assert 'Advance dataloader' in log  # the interrupted one resumed mid-way
    res, state = _final(wd)
    ref_res, ref_state = _final(ref_wd)
    # same seed, data order and (restored) random streams: the resumed run repeats the
    # uninterrupted one exactly (weights: tolerance 0; mIoU to 1e-9)
    assert state.keys() == ref_state.keys()
    for key, value in ref_state.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    assert res['metrics']['mIoU'] == pytest.approx(ref_res['metrics']['mIoU'], abs=1e-9)
    ref_cls = json.loads((ref_wd / 'kill' / 'cifar10' / 'result.json').read_text())
    assert json.loads(first.read_text())['score'] == pytest.approx(ref_cls['score'],
                                                                   abs=1e-9)
