"""GV-B in one command: run the benchmark, list its tasks, write the report.

Examples::

    # every task, linear probe, published search
    python tools/gvb.py run --backbone configs/gvb/backbones/metanet_mn-b4.py \
        --checkpoint mn-b4.pth --tasks all --mode probe --search

    # any mmpretrain backbone, classification only, a dataset outside data/gvb
    python tools/gvb.py run --backbone "dict(type='ResNet', depth=50)" --tasks cls \
        --data-root cifar10=../shared/datasets/cifar10

    # which datasets are prepared, and how to prepare the others
    python tools/gvb.py tasks

    python tools/gvb.py report --work-dir work_dirs/gvb --compare Up-G/MN-B4 Up-A/R50

    # the Runner config a run trains with (protocol templates: configs/gvb/_base_)
    python tools/gvb.py show-config voc0712_det finetune \
        --backbone configs/gvb/backbones/resnet50.py --cfg-options train_cfg.max_epochs=6

Every Runner run writes the config it ran as ``run_config.py`` into its work dir
(``<run>/<task>/final/``, each search trial's folder). ``--cfg-options`` keys must exist
in the config (a misspelt key stops the command; ``+key=value`` adds one on purpose).

A task that fails writes ``<task>/failed.json`` (error, traceback file, the command that
retries it) and the other tasks go on; the exit status is 1 when any task failed, and
rerunning the same command retries the failed tasks (finished ones are skipped).

Distributed (Runner-based protocols)::

    torchrun --nproc_per_node 8 tools/gvb.py run ... --launcher pytorch
"""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.benchmark import GVB_TASKS, EXTRA_TASKS, load_task_file  # noqa: E402
from intern_mm.benchmark.suite import SuiteConfig, run_suite  # noqa: E402
from intern_mm.benchmark.protocols import PROTOCOL_MODES  # noqa: E402
from intern_mm.benchmark.tasks import resolve_layout, select_tasks  # noqa: E402

#: The backbone of ``show-config`` when none is given.
DEFAULT_SHOW_BACKBONE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                                 'gvb', 'backbones', 'resnet50.py')


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_key_values(items: Optional[List[str]], nested: bool = False) -> Dict:
    """Parse ``KEY=VALUE`` items (``FAMILY.KEY=VALUE`` when ``nested``)."""
    out: Dict = {}
    for item in items or []:
        if '=' not in item:
            raise SystemExit(f'error: expected KEY=VALUE, got "{item}"')
        key, value = item.split('=', 1)
        if nested:
            if '.' not in key:
                raise SystemExit(f'error: expected FAMILY.KEY=VALUE (e.g. cls.max_iters=50), '
                                 f'got "{item}"')
            family, sub = key.split('.', 1)
            out.setdefault(family, {})[sub] = _parse_value(value)
        else:
            out[key] = value
    return out


def _add_config_args(parser: argparse.ArgumentParser,
                     backbone_default: Optional[str]) -> None:
    """The options that decide a task's Runner config (``run`` and ``show-config``)."""
    parser.add_argument('--backbone', required=backbone_default is None,
                        default=backbone_default,
                        help='config file (model / backbone / bare backbone dict), '
                        'checkpoint, or a dict string' + (
                            '' if backbone_default is None else
                            ' (default: configs/gvb/backbones/resnet50.py)'))
    parser.add_argument('--checkpoint', help='backbone (or full-model) checkpoint')
    parser.add_argument('--backbone-cfg', help='backbone config for a checkpoint --backbone')
    parser.add_argument('--work-dir', default='work_dirs/gvb')
    parser.add_argument('--run-name', help='run folder name (default: backbone + mode)')
    parser.add_argument('--data-base', default='data/gvb',
                        help='default data roots are <data-base>/<task>')
    parser.add_argument('--data-root', nargs='+', metavar='TASK=DIR',
                        help='per-task data roots, e.g. cifar10=../shared/datasets/cifar10')
    parser.add_argument('--subset-base', help='subset folder (default <data-base>/subsets)')
    parser.add_argument('--ratio', type=float, default=0.1, help='subset ratio (0.1)')
    parser.add_argument('--shot', type=int, help='k-shot subsets instead of --ratio')
    parser.add_argument('--val-ratio', type=float, default=0.2,
                        help='validation fraction carved out of the subset')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--recipe', nargs='+', metavar='FAMILY.KEY=VALUE',
                        help='recipe overrides, e.g. cls.max_iters=1000 det.max_epochs=6')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='merged into every Runner config (mmengine syntax; keys must '
                        'exist unless prefixed with "+")')
    parser.add_argument('--task-file', help='extra (non-GV-B) task definitions')
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='GV-B benchmark')
    sub = parser.add_subparsers(dest='command', required=True)
    # every sub-command takes --debug (run_cli: the traceback instead of one line)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(DEBUG_FLAG, action='store_true',
                        help='show the Python traceback of an error (default: one line)')

    run = sub.add_parser('run', help='run GV-B tasks (resumable)', parents=[common])
    _add_config_args(run, backbone_default=None)
    run.add_argument('--tasks', default='all',
                     help='all | cls | det | seg | depth | comma-separated task names')
    run.add_argument('--mode', default='probe', choices=list(PROTOCOL_MODES))
    run.add_argument('--search', action='store_true',
                     help='published hyper-parameter search on the carved val split')
    run.add_argument('--impl', default='auto', choices=['auto', 'cache', 'runner'],
                     help='classification probe: cached features or Runner iterations')
    run.add_argument('--device', help='device of the cached-feature probe')
    run.add_argument('--fail-fast', action='store_true',
                     help='stop at the first failing task (default: record failed.json '
                     'and go on with the other tasks)')
    run.add_argument('--local_rank', '--local-rank', type=int, default=0)

    show = sub.add_parser('show-config', parents=[common],
                          help='print the Runner config a run trains a task with')
    show.add_argument('task', metavar='TASK', help='task name (see the tasks command)')
    show.add_argument('protocol', metavar='PROTOCOL', choices=list(PROTOCOL_MODES),
                      help=f'one of {", ".join(PROTOCOL_MODES)}')
    _add_config_args(show, backbone_default=DEFAULT_SHOW_BACKBONE)

    tasks = sub.add_parser('tasks', help='list tasks, their data status and prepare commands',
                           parents=[common])
    tasks.add_argument('--data-base', default='data/gvb')
    tasks.add_argument('--data-root', nargs='+', metavar='TASK=DIR')
    tasks.add_argument('--task-file')

    report = sub.add_parser('report', help='Markdown/CSV/JSON/PNG report of the runs',
                            parents=[common])
    report.add_argument('--work-dir', default='work_dirs/gvb')
    report.add_argument('--runs', nargs='+', help='run names (default: all)')
    report.add_argument('--out', help='output folder (default <work-dir>/report)')
    report.add_argument('--official', help='published-results CSV '
                        '(default ../shared/reference/gvb_official_results.csv, '
                        'else the built-in copy)')
    report.add_argument('--compare', nargs='+', metavar='STAGE/MODEL',
                        help='published rows to include, e.g. Up-G/MN-B4 (default: all in '
                        'the tables, Up-A/MN-B4 Up-E/C-MN-B4 Up-G/MN-B4 in report.png)')
    report.add_argument('--reference', metavar='STAGE/MODEL',
                        help='published row of report_vs_<run>.png (default Up-G/MN-B4)')
    report.add_argument('--no-official', action='store_true')
    return parser


def _tool_path() -> str:
    """This script as it was invoked (``tools/gvb.py``), else its absolute path."""
    if osp.basename(sys.argv[0]) == osp.basename(__file__) and osp.isfile(sys.argv[0]):
        return sys.argv[0]
    return osp.abspath(__file__)


def _suite_config(args, mode: str, **extra) -> SuiteConfig:
    """The run options of ``run`` / ``show-config``'s arguments."""
    if args.task_file:
        load_task_file(args.task_file)
    cfg_options = None
    if args.cfg_options:
        cfg_options = {k: _parse_value(v) for k, v in parse_key_values(
            args.cfg_options).items()}
    return SuiteConfig(
        backbone=args.backbone, mode=mode, work_dir=args.work_dir, run_name=args.run_name,
        checkpoint=args.checkpoint, backbone_cfg=args.backbone_cfg,
        data_base=args.data_base, data_roots=parse_key_values(args.data_root),
        subset_base=args.subset_base, ratio=args.ratio, shot=args.shot,
        val_ratio=args.val_ratio, seed=args.seed,
        recipe=parse_key_values(args.recipe, nested=True), cfg_options=cfg_options,
        launcher=args.launcher, num_workers=args.num_workers, **extra)


def check_cfg_options(cfg: SuiteConfig) -> None:
    """Merge ``cfg.cfg_options`` into the config of one selected task per family before
    any task runs: a misspelt key stops the command with one line instead of failing
    every task (``UnknownConfigKeyError``)."""
    from intern_mm.benchmark.backbone import parse_backbone_spec
    from intern_mm.benchmark.protocol_preview import preview_runner_cfg
    spec = parse_backbone_spec(cfg.backbone, checkpoint=cfg.checkpoint,
                               backbone_cfg=cfg.backbone_cfg)
    families = set()
    for task in select_tasks(cfg.tasks):
        if task.family not in families:
            families.add(task.family)
            preview_runner_cfg(cfg, task, spec)


def cmd_run(args) -> int:
    if args.launcher != 'none' and 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = _suite_config(
        args, args.mode, tasks=args.tasks, search=args.search, impl=args.impl,
        device=args.device, keep_going=not args.fail_fast,
        command=[sys.executable, _tool_path()] + list(args.argv))
    if cfg.cfg_options:
        check_cfg_options(cfg)
    if cfg.launcher != 'none':
        import torch
        from mmengine.dist import init_dist
        init_dist(cfg.launcher, backend='nccl' if torch.cuda.is_available() else 'gloo')
    results = run_suite(cfg)
    from mmengine.dist import is_main_process
    failed = [res for res in results if res['status'] == 'failed']
    if not is_main_process():
        return 1 if failed else 0
    print('\nGV-B summary')
    for res in results:
        status = res['status']
        if status == 'missing':
            print(f"  {res['task']:<16} missing  -> prepare: {res['prepare']}")
        elif status == 'failed':
            print(f"  {res['task']:<16} FAILED   {res['error']}")
        else:
            print(f"  {res['task']:<16} {status:<8} {res['metric']} = {res['score']}")
    if failed:
        print(f"\n{len(failed)} of {len(results)} task(s) failed: "
              f"{', '.join(r['task'] for r in failed)}")
        for res in failed:
            print(f"  {res['task']}: traceback {res['traceback']}\n"
                  f"    retry: {res['retry']}")
        print('Rerunning the same command retries the failed tasks '
              '(finished ones are skipped).')
        return 1
    return 0


def cmd_show_config(args) -> int:
    """Print the resolved Runner config of a task's final run (nothing is created)."""
    from mmengine.config import Config
    from intern_mm.benchmark.protocol_preview import preview_runner_cfg
    cfg = _suite_config(args, args.protocol)
    print(Config(preview_runner_cfg(cfg, args.task)).pretty_text)
    return 0


def cmd_tasks(args) -> int:
    if args.task_file:
        load_task_file(args.task_file)
    roots = parse_key_values(args.data_root)
    for task in list(GVB_TASKS.values()) + list(EXTRA_TASKS.values()):
        root = roots.get(task.name) or task.default_root(args.data_base)
        layout, missing = resolve_layout(task, root)
        state = 'ready' if layout is not None else 'missing'
        gvb = 'GV-B' if task.in_gvb else 'extra'
        print(f'{task.name:<16} {gvb:<5} {task.family:<5} {task.metric:<15} {state:<7} {root}')
        if layout is None:
            print(f'{"":<16} prepare: {task.prepare}')
    return 0


def cmd_report(args) -> int:
    from intern_mm.benchmark.report import write_report
    try:
        paths = write_report(args.work_dir, out_dir=args.out, runs=args.runs,
                             official_path=args.official, compare=args.compare,
                             with_official=not args.no_official, reference=args.reference)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f'error: {exc}')
    for kind, path in paths.items():
        print(f'{kind}: {path}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return dict(run=cmd_run, tasks=cmd_tasks, report=cmd_report,
                show_config=cmd_show_config)[args.command.replace('-', '_')](args)


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='gvb.py'))
