"""Run a model on channels_last (NHWC) feature maps under mmengine's Runner."""
from typing import Any, Dict, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import nn

from intern_mm.registry import HOOKS
from ._schedule_utils import unwrap_model

__all__ = ['ChannelsLastHook', 'to_channels_last']


def to_channels_last(value: Any) -> Any:
    """``value`` in channels_last memory format if it is a 4-D tensor, else unchanged.

    Args:
        value (Any): A model input.

    Returns:
        Any: The converted tensor, or ``value``.

    Example:
        >>> to_channels_last(torch.rand(2, 3, 8, 8)).is_contiguous(
        ...     memory_format=torch.channels_last)
        True
    """
    if isinstance(value, torch.Tensor) and value.dim() == 4:
        return value.contiguous(memory_format=torch.channels_last)
    return value


def _inputs_to_channels_last(module: nn.Module, args: Tuple,
                             kwargs: Dict[str, Any]) -> Tuple[Tuple, Dict[str, Any]]:
    return (tuple(to_channels_last(a) for a in args),
            {k: to_channels_last(v) for k, v in kwargs.items()})


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Feed the model channels_last (NHWC) images, so that its feature maps are NHWC.

    In ``before_run`` the hook registers a forward pre-hook on the model (the module
    inside a DDP wrapper) that converts every 4-D tensor argument of its ``forward``
    (the ``inputs`` batch from the data preprocessor) to channels_last. A convolution of
    a channels_last input returns a channels_last map, so every feature map after the
    stem is NHWC; MetaNet, CentralModel and the ResNet experts keep NHWC maps on
    PyTorch's dense kernels, forward and backward (``docs/deployment.md``).

    Parameters keep their format: MetaNet's 1x1 and depthwise kernels have the same
    strides in both formats, and converting parameters after DDP has laid out its
    gradient buckets gives wrong gradients. Checkpoints, the optimizer and an
    ``EMAHook`` are therefore unaffected. Active for training, validation and testing.

    Example:
        >>> custom_hooks = [dict(type='intern_mm.ChannelsLastHook')]
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._handle = None

    def before_run(self, runner) -> None:
        """Register the input conversion on ``runner.model`` (once per hook)."""
        if self._handle is not None:
            return
        model = unwrap_model(runner.model)
        self._handle = model.register_forward_pre_hook(_inputs_to_channels_last,
                                                       with_kwargs=True)
        print_log(f'ChannelsLastHook: 4-D inputs of {type(model).__name__} are converted '
                  'to channels_last', logger='current')
