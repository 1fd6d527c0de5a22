"""The paradigm's claim as a figure: 10%-adapted backbones against scratch training.

INTERN's claim is that a backbone trained in stages and adapted with 10% of a task's
training data beats the same architecture trained from scratch on all of it.
:func:`plot_claim` draws, per row (the task families ``cls``, ``det``, ``seg``,
``depth`` first, missing ones left out, then any other row -- a GV-B task of the
pipeline's ``downstream.tasks`` -- in its order), one bar per adapted backbone and
protocol (linear probe, fine-tune, OTA fine-tune-then-distil) with two horizontal
lines: the same architecture from scratch on 10% (dashed) and on 100% (solid; or the
paradigm's ``counterpart`` on 100%, the best of its counterparts on val). The y axis
names the metric and its direction (``↑ higher is better`` / ``↓ lower is better``), and
each panel's title says whether the 10%-adapted Up-G protocol chosen on val beats that
100% line.

Input: the ``adaptation`` entry of the paradigm summary::

    adaptation[row][backbone][protocol] = {'score': float, 'metric': str,
                                           'lower_is_better': bool, 'fraction': float,
                                           'task': str, 'family': str}  # last two optional

with backbones such as ``up-a``, ``best-up-e``, ``up-g``, ``distilled`` (protocols
``probe``, ``finetune``, ``ota``) and ``scratch`` (protocols ``10pct``, ``100pct``).

Example:
    >>> adaptation = {'cls': {
    ...     'up-g': {'probe': dict(score=70.0, metric='top1', lower_is_better=False,
    ...                            fraction=0.1)},
    ...     'scratch': {'10pct': dict(score=40.0, metric='top1', lower_is_better=False,
    ...                               fraction=0.1),
    ...                 '100pct': dict(score=65.0, metric='top1', lower_is_better=False,
    ...                                fraction=1.0)}}}
    >>> drawn = plot_claim(adaptation, 'summary.png')
    >>> drawn['cls']['verdict']
    'up-g (10%, probe) 70.00 vs scratch 100% 65.00: beats'
"""
from typing import Dict, List, Optional

import numpy as np

__all__ = ['plot_claim', 'claim_verdict', 'FAMILY_ORDER', 'PROTOCOL_LABELS']

FAMILY_ORDER = ('cls', 'det', 'seg', 'depth')
PROTOCOL_LABELS = dict(probe='linear probe', finetune='fine-tune',
                       ota='OTA (fine-tune + distil)')
_FAMILY_TITLES = dict(cls='classification', det='detection', seg='segmentation',
                      depth='depth estimation')
#: Reference lines (the ``scratch`` entry): key -> (line style, label).
_LINE_STYLES = {'10pct': ('--', 'scratch 10%'), '100pct': ('-', 'scratch 100%'),
                'counterpart': ('-', 'counterpart 100%')}
_COLORS = ('#4c72b0', '#dd8452', '#55a868', '#8172b3', '#937860', '#da8bc3')


def _better(a: float, b: float, lower_is_better: bool) -> bool:
    return a < b if lower_is_better else a > b


def claim_verdict(family_data: dict, backbone: str = 'up-g') -> Optional[str]:
    """One line: does ``backbone`` (best 10% protocol) beat scratch on 100%?

    Args:
        family_data (dict): ``adaptation[family]``.
        backbone (str): The adapted backbone. Defaults to ``'up-g'``.

    Returns:
        str | None: e.g. ``'up-g (10%, finetune) 71.20 vs scratch 100% 74.70: does not
        beat'``; None when the backbone or scratch 100% is absent.
    """
    entries = family_data.get(backbone) or {}
    lines = family_data.get('scratch') or {}
    name = 'counterpart' if 'counterpart' in lines else '100pct'
    full = lines.get(name)
    if not entries or full is None:
        return None
    low = bool(full['lower_is_better'])
    # the protocol chosen on val (on test only when a run has no val score)
    key = 'val_score' if all('val_score' in e for e in entries.values()) else 'score'
    proto, best = (min if low else max)(entries.items(), key=lambda kv: kv[1][key])
    verdict = 'beats' if _better(best['score'], full['score'], low) else 'does not beat'
    return (f"{backbone} ({round(best.get('fraction', 0.1) * 100)}%, {proto}) "
            f"{best['score']:.2f} vs {_LINE_STYLES[name][1]} {full['score']:.2f}: {verdict}")


def _check_entries(fam: str, data: dict) -> None:
    """Raise if an entry of ``adaptation[fam]`` lacks score / metric / lower_is_better."""
    for bb, protos in data.items():
        for proto, entry in protos.items():
            lacking = [k for k in ('score', 'metric', 'lower_is_better')
                       if k not in entry]
            if lacking:
                raise ValueError(f'adaptation[{fam!r}][{bb!r}][{proto!r}] lacks '
                                 f'{", ".join(lacking)}')


def _family_bars(fam: str, data: dict) -> dict:
    """What :func:`plot_claim` draws for one family (its ``drawn[fam]`` entry)."""
    _check_entries(fam, data)
    scratch = {k: float(v['score']) for k, v in (data.get('scratch') or {}).items()}
    first = next(e for protos in data.values() for e in protos.values())
    low, metric = bool(first['lower_is_better']), str(first['metric'])
    full = scratch.get('counterpart', scratch.get('100pct'))
    bars: List[dict] = []
    for bb, protos in data.items():
        if bb == 'scratch':
            continue
        order = [p for p in PROTOCOL_LABELS if p in protos] + \
            [p for p in protos if p not in PROTOCOL_LABELS]
        for proto in order:
            score = float(protos[proto]['score'])
            bars.append(dict(
                backbone=bb, protocol=proto, score=score,
                fraction=protos[proto].get('fraction'),
                beats_scratch_100=None if full is None else _better(score, full, low),
                beats_scratch_10=None if '10pct' not in scratch else
                _better(score, scratch['10pct'], low)))
    arrow = '↓ lower is better' if low else '↑ higher is better'
    title = _FAMILY_TITLES.get(fam, fam)
    if fam not in FAMILY_ORDER and first.get('family'):
        title = (f"{fam}: {first.get('task') or fam} "
                 f"({_FAMILY_TITLES.get(first['family'], first['family'])})")
    return dict(bars=bars, scratch=scratch, metric=metric, lower_is_better=low,
                ylabel=f'{metric} ({arrow})', verdict=claim_verdict(data), title=title)


def _bar_positions(bars: List[dict]) -> tuple:
    """x of each bar (grouped per backbone) and the ``(x, backbone)`` tick of each group."""
    backbones = list(dict.fromkeys(b['backbone'] for b in bars))
    x, pos, ticks = 0.0, [], []
    for bb in backbones:
        own = [b for b in bars if b['backbone'] == bb]
        xs = [x + i for i in range(len(own))]
        pos += xs
        ticks.append((np.mean(xs), bb))
        x += len(own) + 0.8
    return pos, ticks


def _draw_panel(ax, fam: str, d: dict, color: Dict[str, str]) -> None:
    """One family's panel: the bars, the scratch lines, the labels and the verdict."""
    pos, ticks = _bar_positions(d['bars'])
    scores = [b['score'] for b in d['bars']]
    ax.bar(pos, scores, width=0.85, color=[color[b['protocol']] for b in d['bars']],
           edgecolor='black', linewidth=0.5)
    for px, b in zip(pos, d['bars']):
        ax.text(px, b['score'], f"{b['score']:.3g}", ha='center', va='bottom',
                fontsize=7)
    for key, value in d['scratch'].items():
        ls, label = _LINE_STYLES.get(key, (':', f'scratch {key}'))
        ax.axhline(value, color='#c0392b', linestyle=ls, linewidth=1.4,
                   label=f'{label}: {value:.3g}')
    ax.set_xticks([t for t, _ in ticks])
    ax.set_xticklabels([name for _, name in ticks], fontsize=8)
    ax.set_xlabel('backbone, adapted with 10% of the training data', fontsize=8)
    ax.set_ylabel(d['ylabel'], fontsize=8)
    ax.tick_params(axis='y', labelsize=7)
    top = max(scores + list(d['scratch'].values()))
    ax.set_ylim(0, top * 1.3 if top > 0 else 1)
    title = d['title']
    verdict = d['verdict'] or 'no up-g / scratch 100% entry'
    ax.set_title(f'{title}\n{verdict}', fontsize=8,
                 color='#1e7b34' if verdict.endswith(': beats') else
                 ('#b00000' if verdict.endswith('does not beat') else 'black'))
    if d['scratch']:
        ax.legend(fontsize=7, loc='upper left', ncol=len(d['scratch']),
                  framealpha=0.9)


def plot_claim(adaptation: Dict[str, dict], out_png: str) -> Dict[str, dict]:
    """Draw the claim figure (one panel per row present: families first).

    Args:
        adaptation (dict): ``adaptation[row][backbone][protocol]`` entries (see the
            module docstring).
        out_png (str): Where to write the PNG.

    Returns:
        dict: Per row drawn: ``title`` (the family's name, or ``row: task (family)``),
        ``bars`` (``backbone``, ``protocol``, ``score``,
        ``beats_scratch_100``, ``beats_scratch_10``; left to right), ``scratch``
        (``{'10pct': score, '100pct': score}``, present ones), ``metric``,
        ``lower_is_better``, ``ylabel`` and ``verdict`` (:func:`claim_verdict`).

    Raises:
        ValueError: If ``adaptation`` has no row with entries, or an entry lacks
            ``score`` / ``metric`` / ``lower_is_better``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fams = [f for f in FAMILY_ORDER if adaptation.get(f)] + [
        r for r in adaptation if r not in FAMILY_ORDER and adaptation[r]]
    if not fams:
        raise ValueError(f'adaptation: no row with results (got {sorted(adaptation)})')
    drawn = {fam: _family_bars(fam, adaptation[fam]) for fam in fams}
    width = max(4.2, 0.42 * max(len(d['bars']) for d in drawn.values()) + 2.2)
    ncols = min(2, len(fams))
    nrows = int(np.ceil(len(fams) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.9 * nrows + 0.6),
                             squeeze=False)
    protocols = list(dict.fromkeys(b['protocol'] for d in drawn.values()
                                   for b in d['bars']))
    color = {p: _COLORS[i % len(_COLORS)] for i, p in enumerate(protocols)}
    for ax, fam in zip(axes.flat, fams):
        _draw_panel(ax, fam, drawn[fam], color)
    for ax in list(axes.flat)[len(fams):]:
        ax.set_axis_off()
    if protocols:  # none when only counterparts ran (no adapted role)
        handles = [plt.Rectangle((0, 0), 1, 1, color=color[p]) for p in protocols]
        fig.legend(handles, [PROTOCOL_LABELS.get(p, p) for p in protocols],
                   ncol=len(protocols), loc='lower center', fontsize=8, frameon=False)
    fig.suptitle('Adapted with 10% of the data vs the same architecture from scratch',
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return drawn
