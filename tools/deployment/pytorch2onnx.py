"""Export a backbone to ONNX and check it against PyTorch with onnxruntime.

The backbone comes from a config (``model.backbone`` of a full model config, or
``model`` itself when it is a backbone), optionally with a checkpoint (``backbone.``
prefixed keys of a trained model, or a converted GV-A checkpoint). By default the
backbone is switched to its deploy structure (``switch_to_deploy()``: BN folding etc.)
before export. The exported graph outputs one tensor per ``out_indices`` entry
(``out0``, ``out1``, ...). With ``--verify`` (the default) onnxruntime runs the file on
a random input and the largest difference to PyTorch's eager (not deployed) outputs is
printed; the tool fails when it exceeds ``--rtol`` (relative to each output's
largest magnitude).

Whole classifiers and segmentors (with pre- and post-processing) are exported with
mmdeploy: tools/deployment/mmdeploy_export.py, see docs/deployment.md.

Example:
    python tools/deployment/pytorch2onnx.py \
        configs/metanet/metanet-b4_1xb64-10k_cifar10.py --shape 224 \
        --output-file work_dirs/mn-b4.onnx
    # a tiny CentralModel, BN set of the detection task, dynamic batch
    python tools/deployment/pytorch2onnx.py \
        configs/paradigm/metanet-tiny_up-g_gv-world_200it.py --shape 64 \
        --task det --dynamic-batch --output-file work_dirs/up-g-tiny.onnx
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from intern_mm.analysis import build_module  # noqa: E402
from intern_mm.apis import merge_cfg_options, switch_to_deploy  # noqa: E402
from intern_mm.apis.cli import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file (model.backbone is exported)')
    parser.add_argument('--checkpoint', help='checkpoint to load before the deploy switch')
    parser.add_argument('--output-file', default='work_dirs/backbone.onnx')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='input H [W] (default 224)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='export with a symbolic batch axis')
    parser.add_argument('--no-deploy', action='store_true',
                        help='export the eager structure (no switch_to_deploy)')
    parser.add_argument('--task', help='BN task to deploy (CentralModel with bn_tasks)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--dynamo', action='store_true',
                        help="torch.export-based exporter (needs onnxscript); default: "
                        'the TorchScript exporter')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime comparison')
    parser.add_argument('--rtol', type=float, default=1e-4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--debug', action='store_true', help='show tracebacks')
    return parser.parse_args(argv)


def build_backbone(args) -> torch.nn.Module:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    model_cfg = cfg.get('model')
    if model_cfg is None:
        raise KeyError(f'{args.config} has no `model`')
    backbone_cfg = model_cfg.get('backbone', model_cfg)
    scope = backbone_cfg.get('_scope_') or cfg.get('default_scope')
    if scope in (None, 'mmpretrain', 'mmdet', 'mmseg') and \
            str(backbone_cfg.get('type')).split('.')[-1] in ('MetaNet', 'CentralModel'):
        scope = 'intern_mm'
    backbone_cfg = dict(backbone_cfg)
    backbone_cfg.pop('init_cfg', None)  # weights come from --checkpoint only
    backbone = build_module(backbone_cfg, scope)
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
        load_checkpoint(backbone, args.checkpoint, map_location='cpu', strict=True,
                        revise_keys=[(r'^module\.', ''), (r'^backbone\.', '')])
    return backbone.eval()


def _flatten(outs) -> list:
    if isinstance(outs, torch.Tensor):
        return [outs]
    return [t for o in outs for t in _flatten(o)]


def export(args) -> dict:
    h, w = (args.shape * 2)[:2]
    torch.manual_seed(0)
    eager = build_backbone(args)
    if args.task:
        if not getattr(eager, 'bn_tasks', None):
            raise ValueError('--task is only meaningful for a CentralModel with bn_tasks')
        eager.task = args.task
    backbone = copy.deepcopy(eager)
    x = torch.randn(args.batch_size, 3, h, w)
    with torch.no_grad():
        refs = _flatten(eager(x))
    if not args.no_deploy:
        backbone = switch_to_deploy(backbone, args.task)
    names = [f'out{i}' for i in range(len(refs))]
    dynamic_axes = None
    if args.dynamic_batch:
        dynamic_axes = {n: {0: 'batch'} for n in ['input'] + names}
    os.makedirs(osp.dirname(osp.abspath(args.output_file)), exist_ok=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation notice
        kwargs = dict(input_names=['input'], output_names=names,
                      opset_version=args.opset, dynamo=args.dynamo)
        if args.dynamo:
            if args.dynamic_batch:
                kwargs['dynamic_shapes'] = ({0: torch.export.Dim('batch')}, )
        else:
            kwargs['dynamic_axes'] = dynamic_axes
        torch.onnx.export(backbone, (x, ), args.output_file, **kwargs)
    result = dict(output_file=args.output_file, export_s=time.perf_counter() - t0,
                  outputs=[tuple(r.shape) for r in refs])
    print(f'exported {args.output_file} ({osp.getsize(args.output_file) / 1e6:.1f} MB, '
          f"{result['export_s']:.1f} s); outputs "
          + ', '.join(f'{n} {tuple(r.shape)}' for n, r in zip(names, refs)))
    if args.no_verify:
        return result
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError('onnxruntime is not installed: pip install onnxruntime '
                          '(requirements/optional.txt), or pass --no-verify') from None
    session = ort.InferenceSession(args.output_file, providers=['CPUExecutionProvider'])
    batch = args.batch_size + 1 if args.dynamic_batch else args.batch_size
    if batch != args.batch_size:  # check the symbolic batch axis with another size
        x = torch.randn(batch, 3, h, w)
        with torch.no_grad():
            refs = _flatten(eager(x))
    outs = session.run(names, {'input': x.numpy()})
    errs = []
    for name, out, ref in zip(names, outs, refs):
        out = torch.from_numpy(out)
        if out.shape != ref.shape:
            raise RuntimeError(f'{name}: onnxruntime shape {tuple(out.shape)} != PyTorch '
                               f'{tuple(ref.shape)}')
        errs.append(((out - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item())
    result['max_rel_err'] = max(errs)
    print(f'onnxruntime {ort.__version__} vs PyTorch eager (batch {batch}): largest '
          f"relative difference {result['max_rel_err']:.2e} (per output: "
          + ', '.join(f'{e:.1e}' for e in errs) + f'); tolerance {args.rtol:g}')
    if result['max_rel_err'] > args.rtol:
        raise RuntimeError(f"onnxruntime outputs differ from PyTorch by "
                           f"{result['max_rel_err']:.2e} > --rtol {args.rtol:g}")
    return result


def main(argv=None) -> dict:
    """Export and check; returns the measured figures."""
    args = parse_args(argv)
    if len(args.shape) not in (1, 2):
        raise SystemExit(f'error: --shape takes one or two integers, got {args.shape}')
    return export(args)


if __name__ == '__main__':
    sys.exit(run_cli(lambda argv: main(argv) and 0, prog='pytorch2onnx.py'))
