"""``tools/gvd.py leak-check``: exit 1 naming each leak, 0 without (duplicates inside one
side listed), 2 and one line for a missing folder (in-process through ``main(argv)``)."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'gvd.py'


@pytest.fixture(scope='module')
def gvd_main():
    spec = importlib.util.spec_from_file_location('gvd_tool_leak', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """``up/`` two smooth random images and a JPEG copy of one, ``down/`` another image,
    ``down_leak/`` a half-size copy of an upstream image."""
    root = tmp_path_factory.mktemp('gvd_leak')
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize(
        (96, 72), Image.Resampling.BICUBIC) for _ in range(3)]
    for name in ('up/sub', 'down', 'down_leak'):
        (root / name).mkdir(parents=True)
    images[0].save(root / 'up' / 'a.png')
    images[1].save(root / 'up' / 'sub' / 'b.png')
    images[1].save(root / 'up' / 'b_copy.jpg', quality=40)
    images[2].save(root / 'down' / 'c.png')
    images[0].resize((48, 36)).save(root / 'down_leak' / 'a_small.png')
    return root


def test_no_leak_exits_0_and_lists_duplicates_inside(gvd_main, folders, capsys):
    code = gvd_main(['leak-check', '--upstream', str(folders / 'up'), '--downstream',
                     str(folders / 'down')])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"upstream duplicate: {folders / 'up' / 'b_copy.jpg'}" in out
    assert str(folders / 'up' / 'sub' / 'b.png') in out
    assert 'no leak' in out.splitlines()[-1]


def test_leak_exits_1_naming_both_files(gvd_main, folders, capsys, tmp_path):
    out_json = tmp_path / 'leak.json'
    code = gvd_main(['leak-check', '--upstream', str(folders / 'up'), '--downstream',
                     str(folders / 'down'), str(folders / 'down_leak'), '--json',
                     str(out_json)])
    out = capsys.readouterr().out
    assert code == 1, out
    leak_lines = [line for line in out.splitlines() if line.startswith('LEAK:')]
    assert len(leak_lines) == 1
    assert str(folders / 'up' / 'a.png') in leak_lines[0]
    assert str(folders / 'down_leak' / 'a_small.png') in leak_lines[0]
    data = json.loads(out_json.read_text())
    assert data['ok'] is False and data['counts']['leaks'] == 1
    assert data['leaks'][0]['downstream_groups'] == [str(folders / 'down_leak')]
    leak = data['leaks'][0]
    assert (f"(distance {leak['distance']}/64, {leak['fine_distance']}/256, colour "
            f"{leak['colour_distance']:.1f}/255)") in leak_lines[0]


def test_missing_path_exits_2_with_one_line(gvd_main, folders, capsys):
    missing = folders / 'not_there'
    code = gvd_main(['leak-check', '--upstream', str(folders / 'up'), '--downstream',
                     str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f'gvd.py leak-check: error: {missing}: no such image folder or file']


def test_colour_threshold_option(gvd_main, folders, capsys):
    code = gvd_main(['leak-check', '--upstream', str(folders / 'up'), '--downstream',
                     str(folders / 'down_leak'), '--max-colour-distance', '300'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert 'max_colour_distance must be within 0-255' in err[0]
    # 0: only identical colour signatures count; the half-size copy of a.png and the
    # JPEG copy of b.png differ a little (rounding), so both pairs are rejected
    code = gvd_main(['leak-check', '--upstream', str(folders / 'up'), '--downstream',
                     str(folders / 'down_leak'), '--max-colour-distance', '0'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert 'colour distance <= 0/255' in out.splitlines()[0]
    assert '2 pairs within both pHash thresholds have other colours' in out


def test_benchmark_tool_at_small_size(capsys):
    spec = importlib.util.spec_from_file_location(
        'leak_check_benchmark', TOOL.parent / 'analysis_tools' / 'leak_check_benchmark.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    up, down, (src, dst) = module.clustered_hashes(500, 100, seed=1)
    assert up.shape == (500, 6) and down.shape == (100, 6) and len(src) == 2
    # a planted copy is a few bits from its upstream image
    assert module._reference_distance(up[src], down[dst]).diagonal().max() <= 10
    assert module.main(['--upstream', '3000', '--downstream', '300', '--repeats', '1',
                        '--images', '4', '--no-dedup']) == 0
    out = capsys.readouterr().out
    assert 'checked: ' in out and 'equal brute force' in out
    rows = [line for line in out.splitlines() if line.startswith('across, 6 views')]
    assert len(rows) == 2 and all('3000 x 300' in row for row in rows)
