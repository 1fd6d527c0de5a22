"""Parameter / FLOP counting and throughput measurement for backbones and models."""
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import elementwise_flop_counter, get_shape

__all__ = ['build_module', 'count_complexity', 'make_step', 'measure_throughput',
           'sdpa_flop_jit']


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


def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """Multiply-accumulates of ``aten::scaled_dot_product_attention`` (mmengine handle).

    ``q @ k^T`` and ``attn @ v``: ``L * S * (E + Ev)`` per batch and head for queries
    ``(..., L, E)``, keys ``(..., S, E)`` and values ``(..., S, Ev)``. Softmax, scaling
    and masking are element-wise and not counted, as for every other element-wise op in
    mmengine's counter (fvcore convention: one fused multiply-add = one FLOP).

    Args:
        inputs (list): The op's JIT input values (query, key, value, ...).
        outputs (list): The op's JIT output values.

    Returns:
        int: Multiply-accumulates.
    """
    q_shape, k_shape, v_shape = (get_shape(v) for v in inputs[:3])
    batch = 1
    for d in q_shape[:-2]:
        batch *= d
    length, emb = q_shape[-2:]
    return batch * length * k_shape[-2] * (emb + v_shape[-1])


def count_complexity(model_cfg: Union[dict, nn.Module],
                     input_shape: Sequence[int] = (3, 224, 224),
                     backbone_only: bool = False,
                     scope: Optional[str] = None) -> Dict[str, Any]:
    """Count FLOPs (multiply-accumulates) and parameters for one image.

    mmengine's :class:`~mmengine.analysis.FlopAnalyzer` with
    ``scaled_dot_product_attention`` counted by :func:`sdpa_flop_jit` (mmengine 0.10
    skips it, which under-counts attention backbones: MN-B4 by 0.11 GMACs), and the
    reductions ``sum`` / ``mean`` counted as mmengine counts pooling, one per input
    element (global average pooling written as a sum, as in
    :func:`~intern_mm.models.backbones.channels_last.spatial_mean`, counts the same).

    Args:
        model_cfg (dict | nn.Module): Model or backbone config, or a built module.
        input_shape (Sequence[int]): ``(C, H, W)``. Defaults to ``(3, 224, 224)``.
        backbone_only (bool): Count ``model.backbone`` only. Defaults to False.
        scope (str, optional): Registry scope, see :func:`build_module`.

    Returns:
        dict: ``flops`` (of the counted part), ``params`` (whole model, or the
        backbone with ``backbone_only``), ``flops_str``, ``params_str``, ``counted``
        (which part of the model the FLOPs cover) and ``by_operator`` (``{op: MACs}``,
        e.g. ``conv``, ``linear``, ``scaled_dot_product_attention``, ``batch_norm``;
        mmengine also counts BN, pooling and LayerNorm as one MAC per element).

    Example:
        >>> info = count_complexity(dict(type='mmpretrain.ResNet', depth=18), (3, 64, 64))
        >>> info['params'] > 0
        True
    """
    model = build_module(model_cfg, scope)
    model.eval()  # some mm* backbones' train() returns None, so no chaining
    module, counted = _feature_forward(model, backbone_only)
    param = next(iter(module.parameters()), None)
    device = param.device if param is not None else 'cpu'
    analyzer = FlopAnalyzer(module, (torch.randn(1, *input_shape, device=device), ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.set_op_handle('aten::sum', elementwise_flop_counter(1, 0))
    analyzer.set_op_handle('aten::mean', elementwise_flop_counter(1, 0))
    # modules may run through their weights (e.g. the SE gate's F.linear on conv weights)
    analyzer.uncalled_modules_warnings(False)
    flops = analyzer.total()
    by_operator = dict(analyzer.by_operator())
    # Parameters of the whole model (heads included) unless only the backbone is asked for.
    params = sum(p.numel() for p in (module if backbone_only else model).parameters())
    return dict(
        flops=flops,
        params=params,
        flops_str=f'{flops / 1e9:.3f}G' if flops >= 1e8 else f'{flops / 1e6:.3f}M',
        params_str=f'{params / 1e6:.3f}M',
        counted=counted,
        by_operator=by_operator)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _reduce(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.float().mean()
    return sum(_reduce(o) for o in out)


def make_step(module: nn.Module,
              batch_size: int = 8,
              input_size: int = 224,
              train: bool = False,
              device: str = 'cpu',
              amp: bool = False,
              channels_last: bool = False,
              amp_dtype: Optional[torch.dtype] = None) -> Callable[[], None]:
    """A closure running one inference forward or one training step of ``module``.

    Inference runs under :func:`torch.inference_mode`; a training step is forward, the
    mean of all outputs as loss, backward and an SGD step. ``module`` is moved to
    ``device`` (and to channels_last memory format with ``channels_last``) and put in
    train / eval mode; it may be a ``torch.compile`` wrapper.

    Args:
        module (nn.Module): A backbone returning a tensor or a tuple of tensors.
        batch_size (int): Images per step. Defaults to 8.
        input_size (int): Square input side. Defaults to 224.
        train (bool): Training step instead of inference. Defaults to False.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Autocast. Defaults to False.
        channels_last (bool): NHWC input and weights. Defaults to False.
        amp_dtype (torch.dtype, optional): Autocast dtype. Defaults to float16 on
            CUDA (with a gradient scaler for training) and bfloat16 on CPU.

    Returns:
        Callable[[], None]: The step; it synchronises CUDA before returning.
    """
    dev = torch.device(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(dev, memory_format=fmt)
    module.train(train)
    x = torch.randn(batch_size, 3, input_size, input_size, device=dev).contiguous(
        memory_format=fmt)
    opt = torch.optim.SGD(module.parameters(), lr=1e-6) if train else None
    dtype = amp_dtype or (torch.float16 if dev.type == 'cuda' else torch.bfloat16)
    scaler = torch.amp.GradScaler(
        dev.type, enabled=amp and dev.type == 'cuda' and dtype == torch.float16)

    def step() -> None:
        if not train:
            with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype,
                                                        enabled=amp):
                module(x)
            _sync(dev)
            return
        with torch.autocast(dev.type, dtype=dtype, enabled=amp):
            loss = _reduce(module(x))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        _sync(dev)

    return step


def measure_throughput(module: nn.Module,
                       batch_size: int = 8,
                       input_size: int = 224,
                       warmup: int = 2,
                       iters: int = 5,
                       train: bool = False,
                       device: str = 'cpu',
                       amp: bool = False,
                       channels_last: bool = False) -> float:
    """Measure images per second of a forward (or forward + backward + SGD step) pass.

    Args:
        module (nn.Module): A backbone returning a tensor or a tuple of tensors.
        batch_size (int): Images per step. Defaults to 8.
        input_size (int): Square input side. Defaults to 224.
        warmup (int): Untimed steps first. Defaults to 2.
        iters (int): Timed steps. Defaults to 5.
        train (bool): Time a training step (mean of all outputs as loss, SGD step).
            Defaults to False (inference).
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Autocast (float16 on CUDA, bfloat16 on CPU). Defaults to False.
        channels_last (bool): NHWC input and weights. Defaults to False.

    Returns:
        float: Images per second.
    """
    step = make_step(module, batch_size, input_size, train, device, amp, channels_last)
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    return batch_size * iters / (time.perf_counter() - start)
