"""The GV-D leak check: near duplicates between upstream and downstream images, and
inside each side (de-duplication).

Both sides are named groups of image files (a source, a folder, a split). The same file
declared twice on one side (the same resolved path, or byte-identical content) is one
image, listed under ``same_file`` and never as a duplicate. Every image is hashed
(:mod:`.image_hashes`: 64- and 256-bit pHashes and a 4x4 RGB colour signature of the
whole image and of five 95% crops), every pair within ``max_distance`` of 64 bits is
found by an exact search (:mod:`.hamming_search`) and kept when its 256-bit distance is
within ``max_fine_distance`` and its colour distance within ``max_colour_distance``
(pHash is grey: distinct scenes with one shape at one place differ in colour only);
between the sides it is a leak, inside one side a duplicate.
Files that fail to decode are listed by path. ``tools/gvd.py leak-check`` runs it from
folders; the paradigm pipeline runs it before the first stage and stores
:meth:`LeakReport.to_json` in its summary.
"""
import json
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import GVDInputError
from .hamming_search import near_duplicate_pairs, pair_distances
from .image_hashes import (COLOUR_VALUES, DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MAX_DISTANCE,
                           DEFAULT_MAX_FINE_DISTANCE, FINE_WORDS, NUM_VIEWS, ImageHashes,
                           colour_distances, default_workers, hash_images, list_images)

__all__ = [
    'DEFAULT_MAX_DISTANCE', 'DEFAULT_MAX_FINE_DISTANCE', 'DEFAULT_MAX_COLOUR_DISTANCE',
    'ImagePair', 'LeakReport', 'leak_check', 'folder_groups'
]

Groups = Union[Mapping[str, Sequence[str]], Sequence[str]]


@dataclass
class ImagePair:
    """Two near-duplicate images (``a`` upstream for a leak) and their distance.

    Attributes:
        a (str): One file.
        b (str): The other file.
        distance (int): 64-bit pHash Hamming distance (of 64 bits).
        a_groups (tuple[str]): Groups that declare ``a``.
        b_groups (tuple[str]): Groups that declare ``b``.
        fine_distance (int): 256-bit pHash distance (of 256 bits) that confirmed it.
        colour_distance (float): Colour distance (mean absolute difference of the 4x4
            RGB signatures, 0-255) that confirmed it.
    """
    a: str
    b: str
    distance: int
    a_groups: Tuple[str, ...] = ()
    b_groups: Tuple[str, ...] = ()
    fine_distance: int = 0
    colour_distance: float = 0.0

    def line(self) -> str:
        """``a [groups] ~ b [groups] (distance N/64, M/256, colour C/255)``."""
        return (f"{self.a} [{', '.join(self.a_groups)}] ~ {self.b} "
                f"[{', '.join(self.b_groups)}] (distance {self.distance}/64, "
                f"{self.fine_distance}/256, colour {self.colour_distance:.1f}/255)")

    def to_dict(self, a_key: str = 'a', b_key: str = 'b') -> dict:
        """The pair as JSON-ready dict, the files under ``a_key`` / ``b_key``."""
        return {a_key: self.a, b_key: self.b, 'distance': self.distance,
                'fine_distance': self.fine_distance,
                'colour_distance': round(self.colour_distance, 1),
                f'{a_key}_groups': list(self.a_groups), f'{b_key}_groups': list(self.b_groups)}


@dataclass
class LeakReport:
    """What :func:`leak_check` found. ``ok`` is True when no upstream image is a near
    duplicate of a downstream one (duplicates inside one side do not count).

    Attributes:
        max_distance (int): The 64-bit threshold of the search.
        max_fine_distance (int): The 256-bit threshold that confirms a pair.
        max_colour_distance (float): The colour threshold that confirms a pair.
        leaks (list[ImagePair]): Upstream (``a``) ~ downstream (``b``) pairs.
        upstream_duplicates (list[ImagePair]): Pairs inside the upstream side.
        downstream_duplicates (list[ImagePair]): Pairs inside the downstream side.
        same_file (list[tuple[str, str, str]]): ``(side, path, path it is the same file
            as)``: one image declared twice (resolved path or content).
        failures (list[tuple[str, str]]): ``(path, reason)`` of files that failed.
        counts (dict): Exact counts (files, images, pairs, leaked images, failures,
            ``unconfirmed``: pairs within ``max_distance`` the fine hash rejected,
            ``colour_rejected``: pairs within both pHash thresholds the colour
            signature rejected).
        timings (dict): Seconds: ``hash_s``, ``search_s`` (across), ``dedup_s`` (inside).
    """
    max_distance: int
    max_fine_distance: int = DEFAULT_MAX_FINE_DISTANCE
    max_colour_distance: float = DEFAULT_MAX_COLOUR_DISTANCE
    leaks: List[ImagePair] = field(default_factory=list)
    upstream_duplicates: List[ImagePair] = field(default_factory=list)
    downstream_duplicates: List[ImagePair] = field(default_factory=list)
    same_file: List[Tuple[str, str, str]] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no leak was found."""
        return not self.leaks

    def to_json(self, max_pairs: int = 20) -> dict:
        """A small JSON-ready dict: exact counts, at most ``max_pairs`` of each list.

        Args:
            max_pairs (int): Entries listed per list (closest pairs first). Defaults to 20.

        Returns:
            dict: ``ok``, ``max_distance``, ``max_fine_distance``,
            ``max_colour_distance``, ``hash``, ``counts``, ``timings``, ``leaks``,
            ``upstream_duplicates``, ``downstream_duplicates``, ``same_file``,
            ``failures`` and ``listed_max``.

        Example:
            >>> LeakReport(max_distance=10).to_json()['ok']
            True
        """
        return dict(
            ok=self.ok, max_distance=self.max_distance, max_fine_distance=self.max_fine_distance,
            max_colour_distance=self.max_colour_distance,
            hash='pHash 64 bits (search), 256 bits and a 4x4 RGB colour signature '
            '(confirmation) of the whole image and of 5 crops (95%)',
            counts=dict(self.counts), timings={k: round(v, 3) for k, v in self.timings.items()},
            leaks=[p.to_dict('upstream', 'downstream') for p in self.leaks[:max_pairs]],
            upstream_duplicates=[p.to_dict() for p in self.upstream_duplicates[:max_pairs]],
            downstream_duplicates=[p.to_dict() for p in self.downstream_duplicates[:max_pairs]],
            same_file=[dict(side=s, path=p, same_as=o) for s, p, o in self.same_file[:max_pairs]],
            failures=[dict(path=p, error=e) for p, e in self.failures[:max_pairs]],
            listed_max=max_pairs)

    def dump(self, path: str, max_pairs: int = 20) -> None:
        """Write :meth:`to_json` to ``path`` (parent folders made).

        Args:
            path (str): The JSON file.
            max_pairs (int): Entries listed per list. Defaults to 20.

        Example:
            >>> LeakReport(max_distance=10).dump('work_dirs/leak.json')  # doctest: +SKIP
        """
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(self.to_json(max_pairs), f, indent=2)
            f.write('\n')

    def summary(self, max_pairs: int = 50) -> str:
        """Printable lines: each leak (both files, distance), duplicates, failures, result.

        Args:
            max_pairs (int): Lines listed per kind. Defaults to 50.

        Returns:
            str: The summary.

        Example:
            >>> LeakReport(max_distance=10).summary().splitlines()[-1][:34]
            'no leak: no upstream image is a ne'
        """
        c, t = self.counts, self.timings
        lines = [f"leak check: {c.get('upstream_images', 0)} upstream images, "
                 f"{c.get('downstream_images', 0)} downstream images, pHash distance <= "
                 f"{self.max_distance}/64 and <= {self.max_fine_distance}/256, colour "
                 f"distance <= {self.max_colour_distance:g}/255; hashing "
                 f"{t.get('hash_s', 0):.1f} s, search "
                 f"{t.get('search_s', 0) + t.get('dedup_s', 0):.1f} s"]
        sections = [('LEAK', self.leaks), ('upstream duplicate', self.upstream_duplicates),
                    ('downstream duplicate', self.downstream_duplicates)]
        for title, pairs in sections:
            lines += [f'{title}: {p.line()}' for p in pairs[:max_pairs]]
            lines += [f'... {len(pairs) - max_pairs} more {title} pairs (--json lists the '
                      f'closest)'] if len(pairs) > max_pairs else []
        lines += [f'same file ({s}): {p} = {o}' for s, p, o in self.same_file[:max_pairs]]
        lines += [f'unreadable image (not checked): {p}: {e}' for p, e in self.failures]
        if c.get('colour_rejected'):
            lines.append(f"{c['colour_rejected']} pairs within both pHash thresholds have "
                         f'other colours (colour distance > {self.max_colour_distance:g}): '
                         'not near duplicates')
        if self.leaks:
            lines.append(f"LEAKED: {len(self.leaks)} upstream-downstream pairs "
                         f"({c.get('leaked_downstream_images', 0)} downstream images)")
        else:
            lines.append(f'no leak: no upstream image is a near duplicate (distance <= '
                         f'{self.max_distance}/64, {self.max_fine_distance}/256, colour '
                         f'{self.max_colour_distance:g}/255) of a downstream image')
        return '\n'.join(lines)


def folder_groups(paths: Sequence[str]) -> Dict[str, List[str]]:
    """Each image folder (searched recursively) or image file as one named group.

    Args:
        paths (Sequence[str]): Folders or image files; the group name is the path as
            given (without a trailing ``/``).

    Returns:
        dict: ``{path: [image files]}``.

    Raises:
        GVDInputError: Naming the first path that does not exist.

    Example:
        >>> folder_groups(['data/voc/JPEGImages'])  # doctest: +SKIP
        {'data/voc/JPEGImages': ['data/voc/JPEGImages/000001.jpg', ...]}
    """
    return {p.rstrip('/') or p: list_images(p) for p in paths}


def _as_groups(groups: Groups, side: str) -> Dict[str, List[str]]:
    named = dict(groups) if isinstance(groups, Mapping) else {side: groups}
    for name, paths in named.items():
        if isinstance(paths, str):
            raise GVDInputError(f'{side} group {name}: expected a list of image paths, got '
                                f'the string {paths!r} (folder_groups lists a folder)')
    return {str(k): list(v) for k, v in named.items()}


class _Side:
    """The unique images of one side: paths by resolved path, then by content."""

    def __init__(self, name: str, groups: Dict[str, List[str]]):
        self.name = name
        self.files = sum(len(v) for v in groups.values())
        self.real: Dict[str, Tuple[str, List[str]]] = {}  # resolved -> (path, groups)
        self.same_file: List[Tuple[str, str, str]] = []
        for group, paths in groups.items():
            for path in paths:
                real = osp.realpath(path)
                if real not in self.real:
                    self.real[real] = (path, [group])
                    continue
                first, names = self.real[real]
                if group not in names:
                    names.append(group)
                self.same_file.append((name, path, first))

    def images(self, hashed: Dict[str, tuple]) -> tuple:
        """``(paths, groups, hashes, fine, colour)`` of the unique decoded images (content
        merged)."""
        by_digest: Dict[str, int] = {}
        paths, groups, rows = [], [], []
        for real, (path, names) in self.real.items():
            if real not in hashed:
                continue
            digest = hashed[real][-1]
            if digest in by_digest:
                k = by_digest[digest]
                self.same_file.append((self.name, path, paths[k]))
                groups[k] += [g for g in names if g not in groups[k]]
                continue
            by_digest[digest] = len(paths)
            paths.append(path)
            groups.append(list(names))
            rows.append(hashed[real][:-1])
        if not rows:
            return paths, [], np.zeros((0, NUM_VIEWS), np.uint64), np.zeros(
                (0, NUM_VIEWS, FINE_WORDS), np.uint64), np.zeros(
                    (0, NUM_VIEWS, COLOUR_VALUES), np.uint8)
        return (paths, [tuple(g) for g in groups],
                *(np.array([r[k] for r in rows]) for k in range(3)))


def _hash_sides(sides: Sequence[_Side], workers) -> Tuple[Dict, ImageHashes]:
    reals = list(dict.fromkeys(r for side in sides for r in side.real))
    result = hash_images(reals, workers=workers)
    hashed = {r: (h, f, c, d) for r, h, f, c, d in zip(
        result.paths, result.hashes, result.fine, result.colour, result.digests)}
    shown = {}
    for side in sides:
        shown.update({r: p for r, (p, _) in side.real.items()})
    result.failures = [(shown[r], reason) for r, reason in result.failures]
    return hashed, result


def _confirmed(side_a: tuple, side_b: Optional[tuple], limits: Tuple[int, int, float],
               threads: int) -> Tuple[List[ImagePair], int, int]:
    """Search ``side_a`` x ``side_b`` (inside ``side_a`` when None) within ``limits[0]``,
    confirm each pair with the fine hash (``limits[1]``) and the colour signature
    (``limits[2]``); the pairs (closest first) and the numbers rejected by each."""
    paths_a, groups_a, hashes_a, fine_a, colour_a = side_a
    paths_b, groups_b, hashes_b, fine_b, colour_b = side_a if side_b is None else side_b
    i, j, d = near_duplicate_pairs(hashes_a, None if side_b is None else hashes_b,
                                   limits[0], threads)
    fine = pair_distances(fine_a, fine_b, i, j)
    fine_ok = fine <= limits[1]
    i, j, d, fine = i[fine_ok], j[fine_ok], d[fine_ok], fine[fine_ok]
    colour = colour_distances(colour_a, colour_b, i, j)
    keep = colour <= limits[2]
    pairs = [ImagePair(paths_a[x], paths_b[y], int(dist), groups_a[x], groups_b[y], int(f),
                       float(c))
             for x, y, dist, f, c in zip(i[keep], j[keep], d[keep], fine[keep], colour[keep])]
    pairs.sort(key=lambda p: (p.distance, p.fine_distance, p.colour_distance, p.a, p.b))
    return pairs, int((~fine_ok).sum()), int((~keep).sum())


def _counts(up: _Side, down: _Side, report: LeakReport, n_up: int, n_down: int) -> dict:
    return dict(
        upstream_files=up.files, upstream_images=n_up, downstream_files=down.files,
        downstream_images=n_down, same_file=len(report.same_file),
        failures=len(report.failures), leaks=len(report.leaks),
        leaked_upstream_images=len({p.a for p in report.leaks}),
        leaked_downstream_images=len({p.b for p in report.leaks}),
        upstream_duplicates=len(report.upstream_duplicates),
        downstream_duplicates=len(report.downstream_duplicates))


def _search(report: LeakReport, up_images: tuple, down_images: tuple, threads: int) -> None:
    """Fill ``report``'s pairs, search timings and rejected counts."""
    limits = (report.max_distance, report.max_fine_distance, report.max_colour_distance)
    start = time.perf_counter()
    report.leaks, unconfirmed, colour = _confirmed(up_images, down_images, limits, threads)
    report.timings['search_s'] = time.perf_counter() - start
    start = time.perf_counter()
    report.upstream_duplicates, *up_rejected = _confirmed(up_images, None, limits, threads)
    report.downstream_duplicates, *down_rejected = _confirmed(down_images, None, limits,
                                                              threads)
    report.timings['dedup_s'] = time.perf_counter() - start
    report.counts['unconfirmed'] = unconfirmed + up_rejected[0] + down_rejected[0]
    report.counts['colour_rejected'] = colour + up_rejected[1] + down_rejected[1]


def leak_check(upstream: Groups,
               downstream: Groups,
               max_distance: int = DEFAULT_MAX_DISTANCE,
               workers: Optional[int] = None,
               max_fine_distance: int = DEFAULT_MAX_FINE_DISTANCE,
               max_colour_distance: float = DEFAULT_MAX_COLOUR_DISTANCE) -> LeakReport:
    """Near duplicates between upstream and downstream images, and inside each side.

    Args:
        upstream (Mapping[str, Sequence[str]] | Sequence[str]): Image files the upstream
            stages train on, as ``{group: files}`` (a group is named in the report), or
            one list (group ``upstream``).
        downstream (Mapping[str, Sequence[str]] | Sequence[str]): Downstream train / val /
            test image files, the same way (group ``downstream``).
        max_distance (int): Largest 64-bit pHash distance searched. Defaults to
            :data:`DEFAULT_MAX_DISTANCE` (10).
        workers (int, optional): Hashing processes and search threads. Defaults to the
            CPUs available.
        max_fine_distance (int): Largest 256-bit pHash distance of a confirmed pair.
            Defaults to :data:`DEFAULT_MAX_FINE_DISTANCE` (64).
        max_colour_distance (float): Largest colour distance (0-255) of a confirmed pair.
            Defaults to :data:`DEFAULT_MAX_COLOUR_DISTANCE`; 255 turns the colour gate off.

    Returns:
        LeakReport: Leaks, duplicates, same-file entries, failures, counts and timings.

    Raises:
        GVDInputError: A threshold out of range, or a group that is not a list of paths.

    Example:
        >>> up = folder_groups(['data/up'])  # doctest: +SKIP
        >>> report = leak_check(up, {'test': ['data/t/1.jpg']})  # doctest: +SKIP
        >>> report.ok, report.counts['leaks'], report.counts['colour_rejected']  # doctest: +SKIP
        (True, 0, 0)
    """
    if not 0 <= max_colour_distance <= 255:
        raise GVDInputError(f'max_colour_distance must be within 0-255 (a mean absolute '
                            f'difference of 8-bit colours), got {max_colour_distance}')
    up = _Side('upstream', _as_groups(upstream, 'upstream'))
    down = _Side('downstream', _as_groups(downstream, 'downstream'))
    hashed, result = _hash_sides([up, down], workers)
    up_images, down_images = up.images(hashed), down.images(hashed)
    report = LeakReport(max_distance=int(max_distance), max_fine_distance=int(max_fine_distance),
                        max_colour_distance=float(max_colour_distance),
                        failures=result.failures, same_file=up.same_file + down.same_file,
                        timings=dict(hash_s=result.seconds))
    _search(report, up_images, down_images, max(1, workers or default_workers()))
    rejected = dict(report.counts)
    report.counts = _counts(up, down, report, len(up_images[0]), len(down_images[0]))
    report.counts.update(rejected)
    return report
