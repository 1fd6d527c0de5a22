"""INTERN's claim over world seeds: one whole world per seed, margins with their spread.

Each seed is a new world (upstream sources, downstream stream, subsets, stage seeds)
and a full pipeline run (:func:`seed_options` are its overrides). Per row,
:func:`seeds_table` collects the *margin* of every seed's claim (Up-G adapted with 10%
minus the counterpart trained on 100%, signed so that positive means Up-G is better),
their mean and sample standard deviation (``ddof=1``); a row is **won** when the mean
margin is positive and larger than that standard deviation. The mean relative scores
(vs the counterpart) of the adapted backbones are averaged over the seeds too.

Example:
    >>> claims = {s: dict(families=dict(cls=dict(margin=m, metric='top1',
    ...                                           lower_is_better=False, fraction=0.1)),
    ...                   mean_relative={'up-g': r, 'up-a': 1.0})
    ...           for s, m, r in ((1, 3.0, 5.0), (2, 1.0, 2.0), (3, 2.0, 2.0))}
    >>> table = seeds_table(claims)
    >>> table['families']['cls']['mean'], table['families']['cls']['sd'], table['won']
    (2.0, 1.0, 1)
"""
import math
import os.path as osp
import statistics
from typing import Dict, List, Mapping, Optional

__all__ = ['seed_options', 'seeds_table', 'seeds_lines']


def seed_options(seed: int, world_root: str,
                 sources: Optional[Mapping[str, Mapping]] = None) -> dict:
    """Config overrides of one seed's run: its own world (root ``<root>_s<seed>``) and
    downstream stream, subsets drawn with the seed and every stage seeded with it.

    Declared ``sources`` whose ``root`` is the world root (the world declared as sources,
    ``world_sources``) follow the world to its new root; other sources are unchanged.

    Args:
        seed (int): The world seed.
        world_root (str): The config's ``world.root``.
        sources (Mapping, optional): The config's ``sources``. Defaults to None.

    Returns:
        dict: ``--cfg-options``-style keys.

    Example:
        >>> seed_options(2, 'data/gv_world_claim')['world.root']
        'data/gv_world_claim_s2'
        >>> seed_options(2, 'data/w', dict(shape=dict(root='data/w/'),
        ...                                cifar10=dict(root='../cifar10')))['sources.shape.root']
        'data/w_s2'
    """
    root = f'{world_root.rstrip("/")}_s{seed}'
    options = {'world.seed': seed, 'world.root': root, 'downstream.seed': seed,
               'stage_cfg_options.randomness.seed': seed}
    for name, decl in (sources or {}).items():
        if osp.normpath(str(decl.get('root', ''))) == osp.normpath(world_root):
            options[f'sources.{name}.root'] = root
    return options


def _sd(values: List[float]) -> Optional[float]:
    return statistics.stdev(values) if len(values) > 1 else None


def seeds_table(claims: Dict[int, dict]) -> dict:
    """Aggregate the claims (``summary['claim']``) of several seeds.

    Args:
        claims (dict[int, dict]): Seed -> that seed's ``claim``.

    Returns:
        dict: ``seeds``; ``families`` (row -> ``margins`` per seed, ``mean``, ``sd``
        (ddof 1; None for one seed), ``won`` (mean > 0 and mean > sd; None for one
        seed), ``metric``, ``lower_is_better``); ``won`` (rows won); ``num_families``;
        ``mean_relative`` (backbone -> per seed and ``mean``); ``up_g_vs_parents``
        (parent -> Up-G's mean relative score >= the parent's over the seeds).
    """
    seeds = sorted(claims)
    rows = [r for r in claims[seeds[0]].get('families', {})
            if all(r in claims[s].get('families', {}) for s in seeds)]
    families = {}
    for row in rows:
        first = claims[seeds[0]]['families'][row]
        margins = {s: float(claims[s]['families'][row]['margin']) for s in seeds}
        mean, sd = statistics.fmean(margins.values()), _sd(list(margins.values()))
        families[row] = dict(
            margins=margins, mean=mean, sd=sd,
            won=None if sd is None else bool(mean > 0 and mean > sd),
            metric=first['metric'], lower_is_better=first['lower_is_better'],
            fraction=first['fraction'],
            counterparts={s: claims[s]['families'][row].get('counterpart') for s in seeds})
    roles = [r for r in claims[seeds[0]].get('mean_relative', {})
             if all(r in claims[s].get('mean_relative', {}) for s in seeds)]
    relative = {}
    for role in roles:
        per = {s: float(claims[s]['mean_relative'][role]) for s in seeds}
        relative[role] = dict(per, mean=statistics.fmean(per.values()))
    vs = {}
    if 'up-g' in relative:
        vs = {p: relative['up-g']['mean'] >= relative[p]['mean']
              for p in ('up-a', 'best-up-e') if p in relative}
    return dict(seeds=seeds, families=families, num_families=len(families),
                won=sum(bool(f['won']) for f in families.values()),
                mean_relative=relative, up_g_vs_parents=vs)


def _num(value: Optional[float], metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{value:+.3f}' if metric == 'rmse' else f'{value:+.2f}'


def seeds_lines(table: dict) -> List[str]:
    """One line per row (margins per seed, mean, sd, verdict) and the verdict lines.

    Args:
        table (dict): :func:`seeds_table`'s result.

    Returns:
        list[str]: The lines.
    """
    seeds = table['seeds']
    lines = []
    for row, f in table['families'].items():
        per = ', '.join(f'seed {s} {_num(m, f["metric"])}' for s, m in f['margins'].items())
        verdict = ('one seed: no spread, no verdict' if f['won'] is None else
                   'won' if f['won'] else 'NOT won')
        lines.append(
            f'{row}: margin of Up-G adapted with {round(f["fraction"] * 100)}% over the '
            f'counterpart on 100% ({f["metric"]}, positive = Up-G better): {per}; mean '
            f'{_num(f["mean"], f["metric"])}, sd '
            f'{_num(f["sd"], f["metric"]).lstrip("+")}: {verdict}')
    lines.append(f'Won (mean margin > 0 and > its sd over seeds {seeds}): {table["won"]} '
                 f'of {table["num_families"]} families.')
    rel = table['mean_relative']
    if rel:
        lines.append('Mean relative score vs the counterpart (%, mean over seeds): ' +
                     ', '.join(f'{r} {v["mean"]:+.1f}' for r, v in rel.items()))
    for parent, ok in table['up_g_vs_parents'].items():
        lines.append(f'Up-G {">=" if ok else "<"} {parent} on the mean relative score.')
    return lines
