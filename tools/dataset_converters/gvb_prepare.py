"""Prepare a GV-B dataset from its official release (no TensorFlow needed).

Usage::

    python tools/dataset_converters/gvb_prepare.py TASK --src DOWNLOAD_DIR --out data/gvb/TASK
        [--option KEY=VALUE ...]

Examples::

    python tools/dataset_converters/gvb_prepare.py fer2013 --src downloads/fer2013 \
        --out data/gvb/fer2013
    python tools/dataset_converters/gvb_prepare.py widerface_det --src downloads/WIDER \
        --out data/gvb/widerface_det --option eval_mat=downloads/wider_face_val.mat
    python tools/dataset_converters/gvb_prepare.py voc2012_seg --src downloads/VOCdevkit \
        --out data/gvb/voc2012_seg --option sbd=downloads/benchmark_RELEASE/dataset

The official layouts each converter expects are in docs/gvb.md and in the converter
docstrings (``intern_mm/datasets/gvb/converters.py``). ``voc0712_det`` needs no
conversion (place ``VOC2007``/``VOC2012`` under ``data/gvb/voc0712_det``).
"""
import argparse
import ast
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.datasets.gvb.converters import CONVERTERS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('task', choices=sorted(CONVERTERS))
    parser.add_argument('--src', required=True, help='official release folder')
    parser.add_argument('--out', required=True, help='prepared data root')
    parser.add_argument('--option', nargs='+', metavar='KEY=VALUE', default=[],
                        help='converter options (e.g. test_ratio=0.2, eval_mat=...)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    options = {}
    for item in args.option:
        key, _, value = item.partition('=')
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    counts = CONVERTERS[args.task](args.src, args.out, **options)
    print(f'{args.task}: wrote {args.out} {counts}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
