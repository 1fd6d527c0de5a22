"""Downstream-Adaptation of a pipeline: every backbone role x protocol x row.

The pipeline config's ``downstream`` entry (:data:`DOWNSTREAM_KEYS`) names the rows
(the GV world's ``families`` and / or ``tasks``: GV-B tasks with their data roots,
:mod:`.downstream_rows`), the backbone roles (``{'up-a': 'up-a', 'best-up-e':
['up-e-cls', ...], ...}``: a role with several candidate stages probes each and keeps
the best on ``val``), the protocols per role and the scratch baseline. Every run goes through
:class:`~intern_mm.paradigm.downstream.DownstreamAdapter` (finished runs are reused);
a run that fails raises :class:`~intern_mm.paradigm.launch.StageFailedError`.

Example:
    >>> downstream = run_downstream(ParadigmPipeline(cfg))  # doctest: +SKIP
    >>> downstream['results']['cls']['up-g']['runs']['probe']['test_score']
    ... # doctest: +SKIP
    >>> downstream_rows(dict(tasks=dict(c10=dict(task='cifar10', data_root='c10'))))
    ['c10']
"""
import time
from typing import Dict, List, Optional

from .downstream import DownstreamAdapter, backbone_spec
from .launch import StageFailedError, failure_message, log, mmengine_log

__all__ = ['DOWNSTREAM_KEYS', 'ALL_FAMILIES', 'build_adapter', 'downstream_rows',
           'run_downstream']

#: Keys of the ``downstream`` entry.
DOWNSTREAM_KEYS = {'fraction', 'seed', 'families', 'tasks', 'backbones', 'protocols',
                   'scratch', 'recipes', 'cfg_options', 'probe_grid', 'ota'}
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
    unknown = set(ds) - DOWNSTREAM_KEYS
    if unknown:
        raise KeyError(f'downstream: unknown keys {sorted(unknown)} (allowed: '
                       f'{sorted(DOWNSTREAM_KEYS)})')
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


def run_downstream(pipe) -> dict:
    """Downstream-Adaptation: every backbone x protocol x row, and scratch.

    Args:
        pipe (ParadigmPipeline): The pipeline (its stages are finished).

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
    backbones = dict(ds.get('backbones') or {})
    protocols = dict(ds.get('protocols') or {})
    default_protocols = tuple(protocols.get('default', ('probe', 'finetune')))
    start = time.time()
    results: Dict[str, dict] = {}
    for row in downstream_rows(ds):
        fam = results.setdefault(row, {})  # a family or a tasks row
        for role, names in backbones.items():
            candidates = [names] if isinstance(names, str) else list(names)
            names_done = [n for n in candidates if pipe.stage(n)]
            wanted = tuple(protocols.get(role, default_protocols))
            chosen, runs = _adapt_role(pipe, adapter, row, names_done, wanted)
            fam[role] = dict(stage=chosen, runs=runs)
        scratch = ds.get('scratch')
        if scratch:
            spec = pipe.scratch_backbone()
            runs = {}
            for frac in scratch.get('fractions', (adapter.fraction, 1.0)):
                tag = f'{round(frac * 100)}pct'
                runs[tag] = _adapt_run(adapter, row, 'scratch', spec, 'finetune',
                                       fraction=frac, scratch=True)
            fam['scratch'] = dict(stage=f'{scratch["stage"]} architecture, random init',
                                  runs=runs)
    pipe.timings['downstream'] = round(time.time() - start, 1)
    out = dict(fraction=adapter.fraction, seed=adapter.seed, results=results)
    if adapter.task_rows:
        out['tasks'] = {name: r.describe() for name, r in adapter.task_rows.items()}
    return out


def _adapt_role(pipe, adapter: DownstreamAdapter, row: str, names: List[str],
                protocols: tuple) -> tuple:
    """Probe every candidate stage of a role, keep the best on val, adapt it."""
    specs = {n: pipe.stage_backbone(n) for n in names}
    probes = {n: _adapt_run(adapter, row, n, specs[n], 'probe') for n in names}
    lower = adapter.task(row).lower_is_better
    chosen = (min if lower else max)(names, key=lambda n: probes[n]['val_score'])
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
               fraction: Optional[float] = None, scratch: bool = False, **kwargs) -> dict:
    """One adaptation run (reused when finished), logged in one line."""
    tag = f'{row}/{name}/{protocol}' + (f' ({round(fraction * 100)}%)'
                                         if fraction is not None else '')
    try:
        res = adapter.run(row, name, spec, protocol, fraction=fraction, scratch=scratch,
                          **kwargs)
    except NotImplementedError as err:
        log(f'downstream {tag}: not run ({err})')
        return dict(status='unavailable', reason=str(err))
    except Exception as err:
        raise StageFailedError(failure_message(f'downstream {tag}', err,
                                               mmengine_log(adapter.work_dir))) from err
    log(f'downstream {tag}: test {res["metric"]} {res["test_score"]:.2f} '
        f'(val {res["val_score"]:.2f}, {res["time_s"]}s)')
    return res
