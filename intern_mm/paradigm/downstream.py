"""Downstream check of the paradigm: 10% linear probes of frozen backbones.

Every backbone (Up-A, each Up-E expert, Up-G) goes through the same protocol, built on
GV-B's cached-feature probe (:mod:`intern_mm.benchmark.feature_probe`): features of the
frozen backbone (eval mode) are extracted once for the 10% training subset, the val split
and the test split; a zero-initialised linear head is trained with SGD for each learning
rate of a small grid (GV-B published numbers also come from a search); the learning rate
with the best val top-1 is selected and its **test** top-1 reported.
"""
import json
import os
import os.path as osp
import random
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import torch

__all__ = ['make_subset', 'downstream_dataset_cfg', 'probe_backbone']


def make_subset(ann_file: str, out_file: str, fraction: float, seed: int = 0) -> int:
    """Write a class-stratified random ``fraction`` of an mmpretrain annotation file.

    Args:
        ann_file (str): ``path label`` lines (mmpretrain ``CustomDataset`` format).
        out_file (str): Where to write the subset (same format, original order).
        fraction (float): Fraction in ``(0, 1]`` kept from every class (at least one
            sample per class).
        seed (int): Sampling seed. Defaults to 0.

    Returns:
        int: Number of lines written.

    Raises:
        FileNotFoundError: If ``ann_file`` does not exist.
        ValueError: If ``fraction`` is not in ``(0, 1]``.

    Example:
        >>> make_subset('data/gv_world/downstream/train.txt', '/tmp/10pct.txt', 0.1)
        140
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file {ann_file} does not exist')
    with open(ann_file) as f:
        lines = [ln.rstrip('\n') for ln in f if ln.strip()]
    by_class: Dict[str, List[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        by_class[line.rsplit(' ', 1)[-1]].append(i)
    rng = random.Random(seed)
    keep = []
    for label in sorted(by_class):
        idx = by_class[label]
        k = max(1, round(len(idx) * fraction))
        keep.extend(rng.sample(idx, k))
    keep.sort()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        f.writelines(lines[i] + '\n' for i in keep)
    return len(keep)


def downstream_dataset_cfg(data_root: str, ann_file: str, classes_file: str) -> dict:
    """Config of an mmpretrain ``CustomDataset`` for probing (no augmentation).

    Args:
        data_root (str): World root (image paths are relative to it).
        ann_file (str): Annotation file (absolute, or relative to ``data_root``).
        classes_file (str): ``classes.txt`` (absolute path).

    Returns:
        dict: The dataset config (mmpretrain scope).
    """
    return dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix='',
        classes=classes_file,
        pipeline=[dict(type='mmpretrain.LoadImageFromFile'),
                  dict(type='mmpretrain.PackInputs')])


def probe_backbone(backbone_cfg: dict,
                   checkpoint: Optional[str],
                   datasets: Dict[str, dict],
                   lrs: Sequence[float] = (0.003, 0.03, 0.3),
                   max_iters: int = 300,
                   batch_size: int = 64,
                   momentum: float = 0.9,
                   weight_decay: float = 1e-4,
                   seed: int = 0,
                   data_preprocessor: Optional[dict] = None,
                   cache_file: Optional[str] = None) -> dict:
    """10% linear probe of one frozen backbone with val-selected learning rate.

    Args:
        backbone_cfg (dict): Backbone config (scoped or intern_mm / mmpretrain type).
        checkpoint (str, optional): Checkpoint with the backbone weights (``backbone.*``
            or bare); None probes the randomly initialised backbone.
        datasets (dict[str, dict]): ``train`` (the 10% subset), ``val`` and ``test``
            dataset configs.
        lrs (Sequence[float]): Learning-rate grid. Defaults to ``(0.003, 0.03, 0.3)``.
        max_iters (int): SGD iterations per grid point (step decay at 60% / 85%).
        batch_size (int): Batch size.
        momentum (float): SGD momentum.
        weight_decay (float): Weight decay.
        seed (int): Sampling seed.
        data_preprocessor (dict, optional): Normalisation (default: ImageNet).
        cache_file (str, optional): JSON file caching the result (reused when it was
            made from the same checkpoint file with the same modification time).

    Returns:
        dict: ``top1`` (test, at the selected lr), ``val_top1``, ``lr``, ``grid``
        (``{lr: {'val': ..., 'test': ...}}``), ``num_train``, ``feat_dim``, ``time_s``.
    """
    stamp = osp.getmtime(checkpoint) if checkpoint else None
    if cache_file and osp.isfile(cache_file):
        with open(cache_file) as f:
            cached = json.load(f)
        if cached.get('checkpoint') == checkpoint and cached.get('ckpt_mtime') == stamp:
            return cached
    from intern_mm.benchmark.backbone import build_backbone
    from intern_mm.benchmark.feature_probe import (evaluate_linear_head,
                                                   extract_features,
                                                   train_linear_head)
    start = time.time()
    torch.manual_seed(seed)
    module = build_backbone(backbone_cfg, checkpoint=checkpoint)
    feats = {
        split: extract_features(module, datasets[split], data_preprocessor=data_preprocessor)
        for split in ('train', 'val', 'test')
    }
    num_classes = int(max(int(f[1].max()) for f in feats.values())) + 1
    grid = {}
    for lr in lrs:
        head = train_linear_head(
            *feats['train'], num_classes, lr=lr, momentum=momentum,
            weight_decay=weight_decay, max_iters=max_iters,
            milestones=(int(max_iters * 0.6), int(max_iters * 0.85)), batch_size=batch_size,
            seed=seed)
        grid[str(lr)] = dict(
            val=evaluate_linear_head(head, *feats['val'])['top1'],
            test=evaluate_linear_head(head, *feats['test'])['top1'])
    best = max(grid, key=lambda k: (grid[k]['val'], -float(k)))
    result = dict(
        top1=grid[best]['test'],
        val_top1=grid[best]['val'],
        lr=float(best),
        grid=grid,
        num_train=int(feats['train'][0].shape[0]),
        num_test=int(feats['test'][0].shape[0]),
        feat_dim=int(feats['train'][0].shape[1]),
        checkpoint=checkpoint,
        ckpt_mtime=stamp,
        time_s=round(time.time() - start, 1))
    if cache_file:
        os.makedirs(osp.dirname(osp.abspath(cache_file)), exist_ok=True)
        with open(cache_file, 'w') as f:
            json.dump(result, f, indent=2)
    return result
