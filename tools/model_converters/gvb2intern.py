#!/usr/bin/env python
"""Convert an original INTERN / gv-benchmark checkpoint into an intern_mm checkpoint.

Handles MetaNet (MN-B4 / MN-B15) and Up-G ``Central_Model`` checkpoints, raw or wrapped
(``state_dict`` / ``model`` entries, ``module.`` prefixes, whole-model ``backbone.*``),
and merges the ``cls-bn`` / ``det-bn`` variants of an Up-G release into one checkpoint
with task-specific BN. The result is checked key by key (and shape by shape) against
the intern_mm model; any mismatch aborts with the list of offending keys.

Output keys carry the ``backbone.`` prefix (``--prefix ''`` to drop it), so the file
loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

Examples::

    python tools/model_converters/gvb2intern.py mnb4_up-e-c.pth mnb4_intern_mm.pth
    python tools/model_converters/gvb2intern.py central_mnb4_cls-bn.pth out.pth \\
        --det-bn central_mnb4_det-bn.pth
    python tools/model_converters/gvb2intern.py x.pth y.pth --arch mn-b15
    python tools/model_converters/gvb2intern.py central_mnb4.pth lean.pth \
        --drop-reverse-transfer   # for CentralModel(reverse_transfer=False)
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.models.backbones.gvb_checkpoint import (  # noqa: E402
    CheckpointMismatchError, convert_gvb_checkpoint)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original INTERN (gv-benchmark) MetaNet / Up-G '
        'checkpoint to intern_mm')
    parser.add_argument('src', help='original checkpoint (cls-bn variant with --det-bn)')
    parser.add_argument('dst', help='output checkpoint path')
    parser.add_argument(
        '--arch',
        default=None,
        help="MetaNet arch: 'mn-b4', 'mn-b15', 'tiny' or a JSON arch dict; "
        'detected from the keys when omitted')
    parser.add_argument(
        '--det-bn', default=None, help='det-bn variant of an Up-G checkpoint to merge')
    parser.add_argument(
        '--prefix', default='backbone.', help="output key prefix (default 'backbone.')")
    parser.add_argument(
        '--drop-reverse-transfer',
        action='store_true',
        help='Up-G: leave out the release\'s reverse-direction transfer layers '
        '(model.trans.gv_patch.gv_global.*), which its forward never calls, for a '
        'CentralModel(reverse_transfer=False); by default they are kept as '
        'reverse_trans.* (frozen, unused) so the conversion is lossless')
    parser.add_argument(DEBUG_FLAG, action='store_true',
                        help='show the traceback of an error')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)  # e.g. checkpoints/ of a clone
    try:
        ckpt = convert_gvb_checkpoint(
            args.src,
            args.dst,
            arch=args.arch,
            det_bn_src=args.det_bn,
            prefix=args.prefix,
            drop_reverse_transfer=args.drop_reverse_transfer)
    except (CheckpointMismatchError, FileNotFoundError) as err:
        print(f'gvb2intern: {err}', file=sys.stderr)
        return 1
    meta = ckpt['meta']
    print(f'converted {meta["layout"]} checkpoint: {len(ckpt["state_dict"])} tensors -> '
          f'{args.dst}')
    print(f'model config: {meta["model_cfg"]}')
    if meta['dropped_keys']:
        print(f'dropped {len(meta["dropped_keys"])} keys unused by the original forward '
              '(--drop-reverse-transfer)')
    if meta['ignored_keys']:
        print(f'ignored {len(meta["ignored_keys"])} non-backbone / non-tensor entries')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='gvb2intern.py'))
