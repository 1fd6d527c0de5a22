"""Evaluate a checkpoint with an mmengine config (intern_mm, mmpretrain, mmdet or mmseg).

Example:
    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval
    python tools/test.py CONFIG CHECKPOINT --out results.pkl   # also dump raw predictions
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from intern_mm.apis import build_cfg_from_args, run_test  # noqa: E402
from intern_mm.apis.cli import add_common_args, parse_common_args, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump raw predictions to this pickle file')
    add_common_args(parser)
    return parse_common_args(parser, argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = build_cfg_from_args(args, mode='test')
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        evaluator = cfg.test_evaluator
        dump = dict(type='DumpResults', out_file_path=args.out)
        cfg.test_evaluator = ([*evaluator, dump] if isinstance(evaluator, (list, tuple)) else
                              [evaluator, dump])
    metrics = run_test(cfg)
    os.makedirs(cfg.work_dir, exist_ok=True)
    with open(osp.join(cfg.work_dir, 'test_metrics.json'), 'w') as f:
        json.dump({k: float(v) if hasattr(v, '__float__') else v
                   for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    sys.exit(run_cli(lambda argv: main(argv) and 0, prog='test.py'))
