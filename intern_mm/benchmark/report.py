"""GV-B report: Markdown, CSV, JSON and a PNG plot in the published table's layout.

Rows are runs (``work_dirs/gvb/<run-name>/``) followed by comparison rows of the
published table; columns are the 26 GV-B datasets in the published order, then family
means. Tasks whose data were missing are shown as ``missing`` and listed, with their
prepare commands, below the table; stand-in tasks (raccoon, CamVid) get their own table.

Family means (the direction of each is stated in the header):

* ``cls_mean``: mean of the 20 classification columns (top-1 / mean per-class);
* ``det_mean``: mean of VOC07+12 mAP and the mean WIDER FACE Easy/Medium/Hard AP
  (CityPersons MR^-2 is lower-is-better and is left out);
* ``seg_mean``: VOC2012 mIoU;
* ``depth_mean``: mean RMSE of KITTI and NYUv2 (lower is better).

A mean over fewer columns than the family has is marked ``(k/n)``.

Example:
    >>> from intern_mm.benchmark.report import write_report
    >>> paths = write_report('work_dirs/gvb', out_dir='work_dirs/gvb/report')
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .official import load_official_results
from .suite import MISSING_NAME, RESULT_NAME
from .tasks import GVB_TASKS

__all__ = ['collect_runs', 'build_table', 'write_report', 'format_cell', 'parse_cell',
           'FAMILY_MEANS']

FAMILY_MEANS = ('cls_mean', 'det_mean', 'seg_mean', 'depth_mean')
#: marks cells computed with approximated WIDER FACE Easy/Medium/Hard sets
APPROX_MARK = '†'
_MEAN_HEADERS = dict(cls_mean='cls mean ↑', det_mean='det mean ↑', seg_mean='seg mean ↑',
                     depth_mean='depth mean (RMSE ↓)')


def _columns() -> List[str]:
    return [t.column for t in GVB_TASKS.values()]


def format_cell(task_name: str, score) -> str:
    """Published-table formatting of a score.

    Args:
        task_name (str): GV-B task (column) name.
        score (float | dict | None): The score.

    Returns:
        str: e.g. ``'92.4'``, ``'90.3/88.3/70.7'``, ``'24.6/59.0'``, ``'3.181'``.
    """
    if score is None:
        return ''
    if isinstance(score, dict):
        return '/'.join(f'{float(v):.1f}' for v in score.values())
    task = GVB_TASKS.get(task_name)
    if task is not None and task.family == 'depth':
        return f'{float(score):.3f}'
    return f'{float(score):.1f}' if task is None or task.family != 'seg' else \
        f'{float(score):.2f}'


def parse_cell(value: str) -> Optional[List[float]]:
    """Numbers of a published cell (``'90.3/88.3/70.7'`` -> three floats)."""
    if value is None or str(value).strip() in ('', 'missing', '-'):
        return None
    return [float(v) for v in str(value).split('/')]


def collect_runs(work_dir: str, runs: Optional[Sequence[str]] = None) -> List[dict]:
    """Read every run folder's results.

    Args:
        work_dir (str): Root holding ``<run-name>/<task>/result.json``.
        runs (Sequence[str], optional): Run names (default: every sub-folder with results).

    Returns:
        list[dict]: ``{'name', 'results': {task: result}, 'missing': {task: info}}``.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir} does not exist')
    names = list(runs) if runs else sorted(
        d for d in os.listdir(work_dir) if osp.isdir(osp.join(work_dir, d)))
    collected = []
    for name in names:
        run_dir = osp.join(work_dir, name)
        if not osp.isdir(run_dir):
            raise FileNotFoundError(f'run {run_dir} does not exist')
        results, missing = {}, {}
        for task in sorted(os.listdir(run_dir)):
            tdir = osp.join(run_dir, task)
            if osp.isfile(osp.join(tdir, RESULT_NAME)):
                with open(osp.join(tdir, RESULT_NAME)) as f:
                    results[task] = json.load(f)
            elif osp.isfile(osp.join(tdir, MISSING_NAME)):
                with open(osp.join(tdir, MISSING_NAME)) as f:
                    missing[task] = json.load(f)
        if results or missing:
            collected.append(dict(name=name, results=results, missing=missing))
    return collected


def _family_means(values: Dict[str, Optional[List[float]]]) -> Dict[str, Optional[str]]:
    def mean(cols, reduce_each=np.mean):
        got = [float(reduce_each(values[c])) for c in cols if values.get(c)]
        if not got:
            return None
        text = f'{np.mean(got):.{3 if cols[0].endswith("depth") else 1}f}'
        return text if len(got) == len(cols) else f'{text} ({len(got)}/{len(cols)})'

    cls_cols = [t.column for t in GVB_TASKS.values() if t.family == 'cls']
    return dict(cls_mean=mean(cls_cols), det_mean=mean(['voc0712_det', 'widerface_det']),
                seg_mean=mean(['voc2012_seg']),
                depth_mean=mean(['kitti_depth', 'nyuv2_depth']))


def build_table(runs: List[dict], official: Optional[List[dict]] = None,
                compare: Optional[Sequence[str]] = None) -> dict:
    """The report table.

    Args:
        runs (list[dict]): :func:`collect_runs` output.
        official (list[dict], optional): Published rows (``stage``, ``model``, columns).
        compare (Sequence[str], optional): ``'stage/model'`` names of the published rows
            to include (default: all).

    Returns:
        dict: ``columns``, ``rows`` (``name``, ``source``, ``cells``, ``means``,
        ``numbers``), ``missing`` (run -> task -> prepare command) and ``extra`` rows
        of stand-in tasks.
    """
    columns = _columns()
    rows, missing, extra = [], {}, []
    for run in runs:
        if not run['missing'] and not any(
                r.get('in_gvb', True) for r in run['results'].values()):
            rows_extra_only = True
        else:
            rows_extra_only = False
        cells, numbers = {}, {}
        for col in columns:
            res = run['results'].get(col)
            if res is not None:
                cells[col] = format_cell(col, res['score'])
                numbers[col] = parse_cell(cells[col])
                if res.get('metrics', {}).get('approx_lists'):
                    cells[col] += APPROX_MARK  # WIDER FACE without the official lists
            elif col in run['missing']:
                cells[col] = 'missing'
                numbers[col] = None
            else:
                cells[col] = ''
                numbers[col] = None
        if not rows_extra_only:
            rows.append(dict(name=run['name'], source='run', cells=cells,
                             numbers=numbers, means=_family_means(numbers)))
        if run['missing']:
            missing[run['name']] = {k: v['prepare'] for k, v in run['missing'].items()}
        for task, res in run['results'].items():
            if not res.get('in_gvb', True):
                extra.append(dict(run=run['name'], task=task, title=res.get('title'),
                                  metric=res['metric'], score=res['score'],
                                  metrics=res['metrics']))
    for row in official or []:
        name = f"{row['stage']}/{row['model']}"
        if compare and name not in compare:
            continue
        cells = {c: row.get(c, '') for c in columns}
        numbers = {c: parse_cell(v) for c, v in cells.items()}
        rows.append(dict(name=f'{name} (published)', source='official', cells=cells,
                         numbers=numbers, means=_family_means(numbers)))
    return dict(columns=columns, rows=rows, missing=missing, extra=extra)


def _markdown(table: dict) -> str:
    cols = table['columns']
    header = ['run'] + cols + [_MEAN_HEADERS[m] for m in FAMILY_MEANS]
    lines = ['# GV-B results', '',
             'Classification: top-1 (mean per-class for pets, flowers102, caltech101, '
             'aircraft); voc0712_det mAP; widerface_det Easy/Medium/Hard AP; '
             'citypersons_det MR^-2 Reasonable/Heavy (lower is better); voc2012_seg mIoU; '
             'depth RMSE (lower is better).', '',
             '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in table['rows']:
        vals = [row['cells'][c] or '—' for c in cols] + \
            [row['means'][m] or '—' for m in FAMILY_MEANS]
        lines.append('| ' + ' | '.join([row['name']] + vals) + ' |')
    if any(APPROX_MARK in str(v) for row in table['rows'] for v in row['cells'].values()):
        lines += ['', f'{APPROX_MARK} WIDER FACE Easy/Medium/Hard sets approximated from '
                  'the annotations (no `wider_face_val.mat`); not comparable to published '
                  'numbers.']
    if table['extra']:
        lines += ['', '## Stand-in tasks (not part of the 26)', '',
                  '| run | task | metric | score |', '|---|---|---|---|']
        for e in table['extra']:
            score = e['score'] if not isinstance(e['score'], float) else f"{e['score']:.2f}"
            lines.append(f"| {e['run']} | {e['task']} | {e['metric']} | {score} |")
    if table['missing']:
        lines += ['', '## Missing datasets', '']
        for run, tasks in table['missing'].items():
            for task, cmd in tasks.items():
                lines.append(f'- `{run}` / **{task}**: prepare with `{cmd}`')
    return '\n'.join(lines) + '\n'


def _plot(table: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cls_cols = [t.column for t in GVB_TASKS.values() if t.family == 'cls']
    rows = table['rows']
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(cls_cols) * max(1, len(rows)) / 3),
                                    4.5))
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(cls_cols))
    for i, row in enumerate(rows):
        vals = [row['numbers'][c][0] if row['numbers'].get(c) else np.nan
                for c in cls_cols]
        ax.bar(x + i * width, vals, width, label=row['name'])
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels(cls_cols, rotation=60, ha='right', fontsize=8)
    ax.set_ylabel('accuracy (%)')
    ax.set_title('GV-B classification (10% data)')
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(work_dir: str,
                 out_dir: Optional[str] = None,
                 runs: Optional[Sequence[str]] = None,
                 official_path: Optional[str] = None,
                 compare: Optional[Sequence[str]] = None,
                 with_official: bool = True) -> Dict[str, str]:
    """Write ``report.md``, ``report.csv``, ``report.json`` and ``report.png``.

    Args:
        work_dir (str): Root of the runs.
        out_dir (str, optional): Output folder. Defaults to ``<work_dir>/report``.
        runs (Sequence[str], optional): Run names (default: all).
        official_path (str, optional): Published-results CSV (default: the shared
            reference, else the built-in copy).
        compare (Sequence[str], optional): Published rows to include (``stage/model``).
        with_official (bool): Include published rows. Defaults to True.

    Returns:
        dict: Paths of the written files (``md``, ``csv``, ``json``, ``png``).
    """
    runs_data = collect_runs(work_dir, runs)
    if not runs_data:
        raise FileNotFoundError(f'no GV-B results under {work_dir}')
    official = load_official_results(official_path) if with_official else None
    table = build_table(runs_data, official, compare)
    out_dir = out_dir or osp.join(work_dir, 'report')
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, f'report.{k}') for k in ('md', 'csv', 'json', 'png')}
    with open(paths['md'], 'w') as f:
        f.write(_markdown(table))
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'source'] + table['columns'] + list(FAMILY_MEANS))
        for row in table['rows']:
            writer.writerow([row['name'], row['source']] +
                            [row['cells'][c] for c in table['columns']] +
                            [row['means'][m] or '' for m in FAMILY_MEANS])
    with open(paths['json'], 'w') as f:
        json.dump(dict(table, runs={r['name']: r['results'] for r in runs_data}), f,
                  indent=1, default=repr)
    _plot(table, paths['png'])
    return paths
