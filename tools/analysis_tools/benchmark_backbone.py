"""Side-by-side backbone benchmark: eager / deploy / channels_last / compiled variants.

Every backbone and variant is measured in the same process on the same machine, in
interleaved rounds (round r times every (backbone, variant) once before round r + 1
starts, so load changes hit all of them alike), and the **median** over rounds is
reported, together with the ratios to the backbone's own eager path and to the first
backbone's eager path, and the median number of minor page faults per step (a large
count means the step spends its time mapping fresh memory, see ``--malloc``). The
machine state (load average before and after, CPU, torch threads and version, CPU
allocator setting) is printed with the table. Compile time (the first calls of a
``torch.compile`` variant) is reported separately and not part of the throughput.

Variants (all share one set of random weights per backbone):

* ``eager``: the module as built (NCHW);
* ``channels_last``: weights and input in NHWC memory format;
* ``deploy``: ``switch_to_deploy()`` (BN folding etc.; ``mmcv.cnn.fuse_conv_bn`` for
  backbones without it), inference only;
* ``deploy+cl``: both;
* ``compiled``: ``torch.compile`` (inductor) of ``deploy+cl`` for inference and of
  ``channels_last`` for the training step;
* ``frozen``: ``compiled`` with inductor freezing (weights folded into the graph as
  constants) and the C++ wrapper (:func:`intern_mm.apis.optimize_for_inference`'s
  options), inference only.

Example:
    # MN-B4 vs mmpretrain ResNet-50 (the default pair), 224x224, batch 8, CPU
    python tools/analysis_tools/benchmark_backbone.py
    # quick: no compile, fewer rounds
    python tools/analysis_tools/benchmark_backbone.py --variants eager deploy+cl --rounds 3
    # glibc malloc keeps freed memory (intern_mm.utils.retain_cpu_memory)
    python tools/analysis_tools/benchmark_backbone.py --malloc retain
    # both allocator settings: one child process each (default first), one table
    python tools/analysis_tools/benchmark_backbone.py --malloc both
    # any registered backbones, as name=python-dict
    python tools/analysis_tools/benchmark_backbone.py \
        --backbone "r18=dict(type='mmpretrain.ResNet', depth=18)" \
        --backbone "tiny=dict(type='intern_mm.MetaNet', arch='tiny')" --input-size 64
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from intern_mm.analysis import build_module, count_complexity, make_step  # noqa: E402
from intern_mm.apis import optimize_for_inference  # noqa: E402
from intern_mm.benchmark.backbone import parse_dict_string  # noqa: E402
from intern_mm.utils import cpu_allocator_state, retain_cpu_memory  # noqa: E402
from intern_mm.utils.environment import cpu_model  # noqa: E402

DEFAULT_BACKBONES = [
    "mn-b4=dict(type='intern_mm.MetaNet', arch='mn-b4', out_indices=(3,))",
    "resnet50=dict(type='mmpretrain.ResNet', depth=50, out_indices=(3,))",
]
#: variant -> (deploy, channels_last, compile, optimize_for_inference's freezing and C++
#: wrapper); training steps never deploy.
VARIANTS = {
    'eager': (False, False, False, False),
    'channels_last': (False, True, False, False),
    'deploy': (True, False, False, False),
    'deploy+cl': (True, True, False, False),
    'compiled': (True, True, True, False),
    'frozen': (True, True, True, True),
}


def parse_backbone(spec: str):
    name, sep, cfg_text = spec.partition('=')
    if not sep:
        raise ValueError(f'--backbone must look like NAME=dict(type=...), got {spec!r}')
    cfg = parse_dict_string(cfg_text)
    if 'type' not in cfg:
        raise ValueError(f'backbone {name!r}: config must be a dict with a "type"')
    return name.strip(), cfg


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backbone', action='append', help='NAME=dict(type=..., ...)')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS), help='default: all')
    parser.add_argument('--no-train', action='store_true', help='forward only')
    parser.add_argument('--no-forward', action='store_true', help='training steps only')
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed steps per variant before the rounds')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--iters', type=int, default=2, help='timed steps per round')
    parser.add_argument('--threads', type=int, help='torch intra-op threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='autocast (fp16 CUDA / bf16 CPU)')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'],
                        help='autocast dtype for --amp (default: float16 on CUDA, '
                        'bfloat16 on CPU)')
    parser.add_argument('--malloc', choices=['default', 'retain', 'both'], default='default',
                        help="'retain': glibc malloc keeps freed memory for reuse "
                        '(intern_mm.utils.retain_cpu_memory; process-wide, so it applies '
                        "to every backbone and variant of the run); 'both': the whole "
                        'benchmark once per setting, each in a child process (default '
                        "first), and a table comparing them. Default: 'default'")
    parser.add_argument('--out', help='also write the results as JSON to this file')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='after the timing, profile one step of every mode and '
                        'variant (torch.profiler) and print its N most expensive '
                        'operators by self CPU time')
    args = parser.parse_args(argv)
    if args.no_train and args.no_forward:
        parser.error('--no-train and --no-forward leave nothing to measure')
    for name in ('input_size', 'batch_size', 'rounds', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if 'eager' not in args.variants:
        args.variants.insert(0, 'eager')  # the ratios need it
    return args


def machine_state(args) -> str:
    load = ' '.join(f'{v:.2f}' for v in os.getloadavg())
    cpu = cpu_model()
    dev = args.device
    if dev == 'cuda':
        dev = f'cuda ({torch.cuda.get_device_name()})'
    return (f'device {dev}; CPU {cpu}, {os.cpu_count()} cores; torch '
            f'{torch.__version__}, {torch.get_num_threads()} threads; '
            f'{cpu_allocator_state()}; load average (1/5/15 min) {load}')


def build_steps(name, cfg, args):
    """``{(mode, variant): step}`` plus compile times for one backbone."""
    torch.manual_seed(0)
    base = build_module(cfg)
    base.eval()  # mmpretrain's ResNet.train() returns None: no chaining
    steps, compile_s = {}, {}
    modes = ([] if args.no_forward else ['forward']) + ([] if args.no_train else ['train'])
    for mode in modes:
        for variant in args.variants:
            use_deploy, cl, use_compile, freezing = VARIANTS[variant]
            if mode == 'train' and (freezing or (use_deploy and not use_compile)):
                continue  # a deployed or frozen model is for inference
            module = optimize_for_inference(
                copy.deepcopy(base), deploy=use_deploy and mode == 'forward',
                channels_last=cl, compile=use_compile, freezing=freezing,
                cpp_wrapper=freezing)
            step = make_step(module, args.batch_size, args.input_size, mode == 'train',
                             args.device, args.amp, cl,
                             getattr(torch, args.amp_dtype) if args.amp_dtype else None)
            t0 = time.perf_counter()
            step()  # compiles (first call) and warms up
            if use_compile:
                compile_s[f'{variant} {mode}'] = round(time.perf_counter() - t0, 1)
                step()  # a second call can still recompile (e.g. grad mode guards)
            for _ in range(args.warmup):
                step()
            steps[(mode, variant)] = step
            print(f'ready {name} {mode} {variant}', flush=True)
    return base, steps, compile_s


def profile_step(step, top: int) -> list:
    """``[(operator, % of self CPU time)]`` of one call of ``step``, most expensive
    first."""
    with torch.profiler.profile() as prof:
        step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [(e.key, round(100.0 * e.self_cpu_time_total / total, 1)) for e in events[:top]]


def _without_option(argv, name):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(name + '='):
            out.append(a)
    return out


def compare_allocators(args, argv) -> dict:
    """Run the benchmark in one child process per allocator setting and compare."""
    argv = _without_option(_without_option(argv, '--malloc'), '--out')
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for setting in ('default', 'retain'):
            out_file = osp.join(tmp, f'{setting}.json')
            print(f'=== child process: --malloc {setting}', flush=True)
            subprocess.run([sys.executable, osp.abspath(__file__), *argv, '--malloc', setting,
                            '--out', out_file], check=True)
            with open(out_file) as f:
                runs[setting] = json.load(f)
    ref_name = next(iter(runs['default']['backbones']))
    lines = [
        '', 'allocator comparison (two processes, one after the other; img/s medians)',
        '| backbone | mode | variant | default malloc | retain | retain / default | '
        f'retain / own default eager | retain / {ref_name} default eager |',
        '|---|---|---|---|---|---|---|---|'
    ]
    for name, b in runs['default']['backbones'].items():
        for mode, rows in b['results'].items():
            base = rows['eager']['img_s']
            ref = runs['default']['backbones'][ref_name]['results'][mode]['eager']['img_s']
            for variant, row in rows.items():
                new = runs['retain']['backbones'][name]['results'][mode][variant]['img_s']
                lines.append(f"| {name} | {mode} | {variant} | {row['img_s']:.1f} | "
                             f"{new:.1f} | {new / row['img_s']:.2f} | {new / base:.2f} | "
                             f'{new / ref:.2f} |')
    print('\n'.join(lines))
    results = dict(args=vars(args), runs=runs)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.malloc == 'both':
        return compare_allocators(args, argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.malloc == 'retain' and not retain_cpu_memory():
        raise SystemExit('--malloc retain needs glibc (this C library is not glibc)')
    state_before = machine_state(args)
    print(state_before, flush=True)
    specs = [parse_backbone(s) for s in (args.backbone or DEFAULT_BACKBONES)]
    backbones = {}
    for name, cfg in specs:
        base, steps, compile_s = build_steps(name, cfg, args)
        info = count_complexity(base, (3, args.input_size, args.input_size))
        backbones[name] = dict(params=info['params'], flops=info['flops'], steps=steps,
                               compile_s=compile_s, times={k: [] for k in steps},
                               faults={k: [] for k in steps})
    for r in range(args.rounds):  # interleaved: every variant once per round
        for name, b in backbones.items():
            for key, step in b['steps'].items():
                faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    step()
                b['times'][key].append((time.perf_counter() - t0) / args.iters)
                b['faults'][key].append(
                    (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) /
                    args.iters)
        print(f'round {r + 1}/{args.rounds} done', flush=True)
    state_after = machine_state(args)
    profiles = {}
    if args.profile:
        for name, b in backbones.items():
            for (mode, variant), step in b['steps'].items():
                top = profile_step(step, args.profile)
                profiles[f'{name} {mode} {variant}'] = top
                print(f'profile {name} {mode} {variant}: ' +
                      ', '.join(f'{op} {pct}%' for op, pct in top), flush=True)

    ref_name = specs[0][0]
    results = dict(args=vars(args), machine_before=state_before,
                   machine_after=state_after, backbones={}, profiles=profiles)
    for name, b in backbones.items():
        rows = {}
        for (mode, variant), times in b['times'].items():
            rows.setdefault(mode, {})[variant] = dict(
                img_s=args.batch_size / statistics.median(times),
                step_s=[round(t, 4) for t in times],
                page_faults=statistics.median(b['faults'][(mode, variant)]))
        results['backbones'][name] = dict(params=b['params'], flops=b['flops'],
                                          compile_s=b['compile_s'], results=rows)

    def cell(name, mode, variant, key='img_s'):
        return results['backbones'][name]['results'].get(mode, {}).get(
            variant, {}).get(key)

    lines = [
        f'input {args.input_size}x{args.input_size}, batch {args.batch_size}, amp='
        f"{args.amp}{' ' + args.amp_dtype if args.amp and args.amp_dtype else ''}; "
        f'median of {args.rounds} interleaved rounds x {args.iters} steps',
        f'before: {state_before}', f'after:  {state_after}', '',
        '| backbone | params (M) | GMACs | compile s |', '|---|---|---|---|'
    ]
    for name, b in results['backbones'].items():
        comp = ', '.join(f'{k} {v:.0f}' for k, v in b['compile_s'].items()) or '-'
        lines.append(f"| {name} | {b['params'] / 1e6:.2f} | {b['flops'] / 1e9:.3f} | "
                     f'{comp} |')
    lines += [
        '', f'| backbone | variant | forward img/s | x own eager | x {ref_name} eager | '
        f'faults/step | train-step img/s | x own eager | x {ref_name} eager | faults/step |',
        '|---|---|---|---|---|---|---|---|---|---|'
    ]
    for name in results['backbones']:
        for variant in args.variants:
            cells = []
            for mode in ('forward', 'train'):
                v = cell(name, mode, variant)
                if v is None:
                    cells += ['-', '-', '-', '-']
                    continue
                cells += [f'{v:.1f}', f"{v / cell(name, mode, 'eager'):.2f}",
                          f"{v / cell(ref_name, mode, 'eager'):.2f}",
                          f"{cell(name, mode, variant, 'page_faults') / 1e3:.0f}k"]
            lines.append(f'| {name} | {variant} | ' + ' | '.join(cells) + ' |')
    print('\n'.join(lines))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
