"""One label space per task (GV-D): WordNet synonyms merge, narrower classes link to their
nearest ancestor in the space, unknown names stay, overrides win, and the GV world's
hand-written head index lists come out of its declared class lists unchanged."""
import os.path as osp
from pathlib import Path

import pytest
from mmengine.config import Config

from intern_mm.datasets.gvd import (GVDInputError, build_label_space, load_wordnet,
                                    normalize_class_name, read_class_file, wordnet_root)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope='module')
def wordnet():
    """The offline WordNet reader (loaded once per process); skips when not installed."""
    if not osp.isfile(osp.join(wordnet_root(), 'index.noun')):
        pytest.skip(f'WordNet is not installed at {wordnet_root()} '
                    '(apt-get install wordnet-base, or bash tools/setup_env.sh)')
    return load_wordnet()


def test_reader_offline_and_cached(wordnet):
    assert load_wordnet() is wordnet
    # the built-in lexnames list numbers the lexicographer files as data.noun does
    assert wordnet.synset('dog.n.01').lexname() == 'noun.animal'
    assert wordnet.synset('car.n.01').lexname() == 'noun.artifact'
    assert wordnet.synset('run.v.01').lexname() == 'verb.motion'


def test_issue_goals(wordnet):
    space = build_label_space(dict(
        road=['car', 'truck', 'dog'],
        street=['Automobile', 'puppy', 'zorblax', 'dog']))
    # car / automobile -> one class named by the first name seen; truck separate
    assert space.unified == ['car', 'truck', 'dog', 'puppy', 'zorblax']
    assert space.sources == dict(road=[0, 1, 2], street=[0, 3, 4, 2])
    assert space.aliases['car'] == ['Automobile']
    assert space.synsets['car'] == 'car.n.01' == space.senses['Automobile'].synset
    assert space.parents == dict(puppy='dog')
    assert space.parent_indices() == {3: 2}
    assert space.unknown == ['zorblax'] and space.synsets['zorblax'] is None
    # several senses are never an error: car has five noun senses, all listed
    car = space.senses['car']
    assert len(car.others) == 4 and car.how == 'wordnet'
    assert 'car.n.02' in [name for name, _ in car.others]
    assert 'motor vehicle' in car.gloss and car.override_line == 'car=car.n.01'
    data = space.to_json()
    assert {k: data[k] for k in ('unified', 'sources', 'parents')} == dict(
        unified=space.unified, sources=space.sources, parents={'puppy': 'dog'})
    table = space.format_table()
    assert 'puppy -> dog' in table and 'zorblax' in table and 'car.n.02' in table


def test_nearest_ancestor_and_instance_hypernyms(wordnet):
    space = build_label_space(dict(a=['animal', 'puppy', 'dog'], b=['city', 'Paris']))
    # puppy -> dog (1 step), not animal; dog -> animal; Paris is an instance of a city
    assert space.parents == dict(puppy='dog', dog='animal', Paris='city')


def test_overrides_and_normalisation(wordnet):
    assert normalize_class_name(' Traffic-Light ') == 'traffic_light'
    space = build_label_space(
        dict(a=['car', 'automobile', 'traffic light', 'Traffic_Light', 'dog', 'puppy']),
        overrides={'Car': 'car.n.02', 'DOG': None, 'unused': None})
    # car -> railway car now, so automobile is its own class; dog as written: no links
    assert space.unified == ['car', 'automobile', 'traffic light', 'dog', 'puppy']
    assert space.sources == dict(a=[0, 1, 2, 2, 3, 4])
    assert space.senses['car'].how == 'override'
    assert space.senses['car'].override_line == 'car=car.n.02'
    assert space.senses['dog'].how == 'as-written' and space.synsets['dog'] is None
    assert space.parents == {} and space.unknown == []
    assert space.unused_overrides == ['unused']
    with pytest.raises(GVDInputError, match=r'override car=car\.n\.99.*car\.n\.01'):
        build_label_space(dict(a=['car']), overrides=dict(car='car.n.99'))
    with pytest.raises(GVDInputError, match='source a: expected a list'):
        build_label_space(dict(a='car'))


@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
def test_gv_world_spaces_unchanged(wordnet, task):
    cfg = Config.fromfile(str(REPO / f'configs/_base_/datasets/gv_world_{task}.py'))
    space = build_label_space(cfg[f'{task}_source_classes'],
                              overrides=cfg[f'{task}_gvd_overrides'])
    assert space.unified == list(cfg[f'{task}_classes'])
    assert space.sources == {k: list(v) for k, v in cfg[f'{task}_head_sources'].items()}
    assert not space.unused_overrides
    # no source annotates a class and its ancestor: parent-aware heads train the world
    # exactly as before
    for indices in space.sources.values():
        names = {space.unified[i] for i in indices}
        assert not [c for c, p in space.parents.items() if c in names and p in names]
    if task == 'cls':
        from intern_mm.datasets.gv_world.spec import COARSE
        # WordNet's links are the world's own coarse taxonomy of polygons
        assert space.parents == {shape: 'polygon' for shape in COARSE['polygon']}
        # without the overrides WordNet files magenta under red and cyan under green,
        # two classes of one source: that is what the world's overrides keep apart
        plain = build_label_space(cfg['cls_source_classes'])
        assert plain.sources == space.sources
        assert plain.parents['magenta'] == 'red' and plain.parents['cyan'] == 'green'
    else:
        assert space.parents == {}


def test_class_file_and_missing_wordnet(tmp_path, monkeypatch):
    path = tmp_path / 'classes.txt'
    path.write_text('# vehicles\ncar\n\n  traffic light  \ntruck # big ones\n')
    assert read_class_file(str(path)) == ['car', 'traffic light', 'truck']
    with pytest.raises(GVDInputError, match=r'^source voc: class file .*nope\.txt does '
                       'not exist$'):
        read_class_file(str(tmp_path / 'nope.txt'), source='voc')
    (tmp_path / 'empty.txt').write_text('# nothing\n')
    with pytest.raises(GVDInputError, match='names no class'):
        read_class_file(str(tmp_path / 'empty.txt'))
    monkeypatch.setenv('INTERN_MM_WORDNET', str(tmp_path))
    with pytest.raises(GVDInputError) as err:
        build_label_space(dict(a=['car']))
    message = str(err.value)
    assert '\n' not in message and str(tmp_path / 'index.noun') in message
    assert 'apt-get install wordnet-base' in message and 'INTERN_MM_WORDNET' in message
