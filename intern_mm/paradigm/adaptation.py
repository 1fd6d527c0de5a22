"""Downstream-Adaptation of a pipeline: every backbone role x protocol x row.

The pipeline config's ``downstream`` entry (:data:`DOWNSTREAM_KEYS`) names the rows
(the GV world's ``families`` and / or ``tasks``: GV-B tasks with their data roots,
:mod:`.downstream_rows`), the backbone roles (``{'up-a': 'up-a', 'best-up-e':
['up-e-cls', ...], ...}``: a role with several candidate stages probes each and keeps
the best on ``val``), the protocols per role (a dict: per row) and the counterparts
trained on 100%: the ``scratch`` baseline (the Up-G architecture from random
initialisation) and ``conventional`` pre-training (a stage's backbone, e.g. a classifier
trained from scratch on the classification sources, fine-tuned).

A counterpart's 100% runs go over its ``schedules`` grid (multiples of the recipe's
schedule, ascending; a dict gives each row its own grid, an empty one none). A grid stops
at the first point that does not improve on val by more than ``grid_min_gain`` of the
last one (relative; default 0). ``finetune_schedules`` (role -> grid, or role ->
{row: grid}) opens the same grid to the adapted roles' fine-tuning on the subset (the
chosen point is the role's ``finetune``). A row's *parts* are its roles and
counterparts (:func:`downstream_parts`); a pipeline with ``workers`` > 1 runs each part
in a process of its own (:mod:`.jobs`) and then reads every run here as finished.

Every run goes through :class:`~intern_mm.paradigm.downstream.DownstreamAdapter`
(finished runs are reused); a run that fails raises
:class:`~intern_mm.paradigm.launch.StageFailedError`.

Example:
    >>> downstream = run_downstream(ParadigmPipeline(cfg))  # doctest: +SKIP
    >>> downstream['results']['cls']['up-g']['runs']['probe']['test_score']
    ... # doctest: +SKIP
    >>> downstream_rows(dict(tasks=dict(c10=dict(task='cifar10', data_root='c10'))))
    ['c10']
"""
import time
from typing import Dict, List, Optional, Tuple

from .downstream import DownstreamAdapter, backbone_spec
from .launch import StageFailedError, failure_message, log, mmengine_log

__all__ = ['DOWNSTREAM_KEYS', 'COUNTERPART_KEYS', 'ALL_FAMILIES', 'build_adapter',
           'downstream_rows', 'downstream_parts', 'downstream_fractions', 'run_downstream',
           'counterpart_tag', 'row_grid']

#: Keys of the ``downstream`` entry.
DOWNSTREAM_KEYS = {'fraction', 'seed', 'families', 'tasks', 'backbones', 'protocols',
                   'scratch', 'conventional', 'finetune_schedules', 'grid_min_gain', 'recipes',
                   'cfg_options', 'probe_grid', 'ota', 'note'}
#: Keys of the counterpart entries ``scratch`` and ``conventional``.
COUNTERPART_KEYS = dict(scratch={'stage', 'fractions', 'schedules', 'recipes'},
                        conventional={'stage', 'schedules', 'recipes'})
#: The GV world's families (the rows of a ``downstream`` entry without ``tasks``).
ALL_FAMILIES = ('cls', 'det', 'seg', 'depth')


def downstream_rows(ds: Optional[dict]) -> List[str]:
    """The rows of a ``downstream`` entry, in order: ``families`` (default: all four,
    or none when ``tasks`` is given), then the ``tasks`` rows.

    Args:
        ds (dict, optional): The pipeline config's ``downstream``.

    Returns:
        list[str]: Row names (a family's row is named by the family); none without a
        ``downstream`` entry.
    """
    ds = dict(ds or {})
    if not ds:
        return []
    tasks = dict(ds.get('tasks') or {})
    families = list(ds.get('families', () if tasks else ALL_FAMILIES))
    both = sorted(set(families) & set(tasks))
    if both:
        raise KeyError(f'downstream: {both} named both in families and as tasks rows '
                       '(rename the tasks rows)')
    return families + list(tasks)


def _role_protocols(ds: dict, role: str, row: str) -> tuple:
    """The protocols of a role on a row (``protocols``: per role, a tuple or per row)."""
    protocols = dict(ds.get('protocols') or {})
    default = tuple(protocols.get('default', ('probe', 'finetune')))
    wanted = protocols.get(role, default)
    return tuple(wanted.get(row, default) if isinstance(wanted, dict) else wanted)


def downstream_parts(ds: Optional[dict]) -> List[Tuple[str, str, Tuple[str, ...]]]:
    """The parts of a ``downstream`` entry: per row, each backbone role and each
    counterpart, with the stages a part needs finished.

    A role needs its candidate stages (and with the ``ota`` protocol its student stage),
    a ``conventional`` counterpart its stage, ``scratch`` none (the architecture only).

    Args:
        ds (dict, optional): The pipeline config's ``downstream``.

    Returns:
        list[tuple]: ``(row, part, stages)`` in run order: rows as
        :func:`downstream_rows`, the roles as ``backbones``, then ``scratch`` and
        ``conventional``.

    Example:
        >>> downstream_parts(dict(families=('cls', ), backbones={'up-g': 'up-g'},
        ...                       scratch=dict(stage='up-g')))
        [('cls', 'up-g', ('up-g',)), ('cls', 'scratch', ())]
    """
    ds = dict(ds or {})
    parts = []
    for row in downstream_rows(ds):
        for role, names in dict(ds.get('backbones') or {}).items():
            needs = [names] if isinstance(names, str) else list(names)
            student = (ds.get('ota') or {}).get('student', 'distill')
            if 'ota' in _role_protocols(ds, role, row) and isinstance(student, str):
                needs.append(student)
            parts.append((row, role, tuple(needs)))
        for kind in COUNTERPART_KEYS:
            if ds.get(kind) and _counterpart_fractions(ds, kind, row):
                needs = (ds[kind]['stage'], ) if kind == 'conventional' else ()
                parts.append((row, kind, needs))
    return parts


def _counterpart_fractions(ds: dict, kind: str, row: str) -> List[float]:
    """The fractions a counterpart trains on in a row (none at 1.0 when the row's
    ``schedules`` grid is empty)."""
    entry = dict(ds[kind])
    fractions = (entry.get('fractions', (float(ds.get('fraction', 0.1)), 1.0))
                 if kind == 'scratch' else (1.0, ))
    schedules = row_grid(entry.get('schedules', (1, )), row, (1, ))
    return [f for f in fractions if f != 1.0 or schedules]


def downstream_fractions(ds: Optional[dict]) -> List[float]:
    """The training fractions a ``downstream`` entry's runs read: ``fraction``, 1.0
    for the counterparts and the scratch baseline's ``fractions``.

    Example:
        >>> downstream_fractions(dict(fraction=0.1, scratch=dict(fractions=(0.5, 1.0))))
        [0.1, 0.5, 1.0]
    """
    ds = dict(ds or {})
    fraction = float(ds.get('fraction', 0.1))
    scratch = (ds.get('scratch') or {}).get('fractions', (fraction, 1.0))
    return sorted({fraction, 1.0, *map(float, scratch)})


def build_adapter(ds: Optional[dict], world_root: Optional[str], work_dir: str,
                  verbose: bool = False,
                  recipes: Optional[Dict[str, dict]] = None) -> DownstreamAdapter:
    """The :class:`DownstreamAdapter` of a ``downstream`` entry (its ``tasks`` rows are
    checked here: one line per bad row).

    Args:
        ds (dict, optional): The pipeline config's ``downstream``.
        world_root (str, optional): The GV world root (None: no world; only ``tasks``
            rows can run).
        work_dir (str): The adapter's folder.
        verbose (bool): Keep the Runners' INFO logs. Defaults to False.
        recipes (dict, optional): Per-row recipes instead of the entry's.

    Returns:
        DownstreamAdapter: The adapter.
    """
    ds = dict(ds or {})
    if 'workers' in ds:
        raise KeyError('downstream.workers: now the pipeline config\'s top-level `workers` '
                       '(the stages and the downstream parts in that many processes)')
    unknown = set(ds) - DOWNSTREAM_KEYS
    if unknown:
        raise KeyError(f'downstream: unknown keys {sorted(unknown)} (allowed: '
                       f'{sorted(DOWNSTREAM_KEYS)})')
    _check_counterparts(ds)
    families = [r for r in downstream_rows(ds) if r not in (ds.get('tasks') or {})]
    if world_root is None and families:
        raise ValueError(f'downstream: families {families} are the GV world\'s tasks and '
                         'need world.root; without a world give downstream.tasks rows '
                         '(and families=())')
    return DownstreamAdapter(
        world_root, work_dir, fraction=ds.get('fraction', 0.1), seed=ds.get('seed', 0),
        recipes=ds.get('recipes') if recipes is None else recipes,
        cfg_options=ds.get('cfg_options'), probe_grid=ds.get('probe_grid'),
        ota=ds.get('ota'), verbose=verbose, log=log, tasks=ds.get('tasks'))


def _check_counterparts(ds: dict) -> None:
    """One line for a bad counterpart entry: a missing ``stage``, an unknown key, a
    ``recipes`` row that is neither a family nor a ``tasks`` row (a row left out of
    ``families`` may keep its settings, as in ``schedules``)."""
    known = [*ALL_FAMILIES, *(ds.get('tasks') or {})]
    for kind, allowed in COUNTERPART_KEYS.items():
        entry = dict(ds.get(kind) or {})
        if not entry:
            continue
        unknown = set(entry) - allowed
        if unknown or 'stage' not in entry:
            raise KeyError(f'downstream.{kind}: needs `stage`; unknown keys '
                           f'{sorted(unknown)} (allowed: {sorted(allowed)})')
        rows = set(dict(entry.get('recipes') or {})) - set(known)
        if rows:
            raise KeyError(f'downstream.{kind}.recipes: unknown rows {sorted(rows)} '
                           f'(rows: {known})')


def run_downstream(pipe, rows: Optional[List[str]] = None,
                   parts: Optional[List[str]] = None) -> dict:
    """Downstream-Adaptation: every backbone x protocol x row, and the counterparts.

    Args:
        pipe (ParadigmPipeline): The pipeline (the stages it needs are finished).
        rows (list[str], optional): Only these rows (default: all).
        parts (list[str], optional): Only these roles / counterparts of each row
            (default: all; :func:`downstream_parts`).

    Returns:
        dict: ``fraction``, ``seed``, ``results[row][role]`` = ``stage`` (the chosen
        stage) and ``runs`` (protocol -> result), and with ``tasks`` rows ``tasks``
        (row -> task, family, data root, metric, val split); empty without
        ``downstream``.
    """
    ds = dict(pipe.cfg.get('downstream') or {})
    if not ds:
        return {}
    adapter = pipe.downstream_adapter()
    rows = downstream_rows(ds) if rows is None else list(rows)
    backbones = dict(ds.get('backbones') or {})
    start = time.time()
    results: Dict[str, dict] = {}
    for row in rows:
        fam = results.setdefault(row, {})  # a family or a tasks row
        for role, names in backbones.items():
            if parts is not None and role not in parts:
                continue
            candidates = [names] if isinstance(names, str) else list(names)
            names_done = [n for n in candidates if pipe.stage(n)]
            grid = row_grid((ds.get('finetune_schedules') or {}).get(role), row, None)
            chosen, runs = _adapt_role(pipe, adapter, row, names_done,
                                       _role_protocols(ds, role, row), grid)
            fam[role] = dict(stage=chosen, runs=runs)
        for kind in COUNTERPART_KEYS:
            if ds.get(kind) and (parts is None or kind in parts):
                fam[kind] = _counterpart(pipe, adapter, row, kind, dict(ds[kind]))
    pipe.timings['downstream'] = round(time.time() - start, 1)
    out = dict(fraction=adapter.fraction, seed=adapter.seed, results=results)
    if adapter.task_rows:
        out['tasks'] = {name: r.describe() for name, r in adapter.task_rows.items()}
    return out


def counterpart_tag(fraction: float, schedule: float = 1) -> str:
    """The protocol key of a counterpart run: ``'100pct'``, ``'100pct_3x'``.

    Example:
        >>> counterpart_tag(1.0, 3), counterpart_tag(0.1)
        ('100pct_3x', '10pct')
    """
    return f'{round(fraction * 100)}pct' + (f'_{schedule:g}x' if schedule != 1 else '')


def _counterpart(pipe, adapter: DownstreamAdapter, row: str, kind: str,
                 entry: dict) -> dict:
    """A counterpart's runs: the scratch baseline on each fraction, or a conventional
    pre-trained stage fine-tuned on 100%; the 100% runs over the ``schedules`` grid."""
    if kind == 'scratch':
        spec, label = pipe.scratch_backbone(), f'{entry["stage"]} architecture, random init'
    else:
        pipe.stage(entry['stage'])  # an unknown stage: KeyError naming it
        spec = pipe.stage_backbone(entry['stage'])
        label = f'{entry["stage"]} (conventional pre-training)'
    schedules = row_grid(entry.get('schedules', (1, )), row, (1, ))
    recipe = dict(entry.get('recipes') or {}).get(row)
    runs, grid = {}, {}
    for frac in _counterpart_fractions(pipe.cfg.downstream, kind, row):
        tried, _, grid = _schedule_grid(adapter, row, kind, spec, frac,
                                        schedules if frac == 1.0 else [1.0],
                                        scratch=kind == 'scratch', min_gain=_min_gain(pipe),
                                        recipe=recipe)
        runs.update({counterpart_tag(frac, f): r for f, r in tried.items()})
    return dict(stage=label, runs=runs, grid=grid)


def row_grid(grid, row: str, default=None) -> Optional[List[float]]:
    """A row's schedule grid, ascending: ``grid`` is a sequence of multiples, or a dict
    giving each row its own (a row not named gets ``default``).

    Example:
        >>> row_grid({'det': (3, 1)}, 'det'), row_grid({'det': (3, )}, 'seg', (1, ))
        ([1.0, 3.0], [1.0])
    """
    if isinstance(grid, dict):
        grid = grid.get(row, default)
    return sorted(float(f) for f in grid) if grid else None


def _min_gain(pipe) -> float:
    """``downstream.grid_min_gain``: the relative val gain a longer schedule must bring."""
    return float(pipe.cfg.downstream.get('grid_min_gain', 0.0))


def _schedule_grid(adapter: DownstreamAdapter, row: str, name: str, spec,
                   fraction: Optional[float], schedules: List[float],
                   scratch: bool = False, min_gain: float = 0.0,
                   recipe: Optional[dict] = None) -> tuple:
    """Fine-tuning runs over ascending schedule multiples; the grid stops at the first
    point that does not improve on val by more than ``min_gain`` (relative). Returns the
    runs (factor -> result), the chosen one (the last point that did) and the grid record
    (``schedules``, ``chosen``, ``largest_won``)."""
    lower = adapter.task(row).lower_is_better
    tried, best, chosen = {}, None, None
    for factor in schedules:
        res = _adapt_run(adapter, row, name, spec, 'finetune', fraction=fraction,
                         scratch=scratch, schedule=factor, recipe=recipe)
        tried[factor] = res
        if best is not None and not _improves(res, best, lower, min_gain):
            break
        best, chosen = res, factor
    grid = dict(schedules=list(schedules), chosen=chosen,
                largest_won=len(schedules) > 1 and chosen == schedules[-1])
    if grid['largest_won']:
        log(f'downstream {row}/{name}: the largest schedule ({schedules[-1]:g}x) is the '
            'best on val: a longer grid may train it further')
    return tried, best, grid


def _improves(res: dict, best: dict, lower_is_better: bool, min_gain: float = 0.0) -> bool:
    """Whether a run's val score improves on ``best``'s by more than ``min_gain`` of it
    (relative)."""
    if 'val_score' not in res or 'val_score' not in best:
        return True
    a, b = res['val_score'], best['val_score']
    return a < b - abs(b) * min_gain if lower_is_better else a > b + abs(b) * min_gain


def _adapt_role(pipe, adapter: DownstreamAdapter, row: str, names: List[str],
                protocols: tuple, schedules: Optional[List[float]] = None) -> tuple:
    """Probe every candidate stage of a role, keep the best on val, adapt it (its
    fine-tuning over ``schedules``, the best on val kept, when given). A single
    candidate is probed only when ``protocols`` has the probe."""
    specs = {n: pipe.stage_backbone(n) for n in names}
    probes = {n: _adapt_run(adapter, row, n, specs[n], 'probe') for n in names
              if len(names) > 1 or 'probe' in protocols}
    lower = adapter.task(row).lower_is_better
    chosen = (min if lower else max)(names, key=lambda n: probes[n]['val_score']) \
        if len(names) > 1 else names[0]
    runs = {}
    for protocol in protocols:
        if protocol == 'probe':
            runs[protocol] = probes[chosen]
            continue
        kwargs = {}
        if protocol == 'ota':  # teacher: this backbone fine-tuned on the subset
            tuned = runs.get('finetune') or _adapt_run(
                adapter, row, chosen, specs[chosen], 'finetune')
            kwargs = dict(teacher_checkpoint=tuned.get('final_checkpoint'),
                          student=_ota_student(pipe))
        if protocol == 'finetune' and schedules:
            tried, runs[protocol], grid = _schedule_grid(
                adapter, row, chosen, specs[chosen], None, schedules, min_gain=_min_gain(pipe))
            runs['finetune_grid'] = dict(grid, runs={
                f'{f:g}x': dict(val_score=r.get('val_score'), test_score=r.get('test_score'))
                for f, r in tried.items()})
            continue
        runs[protocol] = _adapt_run(adapter, row, chosen, specs[chosen], protocol,
                                    **kwargs)
    if len(names) > 1:
        runs['candidates'] = {n: dict(val_score=p['val_score'], test_score=p['test_score'])
                              for n, p in probes.items()}
    return chosen, runs


def _ota_student(pipe):
    """The OTA student: ``downstream.ota.student`` = a stage name (its downstream
    backbone, e.g. the distilled student) or a backbone config (random init)."""
    student = (pipe.cfg.downstream.get('ota') or {}).get('student', 'distill')
    if isinstance(student, str):
        return pipe.stage_backbone(student)
    return backbone_spec(dict(student), None)


def _adapt_run(adapter: DownstreamAdapter, row: str, name: str, spec, protocol: str,
               fraction: Optional[float] = None, scratch: bool = False,
               schedule: float = 1, recipe: Optional[dict] = None, **kwargs) -> dict:
    """One adaptation run (reused when finished), logged in one line."""
    tag = f'{row}/{name}/{protocol}' + (f' ({round(fraction * 100)}%)'
                                         if fraction is not None else '') + (
        f' ({schedule:g}x schedule)' if schedule != 1 else '')
    try:
        res = adapter.run(row, name, spec, protocol, fraction=fraction, scratch=scratch,
                          schedule=schedule, recipe=recipe, **kwargs)
    except NotImplementedError as err:
        log(f'downstream {tag}: not run ({err})')
        return dict(status='unavailable', reason=str(err))
    except Exception as err:
        raise StageFailedError(failure_message(f'downstream {tag}', err,
                                               mmengine_log(adapter.work_dir))) from err
    log(f'downstream {tag}: test {res["metric"]} {res["test_score"]:.2f} '
        f'(val {res["val_score"]:.2f}, {res["time_s"]}s)')
    return res
