"""INTERN's claim over several world seeds (``make claim``).

Runs a pipeline config once per seed, each on a whole new world (``<world.root>_s<seed>``,
its downstream stream, subsets and stage seeds: ``intern_mm.paradigm.seeds``), in
``<work-dir>/seed<seed>`` (finished stages and runs are reused; an interrupted one
resumes), writes each seed's ``world``, ``claim`` and ``environment`` (CPU and package versions:
``intern_mm.utils.environment``) to ``<out>/seed<seed>.json`` and
the margins over the seeds (mean, sample standard deviation, won or not) to
``<out>/claim_seeds.json`` / ``.md``, and prints them.

Inside a seed, the claim config runs the stages and downstream parts as jobs, two
one-thread processes at once (its ``workers`` / ``worker_threads``; docs/claim.md,
"Budget"); ``make claim`` runs the seeds one after the other (``CLAIM_JOBS=1``).
``--jobs N`` runs up to N seeds at once, each in its own process with ``cpus // N``
threads (``--threads`` pins it; its log: ``<work-dir>/seed<seed>.log``), for machines
with more cores. A run's figures depend on its thread count: the docs' were made at one
thread per process (``make claim``: ``CLAIM_THREADS=1``).

Example:
    python tools/analysis_tools/claim_seeds.py \
        configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim.py --seeds 1 2 3 \
        --work-dir work_dirs/claim --out docs/claim
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='The paradigm claim over world seeds')
    parser.add_argument('config', help='pipeline config file')
    parser.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3],
                        help='world seeds to run (default: 1 2 3; seed 0 is the design '
                        'seed)')
    parser.add_argument('--work-dir', default='work_dirs/claim',
                        help='one pipeline work dir per seed under it (seed<N>)')
    parser.add_argument('--out', default='work_dirs/claim',
                        help='folder of seed<N>.json and claim_seeds.json / .md')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override pipeline config settings (every seed)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='seeds run at once, each in its own process (default: 1)')
    parser.add_argument('--threads', type=int, default=None,
                        help='threads per seed (default: cpus // jobs with --jobs, else '
                        'as set); results depend on it: docs/claim.md was made at 1')
    parser.add_argument('--table-only', action='store_true',
                        help='run nothing: the table from the records already in --out '
                        '(seeds run apart, e.g. on other machines)')
    parser.add_argument('--seed-only', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--debug', action='store_true', help='show tracebacks')
    return parser.parse_args(argv)


def run_seed(config: str, seed: int, work_dir: str, cfg_options=None) -> dict:
    """Run (or reuse) one seed's pipeline; returns its summary."""
    from mmengine.config import Config

    from intern_mm.paradigm import ParadigmPipeline
    from intern_mm.paradigm.seeds import seed_options
    from intern_mm.utils.config import merge_cfg_options
    cfg = Config.fromfile(config)
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)
    cfg.merge_from_dict(seed_options(seed, cfg.world.root, cfg.get('sources')))
    return ParadigmPipeline(cfg, work_dir=osp.join(work_dir, f'seed{seed}')).run()


def seed_processes(args) -> None:
    """Run the seeds in up to ``args.jobs`` processes at once (this tool, one seed
    each, ``args.threads`` threads, default ``cpus // jobs``); each writes
    ``<out>/seed<seed>.json``."""
    from intern_mm.utils.processes import ProcessJob, run_processes
    options = [f'{k}={v}' for k, v in (args.cfg_options or {}).items()]
    os.makedirs(args.work_dir, exist_ok=True)
    jobs = [ProcessJob(
        str(seed), [sys.executable, osp.abspath(__file__), args.config, '--seeds',
                    str(seed), '--work-dir', args.work_dir, '--out', args.out,
                    '--seed-only'] + (['--cfg-options'] + options if options else []),
        osp.join(args.work_dir, f'seed{seed}.log')) for seed in args.seeds]
    failed = run_processes(jobs, args.jobs, threads=args.threads,
                           on_start=lambda job, threads: print(
                               f'seed {job.name}: running ({threads} threads), log '
                               f'{job.log_file}', flush=True))
    if failed:
        raise RuntimeError(f'{len(failed)} seed(s) failed: see '
                           f'{", ".join(sorted(job.log_file for job in failed))}')


def _records(out: str, seeds) -> dict:
    """Seed -> ``claim`` of the records ``<out>/seed<seed>.json`` (one line naming a
    missing one)."""
    claims = {}
    for seed in seeds:
        path = osp.join(out, f'seed{seed}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'no record of seed {seed}: {path} does not exist')
        with open(path) as f:
            claims[seed] = json.load(f)['claim']
    return claims


def main(argv=None) -> None:
    args = parse_args(argv)
    import intern_mm  # noqa: F401
    from intern_mm.paradigm.seeds import seeds_lines, seeds_table
    from intern_mm.utils.environment import run_environment
    from intern_mm.utils.run_record import dump_json
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'pipeline config {args.config} does not exist')
    if args.jobs < 1:
        raise ValueError(f'--jobs must be at least 1, got {args.jobs}')
    os.makedirs(args.out, exist_ok=True)
    claims = {}
    if args.table_only:
        claims = _records(args.out, args.seeds)
    elif args.jobs > 1 and len(args.seeds) > 1:
        seed_processes(args)
        claims = _records(args.out, args.seeds)
    elif args.threads:  # in this process; its stages' processes inherit the variables
        import torch
        os.environ.update(OMP_NUM_THREADS=str(args.threads),
                          MKL_NUM_THREADS=str(args.threads))
        torch.set_num_threads(args.threads)
    for seed in [s for s in args.seeds if s not in claims]:
        path = osp.join(args.out, f'seed{seed}.json')
        summary = run_seed(args.config, seed, args.work_dir, args.cfg_options)
        record = dict(config=args.config, **({'cfg_options': args.cfg_options}
                                             if args.cfg_options else {}),
                      seed=seed, world=summary['world'], claim=summary['claim'],
                      leaked_images=summary['claim'].get('leaked_images'),
                      environment=run_environment())
        dump_json(path, record, indent=2)
        claims[seed] = summary['claim']
    if args.seed_only:
        return
    table = seeds_table(claims)
    lines = seeds_lines(table)
    dump_json(osp.join(args.out, 'claim_seeds.json'), dict(config=args.config, **table),
              indent=2)
    with open(osp.join(args.out, 'claim_seeds.md'), 'w') as f:
        f.write('# The claim over world seeds\n\n' + ''.join(f'* {x}\n' for x in lines))
    print('\n'.join(lines), flush=True)


if __name__ == '__main__':
    from intern_mm.apis.cli import run_cli
    sys.exit(run_cli(main, prog='claim_seeds.py'))
