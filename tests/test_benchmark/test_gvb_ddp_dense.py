"""GV-B detection and segmentation probes through ``tools/gvb.py run`` under torchrun with
2 CPU processes (gloo, DDP) on ../shared data.

Each rank saves its parameters and the images it trained on (``tests/ddp_rank_dump.py``,
added with ``--cfg-options``). The backbone is frozen; the heads' gradients are
all-reduced, so both replicas must end with identical (trained) head parameters, having
trained on different images.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from gvb_testutils import slice_list

REPO = Path(__file__).resolve().parents[2]
TESTS_DIR = Path(__file__).resolve().parents[1]
DET_SHRINK = [
    'model.neck.out_channels=16', 'model.rpn_head.in_channels=16',
    'model.rpn_head.feat_channels=16', 'model.roi_head.bbox_roi_extractor.out_channels=16',
    'model.roi_head.bbox_head.in_channels=16', 'model.roi_head.bbox_head.fc_out_channels=32',
    'model.train_cfg.rpn_proposal.max_per_img=64', 'model.train_cfg.rcnn.sampler.num=32',
    'model.test_cfg.rpn.nms_pre=100', 'model.test_cfg.rpn.max_per_img=32']
DUMP = ["custom_hooks=[{'type':'intern_mm.DumpRankStateHook'}]"]


def _torchrun(tmp_path, task, root, backbone, recipe, extra_options=()):
    # ``custom_imports`` only act in config files: a sitecustomize on PYTHONPATH imports
    # the dump hook in every process torchrun starts
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text('import ddp_rank_dump  # noqa: F401\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), str(TESTS_DIR), str(site)] + [
        p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
           '--nproc_per_node', '2', str(REPO / 'tools/gvb.py'), 'run', '--launcher',
           'pytorch', '--backbone', backbone, '--tasks', task, '--data-root',
           f'{task}={root}', '--work-dir', str(tmp_path / 'wd'), '--run-name', 'ddp',
           '--subset-base', str(tmp_path / 's'), '--num-workers', '0', '--recipe',
           *recipe, '--cfg-options', *DUMP, *extra_options]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    errors = [ln for ln in proc.stderr.splitlines() if 'Error' in ln]
    assert proc.returncode == 0, (errors[:6], proc.stderr[-2000:])
    task_dir = tmp_path / 'wd' / 'ddp' / task
    res = json.loads((task_dir / 'result.json').read_text())
    ranks = [torch.load(task_dir / 'final' / f'rank{r}_params.pth', weights_only=False)
             for r in range(2)]
    return res, ranks


def _check_replicas(ranks, trained_prefix, first_epoch=None):
    assert all(r['world_size'] == 2 and r['losses'] for r in ranks)
    p0, p1 = ranks[0]['params'], ranks[1]['params']
    assert p0.keys() == p1.keys()
    for key, value in p0.items():
        torch.testing.assert_close(p1[key], value, rtol=0, atol=0, msg=key)
    moved = [k for k, v in p0.items() if not torch.equal(v, ranks[0]['init'][k])]
    assert moved and all(k.startswith(trained_prefix) for k in moved), moved
    # the frozen backbone did not move on either rank
    assert not any(k.startswith('backbone.') for k in moved)
    # the distributed sampler splits each epoch between the ranks (``first_epoch``: the
    # number of images per rank in one epoch, when training runs longer than one)
    seen0, seen1 = (r['seen'][:first_epoch] for r in ranks)
    assert set(seen0).isdisjoint(seen1), (seen0, seen1)


@pytest.mark.slow
def test_detection_probe_ddp(tmp_path, datasets_dir, tiny_backbone):
    root = slice_list(datasets_dir / 'raccoon', tmp_path / 'raccoon',
                       {'train.txt': 40, 'test.txt': 2})
    res, ranks = _torchrun(tmp_path, 'raccoon_det', root, tiny_backbone,
                           ['det.max_epochs=1', 'det.img_scale=(96,64)',
                            'det.warmup_iters=2', 'det.repeat=1'], DET_SHRINK)
    assert res['status'] == 'done' and res['family'] == 'det'
    _check_replicas(ranks, ('neck.', 'rpn_head.', 'roi_head.'))


@pytest.mark.slow
def test_segmentation_probe_ddp(tmp_path, datasets_dir, tiny_backbone):
    root = slice_list(datasets_dir / 'camvid', tmp_path / 'camvid',
                       {'train.txt': 40, 'test.txt': 2})
    res, ranks = _torchrun(tmp_path, 'camvid_seg', root, tiny_backbone,
                           ['seg.max_iters=3', 'seg.crop_size=(64,64)',
                            'seg.img_scale=(120,90)', 'seg.head_channels=8',
                            'seg.aux_channels=8', 'seg.batch_size=2'])
    assert res['status'] == 'done' and res['family'] == 'seg'
    # 4-image subset, batch 2 per rank: every epoch is one iteration
    assert res['subset']['counts']['subset'] == 4
    _check_replicas(ranks, ('decode_head.', 'auxiliary_head.'), first_epoch=2)
