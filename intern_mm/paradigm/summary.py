"""Summary (JSON + Markdown) of a paradigm run: stages and the Downstream-Adaptation claim.

``summary["adaptation"][row][backbone][protocol]`` holds ``score`` (test), ``metric``,
``lower_is_better``, ``fraction`` (plus ``val_score``, the ``stage`` it came from and
the run's ``task`` and ``family``) for the rows -- the families ``cls`` / ``det`` /
``seg`` / ``depth`` (the GV world's tasks) and the ``downstream.tasks`` rows (GV-B
tasks) --, backbones ``up-a``, ``best-up-e``, ``up-g``, ``distilled`` (protocols
``probe``, ``finetune``, ``ota``) and ``scratch`` (protocols ``10pct``, ``100pct``).
``summary["claim"]`` answers, per row, whether the 10%-adapted generalist (its best
protocol, chosen on val) beats full-data scratch, and compares Up-G with its parents on
the mean relative score over the rows. With a ``leak_check`` record that reports
leaked images, the claim's verdict line says it was computed with them.

Example:
    >>> claim = claim_table(adaptation_table(downstream))  # doctest: +SKIP
    >>> claim['families']['c10']['line']  # doctest: +SKIP
    'c10 (cifar10, cls): Up-G adapted with 10% (finetune, chosen on val) ...'
"""
import math
import os.path as osp
import time
from typing import Dict, List, Optional

from intern_mm.benchmark.gv_world_tasks import GV_WORLD_TASK_OF_FAMILY
from intern_mm.utils.run_record import dump_json
from .leak import leak_lines

__all__ = ['build_summary', 'render_markdown', 'write_summary', 'adaptation_table',
           'claim_table', 'relative_score', 'row_label', 'leaked_images', 'counterpart',
           'figure_table', 'COUNTERPART_ROLES']

#: Display names of the backbone roles.
ROLE_LABELS = {'up-a': 'Up-A', 'best-up-e': 'best Up-E', 'up-g': 'Up-G',
               'distilled': 'distilled (student of Up-G)', 'scratch': 'scratch (Up-G arch.)'}
GENERALIST = 'up-g'


def adaptation_table(downstream: dict) -> Dict[str, Dict[str, Dict[str, dict]]]:
    """``[row][backbone][protocol] -> {score, metric, lower_is_better, fraction, ...}``.

    Args:
        downstream (dict): :meth:`ParadigmPipeline.run_downstream`'s result.

    Returns:
        dict: The table (runs that did not happen are left out).
    """
    table: Dict[str, Dict[str, Dict[str, dict]]] = {}
    for row, roles in (downstream.get('results') or {}).items():
        for role, entry in roles.items():
            for protocol, run in entry['runs'].items():
                if protocol == 'candidates' or 'test_score' not in run:
                    continue
                table.setdefault(row, {}).setdefault(role, {})[protocol] = dict(
                    score=float(run['test_score']), metric=run['metric'],
                    lower_is_better=bool(run['lower_is_better']),
                    fraction=float(run['fraction']), val_score=float(run['val_score']),
                    stage=entry['stage'], task=run.get('task'), family=run.get('family'))
    return table


def row_label(row: str, entry: dict) -> str:
    """How a row is named in the claim: a family row of the GV world by its family
    (``cls``), any other row with its task and family (``c10 (cifar10, cls)``).

    Args:
        row (str): Row name.
        entry (dict): One of its adaptation entries (``task``, ``family`` when known).

    Returns:
        str: The label.

    Example:
        >>> row_label('cls', dict(task='gvw_count_cls', family='cls'))
        'cls'
        >>> row_label('c10', dict(task='cifar10', family='cls'))
        'c10 (cifar10, cls)'
    """
    task, family = entry.get('task'), entry.get('family')
    if task is None or GV_WORLD_TASK_OF_FAMILY.get(row) == task:
        return row
    return f'{row} ({task}, {family})' if row != task else f'{row} ({family})'


def leaked_images(leak_check: Optional[dict]) -> int:
    """The number of downstream images that the leak check found upstream.

    Reads the record's ``leaked_images`` (a count or a list of files; what
    :func:`~intern_mm.paradigm.leak.pipeline_leak_check` writes), else
    ``counts['leaked_downstream_images']`` of a
    :class:`~intern_mm.datasets.gvd.leak_check.LeakReport` JSON, else the distinct
    ``downstream`` files of its ``leaks``.

    Args:
        leak_check (dict, optional): ``summary['leak_check']``.

    Returns:
        int: The count (0 without a record).

    Example:
        >>> leaked_images(dict(leaks=[dict(upstream='a.jpg', downstream='b.jpg'),
        ...                           dict(upstream='c.jpg', downstream='b.jpg')]))
        1
    """
    if not leak_check:
        return 0
    leaked = leak_check.get('leaked_images')
    if leaked is None:
        leaked = (leak_check.get('counts') or {}).get('leaked_downstream_images')
    if leaked is not None:
        return leaked if isinstance(leaked, int) else len(leaked)
    return len({p.get('downstream') for p in leak_check.get('leaks') or []})


def relative_score(score: float, reference: float, lower_is_better: bool) -> float:
    """Gain over a reference in % of it (positive = better, for either direction).

    Example:
        >>> relative_score(55.0, 50.0, False), round(relative_score(0.9, 1.0, True), 6)
        (10.0, 10.0)
    """
    if not reference:
        return float('nan')
    gain = (reference - score) if lower_is_better else (score - reference)
    return 100.0 * gain / abs(reference)


def _best_on_val(protocols: Dict[str, dict]) -> Optional[str]:
    """The protocol with the best val score (adaptation protocols only)."""
    cands = {p: r for p, r in protocols.items() if p in ('probe', 'finetune', 'ota')}
    if not cands:
        return None
    lower = next(iter(cands.values()))['lower_is_better']
    return (min if lower else max)(cands, key=lambda p: cands[p]['val_score'])


#: Roles trained on 100% that the claim compares against (the counterparts).
COUNTERPART_ROLES = ('scratch', 'conventional')


def counterpart(roles: Dict[str, Dict[str, dict]]) -> Optional[dict]:
    """The counterpart of a row: of every 100% run of the counterpart roles (scratch and
    conventional pre-training, every schedule of their grids), the best on val (ties:
    scratch, then the shorter schedule).

    Args:
        roles (dict): ``adaptation[row]``.

    Returns:
        dict | None: The run's table entry with ``role``, ``run`` (its protocol key,
        e.g. ``'100pct_3x'``), ``label`` and ``candidates`` (role -> its best 100% run
        on val: ``run``, ``score``, ``val_score``); None without a 100% run.

    Example:
        >>> run = lambda s, v: dict(score=s, val_score=v, lower_is_better=False,
        ...                         fraction=1.0)
        >>> ref = counterpart({'scratch': {'100pct': run(70, 60)},
        ...                    'conventional': {'100pct_3x': run(75, 58)}})
        >>> ref['role'], ref['candidates']['conventional']['score']
        ('scratch', 75)
    """
    cands = [(role, key, run) for role in COUNTERPART_ROLES
             for key, run in (roles.get(role) or {}).items() if run.get('fraction') == 1.0]
    if not cands:
        return None
    lower = cands[0][2]['lower_is_better']
    key = (lambda c: c[2]['val_score']) if all('val_score' in c[2] for c in cands) else None
    pick = (lambda cs: (min if lower else max)(cs, key=key) if key else cs[0])
    role, name, run = pick(cands)
    sched = name.split('_')[1] if '_' in name else '1x'
    label = ('scratch on 100%' if len(cands) == 1 and role == 'scratch' else
             f'the counterpart on 100% ({role}, {sched} schedule, chosen on val)')
    candidates = {}
    for kind in COUNTERPART_ROLES:
        own = [c for c in cands if c[0] == kind]
        if own:
            _, k_name, k_run = pick(own)
            candidates[kind] = dict(run=k_name, score=k_run['score'],
                                    val_score=k_run.get('val_score'))
    return dict(run, role=role, run=name, label=label, candidates=candidates)


def claim_table(adaptation: dict, leak_check: Optional[dict] = None) -> dict:
    """Per row: does the 10%-adapted generalist beat the counterpart trained on 100%
    (:func:`counterpart`)? And the mean relative score (vs that counterpart) of every
    adapted backbone over the rows.

    Args:
        adaptation (dict): :func:`adaptation_table`'s result.
        leak_check (dict, optional): The summary's ``leak_check`` record; when it
            reports leaked images, the verdict line (``verdict``) says so.

    Returns:
        dict: ``families`` (per row: ``row``, ``task``, ``family``, chosen protocol,
        ``score``, ``counterpart`` (role, run, score, val score and ``candidates``: each
        counterpart role's best run on val), ``margin`` (Up-G minus
        the counterpart, positive = Up-G better), ``metric``, ``lower_is_better``,
        ``beats_counterpart``, ``line``), ``mean_relative`` (backbone -> mean % gain over
        the counterpart, each backbone at its protocol chosen on val),
        ``generalist_beats`` (count), ``num_families`` (rows), ``up_g_vs_parents``
        (``{parent: bool}``), ``verdict`` (the line over the rows) and
        ``leaked_images``.
    """
    families, rel = {}, {}
    for row, roles in adaptation.items():
        ref = counterpart(roles)
        for role, protocols in roles.items():
            if role in COUNTERPART_ROLES or ref is None:
                continue
            best = _best_on_val(protocols)
            if best is None:
                continue
            run = protocols[best]
            rel.setdefault(role, {})[row] = relative_score(
                run['score'], ref['score'], run['lower_is_better'])
            if role == GENERALIST:
                families[row] = _claim_row(row, best, run, ref)
    n_fam = len(families)
    mean_rel = {role: sum(v.values()) / len(v) for role, v in rel.items()
                if len(v) == n_fam and n_fam}
    vs_parents = {}
    if GENERALIST in mean_rel:
        for parent in ('up-a', 'best-up-e'):
            if parent in mean_rel:
                vs_parents[parent] = mean_rel[GENERALIST] >= mean_rel[parent]
    beats = sum(f['beats_counterpart'] for f in families.values())
    claim = dict(families=families, mean_relative=mean_rel, generalist_beats=beats,
                 num_families=n_fam, up_g_vs_parents=vs_parents)
    if families:
        claim['verdict'] = _verdict(families, beats, leaked_images(leak_check))
    if leak_check is not None:
        claim['leaked_images'] = leaked_images(leak_check)
    return claim


def _claim_row(row: str, best: str, run: dict, ref: dict) -> dict:
    """The claim entry of one row: Up-G at ``best`` (chosen on val) vs the counterpart."""
    low = run['lower_is_better']
    margin = (ref['score'] - run['score']) if low else (run['score'] - ref['score'])
    better = margin > 0
    entry = dict(
        protocol=best, score=run['score'], val_score=run['val_score'],
        counterpart=dict(role=ref['role'], run=ref['run'], score=ref['score'],
                         val_score=ref.get('val_score'),
                         candidates=ref.get('candidates', {})),
        margin=margin, metric=run['metric'], fraction=run['fraction'],
        lower_is_better=low, beats_counterpart=better,
        line=(f'{row_label(row, run)}: Up-G adapted with {round(run["fraction"] * 100)}% '
              f'({best}, chosen on val) {_score(run["score"], run["metric"])} vs '
              f'{ref["label"]} {_score(ref["score"], run["metric"])} {run["metric"]}'
              f'{" (lower is better)" if low else ""}: '
              f'{"beats it" if better else "does NOT beat it"} '
              f'(margin {margin:+.{3 if run["metric"] == "rmse" else 2}f})'))
    if run.get('task') is not None:
        entry.update(row=row, task=run['task'], family=run.get('family'))
    return entry


def _rows_word(rows: Dict[str, dict]) -> str:
    """``'families'`` when every claim row is a GV world family, else ``'tasks'``."""
    return 'families' if all(row_label(r, e) == r for r, e in rows.items()) else 'tasks'


def _against(rows: Dict[str, dict]) -> str:
    """What the claim's rows compare with: ``'scratch on 100%'`` when every row's
    counterpart is scratch's only 100% run, else the counterpart."""
    plain = all(r['counterpart']['role'] == 'scratch' and r['counterpart']['run'] == '100pct'
                for r in rows.values())
    return 'scratch on 100%' if plain else 'the counterpart trained on 100%'


def _verdict(rows: Dict[str, dict], beats: int, leaked: int) -> str:
    """The claim's verdict line over the rows (the leak check's count when it found
    any)."""
    pct = round(next(iter(rows.values()))['fraction'] * 100)
    line = (f'Up-G adapted with {pct}% beats {_against(rows)} in {beats} of {len(rows)} '
            f'{_rows_word(rows)}.')
    if leaked:
        line = (f'{line[:-1]}, computed with {leaked} leaked images (upstream near '
                'duplicates of downstream images: leak_check in summary.json).')
    return line


def build_summary(pipeline, world_meta: Optional[dict], downstream: dict, total_s: float,
                  leak_check: Optional[dict] = None) -> dict:
    """Collect every stage's result and the Downstream-Adaptation tables.

    Args:
        pipeline (ParadigmPipeline): The finished pipeline.
        world_meta (dict, optional): The world's ``meta.json`` (None: no world).
        downstream (dict): :meth:`ParadigmPipeline.run_downstream`'s result.
        total_s (float): Wall time of this invocation.
        leak_check (dict, optional): The leak check's record (default: the pipeline's
            ``leak_check`` attribute when it has one); stored as ``leak_check`` and
            named in the claim's verdict line when it found leaked images.

    Returns:
        dict: ``world``, ``stages`` (name -> kind, metrics, iterations, wall time, main
        metric), ``downstream`` (every run), ``adaptation``, ``claim`` (with
        ``downstream.note`` as its ``note``, the claim section's last line),
        ``timings`` (and ``leak_check``).
    """
    world_meta = world_meta or {}
    if leak_check is None:
        leak_check = getattr(pipeline, 'leak_check', None)
    stages = {}
    for stage in pipeline.stages:
        done = pipeline.results.get(stage['name'], {})
        metrics = done.get('metrics', {})
        key = stage.get('main_metric')
        stages[stage['name']] = dict(
            kind=stage.get('kind', 'train'),
            config=done.get('config'),
            checkpoint=done.get('checkpoint'),
            iters=done.get('iters'),
            wall_time_s=done.get('wall_time_s'),
            main_metric=key,
            main_value=metrics.get(key) if key else None,
            metrics=metrics,
            train=done.get('train', {}))
    adaptation = adaptation_table(downstream or {})
    summary = dict(
        created=time.strftime('%Y-%m-%d %H:%M:%S'),
        work_dir=pipeline.work_dir,
        world=dict(root=getattr(pipeline, 'world_root', None),
                   **{k: world_meta.get(k) for k in ('num', 'seed', 'img_size', 'splits',
                                                     'downstream_stream')
                      if k != 'downstream_stream' or k in world_meta}),
        stages=stages,
        downstream=downstream,
        adaptation=adaptation,
        claim=claim_table(adaptation, leak_check),
        timings=dict(pipeline.timings, total_this_run_s=total_s))
    note = ((getattr(pipeline, 'cfg', None) or {}).get('downstream') or {}).get('note')
    if note and summary['claim']:
        summary['claim']['note'] = str(note)
    if leak_check is not None:
        summary['leak_check'] = leak_check
    return summary


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.{digits}f}'
    return str(value)


def _score(value, metric: str) -> str:
    """A downstream score: 3 decimals for RMSE (metres), else 2."""
    return _fmt(value, 3 if metric == 'rmse' else 2)


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


#: The claim figure written next to ``summary.md`` when the summary has adaptation results.
CLAIM_FIGURE = 'summary.png'
CLAIM_FIGURE_LINK = (f'![10%-adapted backbones vs scratch training, per task family]'
                     f'({CLAIM_FIGURE})')


def _rows_text(summary: dict, pct: int) -> str:
    """The paragraph under the adaptation heading (the rows' tasks and data)."""
    text = (f'Adapted backbones train on {pct}% of each task\'s training split; scratch = '
            f'the Up-G architecture from random initialisation on {pct}% and 100%; '
            'conventional = a stage\'s backbone (conventional pre-training) fine-tuned on '
            '100%; `_3x`: a counterpart\'s schedule grid point (3x the recipe).')
    tasks = (summary.get('downstream') or {}).get('tasks') or {}
    if not tasks:
        return 'Tasks never supervised upstream (docs/gv_world.md). ' + text
    named = '; '.join(f'{row}: GV-B task {t["task"]} ({t["family"]}) from '
                      f'`{t["data_root"]}`' + (f', val carved out of each subset '
                                              f'({t["val_ratio"]:g})'
                                              if t.get('val') == 'carved' else '')
                      for row, t in tasks.items())
    return (f'{text} Rows of downstream.tasks (docs/paradigm.md, Downstream-Adaptation): '
            f'{named}.')


def _adaptation_lines(summary: dict) -> List[str]:
    adaptation = summary.get('adaptation') or {}
    if not adaptation:
        return []
    pct = round((summary['downstream'] or {}).get('fraction', 0.1) * 100)
    cols = [('probe', 'probe'), ('finetune', 'fine-tune'), ('ota', 'OTA'),
            (f'{pct}pct', f'{pct}%'), ('100pct', '100%')]
    grid = sorted({key for roles in adaptation.values() for protocols in roles.values()
                   for key in protocols if key.startswith('100pct_')},
                  key=lambda key: float(key.split('_')[1][:-1]))
    cols += [(key, f'100% {key.split("_")[1]}') for key in grid]
    lines = ['', '## Downstream-Adaptation (test scores; val in parentheses)', '',
             _rows_text(summary, pct), '']
    for row, roles in adaptation.items():
        first = next(iter(next(iter(roles.values())).values()))
        arrow = 'lower is better' if first['lower_is_better'] else 'higher is better'
        label = row_label(row, first)
        heading = (f'{row} ({first["metric"]}, {arrow})' if label == row else
                   f'{label[:-1]}; {first["metric"]}, {arrow})')
        lines += [f'### {heading}', '',
                  '| backbone | stage | ' + ' | '.join(c[1] for c in cols) + ' |',
                  '|---|---|' + '---|' * len(cols)]
        for role, protocols in roles.items():
            stage = next(iter(protocols.values())).get('stage', '-')
            cells = []
            for key, _ in cols:
                run = protocols.get(key)
                if run is None:
                    cells.append('-')
                elif run.get('val_score') is None:
                    cells.append(_score(run['score'], run['metric']))
                else:
                    cells.append(f'{_score(run["score"], run["metric"])} '
                                 f'({_score(run["val_score"], run["metric"])})')
            lines.append(f'| {ROLE_LABELS.get(role, role)} | {stage} | '
                         + ' | '.join(cells) + ' |')
        lines.append('')
    claim = summary.get('claim') or {}
    if claim.get('families'):
        lines += ['## The claim', '']
        lines += [f'* {c["line"]}' for c in claim['families'].values()]
        lines.append('* ' + _verdict(claim['families'], claim['generalist_beats'],
                                     leaked_images(summary.get('leak_check'))))
        if claim.get('mean_relative'):
            lines.append(f'* Mean relative score over the {_rows_word(claim["families"])} '
                         f'(% better than {_against(claim["families"])}, each backbone at '
                         'its protocol chosen on val): ' + ', '.join(
                             f'{ROLE_LABELS.get(r, r)} {_fmt(v, 1)}'
                             for r, v in claim['mean_relative'].items()))
        for parent, ok in (claim.get('up_g_vs_parents') or {}).items():
            lines.append(f'* Up-G {"is at or above" if ok else "is BELOW"} '
                         f'{ROLE_LABELS.get(parent, parent)} on that mean.')
        if claim.get('note'):
            lines.append(f'* {claim["note"]}')
    return lines


def render_markdown(summary: dict) -> str:
    """Render the summary as Markdown (stage table, adaptation tables, claim)."""
    lines = ['# INTERN paradigm summary', '']
    world = summary.get('world') or {}
    if world.get('root'):
        lines.append(f'World: `{world["root"]}` ({world.get("num")} images, seed '
                     f'{world.get("seed")}, {world.get("img_size")}px, splits '
                     f'{world.get("splits")})')
    else:
        lines.append('World: none (no GV world in this pipeline)')
    lines += ['', '## Stages', '', '| stage | kind | iters | wall time (s) | main metric | '
              'value | other validation metrics |', '|---|---|---|---|---|---|---|']
    for name, st in summary['stages'].items():
        lines.append(f'| {name} | {st.get("kind", "train")} | {_fmt(st["iters"])} | '
                     f'{_fmt(st["wall_time_s"], 1)} | {st["main_metric"] or "-"} | '
                     f'{_fmt(st["main_value"])} | {_other_metrics(st) or "-"} |')
    lines += _adaptation_lines(summary) + leak_lines(summary.get('leak_check'))
    timings = summary.get('timings', {})
    if timings:
        lines += ['', 'Wall time this run (s): ' + ', '.join(
            f'{k}={_fmt(v, 1)}' for k, v in timings.items())]
    if summary.get('adaptation'):
        lines += ['', CLAIM_FIGURE_LINK]
    return '\n'.join(lines) + '\n'


def figure_table(adaptation: dict) -> dict:
    """The adaptation table as the claim figure draws it: the adapted backbones' bars,
    and the lines scratch on 10% and the counterpart on 100% (:func:`counterpart`;
    ``'100pct'`` when it is scratch's only 100% run).

    Args:
        adaptation (dict): :func:`adaptation_table`'s result.

    Returns:
        dict: The figure's input (``plot_claim``).
    """
    out = {}
    for row, roles in adaptation.items():
        out[row] = {r: p for r, p in roles.items() if r not in COUNTERPART_ROLES}
        lines = {k: v for k, v in (roles.get('scratch') or {}).items() if k != '100pct'
                 and v.get('fraction') != 1.0}
        ref = counterpart(roles)
        if ref is not None:
            lines['100pct' if ref['label'] == 'scratch on 100%' else 'counterpart'] = ref
        if lines:
            out[row]['scratch'] = lines
    return out


def write_summary(summary: dict, work_dir: str) -> str:
    """Write ``summary.json`` and ``summary.md`` (and the claim plot) into ``work_dir``.

    Args:
        summary (dict): JSON-serialisable summary (:func:`build_summary`).
        work_dir (str): Output folder.

    Returns:
        str: The Markdown text.
    """
    dump_json(osp.join(work_dir, 'summary.json'), summary, indent=2)
    if summary.get('adaptation'):
        from intern_mm.visualization.claim_figure import plot_claim
        plot_claim(figure_table(summary['adaptation']), osp.join(work_dir, CLAIM_FIGURE))
    md = render_markdown(summary)
    with open(osp.join(work_dir, 'summary.md'), 'w') as f:
        f.write(md)
    return md
