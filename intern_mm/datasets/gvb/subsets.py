"""Make a seeded, class-stratified GV-B training subset: its lists and its manifest.

The original GV-B 10% lists were lost, so the subsets are *derived*, deterministically,
from each dataset's official training annotations:

* units (images) are grouped by a stratification key: the class label (classification),
  or the globally rarest class present in the image (detection: XML / COCO objects;
  segmentation: mask pixel classes). Depth has no classes: one group
  (:mod:`~intern_mm.datasets.gvb.units`, reading the annotations with the one reader per
  format of :mod:`~intern_mm.datasets.gvb.annotations`).
* within each group the units are sorted, shuffled with ``random.Random(seed)`` and the
  first ``max(1, round(ratio * n))`` (ratio mode) or ``min(shot, n)`` (k-shot mode) kept,
* a validation split is carved out of the subset the same way (``val_ratio`` per group,
  groups of one unit stay in training), never from the test split
  (:mod:`~intern_mm.datasets.gvb.selection`).

Files written to ``out_dir`` (``<split>`` is ``subset`` = ``train`` + ``val``):

=========  ===============================================================
format     files
=========  ===============================================================
cls        ``<split>.txt`` lines ``relative/img/path <label>`` (mmpretrain
           ``CustomDataset``), ``classes.txt``
voc        ``<split>_<source>.txt`` image ids (mmdet ``XMLDataset``)
coco       ``<split>.json`` COCO files holding the selected images
seg/depth  ``<split>.txt`` ids (mmseg ``ann_file``)
=========  ===============================================================

plus ``manifest.json``: format, seed, ratio/shot, val ratio, the sources with the SHA-256
of each annotation file, the selected ids, the SHA-256 of each list file, and a digest of
the selected image files (content, or only sizes with ``hash_files=False``).
:func:`~intern_mm.datasets.gvb.manifest.verify_subset` recomputes all of it and raises
:class:`~intern_mm.datasets.gvb.manifest.SubsetVerificationError` naming every difference.

Example:
    >>> manifest = make_subset('cls', '/data/cifar10', 'subsets/cifar10',
    ...                        sources=[dict(img_dir='train')], ratio=0.1, seed=0)
    >>> verify_subset('subsets/cifar10')
"""
import json
import os
import os.path as osp
from datetime import datetime, timezone
from typing import Dict, List, Optional, Sequence

from .annotations import abs_path, load_coco
from .manifest import (MANIFEST_NAME, digest_of, file_entries, manifest_hash, sha256_file,
                       sha256_text)
from .selection import select_readable
from .units import READERS, source_name, unit_files, unit_id

__all__ = ['make_subset']


def _write_lists(fmt: str, out_dir: str, splits: dict, keys: dict, sources: Sequence[dict],
                 classes: Optional[Sequence[str]], coco: Optional[dict]) -> Dict[str, str]:
    """Write the split files; return ``file name -> sha256``."""
    written = {}

    def _write(name, lines):
        path = osp.join(out_dir, name)
        text = ''.join(f'{line}\n' for line in lines)
        with open(path, 'w') as f:
            f.write(text)
        written[name] = sha256_text(text)

    for split, units in splits.items():
        if fmt == 'cls':
            _write(f'{split}.txt', [f'{u} {keys[u]}' for u in units])
        elif fmt == 'voc':
            for src in sources:
                name = source_name(src)
                _write(f'{split}_{name}.txt', [u[1] for u in units if u[0] == name])
        elif fmt == 'coco':
            chosen = set(units)
            sub = dict(coco)
            sub['images'] = [img for img in coco['images'] if img['id'] in chosen]
            sub['annotations'] = [a for a in coco['annotations'] if a['image_id'] in chosen]
            path = osp.join(out_dir, f'{split}.json')
            text = json.dumps(sub)
            with open(path, 'w') as f:
                f.write(text)
            written[f'{split}.json'] = sha256_text(text)
        else:
            _write(f'{split}.txt', list(units))
    if fmt == 'cls' and classes:
        _write('classes.txt', list(classes))
    return written


def _test_annotations(fmt: str, data_root: str, sources: Sequence[dict],
                      test_sources: Sequence[dict], classes: Optional[Sequence[str]],
                      splits: dict) -> List[dict]:
    """Hashes of the test annotation files; refuses a subset that overlaps the test split."""
    test_keys, _, test_files = READERS[fmt](data_root, test_sources, classes)
    if fmt in ('seg', 'depth'):  # ids are relative to each split's image folder
        overlap = {unit_files(fmt, data_root, sources, u)[0]
                   for u in splits['subset']} & {
                       unit_files(fmt, data_root, test_sources, u)[0]
                       for u in test_keys}
    else:
        overlap = set(splits['subset']) & set(test_keys)
    if overlap and fmt != 'coco':
        raise ValueError(f'{len(overlap)} training-subset units also appear in the test '
                         f'split, e.g. {sorted(overlap)[:3]}')
    return [dict(path=osp.relpath(p, data_root), sha256=sha256_file(p))
            for p in test_files]


def make_subset(fmt: str,
                data_root: str,
                out_dir: str,
                sources: Sequence[dict],
                ratio: Optional[float] = 0.1,
                shot: Optional[int] = None,
                val_ratio: float = 0.2,
                seed: int = 0,
                classes: Optional[Sequence[str]] = None,
                test_sources: Optional[Sequence[dict]] = None,
                hash_files: bool = True,
                check_decode: bool = True,
                exclude_unreadable: bool = False) -> dict:
    """Create a stratified subset of a training set and write its files and manifest.

    Every selected image (and mask / depth map) is decoded with mmcv as the training
    loaders decode it (:func:`decode_problem`); unreadable files are refused by path,
    or with ``exclude_unreadable`` their units are left out of the candidates, the
    selection is redone, and the manifest records them under ``excluded``.

    Args:
        fmt (str): ``'cls'``, ``'voc'``, ``'coco'``, ``'seg'`` or ``'depth'``.
        data_root (str): Dataset root; relative paths in ``sources`` start here.
        out_dir (str): Output folder (created).
        sources (Sequence[dict]): Training annotation sources. cls:
            ``dict(ann_file=, [classes=])`` or ``dict(img_dir=)``; voc:
            ``dict(name=, sub_root=, ann_file=, img_subdir=, ann_subdir=)`` each; coco:
            ``dict(ann_file=, img_prefix=)``; seg: ``dict(ann_file= | img_dir=, img_dir=,
            seg_dir=, img_suffix=, seg_suffix=, ignore_index=)``; depth: like seg with
            ``depth_dir``.
        ratio (float, optional): Fraction per stratum. Defaults to 0.1. Ignored when
            ``shot`` is given.
        shot (int, optional): k-shot mode: ``shot`` units per stratum.
        val_ratio (float): Fraction of the subset carved out as validation split.
            Defaults to 0.2.
        seed (int): Seed. Defaults to 0.
        classes (Sequence[str], optional): Expected class names (checked).
        test_sources (Sequence[dict], optional): Test annotation sources (same format);
            their hashes are recorded and overlap with the subset is refused.
        hash_files (bool): Digest the content of the selected data files; False digests
            only their sizes (faster for very large sets). Defaults to True.
        check_decode (bool): Decode every selected file first. Defaults to True.
        exclude_unreadable (bool): Leave units with unreadable files out (recorded in
            the manifest's ``excluded``) instead of refusing. Defaults to False.

    Returns:
        dict: The manifest (also written to ``out_dir/manifest.json``).

    Raises:
        UnreadableDataError: Naming every selected file that does not decode (without
            ``exclude_unreadable``).
        ClassNameMismatchError: If ``classes`` and the annotations' class names differ.
        ValueError: If the subset would overlap the test split, or on bad input.
    """
    if shot is not None:
        ratio = None
    data_root = osp.abspath(data_root)
    # the body is split into helpers; the function stays over 60 lines only for its
    # 13 documented keyword arguments (see ALLOWED in tests/test_code_shape.py)
    coco = None
    coco_images = {}
    if fmt == 'coco':
        coco = load_coco(abs_path(data_root, sources[0]['ann_file']))
        coco_images = {img['id']: img for img in coco['images']}
    keys, classes, ann_files, splits, excluded = select_readable(
        fmt, data_root, sources, classes, ratio, shot, val_ratio, seed, check_decode,
        exclude_unreadable, coco_images)
    test_info = _test_annotations(fmt, data_root, sources, test_sources, classes,
                                  splits) if test_sources else []
    os.makedirs(out_dir, exist_ok=True)
    list_hashes = _write_lists(fmt, out_dir, splits, keys, sources, classes, coco)
    manifest = dict(
        format=fmt,
        seed=seed,
        ratio=ratio,
        shot=shot,
        val_ratio=val_ratio,
        data_root=data_root,
        sources=list(sources),
        test_sources=list(test_sources or []),
        classes=list(classes) if classes else None,
        annotation_files=[dict(path=osp.relpath(p, data_root), sha256=sha256_file(p))
                          for p in ann_files],
        test_annotation_files=test_info,
        num_source_units=len(keys),
        counts={k: len(v) for k, v in splits.items()},
        ids={k: [unit_id(fmt, u) for u in v] for k, v in splits.items()},
        list_sha256=list_hashes,
        hash_files=hash_files,
        excluded=excluded,
        files=file_entries(fmt, data_root, sources, splits['subset'], coco_images,
                            hash_files),
        created=datetime.now(timezone.utc).isoformat(timespec='seconds'),
    )
    manifest['files_digest'] = digest_of(manifest['files'])
    manifest['manifest_sha256'] = manifest_hash(manifest)
    with open(osp.join(out_dir, MANIFEST_NAME), 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest
