"""Seeded, class-stratified GV-B training subsets (ratio or k-shot) with manifests.

Create (by task, using the GV-B task table's layout)::

    python tools/dataset_converters/make_subset.py create --task cifar10 \
        --data-root ../shared/datasets/cifar10 --out data/gvb/subsets/cifar10/r10 \
        --ratio 0.1 --seed 0

Create (explicit format and sources)::

    python tools/dataset_converters/make_subset.py create --format voc \
        --data-root data/VOCdevkit --out subsets/voc0712 \
        --source name=VOC2007,sub_root=VOC2007/,ann_file=VOC2007/ImageSets/Main/trainval.txt \
        --source name=VOC2012,sub_root=VOC2012/,ann_file=VOC2012/ImageSets/Main/trainval.txt
    python tools/dataset_converters/make_subset.py create --format cls --data-root D \
        --source ann_file=meta/train.txt --shot 16 --out subsets/x_16shot

Verify (exit status 1 and every difference printed when data or manifest changed)::

    python tools/dataset_converters/make_subset.py verify data/gvb/subsets/cifar10/r10

Creation decodes every selected image / mask with mmcv (as the training loaders do) and
refuses unreadable files by path; ``--exclude-unreadable`` leaves them out instead and
records them in the manifest (``excluded``). Errors print one line per problem (exit
status 1); ``--debug`` shows the traceback.

Formats and source keys: see :func:`intern_mm.datasets.gvb.subsets.make_subset`.
"""
import argparse
import ast
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.benchmark.tasks import get_task, resolve_layout  # noqa: E402
from intern_mm.datasets.gvb.manifest import (SubsetVerificationError,  # noqa: E402
                                             verify_subset)
from intern_mm.datasets.gvb.subsets import make_subset  # noqa: E402
from intern_mm.datasets.gvb.units import SUBSET_FORMATS  # noqa: E402


def _parse_source(text: str) -> dict:
    text = text.strip()
    if text.startswith('{'):
        return ast.literal_eval(text)
    out = {}
    for item in text.split(','):
        if '=' not in item:
            raise SystemExit(f'error: bad --source item "{item}" (expected key=value)')
        key, value = item.split('=', 1)
        out[key.strip()] = value.strip()
    if 'ignore_index' in out:
        out['ignore_index'] = int(out['ignore_index'])
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    create = sub.add_parser('create', help='create a subset')
    create.add_argument('--task', help='GV-B task name: take format and sources from the '
                        'task table')
    create.add_argument('--format', choices=SUBSET_FORMATS)
    create.add_argument('--data-root', required=True)
    create.add_argument('--out', required=True, help='output folder')
    create.add_argument('--source', action='append',
                        help='training source as key=value,... (repeat for several)')
    create.add_argument('--test-source', action='append',
                        help='test source (hash recorded, overlap refused)')
    create.add_argument('--classes', nargs='+', help='expected class names')
    group = create.add_mutually_exclusive_group()
    group.add_argument('--ratio', type=float, default=0.1)
    group.add_argument('--shot', type=int)
    create.add_argument('--val-ratio', type=float, default=0.2)
    create.add_argument('--seed', type=int, default=0)
    create.add_argument('--size-only', action='store_true',
                        help='digest only the sizes of the subset files (default: '
                        'their contents)')
    create.add_argument('--exclude-unreadable', action='store_true',
                        help='leave out images / masks mmcv cannot decode (recorded in '
                        'the manifest) instead of refusing them')
    create.add_argument('--no-decode-check', action='store_true',
                        help='do not decode the selected files')
    create.add_argument(DEBUG_FLAG, action='store_true', help='show tracebacks')
    verify = sub.add_parser('verify', help='verify a subset against data and manifest')
    verify.add_argument('out', help='subset folder')
    verify.add_argument('--data-root', help='dataset root if it moved')
    verify.add_argument(DEBUG_FLAG, action='store_true', help='show tracebacks')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'verify':
        try:
            manifest = verify_subset(args.out, data_root=args.data_root)
        except (SubsetVerificationError, FileNotFoundError) as err:
            print(f'FAILED: {err}', file=sys.stderr)
            return 1
        print(f"OK: {args.out} ({manifest['format']}, counts {manifest['counts']}, "
              f"manifest {manifest['manifest_sha256'][:12]})")
        return 0
    classes = args.classes
    if args.task:
        task = get_task(args.task)
        layout, missing = resolve_layout(task, args.data_root)
        if layout is None:
            print(f'error: data of {task.name} missing under {args.data_root}: {missing}\n'
                  f'prepare with: {task.prepare}', file=sys.stderr)
            return 1
        fmt = layout['format']
        sources = layout['train'] if isinstance(layout['train'], list) else [layout['train']]
        tests = layout['test'] if isinstance(layout['test'], list) else [layout['test']]
        classes = classes or (list(task.classes) if task.classes else None)
    else:
        if not args.format or not args.source:
            raise SystemExit('error: give --task, or --format and --source')
        fmt = args.format
        sources = [_parse_source(s) for s in args.source]
        tests = [_parse_source(s) for s in args.test_source or []]
    manifest = make_subset(fmt, args.data_root, args.out, sources,
                           ratio=None if args.shot else args.ratio, shot=args.shot,
                           val_ratio=args.val_ratio, seed=args.seed, classes=classes,
                           test_sources=tests or None, hash_files=not args.size_only,
                           check_decode=not args.no_decode_check,
                           exclude_unreadable=args.exclude_unreadable)
    print(f"wrote {args.out}: counts {manifest['counts']} from "
          f"{manifest['num_source_units']} units, manifest "
          f"{manifest['manifest_sha256'][:12]}")
    for unit, files in manifest['excluded'].items():
        for path, reason in files.items():
            print(f'excluded {unit}: {path}: {reason}')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='make_subset.py'))
