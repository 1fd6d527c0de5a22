"""GV-D leak check on real photos (../shared raccoon set) with planted near duplicates,
the exact Hamming search against a brute-force reference, and the colour gate on
GV-world-like scenes (a shape on a noisy background, drawn in ``tmp_path``)."""
import os.path as osp
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from intern_mm.datasets.gvd import GVDInputError, leak_check, list_images, near_duplicate_pairs
from intern_mm.datasets.gvd.hamming_search import pair_distances
from intern_mm.datasets.gvd.image_hashes import DEFAULT_MAX_COLOUR_DISTANCE, colour_distances
from intern_mm.datasets.gvd.planted_copies import PLANTED_KINDS, jpeg_copy, planted_copies
from intern_mm.paradigm import leak as pipeline_leak

#: Distinct raccoon photos (none is one of the set's own duplicates), resized to this width.
PHOTOS = [f'raccoon-{k}.jpg' for k in range(1, 11)]
WIDTH = 160
#: The first N photos get planted copies downstream; the others stay apart.
N_PLANTED = 3
#: CamVid street scenes of different sequences (upstream, downstream) whose 64-bit pHashes
#: are 6 and 8 bits apart at full size: distinct photos the 256-bit hash must keep apart.
STREETS = [('train/0016E5_07560.jpg', 'test/Seq05VD_f04980.jpg'),
           ('train/0016E5_01050.jpg', 'test/Seq05VD_f00630.jpg')]


def _brute_force(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.bitwise_count(a[:, None, :1] ^ b[None, :, :]).min(-1)
    y = np.bitwise_count(a[:, None, :] ^ b[None, :, :1]).min(-1)
    return np.minimum(x, y)


@pytest.mark.parametrize('max_distance', [4, 10, 24])
def test_search_equals_brute_force_on_clustered_hashes(max_distance):
    rng = np.random.default_rng(max_distance)

    def flips(n, p):
        return np.packbits(rng.random((n, 64)) < p, axis=1).view('>u8').ravel().astype(
            np.uint64)

    centres = rng.integers(0, 2**64 - 1, 20, dtype=np.uint64, endpoint=True)
    a = np.stack([centres[rng.integers(0, 20, 300)] ^ flips(300, 0.1) for _ in range(6)], 1)
    b = np.stack([centres[rng.integers(0, 20, 200)] ^ flips(200, 0.1) for _ in range(6)], 1)
    ref = _brute_force(a, b)
    i, j, d = near_duplicate_pairs(a, b, max_distance)
    ri, rj = np.nonzero(ref <= max_distance)
    assert len(ri) > 0
    assert (i.tolist(), j.tolist(), d.tolist()) == (ri.tolist(), rj.tolist(),
                                                    ref[ri, rj].tolist())
    # the multi-word distance of the confirmation step, on 1-word hashes
    assert pair_distances(a[:, :, None], b[:, :, None], ri, rj).tolist() == \
        ref[ri, rj].tolist()
    inside = np.triu(_brute_force(a, a) <= max_distance, 1)
    i, j, _ = near_duplicate_pairs(a, None, max_distance, workers=2)
    assert (i.tolist(), j.tolist()) == tuple(x.tolist() for x in np.nonzero(inside))


def _small(path):
    with Image.open(path) as image:
        image = image.convert('RGB')
        return image.resize((WIDTH, round(image.height * WIDTH / image.width)),
                            Image.Resampling.LANCZOS)


def _photo_sets(datasets, root):
    """``up/`` the photos (+ a byte copy, a resized copy, a truncated file), ``down/`` every
    planted copy of the first photos and two photos that are not upstream; each side one
    street scene of each :data:`STREETS` pair."""
    (root / 'up').mkdir()
    (root / 'down').mkdir()
    for k, (up, down) in enumerate(STREETS):
        _small(datasets / 'camvid' / 'images' / up).save(root / 'up' / f'street{k}.jpg')
        _small(datasets / 'camvid' / 'images' / down).save(root / 'down' / f'street{k}.jpg')
    for k, name in enumerate(PHOTOS):
        small = _small(datasets / 'raccoon' / 'images' / name)
        side = 'up' if k < len(PHOTOS) - 2 else 'down'
        small.save(root / side / f'photo{k}.jpg', quality=95)
        if k < N_PLANTED:
            for kind, copy in planted_copies(small, seed=k).items():
                copy.save(root / 'down' / f'photo{k}_{kind}.png')
    shutil.copy(root / 'up' / 'photo3.jpg', root / 'up' / 'photo3_bytes.jpg')
    with Image.open(root / 'up' / 'photo4.jpg') as image:
        image.resize((WIDTH // 2, image.height // 2)).save(root / 'up' / 'photo4_small.png')
    data = (root / 'up' / 'photo5.jpg').read_bytes()
    (root / 'up' / 'broken.jpg').write_bytes(data[:len(data) // 3])
    return root


#: The photo folders and their report, made once (``datasets_dir`` is function-scoped).
_MADE = {}


@pytest.fixture
def photo_sets(datasets_dir, tmp_path_factory):
    if 'root' not in _MADE:
        root = _photo_sets(datasets_dir, tmp_path_factory.mktemp('leak'))
        up = [str(p) for p in sorted((root / 'up').iterdir())]
        up_again = [str(root / 'up' / 'photo0.jpg')]  # the same file, another source
        down = list_images(str(root / 'down'))
        _MADE['report'] = leak_check({'source_a': up, 'source_b': up_again}, {'test': down},
                                     workers=1)
        _MADE['root'] = root
    return _MADE['root']


@pytest.fixture
def report(photo_sets):
    return _MADE['report']


def test_every_planted_copy_is_a_leak_and_no_distinct_photo_is(report, photo_sets):
    found = {(osp.basename(p.a), osp.basename(p.b)) for p in report.leaks}
    want = {(f'photo{k}.jpg', f'photo{k}_{kind}.png') for k in range(N_PLANTED)
            for kind in PLANTED_KINDS}
    assert found == want, (f'missed {sorted(want - found)}, false {sorted(found - want)}: '
                           f'{report.summary()}')
    # the street scenes' 64-bit pHashes are within the search distance, the 256-bit not
    assert report.counts['unconfirmed'] >= 1
    assert not report.ok
    assert report.counts['leaks'] == len(want)
    assert report.counts['leaked_downstream_images'] == len(want)
    assert report.counts['leaked_upstream_images'] == N_PLANTED
    leak = next(p for p in report.leaks if p.a.endswith('photo0.jpg'))
    assert leak.a_groups == ('source_a', 'source_b') and leak.b_groups == ('test',)
    assert all(p.distance <= report.max_distance for p in report.leaks)


def test_duplicates_inside_each_side(report):
    up = [(osp.basename(p.a), osp.basename(p.b)) for p in report.upstream_duplicates]
    assert up == [('photo4.jpg', 'photo4_small.png')]
    down = {(osp.basename(p.a), osp.basename(p.b)) for p in report.downstream_duplicates}
    # copies of one photo pair up with each other, never with another photo's copies
    assert {tuple(x.split('_')[0] for x in pair) for pair in down} == {
        (f'photo{k}', f'photo{k}') for k in range(N_PLANTED)}
    plain = ['jpeg30', 'jpeg50', 'resize25', 'resize50']  # each <= 4 bits from its photo
    want = {(f'photo{k}_{x}.png', f'photo{k}_{y}.png') for k in range(N_PLANTED)
            for i, x in enumerate(plain) for y in plain[i + 1:]}
    assert want <= down
    assert report.counts['downstream_duplicates'] == len(down)


def test_same_file_declared_twice_is_one_image(report):
    same = {(side, osp.basename(p), osp.basename(o)) for side, p, o in report.same_file}
    assert same == {('upstream', 'photo0.jpg', 'photo0.jpg'),
                    ('upstream', 'photo3_bytes.jpg', 'photo3.jpg')}
    files = len(PHOTOS) - 2 + len(STREETS) + 4  # + byte copy, resized, broken, again
    assert report.counts['upstream_files'] == files
    # files - same-file entries - the broken one
    assert report.counts['upstream_images'] == files - 2 - 1


def test_broken_file_is_named_and_json_is_small(report, photo_sets):
    assert [(osp.basename(p), e.split(':')[0]) for p, e in report.failures] == [
        ('broken.jpg', 'OSError')]
    assert f"unreadable image (not checked): {photo_sets / 'up' / 'broken.jpg'}" in \
        report.summary()
    data = report.to_json(max_pairs=2)
    assert len(data['leaks']) == 2 and data['counts']['leaks'] == len(report.leaks)
    assert data['leaks'][0]['distance'] == report.leaks[0].distance
    assert set(data['leaks'][0]) == {'upstream', 'downstream', 'distance', 'fine_distance',
                                     'colour_distance', 'upstream_groups', 'downstream_groups'}
    assert data['max_colour_distance'] == DEFAULT_MAX_COLOUR_DISTANCE
    # planted copies keep their colours: the colour gate confirms every one
    assert max(p.colour_distance for p in report.leaks) <= DEFAULT_MAX_COLOUR_DISTANCE
    assert data['leaks'][0]['colour_distance'] == round(report.leaks[0].colour_distance, 1)
    assert data['ok'] is False and data['failures'][0]['path'].endswith('broken.jpg')


def test_bad_input_is_one_named_error(tmp_path):
    with pytest.raises(GVDInputError, match='nowhere: no such image folder'):
        list_images(str(tmp_path / 'nowhere'))
    with pytest.raises(GVDInputError, match='downstream group test: expected a list'):
        leak_check([], {'test': str(tmp_path)})
    with pytest.raises(GVDInputError, match='max_colour_distance must be within 0-255'):
        leak_check([], [], max_colour_distance=-1)


def _ring_scene(path, background, ring, seed=0):
    """A 64 px GV-world-like scene: a striped ring at a fixed place on a noisy background.
    Same ``seed`` = the same noise, so scenes of equal grey differ in colour only."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(background, np.int16) + rng.integers(-12, 13, (64, 64, 1))
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((24, 8, 56, 40), fill=ring)
    draw.ellipse((33, 17, 47, 31), fill=tuple(background))
    for k in range(0, 64, 6):
        draw.line((k, 0, k - 64, 64), fill=tuple(c // 2 for c in ring), width=2)
    image.save(path)
    return path


@pytest.fixture(scope='module')
def ring_scenes(tmp_path_factory):
    """``up``: a red ring on beige; ``other``: a magenta ring on grey-green of the same
    grey; ``copy``: a 75% JPEG q50 copy of ``up``."""
    root = tmp_path_factory.mktemp('rings')
    up = _ring_scene(root / 'up.png', (150, 140, 120), (220, 30, 30))
    other = _ring_scene(root / 'other.png', (120, 150, 130), (200, 0, 200))
    with Image.open(up) as image:
        copy = jpeg_copy(image.resize((48, 48), Image.Resampling.BICUBIC), 50)
    copy.save(root / 'copy.jpg', quality=95)
    return dict(up=str(up), other=str(other), copy=str(root / 'copy.jpg'))


def test_colour_gate_rejects_scenes_of_other_colours(ring_scenes):
    up, other = [ring_scenes['up']], {'val': [ring_scenes['other']]}
    # pHash reads grey: without the colour gate the two scenes are a near duplicate
    ungated = leak_check(up, other, workers=1, max_colour_distance=255)
    assert len(ungated.leaks) == 1
    pair = ungated.leaks[0]
    assert pair.distance <= ungated.max_distance
    assert pair.fine_distance <= ungated.max_fine_distance
    assert pair.colour_distance > DEFAULT_MAX_COLOUR_DISTANCE
    report = leak_check(up, other, workers=1)
    assert report.ok and report.leaks == []
    assert report.counts['colour_rejected'] == 1 and report.counts['unconfirmed'] == 0
    assert f'1 pairs within both pHash thresholds have other colours (colour distance > ' \
        f'{DEFAULT_MAX_COLOUR_DISTANCE:g})' in report.summary()
    assert report.to_json()['counts']['colour_rejected'] == 1


def test_resized_jpeg_copy_passes_the_colour_gate(ring_scenes):
    report = leak_check([ring_scenes['up']], {'test': [ring_scenes['copy'],
                                                        ring_scenes['other']]}, workers=1)
    assert [(p.a, p.b) for p in report.leaks] == [(ring_scenes['up'], ring_scenes['copy'])]
    leak = report.leaks[0]
    assert leak.colour_distance <= DEFAULT_MAX_COLOUR_DISTANCE
    assert f'colour {leak.colour_distance:.1f}/255)' in leak.line()
    # the magenta scene against the red one and against its copy (inside downstream)
    assert report.counts['colour_rejected'] == 2
    # the colour distance is the best over the views, whole image against each crop
    view = np.zeros((1, 6, 48), np.uint8)
    view[0, 3] = 9
    assert colour_distances(view + 9, view, np.array([0]), np.array([0])).tolist() == [0.0]


def test_config_key_max_colour_distance_reaches_leak_check(ring_scenes, tmp_path,
                                                           monkeypatch):
    groups = dict(up={'shape': [ring_scenes['up']]}, down={'cls/val': [ring_scenes['other']]})
    monkeypatch.setattr(pipeline_leak, 'upstream_images', lambda pipe: groups['up'])
    monkeypatch.setattr(pipeline_leak, 'downstream_images', lambda pipe: groups['down'])

    def check(options):
        pipe = SimpleNamespace(cfg=dict(leak_check=options), work_dir=str(tmp_path),
                               source_plan=lambda: None)
        return pipeline_leak.pipeline_leak_check(pipe)

    record = check(dict(max_colour_distance=255))
    assert record['max_colour_distance'] == 255 and record['leaked_images'] == 1
    assert 'colour' in ''.join(pipeline_leak.leak_lines(record))
    # another threshold does not reuse the record
    record = check({})
    assert record['max_colour_distance'] == DEFAULT_MAX_COLOUR_DISTANCE
    assert record['leaked_images'] == 0 and record['counts']['colour_rejected'] == 1
    with pytest.raises(KeyError, match='allowed: enabled, max_distance, max_colour_distance'):
        check(dict(max_colour=3))
