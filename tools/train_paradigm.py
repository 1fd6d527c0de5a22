"""Run the INTERN paradigm: world -> Up-A -> Up-E (cls/det/seg) -> Up-G -> downstream.

Re-running skips finished stages and resumes an interrupted one from its last
checkpoint. Writes ``summary.md`` / ``summary.json`` into the work dir and prints the
summary.

Example:
    python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py \
        --work-dir work_dirs/demo
    # every stage data-parallel on 8 GPUs (torchrun + DDP)
    python tools/train_paradigm.py CONFIG --nproc-per-stage 8
    # stages and downstream parts side by side, 2 processes at once (cpus // 2 threads)
    python tools/train_paradigm.py CONFIG --workers 2
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Run the INTERN paradigm pipeline')
    parser.add_argument('config', help='pipeline config file')
    parser.add_argument('--work-dir', help='pipeline work dir (default: cfg.work_dir or '
                        'work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override pipeline config settings, e.g. world.root=data/w launcher=inprocess '
        '(keys must exist unless prefixed with "+")')
    parser.add_argument(
        '--nproc-per-stage',
        type=int,
        default=None,
        help='train every stage data-parallel with this many processes under torchrun '
        '(DDP; gloo without CUDA); overrides nproc_per_stage of the config')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='run the stages and the downstream parts as jobs, this many processes at '
        'once (cpus // N threads each; a job starts when the stages it needs are done); '
        'overrides workers of the config')
    parser.add_argument('--verbose', action='store_true',
                        help='stream the full stage logs instead of progress lines '
                        '(without --workers)')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of an error (default: one line naming '
                        'the problem, e.g. the failing stage and its log)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import intern_mm  # noqa: F401
    from mmengine.config import Config

    from intern_mm.utils.config import merge_cfg_options
    from intern_mm.paradigm import ParadigmPipeline
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'pipeline config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    if args.nproc_per_stage is not None:
        cfg.nproc_per_stage = args.nproc_per_stage
    if args.workers is not None:
        cfg.workers = args.workers
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    # a failing stage raises StageFailedError naming the stage and its log
    ParadigmPipeline(cfg, work_dir=work_dir, verbose=args.verbose).run()


if __name__ == '__main__':
    from intern_mm.apis.cli import run_cli

    # one line per error (the failing stage and its log); --debug shows the traceback
    sys.exit(run_cli(main, prog='train_paradigm.py'))
