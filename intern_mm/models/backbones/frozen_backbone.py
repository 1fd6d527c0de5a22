"""A frozen-backbone wrapper for the GV-B linear-probe protocol.

Not every backbone implements the ``frozen_stages`` contract of
:mod:`intern_mm.models.backbones.freezing` (intern_mm backbones and ResNet do; timm or
mmpretrain transformers do not), so the probe wraps any backbone and freezes all of it
with the contract's :func:`~intern_mm.models.backbones.freezing.freeze_module`:

* every parameter gets ``requires_grad=False`` (so the optimizer, DDP and the loss never
  touch it),
* the wrapped module stays in eval mode whatever ``train()`` is called with (BN running
  statistics are used and never updated, dropout is off),
* the forward runs under ``torch.no_grad()``.

``FrozenBackbone.state_dict`` keys are those of the wrapped module prefixed by
``module.``; a checkpoint for the bare backbone loads through ``init_cfg`` of the inner
config or :func:`intern_mm.models.utils.load_backbone_weights` on ``.module``.
"""
from typing import Optional

import torch
from mmengine.model import BaseModule

from intern_mm.registry import MODELS
from .freezing import freeze_module

__all__ = ['FrozenBackbone']


@MODELS.register_module()
class FrozenBackbone(BaseModule):
    """Wrap a backbone so that neither its parameters nor its BN statistics change.

    Args:
        backbone (dict): Config of the wrapped backbone (any registry, prefixed type).
        init_cfg (dict, optional): Initialisation config of the wrapper. Defaults to None
            (the wrapped backbone's own ``init_cfg`` applies).

    Example:
        >>> net = FrozenBackbone(dict(type='mmpretrain.ResNet', depth=18))
        >>> net.train()
        >>> net.module.training, any(p.requires_grad for p in net.parameters())
        (False, False)
    """

    def __init__(self, backbone: dict, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.module = MODELS.build(backbone)
        self.freeze()

    def freeze(self) -> None:
        """Set ``requires_grad=False`` everywhere and put the backbone in eval mode."""
        freeze_module(self.module)

    def train(self, mode: bool = True) -> 'FrozenBackbone':
        """Set the wrapper's mode; the wrapped backbone always stays in eval mode."""
        super().train(mode)
        self.module.eval()
        return self

    def init_weights(self) -> None:
        """Initialise (or load) the wrapped backbone, then re-freeze it."""
        super().init_weights()
        self.freeze()

    def forward(self, inputs: torch.Tensor):
        """Run the frozen backbone without building an autograd graph."""
        with torch.no_grad():
            return self.module(inputs)

    @property
    def out_channels(self):
        """The wrapped backbone's ``out_channels`` attribute, if any."""
        return getattr(self.module, 'out_channels', None)
