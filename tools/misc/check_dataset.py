"""Check the datasets of any config before training: files, decoding, annotations, classes.

Prints one line per problem, naming the file, and exits with status 1 when there is
any (0 when every checked split is fine). Works on stock mmpretrain / mmdet / mmseg
configs as well as intern_mm's.

Example:
    python tools/misc/check_dataset.py configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py
    python tools/misc/check_dataset.py CONFIG --split train --no-decode   # seconds: no decoding
    python tools/misc/check_dataset.py CONFIG --cfg-options \
        train_dataloader.dataset.data_root=/data/raccoon --allow-unknown-classes

Checks (see :mod:`intern_mm.datasets.checks`): the annotations parse; every image and
segmentation map exists and (unless ``--no-decode``) decodes with the pipeline's own
loader; every configured class occurs in the annotations and none is annotated that the
config lacks (``--allow-unknown-classes`` accepts the latter, for training on some of a
dataset's classes; ``--allow-unused-classes`` the former).
"""
import argparse
import os.path as osp
import sys
from collections import Counter

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.apis.config import merge_cfg_options  # noqa: E402
from intern_mm.datasets.checks import SPLITS, check_config_datasets  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the train/val/test datasets of a config (one line per problem)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', nargs='+', choices=SPLITS, default=list(SPLITS),
                        help='splits to check (default: all configured)')
    parser.add_argument('--no-decode', action='store_true',
                        help='only check that files exist and annotations parse (fast); '
                        'by default every image and segmentation map is decoded')
    parser.add_argument('--allow-unknown-classes', action='store_true',
                        help='accept annotated classes the config does not list')
    parser.add_argument('--allow-unused-classes', action='store_true',
                        help='accept configured classes that no annotation uses')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings (keys must exist unless prefixed with "+")')
    parser.add_argument('--quiet', action='store_true', help='print problems only')
    parser.add_argument(DEBUG_FLAG, action='store_true',
                        help='show the traceback of an error')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)

    def progress(line: str) -> None:
        if not args.quiet:
            print(f'  ... {line}', file=sys.stderr)

    reports = check_config_datasets(
        cfg, splits=args.split, decode=not args.no_decode,
        check_unused=not args.allow_unused_classes,
        allow_unknown=args.allow_unknown_classes, progress=progress)
    if not reports:
        raise ValueError(f'{args.config} configures none of the dataloaders '
                         f'{", ".join(s + "_dataloader" for s in args.split)}')
    failed = 0
    for split, report in reports.items():
        for line in report.problems:
            print(f'{split}: {line}')
        failed += len(report.problems)
        if not args.quiet:
            classes = Counter()
            for counts in report.classes.values():
                classes.update(counts)
            status = 'OK' if not report.problems else f'{len(report.problems)} problem(s)'
            print(f'{split}: {status}: {report.num_samples} samples, '
                  f'{report.num_decoded} files decoded, {len(classes)} classes annotated',
                  file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='check_dataset.py'))
