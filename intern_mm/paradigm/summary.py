"""Summary (JSON + Markdown) of a paradigm run."""
import math
import os.path as osp
import time
from typing import Any, Dict, List, Optional

__all__ = ['build_summary', 'render_markdown']

#: Pretty names of the stage kinds in the comparison table.
_LABELS = {'up-a': 'Up-A (amateur, image-text)', 'up-g': 'Up-G (generalist)'}


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    if name.startswith('up-e-'):
        return f'Up-E {name[5:]} expert'
    return name


def build_summary(pipeline, world_meta: dict, downstream: dict, total_s: float) -> dict:
    """Collect every stage's result and the downstream comparison.

    Args:
        pipeline (ParadigmPipeline): The finished pipeline.
        world_meta (dict): The world's ``meta.json``.
        downstream (dict): :meth:`ParadigmPipeline.run_downstream`'s result.
        total_s (float): Wall time of this invocation.

    Returns:
        dict: ``world``, ``stages`` (name -> metrics, iterations, wall time, main
        metric), ``downstream`` and ``comparison`` (rows of the table), ``timings``.
    """
    stages = {}
    for stage in pipeline.stages:
        done = pipeline.results.get(stage['name'], {})
        metrics = done.get('metrics', {})
        key = stage.get('main_metric')
        stages[stage['name']] = dict(
            config=done.get('config'),
            checkpoint=done.get('checkpoint'),
            iters=done.get('iters'),
            wall_time_s=done.get('wall_time_s'),
            main_metric=key,
            main_value=metrics.get(key) if key else None,
            metrics=metrics,
            train=done.get('train', {}))
    rows: List[Dict[str, Any]] = []
    probes = downstream.get('probes', {})
    experts = {k: v for k, v in probes.items() if k.startswith('up-e-')}
    best_expert: Optional[str] = max(experts, key=lambda k: experts[k]['val_top1']) \
        if experts else None
    frac = downstream.get('fraction', 0.1)
    pct = f'{round(frac * 100)}%'
    for name in ('up-g', 'up-a'):
        if name in probes:
            rows.append(dict(backbone=_label(name), protocol='linear probe (frozen)',
                             train_data=pct, top1=probes[name]['top1'],
                             val_top1=probes[name]['val_top1'], source=name))
    if best_expert:
        rows.append(dict(backbone=f'best Up-E ({best_expert[5:]}, chosen on val)',
                         protocol='linear probe (frozen)', train_data=pct,
                         top1=probes[best_expert]['top1'],
                         val_top1=probes[best_expert]['val_top1'], source=best_expert))
    for name, res in probes.items():
        if name not in ('up-g', 'up-a') and name != best_expert:
            rows.append(dict(backbone=_label(name), protocol='linear probe (frozen)',
                             train_data=pct, top1=res['top1'], val_top1=res['val_top1'],
                             source=name))
    for tag, res in downstream.get('scratch', {}).items():
        rows.append(dict(backbone='same architecture from scratch',
                         protocol='full training', train_data=f'{round(res["fraction"] * 100)}%',
                         top1=res['top1'], val_top1=None, source=tag))
    return dict(
        created=time.strftime('%Y-%m-%d %H:%M:%S'),
        work_dir=pipeline.work_dir,
        world=dict(root=pipeline.world_root, **{k: world_meta.get(k) for k in
                                                ('num', 'seed', 'img_size', 'splits')}),
        stages=stages,
        downstream=downstream,
        best_expert=best_expert,
        comparison=rows,
        timings=dict(pipeline.timings, total_this_run_s=total_s))


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.{digits}f}'
    return str(value)


def _other_metrics(stage: dict, limit: int = 6) -> str:
    """A few more validation metrics of a stage (source means when there are sources)."""
    numeric = {k: v for k, v in stage['metrics'].items()
               if k != stage['main_metric'] and isinstance(v, (int, float))}
    means = {k: v for k, v in numeric.items() if '/mean/' in f'/{k}'}
    shown = means or numeric
    text = ', '.join(f'{k}={_fmt(v)}' for k, v in list(shown.items())[:limit])
    if len(shown) > limit or len(shown) < len(numeric):
        text += ' (all in summary.json)'
    return text


def _claim_figure_link(summary: dict) -> str:
    """Draw ``<work_dir>/summary.png`` from ``summary['adaptation']``; its Markdown link."""
    from intern_mm.visualization.claim_figure import plot_claim
    plot_claim(summary['adaptation'], osp.join(summary['work_dir'], 'summary.png'))
    return '![10%-adapted backbones vs scratch training, per task family](summary.png)'


def render_markdown(summary: dict) -> str:
    """Render the summary as Markdown (stage table + downstream comparison)."""
    lines = ['# INTERN paradigm summary', '']
    world = summary['world']
    lines.append(f'World: `{world["root"]}` ({world.get("num")} images, seed '
                 f'{world.get("seed")}, {world.get("img_size")}px, splits '
                 f'{world.get("splits")})')
    lines += ['', '## Stages', '', '| stage | iters | wall time (s) | main metric | value | '
              'other validation metrics |', '|---|---|---|---|---|---|']
    for name, st in summary['stages'].items():
        lines.append(f'| {name} | {_fmt(st["iters"])} | {_fmt(st["wall_time_s"], 1)} | '
                     f'{st["main_metric"] or "-"} | {_fmt(st["main_value"])} | '
                     f'{_other_metrics(st) or "-"} |')
    ds = summary.get('downstream') or {}
    if ds:
        lines += ['', '## Downstream: a task not supervised upstream', '',
                  f'Training data: {ds.get("num_train_subset")} images '
                  f'({round(ds.get("fraction", 0.1) * 100)}%) of {ds.get("num_train_full")}; '
                  'metric: top-1 accuracy (%) on the test split. Probes: frozen backbone, '
                  'linear head, learning rate chosen on the val split.', '',
                  '| backbone | protocol | train data | test top-1 | val top-1 |',
                  '|---|---|---|---|---|']
        for row in summary['comparison']:
            lines.append(f'| {row["backbone"]} | {row["protocol"]} | {row["train_data"]} | '
                         f'{_fmt(row["top1"])} | {_fmt(row["val_top1"])} |')
    timings = summary.get('timings', {})
    if timings:
        lines += ['', 'Wall time this run (s): ' + ', '.join(
            f'{k}={_fmt(v, 1)}' for k, v in timings.items())]
    if summary.get('adaptation'):
        lines += ['', _claim_figure_link(summary)]
    return '\n'.join(lines) + '\n'
