"""Train a model from an mmengine config (intern_mm, mmpretrain, mmdet or mmseg).

Example:
    python tools/train.py configs/metanet/metanet-b4_1xb64-10k_cifar10.py \
        --work-dir work_dirs/demo --cfg-options train_cfg.max_iters=20
    python tools/train.py CONFIG --resume                   # resume from the latest checkpoint
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from intern_mm.apis import build_cfg_from_args, run_train  # noqa: E402
from intern_mm.apis.cli import add_common_args, parse_common_args  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint in the '
        'work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale lr with the batch size')
    add_common_args(parser)
    return parse_common_args(parser, argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_cfg_from_args(args, mode='train')
    run_train(cfg)


if __name__ == '__main__':
    main()
