"""``tools/gvd.py taxonomy``: the unified label space of class files, printed and written as
JSON; bad input is one line and exit status 2. One subprocess run (the documented command
line), the other cases through ``main(argv)`` in process."""
import importlib.util
import json
import os.path as osp
from pathlib import Path

import pytest
from tools_testutils import PYTHON, run_tool

from intern_mm.datasets.gvd import wordnet_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def gvd():
    spec = importlib.util.spec_from_file_location('gvd_tool', REPO / 'tools' / 'gvd.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def class_files(tmp_path_factory):
    if not osp.isfile(osp.join(wordnet_root(), 'index.noun')):
        pytest.skip(f'WordNet is not installed at {wordnet_root()} '
                    '(apt-get install wordnet-base, or bash tools/setup_env.sh)')
    root = tmp_path_factory.mktemp('gvd_classes')
    (root / 'road.txt').write_text('# road scenes\ncar\ntruck\n\ndog\n')
    (root / 'pets.txt').write_text('automobile\npuppy\nzorblax\n')
    return root


def test_taxonomy_subprocess(class_files, tmp_path):
    out = tmp_path / 'space' / 'taxonomy.json'
    text = run_tool([PYTHON, 'tools/gvd.py', 'taxonomy',
                     '--source', f'road={class_files / "road.txt"}',
                     '--source', f'pets={class_files / "pets.txt"}', '--json', str(out)])
    data = json.loads(out.read_text())
    assert data['unified'] == ['car', 'truck', 'dog', 'puppy', 'zorblax']
    assert data['sources'] == dict(road=[0, 1, 2], pets=[0, 3, 4])
    assert data['parents'] == dict(puppy='dog')
    assert data['head_parents'] == [None, None, None, 2, None]  # the heads' `parents`
    assert data['unknown'] == ['zorblax']
    assert data['senses']['car']['override'] == 'car=car.n.01'
    # the printed table: parents, unknown names, each ambiguous name's senses + override
    assert 'puppy -> dog' in text and 'Unknown to WordNet (kept as written): zorblax' in text
    assert 'car: car.n.01 (most frequent) "a motor vehicle' in text
    assert 'other: car.n.02 "a wheeled vehicle adapted to the rails' in text
    assert 'override to write: car=car.n.01' in text


def test_taxonomy_override_in_process(gvd, class_files, capsys):
    assert gvd.main(['taxonomy', '--source', f'road={class_files / "road.txt"}',
                     '--source', f'pets={class_files / "pets.txt"}',
                     '--override', 'car=car.n.02', '--override', 'puppy=-']) == 0
    text = capsys.readouterr().out
    # car is now a railway car: automobile becomes its own class, puppy has no parent
    assert 'Sources (unified index of each class, in file order):\n  road: [0, 1, 2]\n' \
        '  pets: [3, 4, 5]' in text
    assert 'Parents (child -> nearest ancestor in the space): none' in text
    assert 'car: car.n.02 (override)' in text
    assert 'Kept as written by an override (no WordNet): puppy' in text


@pytest.mark.parametrize('argv, message', [
    (['--source', 'road={missing}'], 'source road: class file {missing} does not exist'),
    (['--source', 'road'], "--source expects NAME=CLASSES_FILE, got 'road'"),
    (['--source', 'road={road}', '--source', 'road={road}'], '--source road is given twice'),
    (['--source', 'road={road}', '--override', 'kitten=-'],
     '--override names no class of the sources: kitten'),
    (['--source', 'road={road}', '--override', 'car=car.n.42'],
     "override car=car.n.42: WordNet has no synset 'car.n.42'"),
])
def test_taxonomy_bad_input_one_line(gvd, class_files, capsys, argv, message):
    missing = class_files / 'missing.txt'
    argv = [a.format(missing=missing, road=class_files / 'road.txt') for a in argv]
    assert gvd.main(['taxonomy'] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('gvd.py taxonomy: error: ' + message.format(missing=missing))
    assert err.count('\n') == 1


def test_taxonomy_without_wordnet(gvd, tmp_path, monkeypatch, capsys):
    (tmp_path / 'a.txt').write_text('car\n')
    monkeypatch.setenv('INTERN_MM_WORDNET', str(tmp_path / 'wn'))
    assert gvd.main(['taxonomy', '--source', f'a={tmp_path / "a.txt"}']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and str(tmp_path / 'wn' / 'index.noun') in err
    assert 'apt-get install wordnet-base' in err
