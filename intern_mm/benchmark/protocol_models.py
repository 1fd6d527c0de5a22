"""The computed fields of a GV-B protocol's ``model``: backbone, channels, classes, norm.

The models themselves (ImageClassifier, Faster R-CNN, DeepLabV3, DepthEstimator) are
written in the protocol templates ``configs/gvb/_base_/{cls,det,seg,depth}.py``;
:func:`fill_model` puts in what depends on the run: the backbone config (wrapped in the
probe template's ``FrozenBackbone``), its checkpoint as a ``Pretrained`` ``init_cfg``,
the channels the heads read, the number of classes, the data preprocessor of a backbone
config that brings its own, the norm layer of a distributed CUDA run and the recipe's
head widths / levels.

Example:
    >>> model = load_template('det', 'probe')['model']  # doctest: +SKIP
    >>> fill_model(model, ctx)                            # doctest: +SKIP
    >>> model['backbone']['type']                         # doctest: +SKIP
    'intern_mm.FrozenBackbone'
"""
import copy
from typing import TYPE_CHECKING, List

import torch

from intern_mm.models.utils import checkpoint_prefix

if TYPE_CHECKING:
    from .protocols import ProtocolContext

__all__ = ['fill_model', 'dense_backbone_cfg', 'FROZEN_TYPE']

#: The wrapper of the probe templates' backbone.
FROZEN_TYPE = 'intern_mm.FrozenBackbone'


def dense_backbone_cfg(cfg: dict) -> dict:
    """Backbone config for det/seg/depth: multi-scale outputs ``out_indices=(0, 1, 2, 3)``.

    Args:
        cfg (dict): The backbone config.

    Returns:
        dict: A copy with ``out_indices=(0, 1, 2, 3)`` unless it sets other 4-entry
        indices (index 4, MetaNet's pooled vector, is dropped).

    Example:
        >>> dense_backbone_cfg(dict(type='intern_mm.MetaNet', out_indices=(4, )))
        {'type': 'intern_mm.MetaNet', 'out_indices': (0, 1, 2, 3)}
    """
    cfg = copy.deepcopy(cfg)
    indices = tuple(i for i in cfg.get('out_indices', ()) if i != 4)
    cfg['out_indices'] = indices if len(indices) == 4 else (0, 1, 2, 3)
    return cfg


def _set_backbone(model: dict, ctx: 'ProtocolContext', dense: bool) -> None:
    """The run's backbone (with its checkpoint) in place of the template's ``None``,
    inside the probe template's ``FrozenBackbone`` when it has one."""
    cfg = dense_backbone_cfg(ctx.backbone.cfg) if dense else copy.deepcopy(ctx.backbone.cfg)
    if ctx.backbone.checkpoint:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=ctx.backbone.checkpoint)
        prefix = checkpoint_prefix(ctx.backbone.checkpoint)
        if prefix:
            cfg['init_cfg']['prefix'] = prefix
    slot = model.get('backbone')
    if isinstance(slot, dict) and slot.get('type') == FROZEN_TYPE:
        slot['backbone'] = cfg
    else:
        model['backbone'] = cfg


def _dense_channels(ctx: 'ProtocolContext') -> List[int]:
    maps = [c for c, s in ctx.out_channels if s is not None]
    if len(maps) != 4:
        raise ValueError(f'dense tasks need 4 feature maps from the backbone, got '
                         f'{ctx.out_channels}')
    return maps


def _norm_cfg(ctx: 'ProtocolContext') -> dict:
    # SyncBN only runs on CUDA; a gloo (CPU) process group keeps per-process BN
    sync = ctx.launcher != 'none' and torch.cuda.is_available()
    return dict(type='SyncBN' if sync else 'BN', requires_grad=True)


def _cls(model: dict, ctx: 'ProtocolContext') -> None:
    channels, stride = ctx.out_channels[-1]
    if ctx.backbone.data_preprocessor:
        model['data_preprocessor'] = copy.deepcopy(ctx.backbone.data_preprocessor)
    _set_backbone(model, ctx, dense=False)
    if stride is None:  # the backbone returns a pooled vector
        model['neck'] = None
    model['head'].update(num_classes=ctx.task.num_classes, in_channels=channels)


def _det(model: dict, ctx: 'ProtocolContext') -> None:
    _set_backbone(model, ctx, dense=True)
    model['neck']['in_channels'] = _dense_channels(ctx)
    model['roi_head']['bbox_head']['num_classes'] = ctx.task.num_classes
    pre = ctx.backbone.data_preprocessor
    if pre:
        model['data_preprocessor'].update({k: pre[k] for k in ('mean', 'std') if k in pre})


def _seg(model: dict, ctx: 'ProtocolContext') -> None:
    channels = _dense_channels(ctx)
    r = ctx.recipe
    model['data_preprocessor']['size'] = tuple(r['crop_size'])
    _set_backbone(model, ctx, dense=True)
    # the backbone levels (0-3: strides 4-32) the ASPP and the auxiliary FCN head read
    head, aux = r.get('head_level', 3), r.get('aux_level', 2)
    for key, level, width in (('decode_head', head, r['head_channels']),
                              ('auxiliary_head', aux, r['aux_channels'])):
        model[key].update(in_channels=channels[level], in_index=level, channels=width,
                          num_classes=ctx.task.num_classes, norm_cfg=_norm_cfg(ctx))


def _depth(model: dict, ctx: 'ProtocolContext') -> None:
    channels = _dense_channels(ctx)
    _set_backbone(model, ctx, dense=True)
    model['decode_head'].update(
        in_channels=channels, channels=ctx.recipe['head_channels'],
        max_depth=float(ctx.layout.get('max_depth', 10.0)), norm_cfg=_norm_cfg(ctx))


def fill_model(model: dict, ctx: 'ProtocolContext') -> dict:
    """Fill a protocol template's ``model`` for a run (in place).

    Args:
        model (dict): The template's ``model``.
        ctx (ProtocolContext): The run.

    Returns:
        dict: ``model``.
    """
    dict(cls=_cls, det=_det, seg=_seg, depth=_depth)[ctx.task.family](model, ctx)
    return model
