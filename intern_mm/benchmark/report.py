"""GV-B report: Markdown, CSV, JSON and PNG figures in the published table's layout.

Rows are runs (``work_dirs/gvb/<run-name>/``) followed by comparison rows of the
published table; columns are the 26 GV-B datasets in the published order, then family
means. Tasks whose data were missing are shown as ``missing`` and listed, with their
prepare commands, below the table; tasks that raised are shown as ``failed`` and listed
with their error and retry command; stand-in tasks (raccoon, CamVid) get their own table.

Figures (:mod:`intern_mm.visualization.gvb_figures`): ``report.png`` is a heatmap of runs
x datasets with the values written in and the family means beside it (published rows:
``compare``, default :data:`DEFAULT_FIGURE_COMPARE`); ``report_vs_<run>.png`` shows each
run's improvement over one published ``reference`` row per dataset, sorted, the sign
flipped for the lower-is-better columns.

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
from .task_records import FAILED_NAME, MISSING_NAME, RESULT_NAME
from .tasks import GVB_TASKS

__all__ = ['collect_runs', 'build_table', 'write_report', 'format_cell', 'parse_cell',
           'family_means', 'FAMILY_MEANS', 'DEFAULT_FIGURE_COMPARE', 'DEFAULT_REFERENCE']

#: Published rows of the figures when ``compare`` is not given.
DEFAULT_FIGURE_COMPARE = ('Up-A/MN-B4', 'Up-E/C-MN-B4', 'Up-G/MN-B4')
#: Published row the runs are compared with in ``report_vs_<run>.png``.
DEFAULT_REFERENCE = 'Up-G/MN-B4'

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
        list[dict]: ``{'name', 'results': {task: result}, 'missing': {task: info},
        'failed': {task: failed.json}}`` (a task with ``result.json`` counts as done).
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
        results, missing, failed = {}, {}, {}
        for task in sorted(os.listdir(run_dir)):
            tdir = osp.join(run_dir, task)
            for fname, into in ((RESULT_NAME, results), (FAILED_NAME, failed),
                                (MISSING_NAME, missing)):
                if osp.isfile(osp.join(tdir, fname)):
                    with open(osp.join(tdir, fname)) as f:
                        into[task] = json.load(f)
                    break
        if results or missing or failed:
            collected.append(dict(name=name, results=results, missing=missing,
                                  failed=failed))
    return collected


def family_means(values: Dict[str, Optional[List[float]]]) -> Dict[str, dict]:
    """The family means of one row (see the module docstring for their definitions).

    Args:
        values (dict): Column -> numbers of the cell (None when empty).

    Returns:
        dict: ``{mean name: {'value': float | None, 'got': k, 'of': n}}``.
    """
    def mean(cols):
        got = [float(np.mean(values[c])) for c in cols if values.get(c)]
        return dict(value=float(np.mean(got)) if got else None, got=len(got),
                    of=len(cols))

    cls_cols = [t.column for t in GVB_TASKS.values() if t.family == 'cls']
    return dict(cls_mean=mean(cls_cols), det_mean=mean(['voc0712_det', 'widerface_det']),
                seg_mean=mean(['voc2012_seg']),
                depth_mean=mean(['kitti_depth', 'nyuv2_depth']))


def _family_means(values: Dict[str, Optional[List[float]]]) -> Dict[str, Optional[str]]:
    texts = {}
    for name, m in family_means(values).items():
        if m['value'] is None:
            texts[name] = None
            continue
        text = f"{m['value']:.{3 if name == 'depth_mean' else 1}f}"
        texts[name] = text if m['got'] == m['of'] else f"{text} ({m['got']}/{m['of']})"
    return texts


def _run_cells(run: dict, columns: List[str]) -> tuple:
    """A run's ``cells`` (text per column) and ``numbers`` (parsed, None when empty)."""
    run_failed = run.get('failed', {})
    cells, numbers = {}, {}
    for col in columns:
        res = run['results'].get(col)
        if res is not None:
            cells[col] = format_cell(col, res['score'])
            numbers[col] = parse_cell(cells[col])
            if res.get('metrics', {}).get('approx_lists'):
                cells[col] += APPROX_MARK  # WIDER FACE without the official lists
        elif col in run_failed:
            cells[col] = 'failed'
            numbers[col] = None
        elif col in run['missing']:
            cells[col] = 'missing'
            numbers[col] = None
        else:
            cells[col] = ''
            numbers[col] = None
    return cells, numbers


def _official_rows(official: Optional[List[dict]], compare: Optional[Sequence[str]],
                   columns: List[str]) -> List[dict]:
    """The published rows named by ``compare`` (all when empty) as table rows."""
    known = [f"{row['stage']}/{row['model']}" for row in official or []]
    unknown = [c for c in compare or [] if c not in known]
    if unknown:
        raise ValueError(f'--compare: no published row {", ".join(unknown)}; '
                         f'rows: {" ".join(known)}')
    rows = []
    for row in official or []:
        name = f"{row['stage']}/{row['model']}"
        if compare and name not in compare:
            continue
        cells = {c: row.get(c, '') for c in columns}
        numbers = {c: parse_cell(v) for c, v in cells.items()}
        rows.append(dict(name=f'{name} (published)', source='official', cells=cells,
                         numbers=numbers, means=_family_means(numbers)))
    return rows


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
        ``numbers``), ``missing`` (run -> task -> prepare command), ``failed``
        (run -> task -> ``failed.json``) and ``extra`` rows of stand-in tasks.

    Raises:
        ValueError: If ``compare`` names a row the published table lacks.
    """
    columns = _columns()
    rows, missing, extra, failed = [], {}, [], {}
    for run in runs:
        run_failed = run.get('failed', {})
        if not run['missing'] and not any(
                r.get('in_gvb', True) for r in run['results'].values()) and not any(
                f.get('in_gvb', True) for f in run_failed.values()):
            rows_extra_only = True
        else:
            rows_extra_only = False
        cells, numbers = _run_cells(run, columns)
        if not rows_extra_only:
            rows.append(dict(name=run['name'], source='run', cells=cells,
                             numbers=numbers, means=_family_means(numbers)))
        if run['missing']:
            missing[run['name']] = {k: v['prepare'] for k, v in run['missing'].items()}
        if run_failed:
            failed[run['name']] = run_failed
        for task, res in run['results'].items():
            if not res.get('in_gvb', True):
                extra.append(dict(run=run['name'], task=task, title=res.get('title'),
                                  metric=res['metric'], score=res['score'],
                                  metrics=res['metrics']))
    rows += _official_rows(official, compare, columns)
    for row in rows:
        row['mean_values'] = {k: v['value'] for k, v in family_means(row['numbers']).items()}
    return dict(columns=columns, rows=rows, missing=missing, failed=failed, extra=extra)


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
    if table.get('failed'):
        lines += ['', '## Failed tasks', '',
                  'The task raised; its folder holds `failed.json` and the traceback. '
                  'Rerunning the run command retries it.', '']
        for run, tasks in table['failed'].items():
            for task, info in tasks.items():
                lines.append(f"- `{run}` / **{task}**: {info.get('error', '?')} "
                             f"(traceback: `{info.get('traceback')}`); retry: "
                             f"`{info.get('retry')}`")
    if table['missing']:
        lines += ['', '## Missing datasets', '']
        for run, tasks in table['missing'].items():
            for task, cmd in tasks.items():
                lines.append(f'- `{run}` / **{task}**: prepare with `{cmd}`')
    return '\n'.join(lines) + '\n'


def _reference_row(official: Optional[List[dict]], reference: Optional[str]) -> Optional[dict]:
    """The published row the runs are compared with (None without published rows)."""
    ref_name = reference or DEFAULT_REFERENCE
    ref_row = None
    if official:
        known = [f"{r['stage']}/{r['model']}" for r in official]
        if ref_name not in known:
            raise ValueError(f'--reference: no published row {ref_name}; '
                             f'rows: {" ".join(known)}')
        ref_row = build_table([], official, [ref_name])['rows'][0]
    elif reference:
        raise ValueError('--reference needs the published rows (drop --no-official)')
    return ref_row


def _write_csv(path: str, table: dict) -> None:
    """``report.csv``: one line per row, the cells then the family means."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'source'] + table['columns'] + list(FAMILY_MEANS))
        for row in table['rows']:
            writer.writerow([row['name'], row['source']] +
                            [row['cells'][c] for c in table['columns']] +
                            [row['means'][m] or '' for m in FAMILY_MEANS])


def _plot_vs_reference(table: dict, ref_row: dict, out_dir: str) -> Dict[str, str]:
    """``report_vs_<run>.png`` per run with GV-B numbers; returns ``{'vs:<run>': path}``."""
    from intern_mm.visualization.gvb_figures import plot_run_vs_reference
    paths = {}
    for row in table['rows']:
        if row['source'] == 'run' and any(row['numbers'].values()):
            safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in row['name'])
            path = osp.join(out_dir, f'report_vs_{safe}.png')
            plot_run_vs_reference(row, ref_row, GVB_TASKS.values(), path)
            paths[f"vs:{row['name']}"] = path
    return paths


def write_report(work_dir: str,
                 out_dir: Optional[str] = None,
                 runs: Optional[Sequence[str]] = None,
                 official_path: Optional[str] = None,
                 compare: Optional[Sequence[str]] = None,
                 with_official: bool = True,
                 reference: Optional[str] = None) -> Dict[str, str]:
    """Write ``report.{md,csv,json,png}`` and ``report_vs_<run>.png`` per run.

    Args:
        work_dir (str): Root of the runs.
        out_dir (str, optional): Output folder. Defaults to ``<work_dir>/report``.
        runs (Sequence[str], optional): Run names (default: all).
        official_path (str, optional): Published-results CSV (default: the shared
            reference, else the built-in copy).
        compare (Sequence[str], optional): Published rows to include (``stage/model``).
            Defaults to every row in the tables and :data:`DEFAULT_FIGURE_COMPARE` in
            the heatmap.
        with_official (bool): Include published rows. Defaults to True.
        reference (str, optional): Published row (``stage/model``) the runs are
            compared with. Defaults to :data:`DEFAULT_REFERENCE`.

    Returns:
        dict: Paths of the written files (``md``, ``csv``, ``json``, ``png`` and
        ``vs:<run>`` per run with GV-B results).

    Raises:
        FileNotFoundError: If there are no results under ``work_dir``.
        ValueError: If ``compare`` or ``reference`` names no published row.
    """
    runs_data = collect_runs(work_dir, runs)
    if not runs_data:
        raise FileNotFoundError(f'no GV-B results under {work_dir}')
    official = load_official_results(official_path) if with_official else None
    table = build_table(runs_data, official, compare)
    fig_table = table if compare or not official else build_table(
        runs_data, official, DEFAULT_FIGURE_COMPARE)
    ref_row = _reference_row(official, reference)
    out_dir = out_dir or osp.join(work_dir, 'report')
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, f'report.{k}') for k in ('md', 'csv', 'json', 'png')}
    with open(paths['md'], 'w') as f:
        f.write(_markdown(table))
    _write_csv(paths['csv'], table)
    with open(paths['json'], 'w') as f:
        json.dump(dict(table, runs={r['name']: r['results'] for r in runs_data}), f,
                  indent=1, default=repr)
    from intern_mm.visualization.gvb_figures import plot_gvb_heatmap
    plot_gvb_heatmap(fig_table, GVB_TASKS.values(), paths['png'])
    if ref_row is not None:
        paths.update(_plot_vs_reference(table, ref_row, out_dir))
    return paths
