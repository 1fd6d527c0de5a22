"""INTERN's claim over several world seeds (``make claim``).

Runs a pipeline config once per seed, each on a whole new world (``<world.root>_s<seed>``,
its downstream stream, subsets and stage seeds: ``intern_mm.paradigm.seeds``), in
``<work-dir>/seed<seed>`` (finished stages and runs are reused; an interrupted one
resumes), writes each seed's ``world`` and ``claim`` to ``<out>/seed<seed>.json`` and
the margins over the seeds (mean, sample standard deviation, won or not) to
``<out>/claim_seeds.json`` / ``.md``, and prints them.

``--jobs N`` runs up to N seeds at once, each in its own process with
``cpus // N`` threads (its log: ``<work-dir>/seed<seed>.log``); on small CPU models one
thread per seed uses the cores better than one seed on all of them (docs/claim.md,
"Budget").

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
import time

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
    cfg.merge_from_dict(seed_options(seed, cfg.world.root))
    return ParadigmPipeline(cfg, work_dir=osp.join(work_dir, f'seed{seed}')).run()


def seed_processes(args) -> None:
    """Run the seeds in up to ``args.jobs`` processes at once (this tool, one seed
    each, ``cpus // jobs`` threads); each writes ``<out>/seed<seed>.json``."""
    import subprocess
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    options = [f'{k}={v}' for k, v in (args.cfg_options or {}).items()]
    os.makedirs(args.work_dir, exist_ok=True)
    pending, running, failed = list(args.seeds), [], []
    while pending or running:
        for proc, log in [r for r in running if r[0].poll() is not None]:
            running.remove((proc, log))
            if proc.returncode:
                failed.append(log)
        while pending and len(running) < args.jobs:
            seed = pending.pop(0)
            log = osp.join(args.work_dir, f'seed{seed}.log')
            cmd = [sys.executable, osp.abspath(__file__), args.config, '--seeds', str(seed),
                   '--work-dir', args.work_dir, '--out', args.out, '--seed-only'] + (
                       ['--cfg-options'] + options if options else [])
            print(f'seed {seed}: running ({threads} threads), log {log}', flush=True)
            with open(log, 'w') as f:
                running.append((subprocess.Popen(cmd, env=env, stdout=f,
                                                 stderr=subprocess.STDOUT), log))
        time.sleep(1)
    if failed:
        raise RuntimeError(f'{len(failed)} seed(s) failed: see {", ".join(sorted(failed))}')


def main(argv=None) -> None:
    args = parse_args(argv)
    import intern_mm  # noqa: F401
    from intern_mm.paradigm.seeds import seeds_lines, seeds_table
    from intern_mm.utils.run_record import dump_json
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'pipeline config {args.config} does not exist')
    if args.jobs < 1:
        raise ValueError(f'--jobs must be at least 1, got {args.jobs}')
    os.makedirs(args.out, exist_ok=True)
    claims = {}
    if args.jobs > 1 and len(args.seeds) > 1:
        seed_processes(args)
    for seed in args.seeds:
        path = osp.join(args.out, f'seed{seed}.json')
        if args.jobs > 1 and len(args.seeds) > 1:
            with open(path) as f:
                claims[seed] = json.load(f)['claim']
            continue
        summary = run_seed(args.config, seed, args.work_dir, args.cfg_options)
        record = dict(config=args.config, seed=seed, world=summary['world'],
                      claim=summary['claim'],
                      leaked_images=summary['claim'].get('leaked_images'))
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
