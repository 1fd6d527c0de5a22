"""GV-B report figures: a heatmap of runs x datasets, and each run against a reference.

Both functions take rows of :func:`intern_mm.benchmark.report.build_table` (``name``,
``source``, ``cells``, ``numbers``, ``mean_values``) and the GV-B tasks that give the
columns (``GVB_TASKS.values()`` of :mod:`intern_mm.benchmark.tasks`, passed by the report:
visualization sits below the benchmark), and return the data they drew, so a test (or a
reader) can check the figure against the table.

* :func:`plot_gvb_heatmap`: one column per run / published row, one row per reported
  number (WIDER FACE gives three rows E/M/H, CityPersons two, R/H), grouped by family,
  the values written in, the family means in a panel below (portrait, so that it is
  readable at page width). The colour of a cell is its place within its dataset's range
  over the runs shown, from the worst value (red) to the best (green); for the
  lower-is-better datasets (CityPersons MR^-2, depth RMSE; marked ``↓``) the lowest value
  is the best. Empty cells say ``missing`` (data absent), ``failed`` (the task raised) or
  ``—`` (not run).
* :func:`plot_run_vs_reference`: one panel per task family; per dataset the improvement
  of the run over the reference row, sorted. Improvement is ``run − reference`` for
  higher-is-better metrics and ``reference − run`` for the lower-is-better ones, so a bar
  to the right is always better; the axis label says so.

Example:
    >>> from intern_mm.benchmark.report import build_table, collect_runs
    >>> from intern_mm.benchmark.official import load_official_results
    >>> from intern_mm.benchmark.tasks import GVB_TASKS
    >>> table = build_table(collect_runs('work_dirs/gvb'), load_official_results(),
    ...                     ['Up-G/MN-B4'])
    >>> drawn = plot_gvb_heatmap(table, GVB_TASKS.values(), 'report.png')
    >>> drawn['rows'], drawn['values'].shape
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

__all__ = ['heatmap_columns', 'plot_gvb_heatmap', 'plot_run_vs_reference',
           'improvement', 'MEAN_COLUMNS']

#: Family means shown beside the heatmap: (key, label, lower is better).
MEAN_COLUMNS = (('cls_mean', 'cls mean', False), ('det_mean', 'det mean', False),
                ('seg_mean', 'seg mean', False), ('depth_mean', 'depth mean\nRMSE ↓', True))

_SHORT = dict(voc0712_det='VOC07+12', widerface_det='WIDER', citypersons_det='CityPersons',
              voc2012_seg='VOC2012', kitti_depth='KITTI', nyuv2_depth='NYUv2')
_SUB = dict(widerface_ap=('Easy', 'Med', 'Hard'), mr=('Reas.', 'Heavy'))
_UNITS = dict(cls='accuracy points (%)', det='AP / MR$^{-2}$ points (%)',
              seg='mIoU points (%)', depth='RMSE (m)')
_METRIC_NAME = dict(top1='top-1 %', mean_per_class='mean per-class %', mAP='mAP %',
                    widerface_ap='AP %', mr='MR$^{-2}$ %', mIoU='mIoU %', rmse='RMSE m')


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def heatmap_columns(tasks: Iterable[Any]) -> List[dict]:
    """The numbers of a GV-B row, one entry each, in the order of ``tasks``.

    Args:
        tasks (Iterable[GVBTask]): The tasks of the columns, e.g. ``GVB_TASKS.values()``
            (the published order); each has ``column``, ``family``, ``metric`` and
            ``lower_is_better``.

    Returns:
        list[dict]: ``key`` (``'widerface_det:1'`` for WIDER FACE Medium), ``column``,
        ``index`` into the cell's numbers, ``label``, ``family``, ``metric``,
        ``lower_is_better``.

    Example:
        >>> from intern_mm.benchmark.tasks import GVB_TASKS
        >>> [c['label'] for c in heatmap_columns(GVB_TASKS.values())][20:23]
        ['VOC07+12', 'WIDER Easy', 'WIDER Med']
    """
    cols = []
    for task in tasks:
        subs = _SUB.get(task.metric, (None, ))
        for i, sub in enumerate(subs):
            name = _SHORT.get(task.column, task.column)
            label = name if sub is None else f'{name} {sub}'
            if task.lower_is_better:
                label += ' ↓'
            cols.append(dict(key=task.column if sub is None else f'{task.column}:{i}',
                             column=task.column, index=i, label=label, family=task.family,
                             metric=task.metric, lower_is_better=task.lower_is_better))
    return cols


def _value(row: dict, col: dict) -> Optional[float]:
    nums = row['numbers'].get(col['column'])
    if not nums or col['index'] >= len(nums):
        return None
    return float(nums[col['index']])


def _goodness(values: np.ndarray, lower_is_better: Sequence[bool]) -> np.ndarray:
    """Place of each value within its column: 0 = the column's worst, 1 = its best."""
    good = np.full(values.shape, np.nan)
    for j, low in enumerate(lower_is_better):
        col = values[:, j]
        ok = ~np.isnan(col)
        if not ok.any():
            continue
        lo, hi = col[ok].min(), col[ok].max()
        frac = np.full(col.shape, 0.5) if hi == lo else (col - lo) / (hi - lo)
        good[ok, j] = (1.0 - frac if low else frac)[ok]
    return good


def _fmt(value: float, metric: str) -> str:
    return f'{value:.3f}' if metric == 'rmse' or metric == 'depth' else f'{value:.1f}'


def _wrap(name: str, width: int = 16) -> str:
    """Break a run name at ``_``, ``/``, ``-`` or spaces into lines of <= ``width``."""
    lines, cur = [], ''
    for ch in name:
        cur += ch
        if len(cur) >= width:
            cut = max(cur.rfind(c) for c in '_/- ')
            cut = cut + 1 if cut > 0 else len(cur)
            lines.append(cur[:cut].rstrip())
            cur = cur[cut:]
    if cur:
        lines.append(cur.strip())
    return '\n'.join(lines[:4])


def _soft_cmap(plt):
    """RdYlGn without its darkest ends (black text stays readable), grey for empty."""
    from matplotlib.colors import ListedColormap
    colors = plt.get_cmap('RdYlGn')(np.linspace(0.1, 0.9, 256))
    colors[:, :3] = 0.25 + 0.75 * colors[:, :3]
    return ListedColormap(colors).with_extremes(bad='#ececec')


def _cell_data(rows: List[dict], cols: List[dict]) -> tuple:
    """``values`` (runs x columns, NaN where empty), their ``goodness`` and the texts."""
    values = np.array([[_value(r, c) if _value(r, c) is not None else np.nan
                        for c in cols] for r in rows], dtype=float).reshape(len(rows),
                                                                            len(cols))
    good = _goodness(values, [c['lower_is_better'] for c in cols])
    texts = []
    for r, row in enumerate(rows):
        line = []
        for j, c in enumerate(cols):
            cell = row['cells'].get(c['column'], '')
            if not np.isnan(values[r, j]):
                line.append(_fmt(values[r, j], c['metric']))
            elif cell in ('missing', 'failed'):
                line.append(cell)
            else:
                line.append('—')
        texts.append(line)
    return values, good, texts


def _mean_data(rows: List[dict]) -> tuple:
    """``means`` (runs x :data:`MEAN_COLUMNS`), their goodness and their texts."""
    means = np.array([[np.nan if r['mean_values'].get(k) is None else r['mean_values'][k]
                       for k, _, _ in MEAN_COLUMNS] for r in rows],
                     dtype=float).reshape(len(rows), len(MEAN_COLUMNS))
    # a mean over fewer datasets than its family has is shown ("(k/n)") but not coloured:
    # it is not comparable with the full means
    partial = np.array([[bool(r['means'].get(k)) and '(' in r['means'][k]
                         for k, _, _ in MEAN_COLUMNS] for r in rows],
                       dtype=bool).reshape(means.shape)
    mean_good = _goodness(np.where(partial, np.nan, means),
                          [low for _, _, low in MEAN_COLUMNS])
    mean_texts = [[r['means'].get(k) or '—' for k, _, _ in MEAN_COLUMNS] for r in rows]
    return means, mean_good, mean_texts


def _draw_grid(a, gd: np.ndarray, labels: List[str], txt: List[List[str]], n_runs: int,
               cmap):
    """Colour one panel by ``gd`` (runs x labels), write ``txt`` in; returns the image."""
    im = a.imshow(np.ma.masked_invalid(gd.T), cmap=cmap, vmin=0, vmax=1,
                  aspect='auto')
    a.set_yticks(range(len(labels)))
    a.set_yticklabels(labels, fontsize=8)
    a.set_xticks(np.arange(-0.5, n_runs), minor=True)
    a.set_yticks(np.arange(-0.5, len(labels)), minor=True)
    a.grid(which='minor', color='white', linewidth=1.2)
    a.tick_params(which='minor', length=0)
    a.tick_params(axis='x', which='major', length=0)
    for r in range(n_runs):
        for j in range(len(labels)):
            t = txt[r][j]
            a.text(r, j, t, ha='center', va='center', fontsize=8,
                   color='#b00000' if t == 'failed' else
                   ('#666666' if t in ('missing', '—') else 'black'),
                   fontstyle='italic' if t in ('missing', 'failed') else 'normal')
    return im


def _mark_families(ax, axm, cols: List[dict], n_runs: int) -> None:
    """Lines between the families of the dataset panel, family names on the right."""
    fams = [c['family'] for c in cols]
    for j in range(1, len(cols)):
        if fams[j] != fams[j - 1]:
            ax.axhline(j - 0.5, color='black', linewidth=1.2)
    for fam in dict.fromkeys(fams):
        idx = [j for j, f in enumerate(fams) if f == fam]
        if idx:
            ax.text(n_runs - 0.5 + 0.06, (idx[0] + idx[-1]) / 2, fam,
                    ha='left', va='center', fontsize=9, fontweight='bold')
    axm.text(n_runs - 0.5 + 0.06, (len(MEAN_COLUMNS) - 1) / 2, 'means',
             ha='left', va='center', fontsize=9, fontweight='bold')


def _heatmap_axes(plt, names: List[str], n_cols: int) -> tuple:
    """The heatmap's figure and its two panels, sized for ``names`` x ``n_cols`` cells.

    Returns:
        tuple: ``fig``, the dataset panel, the means panel and the geometry (inches:
        ``width``, ``height``, ``label_w``, ``cell_w``).
    """
    cell_w, cell_h = 1.05, 0.25
    label_w, right_w = 1.75, 0.7
    top_h = 0.45 + 0.16 * max(_wrap(n).count('\n') + 1 for n in names) if names else 0.8
    bottom_h = 1.05
    width = label_w + cell_w * max(1, len(names)) + right_w
    grid_h = cell_h * (n_cols + len(MEAN_COLUMNS) * 1.25) + 0.35
    height = top_h + grid_h + bottom_h
    fig = plt.figure(figsize=(width, height))
    gs = fig.add_gridspec(2, 1, height_ratios=[n_cols, 1.25 * len(MEAN_COLUMNS)],
                          hspace=0.35 / (grid_h / 2), left=label_w / width,
                          right=1 - right_w / width, bottom=bottom_h / height,
                          top=1 - top_h / height)
    ax = fig.add_subplot(gs[0])
    axm = fig.add_subplot(gs[1], sharex=ax)
    return fig, ax, axm, dict(width=width, height=height, label_w=label_w, cell_w=cell_w)


def _colorbar_and_title(fig, im, title: Optional[str], n_runs: int, geo: dict) -> None:
    """The worst .. best colour bar under the heatmap and the figure title above it."""
    width, height = geo['width'], geo['height']
    label_w, cell_w = geo['label_w'], geo['cell_w']
    cax = fig.add_axes([label_w / width, 0.5 / height,
                        min(3.0, cell_w * max(1, n_runs)) / width, 0.12 / height])
    cbar = fig.colorbar(im, cax=cax, orientation='horizontal', ticks=[0, 1])
    cbar.ax.set_xticklabels(['worst', 'best'], fontsize=7)
    cbar.set_label("colour: place in the row's range (↓ rows: lowest is best)",
                   fontsize=7)
    fig.suptitle(title or 'GV-B, 10% training data\n'
                 'accuracy / AP / mIoU in %, MR$^{-2}$ in % (↓), RMSE in m (↓)',
                 fontsize=9, x=(label_w + cell_w * max(1, n_runs) / 2) / width,
                 y=1 - 0.06 / height, va='top')


def plot_gvb_heatmap(table: dict, tasks: Iterable[Any], out_png: str,
                     title: Optional[str] = None) -> dict:
    """Draw ``report.png``: datasets down, runs across, values written in; family means
    in a panel below.

    Args:
        table (dict): :func:`~intern_mm.benchmark.report.build_table` output.
        tasks (Iterable[GVBTask]): The tasks of the rows (see :func:`heatmap_columns`).
        out_png (str): Where to write the figure.
        title (str, optional): Figure title.

    Returns:
        dict: What was drawn, indexed ``[run, dataset]``: ``rows`` (run names, left to
        right in the figure), ``columns`` (:func:`heatmap_columns` entries, top to
        bottom), ``values`` (NaN where empty), ``goodness`` (the colour scale, 0 the
        column's worst .. 1 its best), ``texts`` (the annotations), ``means`` /
        ``mean_goodness`` (runs x :data:`MEAN_COLUMNS`; NaN for a mean over part of
        its family, which is written ``(k/n)`` and left grey), ``panels`` (the two
        panels) and ``size_px``.
    """
    plt = _plt()
    cols = heatmap_columns(tasks)
    rows = table['rows']
    names = [r['name'] for r in rows]
    values, good, texts = _cell_data(rows, cols)
    means, mean_good, mean_texts = _mean_data(rows)

    cmap = _soft_cmap(plt)
    fig, ax, axm, geo = _heatmap_axes(plt, names, len(cols))
    im = None
    for a, gd, labels, txt in (
            (ax, good, [c['label'] for c in cols], texts),
            (axm, mean_good, [lbl.replace('\n', ' ') for _, lbl, _ in MEAN_COLUMNS],
             mean_texts)):
        im = _draw_grid(a, gd, labels, txt, len(rows), cmap)
    ax.xaxis.tick_top()
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_wrap(n) for n in names], fontsize=8)
    plt.setp(axm.get_xticklabels(), visible=False)
    _mark_families(ax, axm, cols, len(rows))
    _colorbar_and_title(fig, im, title, len(rows), geo)
    dpi = 110
    fig.savefig(out_png, dpi=dpi)
    plt.close(fig)
    return dict(rows=names, columns=cols, values=values, goodness=good, texts=texts,
                means=means, mean_goodness=mean_good,
                panels=['datasets', 'family means'],
                size_px=(int(geo['width'] * dpi), int(geo['height'] * dpi)))


def improvement(run_value: float, ref_value: float, lower_is_better: bool) -> float:
    """``run − ref``, or ``ref − run`` for a lower-is-better metric (> 0: run is better)."""
    return ref_value - run_value if lower_is_better else run_value - ref_value


def _improvements(run_row: dict, ref_row: dict, cols: List[dict]) -> Dict[str, list]:
    """Per family (in the order of ``cols``), the datasets both rows have, best
    improvement first."""
    panels: Dict[str, list] = {}
    for c in cols:
        run_v, ref_v = _value(run_row, c), _value(ref_row, c)
        if run_v is None or ref_v is None:
            continue
        panels.setdefault(c['family'], []).append(dict(
            key=c['key'], label=c['label'], run=run_v, ref=ref_v,
            lower_is_better=c['lower_is_better'],
            improvement=improvement(run_v, ref_v, c['lower_is_better'])))
    for fam in panels:
        panels[fam].sort(key=lambda e: -e['improvement'])
    return panels


def _draw_improvements(ax, fam: str, items: List[dict], ref_name: str) -> None:
    """One family's panel of :func:`plot_run_vs_reference`."""
    y = np.arange(len(items))
    imp = np.array([e['improvement'] for e in items])
    ax.barh(y, imp, color=['#2a9d4a' if v >= 0 else '#c0392b' for v in imp])
    ax.axvline(0, color='black', linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{e['label']}  ({_fmt(e['run'], fam)} vs "
                        f"{_fmt(e['ref'], fam)})" for e in items], fontsize=8)
    span = max(1e-9, float(np.abs(imp).max()))
    ax.set_xlim(-1.25 * span, 1.25 * span)
    for yi, v in zip(y, imp):
        ax.text(v + (0.02 if v >= 0 else -0.02) * span, yi,
                f'{v:+.3f}' if fam == 'depth' else f'{v:+.1f}',
                va='center', ha='left' if v >= 0 else 'right', fontsize=7)
    flips = {e['lower_is_better'] for e in items}
    formula = ('reference − run' if flips == {True} else 'run − reference' +
               ('; ↓ rows: reference − run' if True in flips else ''))
    ax.set_xlabel(f'improvement over {ref_name} in {_UNITS[fam]} (> 0: run better)\n'
                  f'= {formula}', fontsize=8)
    ax.set_ylim(max(len(items), 3) - 0.5, -0.5)
    ax.set_title(f'{fam}', fontsize=9, loc='left', fontweight='bold')
    ax.tick_params(axis='x', labelsize=7)
    ax.grid(axis='x', alpha=0.3)


def plot_run_vs_reference(run_row: dict, ref_row: dict, tasks: Iterable[Any],
                          out_png: str) -> Dict[str, list]:
    """Draw the run's improvement over a reference row, per dataset, one panel per family.

    Args:
        run_row (dict): A row of the report table (``source == 'run'``).
        ref_row (dict): The reference row (e.g. ``Up-G/MN-B4 (published)``).
        tasks (Iterable[GVBTask]): The tasks compared (see :func:`heatmap_columns`).
        out_png (str): Where to write the figure.

    Returns:
        dict: ``{family: [{'key', 'label', 'improvement', 'run', 'ref',
        'lower_is_better'}, ...]}`` in drawn order (top to bottom = best to worst),
        families with no common dataset left out.
    """
    plt = _plt()
    panels = _improvements(run_row, ref_row, heatmap_columns(tasks))
    fams = list(panels)
    n_bars = [len(panels[f]) for f in fams] or [1]
    height = 1.0 + sum(0.3 * max(n, 3) + 1.1 for n in n_bars)
    fig, axes = plt.subplots(len(fams) or 1, 1, figsize=(8.5, height), squeeze=False,
                             gridspec_kw=dict(height_ratios=[max(n, 3) + 2.2 for n in n_bars]))
    ref_name = ref_row['name'].replace(' (published)', '')
    for ax, fam in zip(axes[:, 0], fams):
        _draw_improvements(ax, fam, panels[fam], ref_name)
    if not fams:
        axes[0, 0].text(0.5, 0.5, f'no dataset in common with {ref_name}', ha='center',
                        va='center')
        axes[0, 0].set_axis_off()
    absent = [f"{sum(v == k for v in run_row['cells'].values())} {k}"
              for k in ('failed', 'missing') if k in run_row['cells'].values()]
    fig.suptitle(f"{run_row['name']} vs {ref_name} (published), per dataset "
                 '(labels: run vs reference)' +
                 (f"\nnot shown: {', '.join(absent)} task(s)" if absent else ''),
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return {f: panels[f] for f in fams}
