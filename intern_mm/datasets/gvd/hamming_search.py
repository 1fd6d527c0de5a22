"""Exact Hamming search of 64-bit hashes: every pair within a distance, vectorised.

No index: numpy XORs a block of query hashes against a block of reference hashes,
counts the bits (``np.bitwise_count``) and keeps the pairs within ``max_distance``.
Blocks bound the memory (about 5 MB of temporaries per thread) and threads share the
blocks (numpy releases the GIL). It is exact, so clustered collections (bursts, crops of
one photo, one class photographed alike) cost the same as uniform ones, which is where
bucketed indexes (multi-index hashing, LSH) lose their edge. Measured with
``tools/analysis_tools/leak_check_benchmark.py`` (numbers in ``docs/your_data.md``).

Hashes are ``(n,)`` (one hash per image) or ``(n, views)`` uint64 arrays, column 0 the
whole image and the other columns views of it (crops, see ``image_hashes``). The
distance of two images is the smallest distance between the whole image of one and any
view of the other.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Tuple

import numpy as np

from .image_hashes import DEFAULT_MAX_DISTANCE

__all__ = ['near_duplicate_pairs', 'hamming_pairs', 'pair_distances']

#: Elements (query x reference hashes) compared per block.
_BLOCK = 1 << 19
#: Reference hashes per block at most.
_MAX_COLS = 1 << 15
#: Pairs per block of :func:`pair_distances`.
_PAIR_BLOCK = 1 << 14

Pairs = Tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty() -> Pairs:
    return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8))


def _block_scanner(query: np.ndarray, ref: np.ndarray, max_distance: int):
    local = threading.local()

    def scan(block: Tuple[int, int, int, int]) -> Optional[Pairs]:
        q0, q1, r0, r1 = block
        shape = (q1 - q0, r1 - r0)
        if getattr(local, 'size', 0) < shape[0] * shape[1]:
            local.size = shape[0] * shape[1]
            local.xor = np.empty(local.size, np.uint64)
            local.bits = np.empty(local.size, np.uint8)
            local.hit = np.empty(local.size, bool)
        n = shape[0] * shape[1]
        xor, bits, hit = local.xor[:n], local.bits[:n], local.hit[:n]
        np.bitwise_xor(query[q0:q1, None], ref[None, r0:r1], out=xor.reshape(shape))
        np.bitwise_count(xor, out=bits)
        np.less_equal(bits, max_distance, out=hit)
        if not hit.any():
            return None
        found = np.flatnonzero(hit)  # 1-D: several times faster than a 2-D nonzero
        return found // shape[1] + q0, found % shape[1] + r0, bits[found]

    return scan


def hamming_pairs(query: np.ndarray,
                  ref: np.ndarray,
                  max_distance: int,
                  workers: int = 1) -> Pairs:
    """Every ``(query index, ref index, distance)`` with distance <= ``max_distance``.

    Args:
        query (np.ndarray): ``(m,)`` uint64 hashes.
        ref (np.ndarray): ``(r,)`` uint64 hashes.
        max_distance (int): Largest Hamming distance kept.
        workers (int): Threads. Defaults to 1.

    Returns:
        tuple: int64 query indices, int64 ref indices, uint8 distances (block order).

    Example:
        >>> q = np.array([0b1011, 0], np.uint64)
        >>> [a.tolist() for a in hamming_pairs(q, np.array([0b0011], np.uint64), 1)]
        [[0], [0], [1]]
    """
    query = np.ascontiguousarray(query, dtype=np.uint64)
    ref = np.ascontiguousarray(ref, dtype=np.uint64)
    if query.size == 0 or ref.size == 0:
        return _empty()
    cols = min(ref.size, _MAX_COLS)
    rows = max(1, _BLOCK // cols)
    blocks = [(q0, min(q0 + rows, query.size), r0, min(r0 + cols, ref.size))
              for q0 in range(0, query.size, rows) for r0 in range(0, ref.size, cols)]
    scan = _block_scanner(query, ref, int(max_distance))
    if workers > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(workers) as pool:
            found = [f for f in pool.map(scan, blocks) if f is not None]
    else:
        found = [f for f in map(scan, blocks) if f is not None]
    if not found:
        return _empty()
    return tuple(np.concatenate([f[k] for f in found]) for k in range(3))


def _as_views(hashes: np.ndarray) -> np.ndarray:
    hashes = np.asarray(hashes, dtype=np.uint64)
    if hashes.ndim == 1:
        hashes = hashes[:, None]
    if hashes.ndim != 2:
        raise ValueError(f'hashes must be (n,) or (n, views), got shape {hashes.shape}')
    return np.ascontiguousarray(hashes)


def _closest(i: np.ndarray, j: np.ndarray, d: np.ndarray, n_j: int) -> Pairs:
    """One entry per (i, j): the smallest distance, sorted by (i, j)."""
    if i.size == 0:
        return _empty()
    key = i.astype(np.int64) * n_j + j
    order = np.lexsort((d, key))
    key, d = key[order], d[order]
    first = np.ones(key.size, bool)
    first[1:] = key[1:] != key[:-1]
    key, d = key[first], d[first]
    return key // n_j, key % n_j, d


def near_duplicate_pairs(a: np.ndarray,
                         b: Optional[np.ndarray] = None,
                         max_distance: int = DEFAULT_MAX_DISTANCE,
                         workers: int = 1) -> Pairs:
    """Image pairs within ``max_distance``: ``a`` x ``b``, or inside ``a`` (``i < j``).

    Args:
        a (np.ndarray): ``(n,)`` or ``(n, views)`` uint64 hashes (column 0 the whole
            image).
        b (np.ndarray, optional): Hashes of the other side, same number of views. None
            searches the pairs inside ``a``.
        max_distance (int): Largest distance kept. Defaults to
            :data:`~.image_hashes.DEFAULT_MAX_DISTANCE` (10).
        workers (int): Threads. Defaults to 1.

    Returns:
        tuple: ``(i, j, distance)`` arrays (int64, int64, uint8), one entry per image
        pair, sorted by ``(i, j)``; ``i`` indexes ``a``, ``j`` indexes ``b`` (``a``
        when ``b`` is None, then ``i < j``).

    Example:
        >>> h = np.array([0, 0b111, 2 ** 63 - 1], np.uint64)
        >>> [x.tolist() for x in near_duplicate_pairs(h, max_distance=3)]
        [[0], [1], [3]]
    """
    va = _as_views(a)
    if b is None:
        views = va.shape[1]
        i, j, d = hamming_pairs(va[:, 0], va.ravel(), max_distance, workers)
        j = j // views
        keep = i != j
        i, j, d = i[keep], j[keep], d[keep]
        i, j = np.minimum(i, j), np.maximum(i, j)
        return _closest(i, j, d, len(va))
    vb = _as_views(b)
    if vb.shape[1] != va.shape[1]:
        raise ValueError(f'a has {va.shape[1]} views per image, b has {vb.shape[1]}')
    views = va.shape[1]
    parts: List[Pairs] = []
    i, j, d = hamming_pairs(va[:, 0], vb.ravel(), max_distance, workers)
    parts.append((i, j // views, d))
    if views > 1:
        rest = np.ascontiguousarray(va[:, 1:]).ravel()
        i, j, d = hamming_pairs(rest, vb[:, 0], max_distance, workers)
        parts.append((i // (views - 1), j, d))
    i, j, d = (np.concatenate([p[k] for p in parts]) for k in range(3))
    return _closest(i, j, d, len(vb))


def pair_distances(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The distance of each pair ``(a[i[k]], b[j[k]])`` of multi-word view hashes.

    The distance of two images is, as in :func:`near_duplicate_pairs`, the smallest
    distance between the whole image (view 0) of one and any view of the other.

    Args:
        a (np.ndarray): ``(n, views, words)`` uint64 hashes (e.g. 256-bit: 4 words).
        b (np.ndarray): ``(m, views, words)`` uint64 hashes.
        i (np.ndarray): Indices into ``a``.
        j (np.ndarray): Indices into ``b`` (same length as ``i``).

    Returns:
        np.ndarray: int64 distances, one per pair.

    Example:
        >>> a = np.zeros((1, 2, 4), np.uint64)
        >>> b = np.array([[[1, 0, 0, 0], [7, 7, 0, 0]]], np.uint64)
        >>> pair_distances(a, b, np.array([0]), np.array([0])).tolist()
        [1]
    """
    out = np.zeros(len(i), np.int64)
    for start in range(0, len(i), _PAIR_BLOCK):
        x, y = a[i[start:start + _PAIR_BLOCK]], b[j[start:start + _PAIR_BLOCK]]
        whole_a = np.bitwise_count(x[:, :1] ^ y).sum(-1, dtype=np.int64).min(-1)
        whole_b = np.bitwise_count(x ^ y[:, :1]).sum(-1, dtype=np.int64).min(-1)
        out[start:start + len(x)] = np.minimum(whole_a, whole_b)
    return out
