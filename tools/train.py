"""Train a model from an mmengine config (intern_mm, mmpretrain, mmdet or mmseg).

Example:
    python tools/train.py configs/metanet/metanet-b4_1xb64-10k_cifar10.py \
        --work-dir work_dirs/demo --cfg-options train_cfg.max_iters=20
    python tools/train.py CONFIG --resume                   # resume from the latest checkpoint
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch

Before the Runner is built the datasets are checked (:mod:`intern_mm.datasets.checks`)
so that bad input ends in one line naming the file, not minutes into training:
``--check-data quick`` (default) checks that the train (and, when validating, val)
annotations parse, that every image exists and that the class names match the
annotations, and decodes the val images (a val image cannot be skipped without changing
the metric), not the train images: its line says so. ``full`` also decodes every train
image with the pipeline's loader (as ``tools/misc/check_dataset.py`` does; takes as long
as one pass over the data without the model); ``none`` skips the check. A train image
that fails to decode later is skipped and named by ``LoadImageFromFileOrSkip`` (and
counted by ``DecodeFailureHook``). Errors print one line; ``--debug`` shows the
traceback.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from intern_mm.apis import build_cfg_from_args, run_train  # noqa: E402
from intern_mm.apis.cli import add_common_args, parse_common_args, run_cli  # noqa: E402


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
    parser.add_argument(
        '--check-data',
        choices=['quick', 'full', 'none'],
        default='quick',
        help='check the datasets before training: quick (default: annotations parse, '
        'files exist, class names match, val images decode; train images are not '
        'decoded), full (also decode every train image), none')
    add_common_args(parser)
    return parse_common_args(parser, argv)


def check_data(cfg, mode: str) -> Optional[str]:
    """Check the datasets training will read; raise ``DataCheckError`` on problems.

    Args:
        cfg (Config): The training config.
        mode (str): ``'quick'``, ``'full'`` or ``'none'``.

    Returns:
        str | None: The line printed when the check passed (None when not checked).
    """
    if mode == 'none' or int(os.environ.get('RANK', '0')) != 0:
        return None  # under torchrun rank 0 checks; its failure ends the whole job
    from intern_mm.datasets.check_line import data_check_line
    from intern_mm.datasets.checks import DataCheckError, check_config_datasets
    problems, reports = [], {}
    validate = cfg.get('val_cfg') is not None and cfg.get('val_dataloader') is not None
    splits = ['train'] + (['val'] if validate else [])
    for split in splits:
        # val images are decoded in quick mode too: a val image cannot be skipped
        report = check_config_datasets(cfg, splits=[split],
                                       decode=mode == 'full' or split != 'train',
                                       check_unused=split == 'train',
                                       build=mode == 'full').get(split)
        if report is not None:
            reports[split] = report
            problems.extend(f'{split}: {line}' for line in report.problems)
    if problems:
        raise DataCheckError(
            problems, hint='(tools/misc/check_dataset.py CONFIG lists every problem; '
            '--check-data none skips this check)')
    line = data_check_line(mode, reports)
    print(line, flush=True)
    return line


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_cfg_from_args(args, mode='train')
    check_data(cfg, args.check_data)
    run_train(cfg)


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='train.py'))
