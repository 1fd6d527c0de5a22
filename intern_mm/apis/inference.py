"""One call that turns a trained backbone (or model) into its fastest inference form."""
from typing import Optional

import torch
from torch import nn

__all__ = ['switch_to_deploy', 'optimize_for_inference']


def switch_to_deploy(module: nn.Module, task: Optional[str] = None) -> nn.Module:
    """Put ``module`` in eval mode and apply its deploy rewrite in place.

    ``module.switch_to_deploy()`` where the module has it (``MetaNet``,
    ``CentralModel``, mmpretrain's RepVGG / MobileOne), otherwise conv-BN folding with
    ``mmcv.cnn.fuse_conv_bn`` (e.g. mmpretrain's ResNet).

    Args:
        module (nn.Module): The module, with its trained weights already loaded.
        task (str, optional): The task of a CentralModel with task-specific BN
            (default: its current ``task``).

    Returns:
        nn.Module: The same module (a BN-folded copy for modules without the method:
        ``fuse_conv_bn`` returns the rewritten module).
    """
    module.eval()  # no chaining: mmpretrain's ResNet.train() returns None
    if hasattr(module, 'switch_to_deploy'):
        module.switch_to_deploy(**({'task': task} if task else {}))
        return module
    from mmcv.cnn import fuse_conv_bn
    return fuse_conv_bn(module)


def optimize_for_inference(module: nn.Module,
                           deploy: bool = True,
                           channels_last: bool = True,
                           compile: bool = True,
                           freezing: bool = False,
                           cpp_wrapper: bool = False,
                           task: Optional[str] = None,
                           **compile_kwargs) -> nn.Module:
    """The deploy switch, NHWC weights and ``torch.compile``: the fastest inference
    form measured for the GV-A backbones on CPU (docs/deployment.md).

    For inference only: call it under ``torch.inference_mode()`` on ``channels_last``
    inputs (other strides recompile). Compile in the inference process, not in a trainer
    that forks workers (PyTorch's autograd-and-fork check; docs/deployment.md).

    Args:
        module (nn.Module): A backbone or model with its trained weights loaded.
        deploy (bool): Apply :func:`switch_to_deploy`. Defaults to True.
        channels_last (bool): Convert the weights to NHWC. Defaults to True.
        compile (bool): ``torch.compile`` the result. Defaults to True.
        freezing (bool): Inductor freezing: weights become graph constants (later
            weight changes are ignored). Defaults to False.
        cpp_wrapper (bool): Inductor's C++ wrapper (only with ``compile``).
            Defaults to False.
        task (str, optional): The task of a CentralModel with task-specific BN
            (``switch_to_deploy(task=...)``). Defaults to None.
        **compile_kwargs: Further ``torch.compile`` arguments (``mode``, ``dynamic``,
            ``options``; ``freezing`` and ``cpp_wrapper`` are added to ``options``).

    Returns:
        nn.Module: The module ready for inference (a ``torch.compile`` wrapper with
        ``compile``; the first call compiles: 7-90 s for MN-B4 on 2 CPU cores,
        depending on inductor's cache).

    Example:
        >>> import torch
        >>> from intern_mm.models import MetaNet
        >>> from intern_mm.apis import optimize_for_inference
        >>> model = MetaNet(arch='tiny', out_indices=(3, ))
        >>> fast = optimize_for_inference(model, compile=False)
        >>> x = torch.rand(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)
        >>> with torch.inference_mode():
        ...     out = fast(x)
        >>> out[0].is_contiguous(memory_format=torch.channels_last)
        True
    """
    module.eval()
    if deploy:
        module = switch_to_deploy(module, task)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    if not compile:
        return module
    options = dict(compile_kwargs.pop('options', None) or {})
    if freezing:
        options['freezing'] = True
    if cpp_wrapper:
        options['cpp_wrapper'] = True
    return torch.compile(module, options=options or None, **compile_kwargs)
