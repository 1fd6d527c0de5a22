"""Side-by-side backbone benchmark: parameters, FLOPs, forward and train-step throughput.

Every backbone is measured in the same run on the same machine and reported relative to
the first one, so the ratios (not the absolute numbers) are what to compare.

Example:
    # MN-B4 vs mmpretrain ResNet-50 (the default pair), 224x224, batch 8, CPU
    python tools/analysis_tools/benchmark_backbone.py
    # any registered backbones, as name=python-dict
    python tools/analysis_tools/benchmark_backbone.py \
        --backbone "r18=dict(type='mmpretrain.ResNet', depth=18)" \
        --backbone "tiny=dict(type='intern_mm.MetaNet', arch='tiny')" --input-size 64
"""
import argparse
import ast
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from intern_mm.analysis import build_module, count_complexity, measure_throughput  # noqa

DEFAULT_BACKBONES = [
    "mn-b4=dict(type='intern_mm.MetaNet', arch='mn-b4', out_indices=(3,))",
    "resnet50=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3,))",
]


def parse_backbone(spec: str):
    name, sep, cfg_text = spec.partition('=')
    if not sep:
        raise ValueError(f'--backbone must look like NAME=dict(type=...), got {spec!r}')
    cfg_text = cfg_text.strip()
    if cfg_text.startswith('dict(') and cfg_text.endswith(')'):
        tree = ast.parse(cfg_text, mode='eval').body
        cfg = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
    else:
        cfg = ast.literal_eval(cfg_text)
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'backbone {name!r}: config must be a dict with a "type"')
    return name.strip(), cfg


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backbone', action='append', help='NAME=dict(type=..., ...)')
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='autocast (fp16 CUDA / bf16 CPU)')
    parser.add_argument('--out', help='also write the rows as JSON to this file')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    specs = args.backbone or DEFAULT_BACKBONES
    rows = []
    for spec in specs:
        name, cfg = parse_backbone(spec)
        torch.manual_seed(0)
        module = build_module(cfg)
        info = count_complexity(module, (3, args.input_size, args.input_size))
        kwargs = dict(batch_size=args.batch_size, input_size=args.input_size,
                      warmup=args.warmup, iters=args.iters, device=args.device, amp=args.amp)
        fwd = measure_throughput(module, train=False, **kwargs)
        trn = measure_throughput(module, train=True, **kwargs)
        rows.append(dict(name=name, params=info['params'], flops=info['flops'],
                         forward_img_s=fwd, train_img_s=trn))
        print(f'measured {name}: {rows[-1]}', flush=True)
        del module
    base = rows[0]
    header = ('| backbone | params (M) | FLOPs (G) | forward img/s | train-step img/s | '
              f'params / {base["name"]} | FLOPs / {base["name"]} | forward / {base["name"]} '
              f'| train / {base["name"]} |')
    lines = [
        f'Device: {args.device}, input {args.input_size}x{args.input_size}, batch '
        f'{args.batch_size}, {args.iters} timed iterations, amp={args.amp}, '
        f'torch threads={torch.get_num_threads()}', '', header,
        '|' + '---|' * 9
    ]
    for r in rows:
        lines.append(
            f'| {r["name"]} | {r["params"] / 1e6:.2f} | {r["flops"] / 1e9:.2f} | '
            f'{r["forward_img_s"]:.1f} | {r["train_img_s"]:.1f} | '
            f'{r["params"] / base["params"]:.2f} | {r["flops"] / base["flops"]:.2f} | '
            f'{r["forward_img_s"] / base["forward_img_s"]:.2f} | '
            f'{r["train_img_s"] / base["train_img_s"]:.2f} |')
    print('\n'.join(lines))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=2)
    return rows


if __name__ == '__main__':
    main()
