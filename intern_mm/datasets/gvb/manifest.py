"""The manifest of a GV-B subset: file records, hashing, loading and verification.

``manifest.json`` records the format, seed, ratio/shot, val ratio, the sources with the
SHA-256 of each annotation file, the selected ids, the SHA-256 of each list file, and
every selected data file (its content hash, or only its size with ``hash_files=False``).
:func:`verify_subset` recomputes all of it and raises :class:`SubsetVerificationError`
naming every difference.

Example:
    >>> manifest = verify_subset('subsets/cifar10')  # doctest: +SKIP
"""
import hashlib
import json
import os.path as osp
from typing import Dict, Hashable, List, Optional, Sequence

from .annotations import abs_path, load_coco
from .selection import SPLITS, select_splits
from .units import unit_data_files, unit_id

__all__ = [
    'MANIFEST_NAME', 'SubsetVerificationError', 'sha256_file', 'sha256_text',
    'file_entries', 'digest_of', 'manifest_hash', 'load_manifest', 'verify_subset'
]

MANIFEST_NAME = 'manifest.json'


class SubsetVerificationError(RuntimeError):
    """Raised when a subset no longer matches its data or its manifest."""


def sha256_file(path: str) -> str:
    """SHA-256 hex digest of a file.

    Args:
        path (str): File path.

    Returns:
        str: The digest.

    Example:
        >>> sha256_file('subsets/cifar10/train.txt')  # doctest: +SKIP
        '9f86d0...'
    """
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    """SHA-256 hex digest of a text (UTF-8).

    Args:
        text (str): The text.

    Returns:
        str: The digest.

    Example:
        >>> sha256_text('')[:8]
        'e3b0c442'
    """
    return hashlib.sha256(text.encode()).hexdigest()


def file_entries(fmt: str, root: str, sources: Sequence[dict], units: Sequence[Hashable],
                 coco_images: dict, hash_files: bool) -> Dict[str, str]:
    """``relative path -> sha256 (or size)`` of the units' data files, ``MISSING`` if absent.

    Args:
        fmt (str): Subset format.
        root (str): Dataset root (the paths are relative to it).
        sources (Sequence[dict]): The subset's sources.
        units (Sequence[Hashable]): The units.
        coco_images (dict): ``image id -> COCO image entry`` (COCO only).
        hash_files (bool): Hash the content; False records the size only.

    Returns:
        dict: The entries, in unit order.

    Example:
        >>> file_entries('cls', '/data', [], ['a/1.jpg'], {}, False)  # doctest: +SKIP
        {'a/1.jpg': '1234'}
    """
    entries = {}
    for unit in units:
        for path in unit_data_files(fmt, root, sources, unit, coco_images):
            if not osp.isfile(path):
                entries[osp.relpath(path, root)] = 'MISSING'
                continue
            entries[osp.relpath(path, root)] = (sha256_file(path) if hash_files else
                                                str(osp.getsize(path)))
    return entries


def digest_of(entries: Dict[str, str]) -> str:
    """One digest of :func:`file_entries` (the manifest's ``files_digest``).

    Args:
        entries (dict): ``path -> value``.

    Returns:
        str: SHA-256 hex digest.

    Example:
        >>> len(digest_of({'a/1.jpg': '1234'}))
        64
    """
    return sha256_text('\n'.join(f'{path} {value}' for path, value in entries.items()))


def manifest_hash(manifest: dict) -> str:
    """Hash of the manifest content that defines the subset (not its creation time).

    Args:
        manifest (dict): A manifest.

    Returns:
        str: SHA-256 hex digest.

    Example:
        >>> manifest_hash(load_manifest('subsets/cifar10'))  # doctest: +SKIP
    """
    keys = ('format', 'seed', 'ratio', 'shot', 'val_ratio', 'sources', 'classes',
            'annotation_files', 'ids', 'list_sha256', 'files_digest')
    # keys added later enter the hash only when present (older manifests stay valid)
    keys += tuple(k for k in ('excluded', 'files') if k in manifest)
    return sha256_text(json.dumps({k: manifest.get(k) for k in keys}, sort_keys=True))


def load_manifest(out_dir: str) -> dict:
    """Read ``out_dir/manifest.json``.

    Args:
        out_dir (str): Subset folder.

    Returns:
        dict: The manifest.

    Raises:
        FileNotFoundError: If there is no manifest.

    Example:
        >>> load_manifest('subsets/cifar10')['format']  # doctest: +SKIP
        'cls'
    """
    path = osp.join(out_dir, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no subset manifest at {path}: create the subset with '
                                'tools/dataset_converters/make_subset.py')
    with open(path) as f:
        return json.load(f)


def _id_diff(fresh: List[str], recorded: List[str]) -> str:
    added = sorted(set(fresh) - set(recorded))
    removed = sorted(set(recorded) - set(fresh))
    parts = []
    if added:
        parts.append(f'{len(added)} new (e.g. {added[:3]})')
    if removed:
        parts.append(f'{len(removed)} dropped (e.g. {removed[:3]})')
    return ', '.join(parts) or 'same ids in another order'


def _check_annotations(manifest: dict, root: str, problems: List[str]) -> None:
    """Append a line per annotation file that is missing or changed."""
    for entry in manifest['annotation_files'] + manifest.get('test_annotation_files', []):
        path = abs_path(root, entry['path'])
        if not osp.isfile(path):
            problems.append(f'annotation file {path} is missing')
        elif sha256_file(path) != entry['sha256']:
            problems.append(f'annotation file {path} changed (sha256 differs)')


def _check_selection(manifest: dict, root: str, problems: List[str]) -> None:
    """Append a line per split whose re-selection differs and per changed data file."""
    fmt = manifest['format']
    try:
        keys, classes, _, splits = select_splits(fmt, root, manifest['sources'],
                                                 manifest['classes'], manifest['ratio'],
                                                 manifest['shot'], manifest['val_ratio'],
                                                 manifest['seed'],
                                                 list(manifest.get('excluded') or {}))
        fresh = {k: [unit_id(fmt, u) for u in v] for k, v in splits.items()}
        for split in SPLITS:
            if fresh[split] != manifest['ids'][split]:
                problems.append(f're-selecting the "{split}" split gives different ids '
                                f'than the manifest records: '
                                f'{_id_diff(fresh[split], manifest["ids"][split])}')
        coco_images = {}
        if fmt == 'coco':
            coco = load_coco(abs_path(root, manifest['sources'][0]['ann_file']))
            coco_images = {img['id']: img for img in coco['images']}
        hash_files = manifest.get('hash_files', False)
        if manifest.get('files') is not None:
            _check_data_files(manifest, root, keys, coco_images, problems)
        else:
            digest = digest_of(file_entries(fmt, root, manifest['sources'], splits['subset'],
                                            coco_images, hash_files))
            if digest != manifest['files_digest']:
                problems.append('the data files of the subset changed (files digest '
                                'differs; this manifest predates per-file records)')
    except (OSError, ValueError, KeyError) as err:
        problems.append(f'cannot re-read the source annotations: {err}')


def _check_data_files(manifest: dict, root: str, keys: list, coco_images: dict,
                      problems: List[str]) -> None:
    """Append a line per recorded data file that is missing or changed."""
    fmt = manifest['format']
    hash_files = manifest.get('hash_files', False)
    by_id = {unit_id(fmt, u): u for u in keys}
    recorded = manifest['ids']['subset']
    gone = [i for i in recorded if i not in by_id]
    if gone:
        problems.append(f'{len(gone)} subset unit(s) are no longer in the source '
                        f'annotations: {gone}')
    now = file_entries(fmt, root, manifest['sources'],
                       [by_id[i] for i in recorded if i in by_id], coco_images, hash_files)
    what = 'sha256' if hash_files else 'size'
    for path, value in manifest['files'].items():
        current = now.get(path)
        if current is None:
            continue  # its unit left the annotations (reported above)
        if current == 'MISSING' and value != 'MISSING':
            problems.append(f'data file {abs_path(root, path)} is missing')
        elif current != value:
            problems.append(f'data file {abs_path(root, path)} changed ({what} differs)')


def _check_lists(manifest: dict, out_dir: str, problems: List[str]) -> None:
    """Append a line per list file that is missing or changed."""
    for name, expected in manifest['list_sha256'].items():
        path = osp.join(out_dir, name)
        if not osp.isfile(path):
            problems.append(f'list file {path} is missing')
            continue
        with open(path) as f:
            if sha256_text(f.read()) != expected:
                problems.append(f'list file {path} changed')


def verify_subset(out_dir: str, data_root: Optional[str] = None) -> dict:
    """Check a subset against its data and manifest; fail loudly on any change.

    Checks: the manifest's own hash, every annotation file's hash, a fresh deterministic
    re-selection (same ids), the list files on disk, and every selected data file (each
    changed or missing file is named; manifests from before per-file records only say
    that the digest differs). When ``data_root`` is not the root the subset was made
    from and anything differs, the message says so first: the subset belongs to the
    other copy of the data.

    Args:
        out_dir (str): Subset folder.
        data_root (str, optional): Dataset root if it moved. Defaults to the manifest's.

    Returns:
        dict: The manifest, if everything matches.

    Raises:
        SubsetVerificationError: Listing every problem found, one line each.

    Example:
        >>> verify_subset('subsets/cifar10', data_root='/mnt/cifar10')  # doctest: +SKIP
    """
    manifest = load_manifest(out_dir)
    problems = []
    if manifest.get('manifest_sha256') != manifest_hash(manifest):
        problems.append('manifest.json was edited: its content hash does not match')
    recorded_root = osp.abspath(manifest['data_root'])
    root = osp.abspath(data_root or recorded_root)
    _check_annotations(manifest, root, problems)
    _check_selection(manifest, root, problems)
    _check_lists(manifest, out_dir, problems)
    if problems:
        changed = sum(p.startswith('data file ') for p in problems)
        if changed:
            problems.insert(0, f'the data files of the subset changed: {changed} file(s) '
                            'changed or missing')
        head = f'subset {out_dir} failed verification'
        if root != recorded_root:
            head += (f' -- it was made from data root {recorded_root}, not {root}: use a '
                     'separate subset folder for this copy of the data (e.g. tools/gvb.py '
                     'run --subset-base DIR) or the original data root')
        raise SubsetVerificationError(f'{head}:\n  - ' + '\n  - '.join(problems))
    return manifest
