"""Parameter / FLOP counting and throughput measurement for backbones and models."""
import time
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info

__all__ = ['build_module', 'count_complexity', 'measure_throughput']


def build_module(cfg: Union[dict, nn.Module], scope: Optional[str] = None) -> nn.Module:
    """Build a model (or backbone) config through the registries.

    Args:
        cfg (dict | nn.Module): The config (a built module is returned as is).
        scope (str, optional): Registry scope for unprefixed types, normally the
            config's ``default_scope`` (``'mmdet'``, ``'mmseg'``, ...). ``_scope_`` in
            ``cfg`` and prefixed types (``'mmdet.FasterRCNN'``) take precedence.
            Defaults to ``'intern_mm'``.

    Returns:
        nn.Module: The built module.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    import intern_mm  # noqa: F401
    from mmengine.registry import MODELS, DefaultScope
    scope = cfg.get('_scope_') or scope or 'intern_mm'
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg)


def _feature_forward(model: nn.Module, backbone_only: bool) -> Tuple[nn.Module, str]:
    if backbone_only and hasattr(model, 'backbone'):
        return model.backbone, 'backbone'
    if hasattr(model, 'extract_feat'):

        class _Extract(nn.Module):

            def __init__(self, inner: nn.Module):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner.extract_feat(x)

        return _Extract(model), 'extract_feat (backbone + neck)'
    return model, 'forward'


def count_complexity(model_cfg: Union[dict, nn.Module],
                     input_shape: Sequence[int] = (3, 224, 224),
                     backbone_only: bool = False,
                     scope: Optional[str] = None) -> Dict[str, Any]:
    """Count FLOPs (multiply-accumulates) and parameters for one image.

    Args:
        model_cfg (dict | nn.Module): Model or backbone config, or a built module.
        input_shape (Sequence[int]): ``(C, H, W)``. Defaults to ``(3, 224, 224)``.
        backbone_only (bool): Count ``model.backbone`` only. Defaults to False.
        scope (str, optional): Registry scope, see :func:`build_module`.

    Returns:
        dict: ``flops`` (of the counted part), ``params`` (whole model, or the
        backbone with ``backbone_only``), ``flops_str``, ``params_str`` and ``counted``
        (which part of the model the FLOPs cover).

    Example:
        >>> info = count_complexity(dict(type='mmpretrain.ResNet', depth=18), (3, 64, 64))
        >>> info['params'] > 0
        True
    """
    model = build_module(model_cfg, scope)
    model.eval()  # some mm* backbones' train() returns None, so no chaining
    module, counted = _feature_forward(model, backbone_only)
    info = get_model_complexity_info(
        module, input_shape=tuple(input_shape), show_table=False, show_arch=False)
    # Parameters of the whole model (heads included) unless only the backbone is asked for.
    params = sum(p.numel() for p in (module if backbone_only else model).parameters())
    return dict(
        flops=info['flops'],
        params=params,
        flops_str=info['flops_str'],
        params_str=f'{params / 1e6:.3f}M',
        counted=counted)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _reduce(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.float().mean()
    return sum(_reduce(o) for o in out)


def measure_throughput(module: nn.Module,
                       batch_size: int = 8,
                       input_size: int = 224,
                       warmup: int = 2,
                       iters: int = 5,
                       train: bool = False,
                       device: str = 'cpu',
                       amp: bool = False) -> float:
    """Measure images per second of a forward (or forward + backward + SGD step) pass.

    Args:
        module (nn.Module): A backbone returning a tensor or a tuple of tensors.
        batch_size (int): Images per step. Defaults to 8.
        input_size (int): Square input side. Defaults to 224.
        warmup (int): Untimed steps first. Defaults to 2.
        iters (int): Timed steps. Defaults to 5.
        train (bool): Time a training step (mean of all outputs as loss, SGD step).
            Defaults to False (inference under ``torch.no_grad``).
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Autocast (float16 on CUDA, bfloat16 on CPU). Defaults to False.

    Returns:
        float: Images per second.
    """
    dev = torch.device(device)
    module = module.to(dev)
    module.train(train)
    x = torch.randn(batch_size, 3, input_size, input_size, device=dev)
    opt = torch.optim.SGD(module.parameters(), lr=1e-6) if train else None
    dtype = torch.float16 if dev.type == 'cuda' else torch.bfloat16
    scaler = torch.amp.GradScaler(dev.type, enabled=amp and dev.type == 'cuda')

    def step():
        with torch.autocast(dev.type, dtype=dtype, enabled=amp):
            if train:
                loss = _reduce(module(x))
            else:
                with torch.no_grad():
                    module(x)
                return
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        step()
    _sync(dev)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(dev)
    return batch_size * iters / (time.perf_counter() - start)
