"""Downstream-Adaptation of a pipeline: every backbone role x protocol x family.

The pipeline config's ``downstream`` entry (:data:`DOWNSTREAM_KEYS`) names the families,
the backbone roles (``{'up-a': 'up-a', 'best-up-e': ['up-e-cls', ...], ...}``: a role
with several candidate stages probes each and keeps the best on ``val``), the protocols
per role and the scratch baseline. Every run goes through
:class:`~intern_mm.paradigm.downstream.DownstreamAdapter` (finished runs are reused);
a run that fails raises :class:`~intern_mm.paradigm.launch.StageFailedError`.

Example:
    >>> downstream = run_downstream(ParadigmPipeline(cfg))  # doctest: +SKIP
    >>> downstream['results']['cls']['up-g']['runs']['probe']['test_score']
    ... # doctest: +SKIP
"""
import time
from typing import Dict, List, Optional

from .downstream import DownstreamAdapter, backbone_spec
from .launch import StageFailedError, failure_message, log, mmengine_log

__all__ = ['DOWNSTREAM_KEYS', 'build_adapter', 'run_downstream']

#: Keys of the ``downstream`` entry.
DOWNSTREAM_KEYS = {'fraction', 'seed', 'families', 'backbones', 'protocols', 'scratch',
                   'recipes', 'cfg_options', 'probe_grid', 'ota'}


def build_adapter(ds: Optional[dict], world_root: str, work_dir: str, verbose: bool = False,
                  recipes: Optional[Dict[str, dict]] = None) -> DownstreamAdapter:
    """The :class:`DownstreamAdapter` of a ``downstream`` entry.

    Args:
        ds (dict, optional): The pipeline config's ``downstream``.
        world_root (str): The GV world root.
        work_dir (str): The adapter's folder.
        verbose (bool): Keep the Runners' INFO logs. Defaults to False.
        recipes (dict, optional): Per-family recipes instead of the entry's.

    Returns:
        DownstreamAdapter: The adapter.
    """
    ds = dict(ds or {})
    unknown = set(ds) - DOWNSTREAM_KEYS
    if unknown:
        raise KeyError(f'downstream: unknown keys {sorted(unknown)} (allowed: '
                       f'{sorted(DOWNSTREAM_KEYS)})')
    return DownstreamAdapter(
        world_root, work_dir, fraction=ds.get('fraction', 0.1), seed=ds.get('seed', 0),
        recipes=ds.get('recipes') if recipes is None else recipes,
        cfg_options=ds.get('cfg_options'), probe_grid=ds.get('probe_grid'),
        ota=ds.get('ota'), verbose=verbose, log=log)


def run_downstream(pipe) -> dict:
    """Downstream-Adaptation: every backbone x protocol x family, and scratch.

    Args:
        pipe (ParadigmPipeline): The pipeline (its stages are finished).

    Returns:
        dict: ``fraction``, ``seed`` and ``results[family][role]`` = ``stage`` (the
        chosen stage) and ``runs`` (protocol -> result); empty without ``downstream``.
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
    for family in ds.get('families', ('cls', 'det', 'seg', 'depth')):
        fam = results.setdefault(family, {})
        for role, names in backbones.items():
            candidates = [names] if isinstance(names, str) else list(names)
            names_done = [n for n in candidates if pipe.stage(n)]
            wanted = tuple(protocols.get(role, default_protocols))
            chosen, runs = _adapt_role(pipe, adapter, family, names_done, wanted)
            fam[role] = dict(stage=chosen, runs=runs)
        scratch = ds.get('scratch')
        if scratch:
            spec = pipe.scratch_backbone()
            runs = {}
            for frac in scratch.get('fractions', (adapter.fraction, 1.0)):
                tag = f'{round(frac * 100)}pct'
                runs[tag] = _adapt_run(adapter, family, 'scratch', spec, 'finetune',
                                       fraction=frac, scratch=True)
            fam['scratch'] = dict(stage=f'{scratch["stage"]} architecture, random init',
                                  runs=runs)
    pipe.timings['downstream'] = round(time.time() - start, 1)
    return dict(fraction=adapter.fraction, seed=adapter.seed, results=results)


def _adapt_role(pipe, adapter: DownstreamAdapter, family: str, names: List[str],
                protocols: tuple) -> tuple:
    """Probe every candidate stage of a role, keep the best on val, adapt it."""
    specs = {n: pipe.stage_backbone(n) for n in names}
    probes = {n: _adapt_run(adapter, family, n, specs[n], 'probe') for n in names}
    lower = adapter.task(family).lower_is_better
    chosen = (min if lower else max)(names, key=lambda n: probes[n]['val_score'])
    runs = {}
    for protocol in protocols:
        if protocol == 'probe':
            runs[protocol] = probes[chosen]
            continue
        kwargs = {}
        if protocol == 'ota':  # teacher: this backbone fine-tuned on the subset
            tuned = runs.get('finetune') or _adapt_run(
                adapter, family, chosen, specs[chosen], 'finetune')
            kwargs = dict(teacher_checkpoint=tuned.get('final_checkpoint'),
                          student=_ota_student(pipe))
        runs[protocol] = _adapt_run(adapter, family, chosen, specs[chosen], protocol,
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


def _adapt_run(adapter: DownstreamAdapter, family: str, name: str, spec, protocol: str,
               fraction: Optional[float] = None, scratch: bool = False, **kwargs) -> dict:
    """One adaptation run (reused when finished), logged in one line."""
    tag = f'{family}/{name}/{protocol}' + (f' ({round(fraction * 100)}%)'
                                            if fraction is not None else '')
    try:
        res = adapter.run(family, name, spec, protocol, fraction=fraction, scratch=scratch,
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
