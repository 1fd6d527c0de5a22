"""Export a whole model with mmdeploy and check onnxruntime's predictions against PyTorch.

mmdeploy (``requirements/deploy*.txt``) exports a classifier / segmentor / detector
with its pre-processing and post-processing (``torch2onnx``), calling the backbone's
``switch_to_deploy()`` on the way. This tool runs that export for an intern_mm model
config and then runs the same image through mmdeploy's onnxruntime model and through
the **eager** PyTorch model (built from the config, not switched) and compares the
predictions: classification scores (largest difference relative to the largest score,
``--rtol``) or segmentation label maps at the network's input size (fraction of equal
pixels, ``--min-agreement``; mmdeploy resizes the label map to the image, mmseg the
logits, so at the image size the two also differ along class borders).

Without ``--checkpoint`` the config's initial weights are saved to the work dir first,
so that both sides use the same weights. mmdeploy 1.3.1 calls ``torch.onnx.export``
without choosing an exporter; torch 2.14 would then take the torch.export-based one, to
which mmdeploy's symbolic rewriters do not apply. This tool selects the TorchScript
exporter for the export (``--exporter dynamo`` keeps torch's default).

Deploy configs for onnxruntime: ``configs/_base_/deploy/`` (mmdeploy's own configs
work too).

Example:
    python tools/deployment/mmdeploy_export.py \
        configs/_base_/deploy/classification_onnxruntime_static.py \
        configs/metanet/metanet-b4_1xb64-10k_cifar10.py \
        --checkpoint work_dirs/x/iter_10000.pth --work-dir work_dirs/mn-b4_ort
"""
import argparse
import contextlib
import copy
import functools
import os
import os.path as osp
import re
import sys
import time
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import intern_mm  # noqa: E402,F401  (registers the backbones in the mm* registries)
from intern_mm.apis import merge_cfg_options  # noqa: E402
from intern_mm.apis.cli import run_cli  # noqa: E402
from intern_mm.utils.checkpoint import compare_state_dicts, read_state_dict  # noqa: E402

#: Codebases whose predictions this tool compares.
VERIFIED_CODEBASES = ('mmpretrain', 'mmseg')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('deploy_cfg', help='mmdeploy deploy config')
    parser.add_argument('model_cfg', help='model config')
    parser.add_argument('--checkpoint', help='model checkpoint (default: initial weights)')
    parser.add_argument('--img', help='test image (default: a random image of --shape)')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224],
                        metavar=('H', 'W'), help='size of the random image (default 224 224)')
    parser.add_argument('--work-dir', default='work_dirs/mmdeploy')
    parser.add_argument('--exporter', choices=['torchscript', 'dynamo'],
                        default='torchscript', help='torch.onnx exporter (default torchscript)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime comparison')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='classification: largest score difference / largest score')
    parser.add_argument('--min-agreement', type=float, default=0.999,
                        help='segmentation: fraction of pixels with the same label')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override model config settings, key=value')
    parser.add_argument('--debug', action='store_true', help='show tracebacks')
    return parser.parse_args(argv)


@contextlib.contextmanager
def onnx_exporter(name: str):
    """Make ``torch.onnx.export`` use ``name``'s exporter unless a caller chooses."""
    if name == 'dynamo':
        yield
        return
    original = torch.onnx.export
    torch.onnx.export = functools.partial(original, dynamo=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation notice
            yield
    finally:
        torch.onnx.export = original


def build_eager_model(model_cfg: Config, checkpoint: str = None) -> torch.nn.Module:
    """The PyTorch model of ``model_cfg`` as mmdeploy builds it, without the deploy
    switch, in eval mode."""
    from mmengine.registry import MODELS
    cfg = copy.deepcopy(model_cfg.model)
    cfg.pop('pretrained', None)
    cfg.setdefault('data_preprocessor', copy.deepcopy(model_cfg.get('data_preprocessor', {})))
    model = MODELS.build(cfg)
    if checkpoint:
        state = read_state_dict(checkpoint)
        diff = compare_state_dicts(model.state_dict(), state)
        if diff:
            raise RuntimeError(f'checkpoint {checkpoint} does not match the model of the '
                               f'config: {diff.summary()}')
        model.load_state_dict(state)
    return model.eval()


def _predict(model, task_processor, img, input_shape, codebase):
    inputs, _ = task_processor.create_input(img, input_shape)
    if codebase == 'mmseg':
        # compare label maps at the network's input size: mmdeploy takes the argmax
        # there and resizes labels (nearest) to the image, mmseg resizes the logits
        # (bilinear) first, which moves labels along class borders
        for sample in inputs['data_samples']:
            sample.set_metainfo(dict(ori_shape=sample.img_shape))
    with torch.no_grad():
        return model.test_step(inputs)[0]


def compare(codebase: str, ort_pred, torch_pred, args) -> dict:
    """Compare one image's predictions; raises RuntimeError past the tolerance."""
    if codebase == 'mmpretrain':
        a, b = ort_pred.pred_score.float(), torch_pred.pred_score.float()
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
        print(f'onnxruntime vs PyTorch eager: largest score difference {err:.2e} of the '
              f'largest score; tolerance {args.rtol:g}; top-1 {int(a.argmax())} vs '
              f'{int(b.argmax())}')
        if err > args.rtol:
            raise RuntimeError(f'onnxruntime scores differ from PyTorch by {err:.2e} '
                               f'> --rtol {args.rtol:g}')
        return dict(max_rel_err=err)
    a, b = ort_pred.pred_sem_seg.data, torch_pred.pred_sem_seg.data
    if a.shape != b.shape:
        raise RuntimeError(f'onnxruntime label map {tuple(a.shape)} != PyTorch '
                           f'{tuple(b.shape)}')
    agreement = (a == b).float().mean().item()
    print(f'onnxruntime vs PyTorch eager: {agreement:.4%} of the {a.numel()} pixels of '
          f'the {tuple(a.shape[-2:])} network input have the same label ({len(b.unique())} '
          f'classes in the PyTorch map); required {args.min_agreement:.2%}')
    if agreement < args.min_agreement:
        raise RuntimeError(f'onnxruntime labels agree with PyTorch on {agreement:.4%} of '
                           f'the pixels < --min-agreement {args.min_agreement:g}')
    return dict(pixel_agreement=agreement)


def _one_line(error: BaseException) -> str:
    """``Type: first line`` of ``error``, and of its root cause when it has one."""
    def first_line(e):
        text = re.sub(r'\x1b\[[0-9;]*m', '', str(e)).strip()
        return f'{type(e).__name__}: {text.splitlines()[0] if text else ""}'.rstrip(': ')

    line, root = first_line(error), error
    while root.__cause__ is not None:
        root = root.__cause__
    if root is not error:
        line += f' (cause: {first_line(root)})'
    if '_cast_Long' in line:
        line += (' (mmdeploy 1.3.1\'s RoIAlign export uses a torch.onnx helper that torch '
                 '2.14 no longer has: two-stage detectors cannot be exported with it; see '
                 'docs/deployment.md)')
    return line


def export(args) -> dict:
    try:
        from mmdeploy.apis import torch2onnx
        from mmdeploy.apis.utils import build_task_processor
        from mmdeploy.utils import get_codebase, get_input_shape, get_onnx_config
    except ImportError as e:
        raise ImportError(f'mmdeploy is not installed ({e}): pip install -r '
                          'requirements/deploy.txt, then pip install --no-deps -r '
                          'requirements/deploy-nodeps.txt') from None
    for kind, path in (('deploy config', args.deploy_cfg), ('model config', args.model_cfg),
                       ('checkpoint', args.checkpoint), ('image', args.img)):
        if path and not osp.isfile(path):
            raise FileNotFoundError(f'{kind} {path} does not exist')
    deploy_cfg = Config.fromfile(args.deploy_cfg)
    model_cfg = Config.fromfile(args.model_cfg)
    if args.cfg_options:
        merge_cfg_options(model_cfg, args.cfg_options)
    codebase = get_codebase(deploy_cfg).value
    if not args.no_verify and codebase not in VERIFIED_CODEBASES:
        raise ValueError(f'the onnxruntime check covers {", ".join(VERIFIED_CODEBASES)} '
                         f'models, not {codebase}: pass --no-verify to only export')
    os.makedirs(args.work_dir, exist_ok=True)
    task_processor = build_task_processor(model_cfg, deploy_cfg, 'cpu')
    checkpoint = args.checkpoint
    torch.manual_seed(0)
    eager = build_eager_model(model_cfg, checkpoint)
    if checkpoint is None:
        checkpoint = osp.join(args.work_dir, 'init_weights.pth')
        torch.save({'state_dict': eager.state_dict()}, checkpoint)
        print(f'no --checkpoint: the config\'s initial weights, saved to {checkpoint}')
    if args.img:
        img = args.img
    else:
        img = np.random.default_rng(0).integers(0, 256, (*args.shape, 3), dtype=np.uint8)
    save_file = get_onnx_config(deploy_cfg)['save_file']
    onnx_file = osp.join(args.work_dir, save_file)
    t0 = time.perf_counter()
    try:
        with onnx_exporter(args.exporter):
            torch2onnx(img, args.work_dir, save_file, deploy_cfg, model_cfg, checkpoint, 'cpu')
    except Exception as e:  # mmdeploy / torch.onnx raise anything; one line unless --debug
        if args.debug:
            raise
        raise RuntimeError(f'mmdeploy export failed: {_one_line(e)}') from None
    result = dict(onnx_file=onnx_file, export_s=time.perf_counter() - t0, codebase=codebase)
    deployed = task_processor.build_pytorch_model(checkpoint)
    result['backbone_deployed'] = bool(getattr(deployed.backbone, 'deploy', False))
    size = sum(osp.getsize(f) for f in (onnx_file, onnx_file + '.data') if osp.isfile(f))
    print(f'exported {onnx_file} ({size / 1e6:.1f} MB, '
          f"{result['export_s']:.1f} s, {args.exporter} exporter); mmdeploy switched the "
          f"backbone to its deploy structure: {'yes' if result['backbone_deployed'] else 'no'}")
    if args.no_verify:
        return result
    input_shape = get_input_shape(deploy_cfg)
    backend = task_processor.build_backend_model([onnx_file])
    ort_pred = _predict(backend, task_processor, img, input_shape, codebase)
    torch_pred = _predict(eager, task_processor, img, input_shape, codebase)
    result.update(compare(codebase, ort_pred, torch_pred, args))
    return result


def main(argv=None) -> dict:
    """Export and check; returns the measured figures."""
    return export(parse_args(argv))


if __name__ == '__main__':
    sys.exit(run_cli(lambda argv: main(argv) and 0, prog='mmdeploy_export.py'))
