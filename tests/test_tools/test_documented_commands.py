"""Commands of README.md / docs/gvb.md that failed as written, run scaled down (same code
path): gvb2intern into a missing folder, dist_train.sh with the CamVid (SyncBN) config on
CPU, and the GV-B CamVid stand-in whose training split leaves a last batch of one."""
import json
import os
import re
import subprocess
import sys

import torch

from tools_testutils import PYTHON, REPO_ROOT, run_tool

CAMVID_CFG = REPO_ROOT / 'configs/metanet/metanet-tiny_deeplabv3_1xb4-40i_camvid-128x128.py'
TINY_BACKBONE = ("dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, "
                 "base_channels=8)")


def test_gvb2intern_creates_the_output_folder(parity_dir, tmp_path):
    """README: ``gvb2intern.py ORIGINAL.pth checkpoints/mn-b4_intern.pth`` from a clone
    without ``checkpoints/`` (tiny fixture weights instead of MN-B4, run from a fresh
    folder as the working directory)."""
    fixture = torch.load(parity_dir / 'metanet_tiny-b4.pt', weights_only=False)
    torch.save({'state_dict': fixture['state_dict']}, tmp_path / 'ORIGINAL.pth')
    proc = subprocess.run(
        [PYTHON, str(REPO_ROOT / 'tools/model_converters/gvb2intern.py'), 'ORIGINAL.pth',
         'checkpoints/mn-b4_intern.pth', '--arch', json.dumps(fixture['arch'])],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(tmp_path / 'checkpoints' / 'mn-b4_intern.pth', weights_only=True)
    assert len(ckpt['state_dict']) == len(fixture['state_dict'])


def test_dist_train_camvid_syncbn_config_on_cpu(datasets_dir, tmp_path):
    """README: ``bash tools/dist_train.sh CONFIG 2`` (gloo on CPU) with the CamVid config,
    whose mmseg heads use SyncBN: 2 iterations, 2 processes."""
    root = datasets_dir / 'camvid'
    work = tmp_path / 'ddp'
    env = dict(os.environ, PYTHON=PYTHON, PORT='29617', OMP_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='')
    out = run_tool([
        'bash', 'tools/dist_train.sh', str(CAMVID_CFG), '2', '--work-dir', str(work),
        '--cfg-options', f'train_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.data_root={root}/', f'test_dataloader.dataset.data_root={root}/',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2',
        'val_dataloader.dataset.indices=2', 'train_dataloader.batch_size=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'], env=env)
    assert 'SyncBN replaced by BN' in out
    assert re.search(r'Distributed training: True', out)
    assert (work / 'iter_2.pth').is_file()
    assert re.findall(r'mIoU: ([\d.]+)', out)


def test_gvb_camvid_stand_in_with_a_last_batch_of_one(datasets_dir, tmp_path):
    """docs/gvb.md's stand-in command died in camvid_seg: the final run trains on the whole
    subset (37 images there) at batch 2, so each pass ended with one image, which ASPP's
    image-pool BN cannot train on. Here the subset is odd on purpose (13 images, ratio 1)
    and the run is one iteration longer than a pass of full batches."""
    src = datasets_dir / 'camvid'
    root = tmp_path / 'camvid'
    root.mkdir()
    for name in ('images', 'annotations'):
        (root / name).symlink_to(src / name)
    (root / 'train.txt').write_text('\n'.join((src / 'train.txt').read_text().split()[:13]))
    (root / 'test.txt').write_text('\n'.join((src / 'test.txt').read_text().split()[:2]))
    iters = 13 // 2 + 1  # the 7th batch is the leftover image without drop_last
    out = run_tool([
        PYTHON, 'tools/gvb.py', 'run', '--backbone', TINY_BACKBONE, '--tasks', 'camvid_seg',
        '--data-root', f'camvid_seg={root}', '--subset-base', str(tmp_path / 'subsets'),
        '--ratio', '1.0', '--work-dir', str(tmp_path / 'wd'), '--run-name', 'ci',
        '--num-workers', '0', '--recipe', f'seg.max_iters={iters}', 'seg.crop_size=(64,64)',
        'seg.img_scale=(120,90)', 'seg.head_channels=8', 'seg.aux_channels=8'])
    task_dir = tmp_path / 'wd' / 'ci' / 'camvid_seg'
    res = json.loads((task_dir / 'result.json').read_text())
    assert res['subset']['counts']['subset'] == 13, res['subset']
    assert res['status'] == 'done', out[-3000:]
    assert (task_dir / 'final' / f'iter_{iters}.pth').is_file()
