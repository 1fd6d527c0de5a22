"""GELU and global-average-pool gradients on a backbone's own feature maps, by memory layout.

Collects the input shapes of every ``ChannelsLastGELU`` of a MetaNet at the given input
size and batch, then times, interleaved over rounds (medians), forward and backward of

* ``nchw``: ``F.gelu`` on a contiguous tensor;
* ``cl aten``: ``F.gelu`` on the same values in channels_last (PyTorch's own path);
* ``cl dense``: :func:`intern_mm.models.backbones.channels_last.gelu` on that tensor;

and, for every squeeze-and-excitation input, forward and backward of ``x * mean(x)``
on a channels_last ``x`` with the mean from ``F.adaptive_avg_pool2d`` and from
:func:`~intern_mm.models.backbones.channels_last.spatial_mean`. It checks that the
results are equal, and prints per-shape times and the totals of one forward + backward
of the backbone's calls. By default the process keeps freed memory mapped
(:func:`intern_mm.utils.retain_cpu_memory`), so that page faults on fresh output buffers,
the same in every layout, do not blur the kernels' difference (``--malloc default``
measures with glibc's default settings).

Example:
    python tools/analysis_tools/benchmark_layout_ops.py --arch mn-b4
    python tools/analysis_tools/benchmark_layout_ops.py --arch tiny --input-size 64 --rounds 3
"""
import argparse
import collections
import os
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmengine  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from intern_mm.models import MetaNet  # noqa: E402
from intern_mm.models.backbones import HardSigmoidSE  # noqa: E402
from intern_mm.models.backbones.channels_last import (ChannelsLastGELU, gelu,  # noqa: E402
                                                      spatial_mean)
from intern_mm.utils import cpu_allocator_state, retain_cpu_memory  # noqa: E402

CL = torch.channels_last


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='mn-b4', choices=sorted(MetaNet.arch_zoo),
                        help='MetaNet arch. Default: mn-b4')
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--malloc', choices=['retain', 'default'], default='retain',
                        help="'retain' (default): retain_cpu_memory() before timing")
    parser.add_argument('--out', help='also write the results as JSON to this file')
    args = parser.parse_args(argv)
    for name in ('input_size', 'batch_size', 'rounds'):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def feature_shapes(arch: str, batch: int, size: int):
    """``({shape: calls}, {shape: calls})`` of the GELU and SE inputs of one forward."""
    model = MetaNet(arch=arch, out_indices=(0, 1, 2, 3, 4)).eval()
    shapes = {ChannelsLastGELU: collections.Counter(), HardSigmoidSE: collections.Counter()}
    for m in model.modules():
        if type(m) in shapes:
            m.register_forward_hook(
                lambda mod, inp, out: shapes[type(mod)].update([tuple(inp[0].shape)]))
    with torch.no_grad():
        model(torch.randn(batch, 3, size, size))
    return shapes[ChannelsLastGELU], shapes[HardSigmoidSE]


def _fwd_bwd(fn, x, grad):
    """Closures timing ``fn(x)`` (no grad) and its backward for ``grad``."""

    def forward():
        with torch.no_grad():
            fn(x)

    def backward():
        leaf = x.detach().requires_grad_()
        fn(leaf).backward(grad)

    return forward, backward


def _squeeze(mean_fn):
    return lambda x: x * mean_fn(x)[:, :, None, None]


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.malloc == 'retain':
        retain_cpu_memory()
    gelu_shapes, se_shapes = feature_shapes(args.arch, args.batch_size, args.input_size)
    torch.manual_seed(0)
    cases, equal = {}, {}
    for shape in gelu_shapes:
        x = torch.randn(shape)
        x_cl, g_cl = x.contiguous(memory_format=CL), torch.randn(shape).contiguous(
            memory_format=CL)
        equal[f'gelu {shape}'] = torch.equal(gelu(x_cl), F.gelu(x))
        for name, fn, inp, grad in (('nchw', F.gelu, x, g_cl.contiguous()),
                                    ('cl aten', F.gelu, x_cl, g_cl),
                                    ('cl dense', gelu, x_cl, g_cl)):
            fwd, bwd = _fwd_bwd(fn, inp, grad)
            cases[('gelu', shape, name, 'forward')] = fwd
            cases[('gelu', shape, name, 'backward')] = bwd
    for shape in se_shapes:
        x_cl = torch.randn(shape).contiguous(memory_format=CL)
        g_cl = torch.randn(shape).contiguous(memory_format=CL)
        pool = lambda t: F.adaptive_avg_pool2d(t, 1).flatten(1)  # noqa: E731
        equal[f'mean {shape}'] = torch.equal(spatial_mean(x_cl), pool(x_cl))
        for name, mean_fn in (('adaptive_avg_pool2d', pool), ('spatial_mean', spatial_mean)):
            _, bwd = _fwd_bwd(_squeeze(mean_fn), x_cl, g_cl)
            cases[('squeeze', shape, name, 'forward+backward')] = bwd
    times = collections.defaultdict(list)
    for fn in cases.values():
        fn()  # warm-up
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for key, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}

    lines = [f'MetaNet {args.arch}, input {args.input_size}x{args.input_size}, batch '
             f'{args.batch_size}; median of {args.rounds} interleaved rounds; torch '
             f'{torch.__version__}, {torch.get_num_threads()} threads; {cpu_allocator_state()}; '
             f'load average '
             f'{load_before[0]:.2f} before, {load_after[0]:.2f} after', '',
             '| GELU input | calls | pass | nchw ms | cl aten ms | cl dense ms | '
             'cl aten / cl dense |', '|---|---|---|---|---|---|---|']
    totals = collections.defaultdict(float)
    for shape, calls in gelu_shapes.items():
        for pas in ('forward', 'backward'):
            row = [med[('gelu', shape, n, pas)] for n in ('nchw', 'cl aten', 'cl dense')]
            for n, v in zip(('nchw', 'cl aten', 'cl dense'), row):
                totals[('gelu', n)] += calls * v
            lines.append(f'| {shape} | {calls} | {pas} | ' +
                         ' | '.join(f'{v:.2f}' for v in row) + f' | {row[1] / row[2]:.2f} |')
    lines += ['', '| SE input (channels_last) | calls | adaptive_avg_pool2d fwd+bwd ms | '
              'spatial_mean fwd+bwd ms | ratio |', '|---|---|---|---|---|']
    for shape, calls in se_shapes.items():
        a, b = (med[('squeeze', shape, n, 'forward+backward')]
                for n in ('adaptive_avg_pool2d', 'spatial_mean'))
        totals[('squeeze', 'adaptive_avg_pool2d')] += calls * a
        totals[('squeeze', 'spatial_mean')] += calls * b
        lines.append(f'| {shape} | {calls} | {a:.2f} | {b:.2f} | {a / b:.2f} |')
    lines += ['', 'per forward + backward of the backbone: GELU ' + ', '.join(
        f"{n} {totals[('gelu', n)]:.0f} ms" for n in ('nchw', 'cl aten', 'cl dense')) +
        '; squeeze ' + ', '.join(
        f"{n} {totals[('squeeze', n)]:.0f} ms" for n in ('adaptive_avg_pool2d',
                                                          'spatial_mean')),
        'results equal: ' + str(all(equal.values()))]
    print('\n'.join(lines))
    results = dict(
        arch=args.arch, input_size=args.input_size, batch_size=args.batch_size,
        allocator=cpu_allocator_state(),
        load_average=[load_before[0], load_after[0]],
        gelu_calls={str(k): v for k, v in gelu_shapes.items()},
        se_calls={str(k): v for k, v in se_shapes.items()},
        median_ms={' | '.join(map(str, k)): v for k, v in med.items()},
        totals_ms={' | '.join(k): v for k, v in totals.items()}, equal=equal)
    if args.out:
        mmengine.dump(results, args.out, file_format='json', indent=2)
    return results


if __name__ == '__main__':
    main()
