"""The published GV-B hyper-parameter search grid and trial selection.

Published protocol: learning rate on a 3-point log grid in [1e-4, 0.1], weight decay on a
3-point log grid in [1e-6, 1e-4], momentum in {0.9, 0.99} -- 18 trials, each trained on
the subset's ``train`` split and scored on the carved ``val`` split; the best trial's
hyper-parameters are then used for the final run on the whole subset, reported on the
test split.

Example:
    >>> len(search_grid())
    18
    >>> search_grid()[0]
    {'lr': 0.0001, 'weight_decay': 1e-06, 'momentum': 0.9}
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ['search_grid', 'trial_name', 'select_best', 'scalar_score']


def search_grid(lr_range: Sequence[float] = (1e-4, 0.1),
                wd_range: Sequence[float] = (1e-6, 1e-4),
                momenta: Sequence[float] = (0.9, 0.99),
                points: int = 3) -> List[Dict[str, float]]:
    """The hyper-parameter grid.

    Args:
        lr_range (Sequence[float]): Learning-rate range. Defaults to (1e-4, 0.1).
        wd_range (Sequence[float]): Weight-decay range. Defaults to (1e-6, 1e-4).
        momenta (Sequence[float]): Momentum values. Defaults to (0.9, 0.99).
        points (int): Log-grid points per range. Defaults to 3.

    Returns:
        list[dict]: ``{'lr', 'weight_decay', 'momentum'}`` trials.
    """
    lrs = np.logspace(math.log10(lr_range[0]), math.log10(lr_range[1]), points)
    wds = np.logspace(math.log10(wd_range[0]), math.log10(wd_range[1]), points)
    return [dict(lr=float(f'{lr:.6g}'), weight_decay=float(f'{wd:.6g}'),
                 momentum=float(m)) for lr in lrs for wd in wds for m in momenta]


def trial_name(trial: Dict[str, float]) -> str:
    """Folder name of a trial, e.g. ``lr0.01_wd1e-05_m0.9``."""
    return f"lr{trial['lr']:g}_wd{trial['weight_decay']:g}_m{trial['momentum']:g}"


def scalar_score(score) -> float:
    """One number for ranking: a scalar, or the mean of a dict of values (E/M/H)."""
    if isinstance(score, dict):
        return float(np.mean([float(v) for v in score.values()]))
    return float(score)


def select_best(trials: List[dict], lower_is_better: bool = False) -> Optional[dict]:
    """The best trial by ``scalar_score(trial['score'])``; ties keep the first.

    Args:
        trials (list[dict]): Trials with ``score`` entries.
        lower_is_better (bool): Minimise instead of maximise.

    Returns:
        dict | None: The best trial (None when ``trials`` is empty).
    """
    best = None
    for trial in trials:
        value = scalar_score(trial['score'])
        if math.isnan(value):
            continue
        if best is None:
            best = trial
            continue
        ref = scalar_score(best['score'])
        if (value < ref) if lower_is_better else (value > ref):
            best = trial
    return best
