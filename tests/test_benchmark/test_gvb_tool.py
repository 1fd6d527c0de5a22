"""End to end through tools/gvb.py on the real ../shared datasets (CI-sized)."""
import importlib.util
import json
import os
from pathlib import Path

import pytest
from gvb_testutils import slice_list
from mmengine.config import Config


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


def test_raccoon_detection_probe(tmp_path, datasets_dir, tiny_backbone, capsys):
    root = slice_list(datasets_dir / 'raccoon', tmp_path / 'raccoon',
                       {'train.txt': 40, 'test.txt': 3})
    assert _run(tmp_path, '--backbone', tiny_backbone, '--tasks', 'raccoon_det',
                '--data-root', f'raccoon_det={root}', '--recipe', 'det.max_epochs=1',
                'det.img_scale=(96,64)', 'det.warmup_iters=2', 'det.repeat=1',
                '--cfg-options', *DET_SHRINK) == 0
    task_dir = tmp_path / 'wd' / 'ci' / 'raccoon_det'
    res = json.loads((task_dir / 'result.json').read_text())
    assert res['family'] == 'det' and res['metric'] == 'mAP'
    # the run wrote the config it trained with; show-config with the same options
    # resolves the same config (the --cfg-options included)
    ran = Config.fromfile(str(task_dir / 'final' / 'run_config.py')).to_dict()
    assert ran['model']['neck']['out_channels'] == 16 and ran['train_cfg']['max_epochs'] == 1
    assert _show_config(tmp_path, capsys, 'raccoon_det', 'probe', '--backbone',
                        tiny_backbone, '--work-dir', str(tmp_path / 'wd'), '--run-name',
                        'ci', '--subset-base', str(tmp_path / 'subsets'),
                        '--num-workers', '0', '--data-root', f'raccoon_det={root}',
                        '--recipe', 'det.max_epochs=1', 'det.img_scale=(96,64)',
                        'det.warmup_iters=2', 'det.repeat=1', '--cfg-options',
                        *DET_SHRINK) == ran
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


def _show_config(tmp_path, capsys, *args) -> dict:
    """``tools/gvb.py show-config ARGS``'s output, read back with Config.fromfile."""
    capsys.readouterr()
    assert _gvb().main(['show-config', *args]) == 0
    path = tmp_path / 'shown.py'
    path.write_text(capsys.readouterr().out)
    return Config.fromfile(str(path)).to_dict()


def test_show_config_prints_the_resolved_config(tmp_path, tiny_backbone, capsys):
    """No data, no subset: the config names the files the run will read and write."""
    cfg = _show_config(tmp_path, capsys, 'cifar10', 'probe', '--backbone', tiny_backbone,
                       '--data-base', str(tmp_path / 'gvb'), '--recipe', 'cls.lr=0.5',
                       '--cfg-options', 'train_cfg.max_iters=7')
    assert cfg['model']['backbone']['type'] == 'intern_mm.FrozenBackbone'
    assert cfg['model']['head']['num_classes'] == 10
    assert cfg['train_cfg']['max_iters'] == 7
    assert cfg['optim_wrapper']['optimizer']['lr'] == 0.5
    subset = tmp_path / 'gvb' / 'subsets' / 'cifar10' / 'ratio0.1_seed0_val0.2'
    assert cfg['train_dataloader']['dataset']['ann_file'] == str(subset / 'subset.txt')
    assert cfg['work_dir'].endswith('/cifar10/final')
    fine = _show_config(tmp_path, capsys, 'voc0712_det', 'finetune', '--backbone',
                        tiny_backbone, '--data-base', str(tmp_path / 'gvb'))
    assert fine['model']['backbone']['type'] == 'mmpretrain.ResNet'
    assert fine['model']['roi_head']['bbox_head']['num_classes'] == 20


@pytest.mark.parametrize('command', ['run', 'show-config'])
def test_cfg_options_typo_fails_in_one_line(tmp_path, tiny_backbone, capsys, command):
    """A misspelt --cfg-options key stops the command before any task runs, with one
    line naming the key and the close match."""
    from intern_mm.apis.cli import run_cli
    where = ['--tasks', 'cifar10'] if command == 'run' else ['cifar10', 'probe']
    argv = [command, *where, '--backbone', tiny_backbone, '--data-base',
            str(tmp_path / 'gvb'), '--work-dir', str(tmp_path / 'wd'),
            '--cfg-options', 'train_dataloader.batchsize=5']
    capsys.readouterr()
    assert run_cli(_gvb().main, argv, prog='gvb.py') == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith('gvb.py: error: UnknownConfigKeyError: --cfg-options key '
                             '"train_dataloader.batchsize" does not exist')
    assert 'Did you mean: train_dataloader.batch_size' in err[0]
    assert not (tmp_path / 'wd').exists()  # nothing ran
