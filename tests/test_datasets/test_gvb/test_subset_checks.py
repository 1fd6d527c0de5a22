"""GV-B subsets refuse unreadable files, name every changed file and a changed data root."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from intern_mm.apis.cli import run_cli
from intern_mm.datasets.checks import ClassNameMismatchError
from intern_mm.datasets.gvb.manifest import SubsetVerificationError, verify_subset
from intern_mm.datasets.gvb.subsets import make_subset
from intern_mm.datasets.gvb.units import UnreadableDataError, decode_problem

REPO = Path(__file__).resolve().parents[3]
TOOL = REPO / 'tools/dataset_converters/make_subset.py'


@pytest.fixture
def jpg_root(tmp_path) -> Path:
    """ImageFolder of real-sized JPEGs: 6 per class, 2 classes."""
    root = tmp_path / 'data'
    for c, colour in (('a', (200, 30, 30)), ('b', (30, 30, 200))):
        (root / 'train' / c).mkdir(parents=True)
        for i in range(6):
            img = Image.new('RGB', (64, 48), colour)
            img.putpixel((i, i), (i, i, i))
            img.save(root / 'train' / c / f'{i}.jpg', quality=95)
    return root


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])


def test_decode_problem_uses_mmcv(jpg_root):
    good = jpg_root / 'train' / 'a' / '0.jpg'
    assert decode_problem(str(good)) is None
    _truncate(good)
    assert decode_problem(str(good)) is not None
    assert decode_problem(str(jpg_root / 'nope.jpg')) == 'file does not exist'


def test_unreadable_files_refused_or_excluded(jpg_root, tmp_path):
    for i in range(6):  # every file of class b broken: whichever is selected fails
        _truncate(jpg_root / 'train' / 'b' / f'{i}.jpg')
    with pytest.raises(UnreadableDataError) as info:
        make_subset('cls', str(jpg_root), str(tmp_path / 's'), [dict(img_dir='train')],
                    shot=2, val_ratio=0)
    assert len(info.value.paths) == 2
    assert all('/train/b/' in p for p in info.value.paths)
    assert all(f'{p}: ' in str(info.value) for p in info.value.paths)  # one line each
    # excluded: the units are recorded and the subset is taken from the rest
    _truncate(jpg_root / 'train' / 'a' / '0.jpg')
    m = make_subset('cls', str(jpg_root), str(tmp_path / 's'), [dict(img_dir='train')],
                    ratio=0.5, val_ratio=0, exclude_unreadable=True)
    # class b loses every unit (selected, refused, re-selected from the rest, ...)
    assert {k for k in m['excluded'] if '/b/' in k} == {f'train/b/{i}.jpg' for i in range(6)}
    n_a = 5 if 'train/a/0.jpg' in m['excluded'] else 6  # a/0 only matters if selected
    assert m['counts']['subset'] == round(0.5 * n_a)
    assert all(i.startswith('train/a/') for i in m['ids']['subset'])
    assert 'train/a/0.jpg' not in m['ids']['subset']
    assert all(reason for files in m['excluded'].values() for reason in files.values())
    verify_subset(str(tmp_path / 's'))  # the exclusions are part of the recipe


def test_verify_names_every_changed_and_missing_file(jpg_root, tmp_path):
    out = tmp_path / 's'
    m = make_subset('cls', str(jpg_root), str(out), [dict(img_dir='train')], ratio=0.5,
                    val_ratio=0)
    changed, missing = m['ids']['subset'][0], m['ids']['subset'][-1]
    Image.new('RGB', (64, 48)).save(jpg_root / changed)
    (jpg_root / missing).unlink()
    with pytest.raises(SubsetVerificationError) as info:
        verify_subset(str(out))
    text = str(info.value)
    assert f'data file {jpg_root / changed} changed (sha256 differs)' in text
    # a missing image also leaves the class folder scan: named as gone from the source
    assert missing in text
    assert 'the data files of the subset changed: 1 file(s) changed or missing' in text
    proc = subprocess.run([sys.executable, str(TOOL), 'verify', str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and str(jpg_root / changed) in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_other_data_root_is_named(jpg_root, tmp_path):
    out = tmp_path / 's'
    make_subset('cls', str(jpg_root), str(out), [dict(img_dir='train')], ratio=0.5)
    copy = tmp_path / 'copy'
    shutil.copytree(jpg_root, copy)
    assert verify_subset(str(out), data_root=str(copy))  # an identical copy is fine
    first = json.loads((out / 'manifest.json').read_text())['ids']['subset'][0]
    Image.new('RGB', (64, 48)).save(copy / first)
    with pytest.raises(SubsetVerificationError) as info:
        verify_subset(str(out), data_root=str(copy))
    head = str(info.value).splitlines()[0]
    assert f'made from data root {jpg_root}, not {copy}' in head
    assert f'data file {copy / first} changed' in str(info.value)


def test_subset_class_names_checked(jpg_root, tmp_path):
    with pytest.raises(ClassNameMismatchError, match=r"unknown class names .*\['b'\].*"
                       r"unused class names .*\['B'\]"):
        make_subset('cls', str(jpg_root), str(tmp_path / 's'), [dict(img_dir='train')],
                    classes=['a', 'B'])


def _tool():
    spec = importlib.util.spec_from_file_location('make_subset_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_create_cli_one_line_error(jpg_root, tmp_path, capsys):
    _truncate(jpg_root / 'train' / 'a' / '1.jpg')
    args = ['create', '--format', 'cls', '--data-root', str(jpg_root), '--source',
            'img_dir=train', '--ratio', '1.0', '--out', str(tmp_path / 's')]
    main = _tool().main
    assert run_cli(main, args, prog='make_subset.py') == 1
    err = capsys.readouterr().err
    assert err.startswith('make_subset.py: error: UnreadableDataError: 1 selected file(s) '
                          'cannot be decoded by mmcv')
    assert f"\n  {jpg_root / 'train' / 'a' / '1.jpg'}: " in err  # one line per file
    with pytest.raises(UnreadableDataError):
        run_cli(main, args + ['--debug'], prog='make_subset.py')
    assert run_cli(main, args + ['--exclude-unreadable'], prog='make_subset.py') == 0
    assert 'excluded train/a/1.jpg: train/a/1.jpg: ' in capsys.readouterr().out
