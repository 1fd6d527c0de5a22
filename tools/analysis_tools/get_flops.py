"""Count parameters and FLOPs of a model built from a config (backbone + neck by default).

Example:
    python tools/analysis_tools/get_flops.py configs/metanet/metanet-b4_8xb64_in1k.py --shape 224
    python tools/analysis_tools/get_flops.py CONFIG --shape 800 1333 --backbone-only
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

from intern_mm.analysis import count_complexity  # noqa: E402
from intern_mm.apis import merge_cfg_options  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Get a model\'s FLOPs and parameters')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[224], help='input image size (H [W])')
    parser.add_argument(
        '--backbone-only', action='store_true', help='count the backbone alone')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if len(args.shape) not in (1, 2):
        raise ValueError(f'--shape takes one or two integers, got {args.shape}')
    h, w = (args.shape * 2)[:2]
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    result = count_complexity(
        cfg.model, (3, h, w), backbone_only=args.backbone_only, scope=cfg.get('default_scope'))
    by_op = ', '.join(f'{k} {v / 1e9:.4f}G' for k, v in sorted(
        result['by_operator'].items(), key=lambda kv: -kv[1]))
    split_line = '=' * 40
    print(f'{split_line}\nConfig: {args.config}\nInput shape: {(3, h, w)}\n'
          f'Counted: {result["counted"]}\nFlops: {result["flops_str"]}\n'
          f'By operator: {by_op}\n'
          f'Params: {result["params_str"]}'
          f'{" (backbone)" if args.backbone_only else " (whole model)"}\n{split_line}')
    print('!!! FLOPs are multiply-accumulates (MACs) counted by mmengine\'s fvcore-style '
          'analysis on one image (scaled_dot_product_attention included; BN, pooling and '
          'LayerNorm count one MAC per element); check its per-operator support before '
          'comparing.')
    return result


if __name__ == '__main__':
    main()
