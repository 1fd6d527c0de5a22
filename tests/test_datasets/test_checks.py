"""Dataset checks before training: tools/misc/check_dataset.py, intern_mm.datasets.checks,
and the check tools/train.py runs, on a small copy of ../shared's raccoon VOC set."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from intern_mm.apis.cli import run_cli
from intern_mm.datasets.checks import (ClassNameMismatchError, check_class_names,
                                       check_config_datasets, class_mismatch_message)

REPO = Path(__file__).resolve().parents[2]
RACCOON_CFG = REPO / 'configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py'
IDS = ['raccoon-1', 'raccoon-2', 'raccoon-3', 'raccoon-4', 'raccoon-6', 'raccoon-7']


@pytest.fixture
def voc(datasets_dir, tmp_path) -> Path:
    """Six raccoon images + XML (copies, so they can be broken); train 4 / test 2."""
    src = datasets_dir / 'raccoon'
    root = tmp_path / 'raccoon'
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    for img_id in IDS:
        shutil.copy(src / 'images' / f'{img_id}.jpg', root / 'images')
        shutil.copy(src / 'annotations' / f'{img_id}.xml', root / 'annotations')
    (root / 'train.txt').write_text('\n'.join(IDS[:4]) + '\n')
    (root / 'test.txt').write_text('\n'.join(IDS[4:]) + '\n')
    return root


def truncate_jpeg(path: Path, keep: float = 0.5) -> None:
    """Cut a JPEG after ``keep`` of its bytes (no end-of-image marker)."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def _cfg_options(root: Path, classes=('raccoon', )) -> list:
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}/',
                 f'{split}_dataloader.dataset.metainfo.classes={list(classes)}']
    return opts


def _cfg(root: Path, classes=('raccoon', )) -> Config:
    cfg = Config.fromfile(str(RACCOON_CFG))
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader']['dataset']
        ds['data_root'] = f'{root}/'
        ds['metainfo'] = dict(classes=tuple(classes))
    return cfg


def _problems(report: dict) -> list:
    return [f'{split}: {line}' for split, r in report.items() for line in r.problems]


def test_class_mismatch_message_lists_unknown_and_unused():
    msg = class_mismatch_message(['Person', 'car'], ['person', 'car', 'bus'], 'a.xml')
    assert msg == ("a.xml: class names do not match: unknown class names (annotated, not "
                   "configured): ['bus', 'person']; unused class names (configured, never "
                   "annotated): ['Person'] (case differs: 'person' vs 'Person')")
    assert class_mismatch_message(['a', 'b'], ['b', 'a', 'a'], 'x') is None
    check_class_names(['a'], ['a'], 'x')
    with pytest.raises(ClassNameMismatchError, match=r"unused class names .*\['b'\]"):
        check_class_names(['a', 'b'], ['a'], 'x')
    check_class_names(['a', 'b'], ['a'], 'x', allow_unused=True)


def test_clean_voc_set_has_no_problems(voc):
    report = check_config_datasets(_cfg(voc), decode=True)
    assert set(report) == {'train', 'val', 'test'}
    assert _problems(report) == []
    assert report['train'].num_samples == 4 and report['train'].num_decoded == 4
    assert report['train'].classes[next(iter(report['train'].classes))]['raccoon'] >= 4


def test_truncated_jpeg_is_named_only_when_decoding(voc):
    """PIL opens a truncated JPEG lazily and cv2 renders it partly; mmcv's loader, which
    the pipeline uses, is what counts."""
    bad = voc / 'images' / 'raccoon-2.jpg'
    truncate_jpeg(bad, keep=0.02)
    Image.open(bad)  # PIL still opens it (the header is intact)
    quick = check_config_datasets(_cfg(voc), splits=['train'], decode=False)
    assert _problems(quick) == []  # existence only: the file is there
    full = _problems(check_config_datasets(_cfg(voc), splits=['train'], decode=True))
    assert len(full) == 1, full
    assert 'raccoon-2.jpg: cannot be decoded by LoadImageFromFile' in full[0]


def test_class_name_case_mismatch_and_missing_file(voc):
    """'Raccoon' for 'raccoon': stock mmdet drops every object and dies later with
    'need at least one array to concatenate'; the check names both spellings."""
    (voc / 'images' / 'raccoon-3.jpg').unlink()
    problems = _problems(check_config_datasets(_cfg(voc, ('Raccoon', )), splits=['train'],
                                               decode=False))
    assert any('raccoon-3.jpg: file does not exist' in p for p in problems), problems
    cls_lines = [p for p in problems if 'class names do not match' in p]
    assert len(cls_lines) == 1
    assert "unknown class names (annotated, not configured): ['raccoon']" in cls_lines[0]
    assert "unused class names (configured, never annotated): ['Raccoon']" in cls_lines[0]
    assert 'train.txt' in cls_lines[0]


def test_segmentation_mask_values_beyond_the_classes(tmp_path):
    root = tmp_path / 'seg'
    (root / 'img').mkdir(parents=True)
    (root / 'ann').mkdir()
    for i in range(3):
        Image.new('RGB', (8, 8)).save(root / 'img' / f'{i}.jpg')
        mask = np.zeros((8, 8), np.uint8)
        mask[0, 0] = 1
        mask[1, 1] = 5 if i == 2 else 255  # 5 is not a class
        Image.fromarray(mask).save(root / 'ann' / f'{i}.png')
    ds = dict(type='BaseSegDataset', data_root=str(root),
              data_prefix=dict(img_path='img', seg_map_path='ann'),
              img_suffix='.jpg', seg_map_suffix='.png',
              metainfo=dict(classes=('bg', 'thing', 'other')),
              pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    cfg = Config(dict(default_scope='mmseg', train_dataloader=dict(dataset=ds)))
    problems = _problems(check_config_datasets(cfg, decode=True))
    assert len(problems) == 1
    assert "['<label 5>']" in problems[0] and "['other']" in problems[0]


def _tool(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem + '_tool', REPO / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_dataset_tool_and_train_refuse_bad_data(voc, capsys):
    truncate_jpeg(voc / 'images' / 'raccoon-4.jpg', keep=0.9)
    check = _tool('tools/misc/check_dataset.py').main
    assert run_cli(check, [str(RACCOON_CFG), '--quiet', '--cfg-options',
                           *_cfg_options(voc, ('Raccoon', ))]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith('train: ') and 'raccoon-4.jpg: cannot be decoded' in line
               for line in lines), lines
    assert sum('class names do not match' in line for line in lines) == 3  # each split
    # train.py --check-data full names the truncated file before building the Runner
    train = _tool('tools/train.py').main
    assert run_cli(train, [str(RACCOON_CFG), '--work-dir', str(voc / 'work'), '--check-data',
                           'full', '--cfg-options', *_cfg_options(voc)], prog='train.py') == 1
    err = capsys.readouterr().err
    assert err.startswith('train.py: error: DataCheckError: 1 data problem(s):')
    assert 'raccoon-4.jpg: cannot be decoded by LoadImageFromFile' in err
    assert not (voc / 'work').exists()  # no Runner was built
    # the clean classes pass the tool when decoding is skipped
    assert run_cli(check, [str(RACCOON_CFG), '--no-decode', '--cfg-options',
                           *_cfg_options(voc)]) == 0


def test_train_entry_point_refuses_a_class_name_mismatch(voc):
    """``python tools/train.py`` with the default quick check: 'Raccoon' for 'raccoon' is
    one error, before training (stock mmdet: 'need at least one array to concatenate')."""
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(RACCOON_CFG), '--work-dir', str(voc / 'work'),
         '--cfg-options', *_cfg_options(voc, ('Raccoon', ))],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr and 'Epoch(train)' not in proc.stdout
    assert 'train.py: error: DataCheckError' in proc.stderr
    assert "unknown class names (annotated, not configured): ['raccoon']" in proc.stderr
