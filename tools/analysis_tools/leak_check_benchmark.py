"""Time the GV-D leak check: the exact Hamming search on realistic clustered hashes, and
(separately) the hashing of real image files; optionally calibrate the threshold.

Search: seeded synthetic 64-bit hashes shaped like a real collection, not uniform noise:
1,000 classes (prototype hashes), distinct photos of a class ~13 bits from its prototype
(about 20 bits apart, a tail near the threshold), bursts of near-identical copies (~2
bits from their photo), crop views ~11 bits from their image, and 2% of the downstream
images planted as copies of upstream ones. It times (median of ``--repeats``) the search
``near_duplicate_pairs`` runs: one hash per image, and the 6 views per image that
``leak_check`` uses (across the sides, then inside the upstream side), checks every
planted pair within the threshold is found and, on a sample, that the pairs equal a
brute-force reference; and times the 256-bit confirmation of the pairs found.

Hashing: ``hash_images`` over ``--images`` real photos (``../shared/datasets`` camvid and
raccoon when present, else generated JPEGs), 1 and 2 processes. ``--calibrate`` prints,
on those photos, the largest 64-bit, 256-bit and colour distance of each kind of planted
copy (resize, JPEG, 5% crop) and the distances of distinct photos (raccoon photos, CamVid
frames of different sequences) that the 64-bit search finds. ``--world UP DOWN`` does the
same on synthetic GV-world images: planted copies of 100 ``UP`` images, and the colour
distances of the distinct scenes (``UP`` x ``DOWN`` and inside ``UP``) within both pHash
thresholds, the pairs the colour signature must reject.

Example:
    python tools/analysis_tools/leak_check_benchmark.py
    python tools/analysis_tools/leak_check_benchmark.py --upstream 20000 --downstream 2000 \
        --repeats 1 --images 100 --calibrate
    python tools/analysis_tools/leak_check_benchmark.py --upstream 3000 --downstream 300 \
        --repeats 1 --images 4 --no-dedup --calibrate --workers 1 \
        --world data/gv_world_claim_s0/images/train data/gv_world_claim_s0_downstream/images
"""
import argparse
import glob
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.datasets.gvd.hamming_search import (  # noqa: E402
    near_duplicate_pairs, pair_distances)
from intern_mm.datasets.gvd.image_hashes import NUM_VIEWS, hash_image, hash_images  # noqa: E402
from intern_mm.datasets.gvd.image_hashes import (  # noqa: E402
    DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MAX_DISTANCE, DEFAULT_MAX_FINE_DISTANCE, FINE_WORDS,
    colour_distances, list_images)
from intern_mm.datasets.gvd.planted_copies import PLANTED_KINDS, planted_copies  # noqa: E402

SHARED = os.environ.get(
    'INTERN_MM_SHARED',
    osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
             'shared'))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--upstream', type=int, default=100_000, help='upstream images')
    parser.add_argument('--downstream', type=int, default=10_000, help='downstream images')
    parser.add_argument('--max-distance', type=int, default=DEFAULT_MAX_DISTANCE)
    parser.add_argument('--max-fine-distance', type=int, default=DEFAULT_MAX_FINE_DISTANCE)
    parser.add_argument('--max-colour-distance', type=float,
                        default=DEFAULT_MAX_COLOUR_DISTANCE)
    parser.add_argument('--repeats', type=int, default=3, help='timed runs (median)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--images', type=int, default=400, help='real images hashed')
    parser.add_argument('--no-dedup', action='store_true',
                        help='skip timing the search inside the upstream side')
    parser.add_argument('--calibrate', action='store_true',
                        help='planted-copy and distinct-photo distances on raccoon photos')
    parser.add_argument('--world', nargs=2, metavar=('UP', 'DOWN'),
                        help='calibrate on GV-world image folders too: planted copies of UP '
                        'images, distinct scenes of UP x DOWN and inside UP')
    parser.add_argument('--workers', type=int, default=2,
                        help='hashing processes of the calibration (default 2)')
    return parser.parse_args(argv)


def _flips(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """``n`` uint64 masks, each bit set with probability ``p``."""
    bits = rng.random((n, 64)) < p
    return np.packbits(bits, axis=1).view('>u8').ravel().astype(np.uint64)


def _photos(rng, protos: np.ndarray, n: int) -> np.ndarray:
    """``(n, NUM_VIEWS)`` hashes: bursts of copies of distinct photos of the classes."""
    sizes = 1 + rng.poisson(1.0, n)  # burst sizes, mean 2
    scenes = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    base = protos[rng.integers(0, len(protos), scenes)] ^ _flips(rng, scenes, 0.2)
    views = np.stack([base] + [base ^ _flips(rng, scenes, 0.18)
                               for _ in range(NUM_VIEWS - 1)], axis=1)
    members = np.repeat(views, sizes[:scenes], axis=0)[:n]
    noise = np.stack([_flips(rng, n, 0.03) for _ in range(NUM_VIEWS)], axis=1)
    return members ^ noise


def clustered_hashes(n_up: int, n_down: int, seed: int = 0, leaked: float = 0.02):
    """Upstream / downstream ``(n, NUM_VIEWS)`` hashes and the planted leak pairs.

    Args:
        n_up (int): Upstream images.
        n_down (int): Downstream images.
        seed (int): Seed. Defaults to 0.
        leaked (float): Share of downstream images copied from upstream ones.

    Returns:
        tuple: ``up``, ``down`` uint64 arrays, ``(up index, down index)`` of the copies.
    """
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 2**64 - 1, 1000, dtype=np.uint64, endpoint=True)
    up = _photos(rng, protos, n_up)[rng.permutation(n_up)]
    down = _photos(rng, protos, n_down)
    n_copy = int(n_down * leaked)
    src = rng.choice(n_up, n_copy, replace=False)
    noise = np.stack([_flips(rng, n_copy, 0.03) for _ in range(NUM_VIEWS)], axis=1)
    down[:n_copy] = up[src] ^ noise
    order = rng.permutation(n_down)
    down = down[order]
    dst = np.argsort(order)[:n_copy]
    return up, down, (src, dst)


def _reference_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Brute force: ``(len(a), len(b))`` smallest whole-vs-view distances."""
    x = np.bitwise_count(a[:, None, :1] ^ b[None, :, :]).min(-1)
    y = np.bitwise_count(a[:, None, :] ^ b[None, :, :1]).min(-1)
    return np.minimum(x, y)


def _timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_search(args) -> list:
    """Rows ``(what, sizes, workers, median s, pairs)``; checks planted and sampled pairs."""
    start = time.perf_counter()
    up, down, (src, dst) = clustered_hashes(args.upstream, args.downstream, args.seed)
    print(f'generated {len(up)} x {len(down)} clustered hashes ({NUM_VIEWS} views each) in '
          f'{time.perf_counter() - start:.1f} s')
    d = args.max_distance
    sizes = f'{len(up)} x {len(down)}'
    rows = []
    for workers in (1, 2):
        sec, found = _timed(lambda: near_duplicate_pairs(up[:, 0], down[:, 0], d, workers),
                            args.repeats)
        rows.append(('across, 1 hash / image', sizes, workers, sec, len(found[0])))
    for workers in (1, 2):
        sec, found = _timed(lambda: near_duplicate_pairs(up, down, d, workers), args.repeats)
        rows.append((f'across, {NUM_VIEWS} views / image (leak_check)', sizes, workers, sec,
                     len(found[0])))
    _check(up, down, found, src, dst, d)
    rng = np.random.default_rng(args.seed)
    fine_up = rng.integers(0, 2**63, (len(up), NUM_VIEWS, FINE_WORDS), dtype=np.uint64)
    fine_down = rng.integers(0, 2**63, (len(down), NUM_VIEWS, FINE_WORDS), dtype=np.uint64)
    sec, _ = _timed(lambda: pair_distances(fine_up, fine_down, found[0], found[1]),
                    args.repeats)
    rows.append(('confirm the pairs found (256-bit views)', f'{len(found[0])} pairs', 1, sec,
                 len(found[0])))
    if not args.no_dedup:
        sec, inside = _timed(lambda: near_duplicate_pairs(up, None, d, 2), 1)
        rows.append((f'inside upstream, {NUM_VIEWS} views (dedup)', f'{len(up)}', 2, sec,
                     len(inside[0])))
    return rows


def _check(up, down, found, src, dst, d) -> None:
    pairs = set(zip(found[0].tolist(), found[1].tolist()))
    planted = _reference_distance(up[src], down[dst]).diagonal()
    missed = [(s, t) for s, t, x in zip(src, dst, planted) if x <= d and (s, t) not in pairs]
    assert not missed, f'planted pairs not found: {missed[:5]}'
    n = min(300, len(up))
    ref = _reference_distance(up[:n], down)
    want = set(zip(*[x.tolist() for x in np.nonzero(ref <= d)]))
    got = {(i, j) for i, j in pairs if i < n}
    assert got == want, f'sample of {n} upstream rows differs from brute force'
    print(f'checked: {int((planted <= d).sum())}/{len(src)} planted copies within {d} '
          f'found; first {n} upstream rows equal brute force ({len(want)} pairs)')


def _real_images(n: int):
    found = sorted(glob.glob(osp.join(SHARED, 'datasets', 'camvid', 'images', '*', '*.jpg')))
    found += sorted(glob.glob(osp.join(SHARED, 'datasets', 'raccoon', 'images', '*.jpg')))
    return found[::max(1, len(found) // n)][:n]


def _generated_images(folder: str, n: int):
    from PIL import Image
    rng = np.random.default_rng(0)
    for k in range(n):
        small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((480, 360), Image.Resampling.BICUBIC).save(
            osp.join(folder, f'{k:05d}.jpg'), quality=90)
    return sorted(glob.glob(osp.join(folder, '*.jpg')))


def _time_hashing(paths, what: str) -> list:
    rows = []
    for workers in (1, 2):
        result = hash_images(paths, workers=workers)
        assert not result.failures, result.failures[:3]
        rows.append((what, len(paths), workers, result.seconds, len(paths) / result.seconds))
    return rows


def bench_hashing(n: int) -> list:
    """Rows ``(what, files, processes, s, images / s)`` of :func:`hash_images`."""
    paths = _real_images(n)
    if paths:
        return _time_hashing(paths, 'camvid + raccoon photos (../shared/datasets)')
    with tempfile.TemporaryDirectory(prefix='leak_bench_') as folder:
        return _time_hashing(_generated_images(folder, n), 'generated 480x360 JPEGs')


def _view_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` whole-vs-view distances of ``(n, views, words)`` hashes."""
    rows = []
    for k in range(0, len(a), 64):
        x = a[k:k + 64, None]
        rows.append(np.minimum(
            np.bitwise_count(x[:, :, :1] ^ b[None]).sum(-1).min(-1),
            np.bitwise_count(x ^ b[None, :, :1]).sum(-1).min(-1)))
    return np.concatenate(rows)


def _planted_worst(result, picks, limits) -> dict:
    """Largest (64-bit, 256-bit, colour) distance of each planted kind over ``picks``, and
    how many copies are within all three ``limits`` (a leak the check reports)."""
    from PIL import Image
    worst = {kind: (0, 0, 0.0) for kind in PLANTED_KINDS}
    found = dict.fromkeys(PLANTED_KINDS, 0)
    zero = np.zeros(1, np.int64)
    with tempfile.TemporaryDirectory() as folder:
        for k in picks:
            with Image.open(result.paths[k]) as image:
                copies = planted_copies(image.convert('RGB'), seed=int(k))
            for kind, copy in copies.items():
                copy.save(osp.join(folder, 'copy.png'))
                hashes, fine, colour, _ = hash_image(osp.join(folder, 'copy.png'))
                d64 = _view_distances(result.hashes[k:k + 1, :, None],
                                      np.array([hashes], np.uint64)[:, :, None])[0, 0]
                d256 = _view_distances(result.fine[k:k + 1], np.array([fine], np.uint64))[0, 0]
                dcol = colour_distances(result.colour[k:k + 1], np.array([colour], np.uint8),
                                        zero, zero)[0]
                worst[kind] = (max(worst[kind][0], int(d64)), max(worst[kind][1], int(d256)),
                               round(max(worst[kind][2], float(dcol)), 1))
                found[kind] += int(d64 <= limits[0] and d256 <= limits[1]
                                   and dcol <= limits[2])
    return {kind: f'{worst[kind]} found {found[kind]}/{len(picks)}' for kind in worst}


def _colour_range(colour: np.ndarray, mask: np.ndarray, max_colour: float) -> str:
    """``min-max`` colour distance of the pairs in ``mask`` and how many are within."""
    i, j = np.nonzero(mask)
    if not len(i):
        return 'no pair'
    d = colour_distances(colour, colour, i, j)
    return (f'{d.min():.1f}-{d.max():.1f} (within {max_colour:g}: '
            f'{int((d <= max_colour).sum())} of {len(d)})')


def calibrate(max_distance: int, max_fine: int, max_colour: float, workers: int) -> None:
    """Planted copies against distinct photos (raccoon, CamVid of other sequences)."""
    paths = _real_images(10 ** 6)
    if not paths:
        print('calibrate: ../shared/datasets (camvid, raccoon) is absent, skipped')
        return
    result = hash_images(paths, workers=workers)
    picks = np.linspace(0, len(paths) - 1, 100).round().astype(int)
    limits = (max_distance, max_fine, max_colour)
    print(f'planted copies of {len(picks)} photos, largest distance (64-bit, 256-bit, '
          f'colour): {_planted_worst(result, picks, limits)}')
    _, unique = np.unique(result.digests, return_index=True)  # byte-identical = one file
    unique = np.sort(unique)
    names = [osp.basename(result.paths[k]) for k in unique]
    group = np.array([n.split('_')[0] if '_' in n else 'raccoon' for n in names])
    d64 = _view_distances(result.hashes[unique, :, None], result.hashes[unique, :, None])
    d256 = _view_distances(result.fine[unique], result.fine[unique])
    upper = np.triu(np.ones(d64.shape, bool), 1)
    raccoon = group == 'raccoon'
    sets = {
        'raccoon photos': upper & raccoon[:, None] & raccoon[None],
        'CamVid frames of different sequences':
        upper & (group[:, None] != group[None]) & ~raccoon[:, None] & ~raccoon[None],
    }
    for what, mask in sets.items():
        near = mask & (d64 <= max_distance)
        hist64 = dict(zip(*np.unique(d64[near], return_counts=True)))
        both = near & (d256 <= max_fine)
        colour = result.colour[unique]
        print(f'{what}: {int(mask.sum())} pairs, {int(near.sum())} within {max_distance}/64 '
              f'(distance: pairs {({int(k): int(v) for k, v in hist64.items()})}); their '
              f'256-bit distances (smallest 10): {sorted(d256[near].tolist())[:10]}; within '
              f'both thresholds: {int(both.sum())}; colour distance of those within '
              f'{max_distance}/64: {_colour_range(colour, near, max_colour)}, within both: '
              f'{_colour_range(colour, both, max_colour)}')


def calibrate_world(up_dir: str, down_dir: str, args) -> None:
    """Planted copies of GV-world images, and the distinct scenes within both pHashes."""
    up = hash_images(list_images(up_dir), workers=args.workers)
    down = hash_images(list_images(down_dir), workers=args.workers)
    picks = np.linspace(0, len(up.paths) - 1, 100).round().astype(int)
    limits = (args.max_distance, args.max_fine_distance, args.max_colour_distance)
    print(f'GV world: planted copies of {len(picks)} images of {up_dir}, largest distance '
          f'(64-bit, 256-bit, colour): {_planted_worst(up, picks, limits)}')
    sides = {f'{up_dir} x {down_dir}': (up, down), f'inside {up_dir}': (up, None)}
    for what, (a, b) in sides.items():
        i, j, _ = near_duplicate_pairs(a.hashes, None if b is None else b.hashes,
                                       args.max_distance, args.workers)
        b = a if b is None else b
        both = pair_distances(a.fine, b.fine, i, j) <= args.max_fine_distance
        d = colour_distances(a.colour, b.colour, i[both], j[both])
        print(f'GV world, distinct scenes {what}: {len(i)} pairs within '
              f'{args.max_distance}/64, {int(both.sum())} within both pHash thresholds; '
              f'their colour distance: '
              f'{f"{d.min():.1f}-{d.max():.1f}" if len(d) else "no pair"}, within '
              f'{args.max_colour_distance:g}: {int((d <= args.max_colour_distance).sum())}')


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f'load average before: {os.getloadavg()}')
    search = bench_search(args)
    print(f"\n{'search (exact, numpy bitwise_count)':<44} {'images':>16} {'threads':>7} "
          f"{'median s':>9} {'pairs':>8}")
    for what, sizes, workers, sec, pairs in search:
        print(f'{what:<44} {sizes:>16} {workers:>7} {sec:>9.2f} {pairs:>8}')
    hashing = bench_hashing(args.images)
    print(f"\n{'hashing (hash_images)':<44} {'files':>16} {'procs':>7} {'s':>9} {'img/s':>8}")
    for what, n, workers, sec, rate in hashing:
        print(f'{what:<44} {n:>16} {workers:>7} {sec:>9.2f} {rate:>8.0f}')
    if args.calibrate:
        print()
        calibrate(args.max_distance, args.max_fine_distance, args.max_colour_distance,
                  args.workers)
    if args.world:
        print()
        calibrate_world(*args.world, args)
    print(f'\nload average after: {os.getloadavg()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
