"""Benchmark: cached-feature linear probe vs. the iteration-by-iteration Runner probe.

Both protocols train the GV-B classification linear probe (SGD, momentum, weight decay,
step schedule, batch 64, resize + centre crop, no augmentation, zero-initialised head,
``DefaultSampler`` order) on the same frozen backbone and the same CIFAR-10 10% subset,
and evaluate on the full CIFAR-10 test split. The script reports accuracy, end-to-end
wall time, the speed-up, the time of one forward pass over subset + test set, and the
largest difference between the two trained heads, as Markdown.

The backbone is a randomly initialised ``ResNet`` whose BN statistics are calibrated on
training-subset images (a deterministic, non-trivial frozen feature extractor; no
pretrained weights are downloaded). Any backbone spec can be given instead.

Example::

    python tools/analysis_tools/gvb_probe_cache.py \
        --data-root ../shared/datasets/cifar10 --max-iters 10000 \
        --out docs/benchmarks/gvb_probe_cache.md
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.benchmark.backbone import (build_backbone,  # noqa: E402
                                          parse_backbone_spec)
from intern_mm.benchmark.feature_probe import (build_cls_dataset,  # noqa: E402
                                               evaluate_linear_head, extract_features,
                                               train_linear_head)
from intern_mm.benchmark.protocols import (ProtocolContext,  # noqa: E402
                                           build_runner_cfg, dataset_cfgs)
from intern_mm.benchmark.tasks import get_task, resolve_layout  # noqa: E402
from intern_mm.datasets.gvb.manifest import verify_subset  # noqa: E402
from intern_mm.datasets.gvb.subsets import make_subset  # noqa: E402
from intern_mm.models.utils import describe_backbone_outputs  # noqa: E402

DEFAULT_BACKBONE = ("dict(type='mmpretrain.ResNet', depth=18, stem_channels=16, "
                    "base_channels=16)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=osp.join('..', 'shared', 'datasets',
                                                        'cifar10'))
    parser.add_argument('--backbone', default=DEFAULT_BACKBONE)
    parser.add_argument('--work-dir', default='work_dirs/gvb_probe_cache')
    parser.add_argument('--out', default='work_dirs/gvb_probe_cache/result.md')
    parser.add_argument('--ratio', type=float, default=0.1)
    parser.add_argument('--max-iters', type=int, default=10000)
    parser.add_argument('--milestones', type=int, nargs='+',
                        help='default: 30/60/90 %% of --max-iters')
    parser.add_argument('--lr', type=float, default=0.01)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--calib-images', type=int, default=512,
                        help='training images used to calibrate BN statistics (0: off)')
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--skip-runner', action='store_true')
    parser.add_argument('--runner-iters', type=int,
                        help='run only this many Runner iterations (same schedule) and '
                        'extrapolate its wall time to --max-iters (reported as such; the '
                        'Runner accuracy is then not comparable and not reported)')
    return parser.parse_args(argv)


@torch.no_grad()
def calibrate_bn(backbone, dataset, num_images: int, preprocessor=None) -> None:
    """Set BN running statistics to the exact mean/variance over ``num_images``."""
    from mmengine.dataset import pseudo_collate
    from intern_mm.benchmark.feature_probe import _build_preprocessor
    pre = _build_preprocessor(preprocessor)
    bns = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    backbone.train()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, range(min(num_images, len(dataset)))),
        batch_size=128, collate_fn=pseudo_collate)
    for batch in loader:
        backbone(pre(batch, training=False)['inputs'])
    for bn in bns:
        bn.momentum = 0.1
    backbone.eval()


def main(argv=None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    torch.manual_seed(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    milestones = args.milestones or [int(args.max_iters * f) for f in (0.3, 0.6, 0.9)]
    task = get_task('cifar10')
    layout, missing = resolve_layout(task, args.data_root)
    if layout is None:
        raise SystemExit(f'CIFAR-10 missing: {missing}')
    subset_dir = osp.join(args.work_dir, f'subset_ratio{args.ratio:g}_seed{args.seed}')
    if osp.isfile(osp.join(subset_dir, 'manifest.json')):
        manifest = verify_subset(subset_dir, data_root=args.data_root)
    else:
        manifest = make_subset('cls', args.data_root, subset_dir, [layout['train']],
                               ratio=args.ratio, seed=args.seed,
                               test_sources=[layout['test']])
    recipe = dict(optimizer='SGD', lr=args.lr, momentum=0.9, weight_decay=1e-3,
                  max_iters=args.max_iters, milestones=milestones, gamma=0.1,
                  batch_size=args.batch_size, img_size=args.img_size, resize_size=None,
                  test_batch_size=128)
    spec = parse_backbone_spec(args.backbone)
    ctx = ProtocolContext(task=task, data_root=args.data_root, layout=layout,
                          subset_dir=subset_dir, backbone=spec, out_channels=[],
                          recipe=recipe, work_dir=osp.join(args.work_dir, 'runner'),
                          num_workers=args.num_workers, seed=args.seed, log_interval=100)
    train_cfg, test_cfg = dataset_cfgs(ctx)
    # fixed frozen weights shared by both protocols
    ckpt = osp.join(args.work_dir, 'backbone.pth')
    backbone = build_backbone(spec)
    if args.calib_images:
        calibrate_bn(backbone, build_cls_dataset(train_cfg), args.calib_images,
                     spec.data_preprocessor)
    torch.save({'state_dict': backbone.state_dict()}, ckpt)
    spec = parse_backbone_spec(args.backbone, checkpoint=ckpt)
    ctx.backbone = spec
    ctx.out_channels = describe_backbone_outputs(build_backbone(spec), img_size=args.img_size)

    # --- cached features, end to end (build backbone, extract, train, evaluate)
    t0 = time.perf_counter()
    module = build_backbone(spec)
    kwargs = dict(data_preprocessor=spec.data_preprocessor, batch_size=128,
                  num_workers=args.num_workers)
    train_feats, train_labels = extract_features(module, build_cls_dataset(train_cfg),
                                                 **kwargs)
    test_feats, test_labels = extract_features(module, build_cls_dataset(test_cfg),
                                               **kwargs)
    t1 = time.perf_counter()
    head = train_linear_head(train_feats, train_labels, 10, lr=args.lr, momentum=0.9,
                             weight_decay=1e-3, max_iters=args.max_iters,
                             milestones=milestones, batch_size=args.batch_size,
                             seed=args.seed)
    cache_metrics = evaluate_linear_head(head, test_feats, test_labels)
    t2 = time.perf_counter()
    cache = dict(metrics=cache_metrics, total_s=t2 - t0, forward_s=t1 - t0,
                 head_s=t2 - t1)
    print('cache', json.dumps(cache))

    runner_res = None
    if not args.skip_runner:
        from mmengine.config import Config
        from mmengine.hooks import Hook
        from mmengine.runner import Runner

        class _IterClock(Hook):
            """Wall-clock time at the end of every training iteration."""
            priority = 'LOWEST'

            def __init__(self):
                self.stamps = []

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                self.stamps.append(time.perf_counter())

        runner_cfg = build_runner_cfg(ctx)
        if args.runner_iters:
            runner_cfg['train_cfg']['max_iters'] = args.runner_iters
            # a fresh work dir: the protocol resumes from checkpoints it finds
            runner_cfg['work_dir'] = osp.join(args.work_dir, f'runner_slice_{time.time():.0f}')
        clock = _IterClock()
        t0 = time.perf_counter()
        runner = Runner.from_cfg(Config(runner_cfg))
        runner.register_hook(clock)
        t_built = time.perf_counter()
        runner.train()
        t_trained = time.perf_counter()
        raw = runner.test()
        t1 = time.perf_counter()
        fc = runner.model.head.fc
        runner_res = dict(
            metrics=dict(top1=float(raw['accuracy/top1']),
                         mean_per_class=float(raw['single-label/recall'])),
            total_s=t1 - t0, build_s=t_built - t0, train_s=t_trained - t_built,
            test_s=t1 - t_trained,
            max_weight_diff=float((fc.weight.detach() - head.weight.detach()).abs().max()),
            max_bias_diff=float((fc.bias.detach() - head.bias.detach()).abs().max()))
        if args.runner_iters:
            steps = [b - a for a, b in zip(clock.stamps, clock.stamps[1:])]
            per_iter = sorted(steps)[len(steps) // 2] if steps else runner_res['train_s']
            first = clock.stamps[0] - t_built if clock.stamps else 0.
            train_est = first + per_iter * (args.max_iters - 1)
            runner_res.update(measured_iters=args.runner_iters, median_iter_s=per_iter,
                              train_s_extrapolated=train_est,
                              total_s=runner_res['build_s'] + train_est + runner_res['test_s'],
                              measured_total_s=t1 - t0)
        print('runner', json.dumps(runner_res))

    lines = [
        '# GV-B fast linear probe: cached features vs. Runner iterations', '',
        f'- data: CIFAR-10 {args.ratio:.0%} stratified subset '
        f"({manifest['counts']['subset']} images, manifest "
        f"`{manifest['manifest_sha256'][:12]}`), full test split ({len(test_labels)} "
        'images)',
        f'- backbone: `{args.backbone}`, frozen, BN calibrated on '
        f'{args.calib_images} subset images (random weights, no download)',
        f'- recipe: SGD lr {args.lr}, momentum 0.9, wd 1e-3, {args.max_iters} iterations, '
        f'steps at {milestones}, batch {args.batch_size}, resize {args.img_size} + centre '
        'crop, no augmentation, zero-initialised head, seed '
        f'{args.seed}',
        f'- machine: {platform.processor() or platform.machine()}, '
        f'{torch.get_num_threads()} torch threads, {args.num_workers} loader workers, '
        f'torch {torch.__version__}; load average at the start '
        f"{' '.join(f'{v:.2f}' for v in load_start)}, at the end "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", '', '',
        '| protocol | top-1 | mean per-class | end-to-end wall time (s) |',
        '|---|---|---|---|',
        f"| cached features | {cache_metrics['top1']:.2f} | "
        f"{cache_metrics['mean_per_class']:.2f} | {cache['total_s']:.1f} |",
    ]
    if runner_res and args.runner_iters:
        speedup = runner_res['total_s'] / cache['total_s']
        lines.append(f"| Runner, iteration by iteration (**extrapolated** from "
                     f"{args.runner_iters} of {args.max_iters} iterations) | n/a | n/a | "
                     f"{runner_res['total_s']:.1f} |")
        lines += ['',
                  f"- Runner slice: build {runner_res['build_s']:.1f} s, first iteration + "
                  f"median iteration {runner_res['median_iter_s']:.3f} s x "
                  f"{args.max_iters - 1} = {runner_res['train_s_extrapolated']:.1f} s, test "
                  f"{runner_res['test_s']:.1f} s (measured in total: "
                  f"{runner_res['measured_total_s']:.1f} s)",
                  f'- speed-up end to end (extrapolated): {speedup:.1f}x']
    elif runner_res:
        speedup = runner_res['total_s'] / cache['total_s']
        lines.append(f"| Runner, iteration by iteration | "
                     f"{runner_res['metrics']['top1']:.2f} | "
                     f"{runner_res['metrics']['mean_per_class']:.2f} | "
                     f"{runner_res['total_s']:.1f} |")
        lines += ['',
                  f"- top-1 difference: "
                  f"{abs(runner_res['metrics']['top1'] - cache_metrics['top1']):.2f} points;"
                  f" largest |weight| difference of the two trained heads: "
                  f"{runner_res['max_weight_diff']:.2e} (bias {runner_res['max_bias_diff']:.2e})",
                  f'- speed-up end to end: {speedup:.1f}x']
    lines += [f"- cached probe = one forward pass over subset + test "
              f"({cache['forward_s']:.1f} s) + head training and evaluation "
              f"({cache['head_s']:.1f} s): {cache['total_s'] / cache['forward_s']:.2f}x the "
              'forward pass']
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(dict(args=vars(args), cache=cache, runner=runner_res,
                       manifest_sha256=manifest['manifest_sha256']), f, indent=1)
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
