"""End to end through tools/gvb.py on the real ../shared datasets (CI-sized)."""
import importlib.util
import json
import os
from pathlib import Path

import pytest
from gvb_testutils import slice_list


REPO = Path(__file__).resolve().parents[2]


def _gvb():
    spec = importlib.util.spec_from_file_location('gvb_tool', REPO / 'tools' / 'gvb.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path, *args):
    return _gvb().main(['run', '--work-dir', str(tmp_path / 'wd'), '--run-name', 'ci',
                        '--subset-base', str(tmp_path / 'subsets'), '--num-workers', '0',
                        *args])


def test_cifar10_probe_end_to_end(tmp_path, datasets_dir, tiny_backbone, link_subset):
    root = link_subset(datasets_dir / 'cifar10', tmp_path / 'cifar10',
                        dict(train=50, test=10))
    assert _run(tmp_path, '--backbone', tiny_backbone, '--tasks', 'cifar10',
                '--data-root', f'cifar10={root}', '--recipe', 'cls.max_iters=50',
                'cls.milestones=[30,40]', 'cls.img_size=32', 'cls.lr=1.0',
                'cls.batch_size=16') == 0
    res = json.loads((tmp_path / 'wd' / 'ci' / 'cifar10' / 'result.json').read_text())
    assert res['status'] == 'done' and res['impl'] == 'cache'
    assert res['subset']['counts'] == dict(subset=50, train=40, val=10)  # 10%
    assert res['recipe']['max_iters'] == 50 and res['recipe']['lr'] == 1.0
    # seeded (backbone init included), measured twice: 16.0 / 16.0 top-1 on the 100 test
    # images (chance: 10; batch 16 with the loader's drop_last); one image of tolerance
    assert res['score'] == pytest.approx(16.0, abs=1.0)
    assert _gvb().main(['report', '--work-dir', str(tmp_path / 'wd')]) == 0
    assert 'cifar10' in (tmp_path / 'wd' / 'report' / 'report.md').read_text()


DET_SHRINK = [
    'model.neck.out_channels=16', 'model.rpn_head.in_channels=16',
    'model.rpn_head.feat_channels=16', 'model.roi_head.bbox_roi_extractor.out_channels=16',
    'model.roi_head.bbox_head.in_channels=16', 'model.roi_head.bbox_head.fc_out_channels=32',
    'model.train_cfg.rpn_proposal.max_per_img=64', 'model.train_cfg.rcnn.sampler.num=32',
    'model.test_cfg.rpn.nms_pre=100', 'model.test_cfg.rpn.max_per_img=32']


def test_raccoon_detection_probe(tmp_path, datasets_dir, tiny_backbone):
    root = slice_list(datasets_dir / 'raccoon', tmp_path / 'raccoon',
                       {'train.txt': 40, 'test.txt': 3})
    assert _run(tmp_path, '--backbone', tiny_backbone, '--tasks', 'raccoon_det',
                '--data-root', f'raccoon_det={root}', '--recipe', 'det.max_epochs=1',
                'det.img_scale=(96,64)', 'det.warmup_iters=2', 'det.repeat=1',
                '--cfg-options', *DET_SHRINK) == 0
    task_dir = tmp_path / 'wd' / 'ci' / 'raccoon_det'
    res = json.loads((task_dir / 'result.json').read_text())
    assert res['family'] == 'det' and res['metric'] == 'mAP'
    # seeded, measured twice: 1.96 mAP on the 3 test images after one epoch on the 4
    # subset images; 1 point of tolerance
    assert res['score'] == pytest.approx(1.96, abs=1.0)
    assert res['subset']['counts']['subset'] == 4
    assert os.path.isfile(task_dir / 'final' / 'epoch_1.pth')


def test_camvid_segmentation_probe(tmp_path, datasets_dir, tiny_backbone):
    root = slice_list(datasets_dir / 'camvid', tmp_path / 'camvid',
                       {'train.txt': 30, 'test.txt': 2})
    assert _run(tmp_path, '--backbone', tiny_backbone, '--tasks', 'camvid_seg',
                '--data-root', f'camvid_seg={root}', '--recipe', 'seg.max_iters=2',
                'seg.crop_size=(64,64)', 'seg.img_scale=(120,90)', 'seg.head_channels=8',
                'seg.aux_channels=8') == 0
    res = json.loads((tmp_path / 'wd' / 'ci' / 'camvid_seg' / 'result.json').read_text())
    assert res['family'] == 'seg' and res['mode'] == 'probe'
    # seeded, measured twice: 3.30 mIoU on the 2 test images after 2 iterations;
    # 0.5 of tolerance
    assert res['metrics']['mIoU'] == pytest.approx(3.30, abs=0.5)
