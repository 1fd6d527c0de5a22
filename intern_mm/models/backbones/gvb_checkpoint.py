"""Convert checkpoints of the original INTERN / gv-benchmark release to intern_mm.

Layouts handled:

* **MetaNet** (``stem.*``, ``blocks.<i>.*``, ``head.*``): the names are identical in
  :class:`~intern_mm.models.backbones.MetaNet`, keys are copied.
* **Up-G** ``Central_Model`` (``model.backbone.gv_global.*``,
  ``model.backbone.gv_patch.*``, ``model.trans.gv_global.gv_patch.<layerK>.*``):
  mapped to :class:`~intern_mm.models.backbones.CentralModel` as ``main.*``, ``aux.*``,
  ``trans.<layerK>.*``. The original also builds transfer layers in the reverse
  direction (``model.trans.gv_patch.gv_global.*``) that its forward never calls; they
  become ``reverse_trans.<layerK>.*`` of a ``CentralModel(reverse_transfer=True)``
  (frozen, unused, as in the release), so nothing is lost. With
  ``drop_reverse_transfer=True`` they are left out instead and listed in the output's
  ``meta['dropped_keys']``.
* ``cls-bn`` / ``det-bn`` variants: converted alone (plain BN), or merged into one
  task-specific-BN checkpoint (``bns.cls`` / ``bns.det``) for
  ``CentralModel(bn_tasks=('cls', 'det'))``.

Wrappers are unwrapped (``state_dict`` / ``model`` entries, ``module.`` prefixes, a
whole-detector/classifier checkpoint's ``backbone.*`` subset). The architecture is
detected by comparing key names and shapes with every known arch (built on the
``meta`` device, so MN-B15 costs no memory) unless given. Every conversion is checked
against the target model: any missing / unexpected key or shape mismatch raises
:class:`CheckpointMismatchError` listing them.

The output is an mmengine checkpoint ``{'meta': {...}, 'state_dict': {...}}`` whose keys
carry the prefix ``backbone.`` (default), so it loads with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` or directly
into a whole classifier / detector; with ``prefix=''`` load it without a prefix.
"""
import copy
import json
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from intern_mm.registry import MODELS
from intern_mm.utils.checkpoint import (compare_state_dicts, has_prefix, read_checkpoint,
                                        select_prefix, unwrap_state_dict)
from .task_norm import merge_task_bn

__all__ = [
    'CheckpointMismatchError', 'load_gvb_state_dict', 'detect_layout', 'map_gvb_keys',
    'detect_expert_cfg', 'build_target_backbone', 'check_state_dict', 'convert_gvb_checkpoint'
]

StateDict = Dict[str, torch.Tensor]

#: Original Up-G prefix -> intern_mm CentralModel prefix.
CENTRAL_KEY_MAP = OrderedDict([
    ('model.backbone.gv_global.', 'main.'),
    ('model.backbone.gv_patch.', 'aux.'),
    ('model.trans.gv_global.gv_patch.', 'trans.'),
    ('model.trans.gv_patch.gv_global.', 'reverse_trans.'),
])
#: Original keys that the original forward never uses (reverse-direction transfers).
CENTRAL_UNUSED_PREFIXES = ('model.trans.gv_patch.gv_global.', )
#: Output index set used for conversion targets (all keys of the original, head included).
ALL_OUTPUTS = (0, 1, 2, 3, 4)
RESNET_DEPTHS = {
    ('basic', (2, 2, 2, 2)): 18,
    ('basic', (3, 4, 6, 3)): 34,
    ('bottleneck', (3, 4, 6, 3)): 50,
    ('bottleneck', (3, 4, 23, 3)): 101,
    ('bottleneck', (3, 8, 36, 3)): 152,
}
_MAX_LISTED = 50


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the target model; the message lists every problem."""


def _listing(title: str, items: Sequence[str]) -> str:
    items = list(items)
    shown = items[:_MAX_LISTED]
    more = f' ... and {len(items) - len(shown)} more' if len(items) > len(shown) else ''
    return f'{title} ({len(items)}): {shown}{more}'


def _is_canonical(keys: Sequence[str]) -> bool:
    return any(k.startswith(('stem.', 'blocks.', 'model.backbone.', 'conv1.', 'layer1.'))
               for k in keys)


def load_gvb_state_dict(src: Union[str, dict]) -> Tuple[StateDict, List[str]]:
    """Load and unwrap an original checkpoint into a flat tensor state dict.

    Reading and unwrapping (``state_dict`` / ``model`` / ``module`` / ``net`` entries,
    ``module.`` prefixes) are :mod:`intern_mm.utils.checkpoint`'s; this adds the
    GV-B rule that a whole-detector/classifier checkpoint without canonical backbone
    keys contributes its ``backbone.*`` subset.

    Args:
        src (str | dict): Path of the checkpoint, or an already loaded object.

    Returns:
        tuple[dict, list[str]]: The state dict and the keys that were ignored
        (non-tensor entries, non-backbone parts of a whole-model checkpoint).

    Raises:
        FileNotFoundError: If ``src`` is a missing path.
        CheckpointMismatchError: If no tensor state dict is found.
    """
    try:
        obj = unwrap_state_dict(read_checkpoint(src))
    except TypeError as err:
        raise CheckpointMismatchError(str(err)) from err
    ignored = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    state = OrderedDict((k, v) for k, v in obj.items() if isinstance(v, torch.Tensor))
    if not state:
        raise CheckpointMismatchError(f'no tensors found in checkpoint; top-level keys: '
                                      f'{list(obj)[:20]}')
    if not _is_canonical(list(state)) and has_prefix(state, 'backbone.'):
        ignored += [k for k in state if not k.startswith('backbone.')]
        state = unwrap_state_dict(select_prefix(state, 'backbone.'))
    return state, ignored


def detect_layout(state: StateDict) -> str:
    """``'central'`` for the Up-G layout, else ``'metanet'`` (or ``'resnet'``)."""
    if any(k.startswith('model.backbone.') for k in state):
        return 'central'
    if any(k.startswith(('stem.', 'blocks.')) for k in state):
        return 'metanet'
    if any(k.startswith('conv1.') for k in state):
        return 'resnet'
    raise CheckpointMismatchError('unrecognised checkpoint layout: expected MetaNet keys '
                                  '(stem.*, blocks.*), ResNet keys (conv1.*) or the Up-G '
                                  f'layout (model.backbone.*); first keys: {list(state)[:10]}')


def map_gvb_keys(state: StateDict,
                 layout: Optional[str] = None,
                 drop_unused: bool = False) -> Tuple[StateDict, List[str]]:
    """Rename original keys to intern_mm's.

    Args:
        state (dict): Unwrapped original state dict.
        layout (str, optional): ``'metanet'``, ``'resnet'`` or ``'central'``.
            Detected when None.
        drop_unused (bool): Leave out the Up-G keys its forward never uses
            (:data:`CENTRAL_UNUSED_PREFIXES`) instead of mapping them to
            ``reverse_trans.*``. Defaults to False.

    Returns:
        tuple[dict, list[str]]: The renamed state dict (unknown keys are kept unchanged
        so that the check reports them) and the dropped keys (empty unless
        ``drop_unused``).
    """
    layout = layout or detect_layout(state)
    if layout != 'central':
        return OrderedDict(state), []
    mapped, dropped = OrderedDict(), []
    for key, value in state.items():
        if drop_unused and key.startswith(CENTRAL_UNUSED_PREFIXES):
            dropped.append(key)
            continue
        for old, new in CENTRAL_KEY_MAP.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        mapped[key] = value
    return mapped, dropped


def _expert_cfg(arch: Union[str, dict], out_indices=ALL_OUTPUTS) -> dict:
    if isinstance(arch, dict) and 'type' in arch:
        return copy.deepcopy(arch)
    return dict(type='MetaNet', arch=copy.deepcopy(arch), out_indices=out_indices)


def build_target_backbone(layout: str,
                          main: dict,
                          aux: Optional[dict] = None,
                          bn_tasks: Optional[Sequence[str]] = None,
                          device: str = 'meta',
                          reverse_transfer: bool = False) -> nn.Module:
    """Build the intern_mm backbone a converted checkpoint must fit.

    Args:
        layout (str): ``'metanet'``, ``'resnet'`` or ``'central'``.
        main (dict): Expert config (``dict(type='MetaNet', arch=..., ...)``).
        aux (dict, optional): Auxiliary expert config (central only).
        bn_tasks (Sequence[str], optional): Task-specific BN sets (central only).
        device (str): Device to build on. Defaults to ``'meta'`` (no memory).
        reverse_transfer (bool): Central only: hold the release's unused
            reverse-direction transfer layers. Defaults to False.

    Returns:
        nn.Module: The model.
    """
    with torch.device(device):
        if layout == 'central':
            return MODELS.build(
                dict(
                    type='CentralModel',
                    main=copy.deepcopy(main),
                    aux=copy.deepcopy(aux or main),
                    out_indices=ALL_OUTPUTS,
                    bn_tasks=bn_tasks,
                    reverse_transfer=reverse_transfer,
                    init_cfg=None))
        return MODELS.build(copy.deepcopy(main))


def check_state_dict(state: StateDict, model: nn.Module, what: str = 'model') -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state`` fits ``model`` exactly.

    Args:
        state (dict): State dict to check (intern_mm names).
        model (nn.Module): Target model (may live on the meta device).
        what (str): Name of the target for the message.
    """
    diff = compare_state_dicts(model.state_dict(), state)
    if diff:
        raise CheckpointMismatchError('\n'.join([
            f'checkpoint does not match {what}:',
            _listing('missing keys', diff.missing),
            _listing('unexpected keys', diff.unexpected),
            _listing('shape mismatches', diff.mismatch_lines()),
        ]))


def _resnet_cfg(state: StateDict) -> Optional[dict]:
    if 'conv1.weight' not in state:
        return None
    kind = 'bottleneck' if 'layer1.0.conv3.weight' in state else 'basic'
    blocks = tuple(
        len({k.split('.')[1]
             for k in state if k.startswith(f'layer{i}.')}) for i in range(1, 5))
    depth = RESNET_DEPTHS.get((kind, blocks))
    if depth is None:
        raise CheckpointMismatchError(f'unknown ResNet layout {kind} {blocks}')
    return dict(type='mmpretrain.ResNet', depth=depth, out_indices=(0, 1, 2, 3))


def detect_expert_cfg(state: StateDict) -> dict:
    """Find the expert config whose keys and shapes equal ``state``'s.

    Tries every :attr:`MetaNet.arch_zoo` entry (with and without the 1280-d head) and
    the standard ResNet depths.

    Args:
        state (dict): An expert's state dict (intern_mm names, no prefix).

    Returns:
        dict: The expert config, e.g. ``dict(type='MetaNet', arch='mn-b4',
        out_indices=(0, 1, 2, 3, 4))``.

    Raises:
        CheckpointMismatchError: If nothing matches; names the closest arch.
    """
    resnet = _resnet_cfg(state)
    if resnet is not None:
        return resnet
    from .metanet import MetaNet
    best = None
    for name in MetaNet.arch_zoo:
        for outs in (ALL_OUTPUTS, (0, 1, 2, 3)):
            cfg = _expert_cfg(name, outs)
            diff = compare_state_dicts(
                build_target_backbone('metanet', cfg).state_dict(), state)
            if not diff:
                return cfg
            if best is None or len(diff) < best[0]:
                best = (len(diff), name)
    raise CheckpointMismatchError(
        f'could not detect the MetaNet arch from the checkpoint keys/shapes (closest: '
        f'{best[1]!r}, {best[0]} differing keys); pass arch= (a name of '
        f'{sorted(MetaNet.arch_zoo)} or an arch dict)')


def _parse_arch(arch: Optional[Union[str, dict]]) -> Optional[Union[str, dict]]:
    if isinstance(arch, str) and arch.strip().startswith('{'):
        return json.loads(arch)
    return arch


def _expert_cfgs(layout: str, mapped: StateDict,
                 arch: Optional[Union[str, dict]]) -> Tuple[dict, Optional[dict]]:
    """Main and auxiliary expert configs (given ``arch`` or detected per stream)."""
    if layout != 'central':
        return (_expert_cfg(arch) if arch is not None else detect_expert_cfg(mapped)), None
    experts = []
    for stream in ('main', 'aux'):
        sub = select_prefix(mapped, stream + '.')
        if not sub:
            raise CheckpointMismatchError(f'Up-G checkpoint has no {stream} expert keys')
        experts.append(_expert_cfg(arch) if arch is not None else detect_expert_cfg(sub))
    return experts[0], experts[1]


def _merge_det_bn(layout: str, mapped: StateDict, det_bn_src: Union[str, dict],
                  drop_unused: bool) -> StateDict:
    """Merge the ``det-bn`` variant into ``mapped`` (the ``cls-bn`` one) as task BN."""
    if layout != 'central':
        raise CheckpointMismatchError('--det-bn merging applies to Up-G (central) '
                                      f'checkpoints, this one is {layout}')
    det_state, _ = load_gvb_state_dict(det_bn_src)
    det_mapped, _ = map_gvb_keys(det_state, detect_layout(det_state), drop_unused=drop_unused)
    try:
        return merge_task_bn(OrderedDict(cls=mapped, det=det_mapped))
    except ValueError as err:
        raise CheckpointMismatchError(str(err)) from err


def convert_gvb_checkpoint(src: Union[str, dict],
                           dst: Optional[str] = None,
                           arch: Optional[Union[str, dict]] = None,
                           det_bn_src: Optional[Union[str, dict]] = None,
                           prefix: str = 'backbone.',
                           drop_reverse_transfer: bool = False) -> dict:
    """Convert an original INTERN checkpoint into an intern_mm (mmengine) checkpoint.

    Args:
        src (str | dict): Original checkpoint (path or loaded object). With
            ``det_bn_src`` this is the ``cls-bn`` variant.
        dst (str, optional): Where to save the result (``torch.save``); None: not saved.
        arch (str | dict, optional): MetaNet arch name or dict (also a JSON string), or
            a full expert config dict with ``type``. Detected when None.
        det_bn_src (str | dict, optional): The ``det-bn`` variant of an Up-G
            checkpoint; merges both into one task-specific-BN checkpoint.
        prefix (str): Prefix of every output key. Defaults to ``'backbone.'``.
        drop_reverse_transfer (bool): Up-G only: leave out the release's unused
            reverse-direction transfer layers (listed in ``meta['dropped_keys']``), for
            a ``CentralModel(reverse_transfer=False)``. Defaults to False (kept as
            ``reverse_trans.*``).

    Returns:
        dict: ``{'meta': {...}, 'state_dict': {...}}``; ``meta['model_cfg']`` is the
        intern_mm backbone config the weights fit.

    Raises:
        CheckpointMismatchError: Listing missing / unexpected keys and shape mismatches.

    Example:
        >>> ckpt = convert_gvb_checkpoint('mnb4_up-e-c.pth', 'mnb4_intern_mm.pth')  # doctest: +SKIP
        >>> ckpt['meta']['model_cfg']  # doctest: +SKIP
        {'type': 'MetaNet', 'arch': 'mn-b4', 'out_indices': (0, 1, 2, 3, 4)}
    """
    state, ignored = load_gvb_state_dict(src)
    layout = detect_layout(state)
    mapped, dropped = map_gvb_keys(state, layout, drop_unused=drop_reverse_transfer)
    reverse_transfer = has_prefix(mapped, 'reverse_trans.')
    main_cfg, aux_cfg = _expert_cfgs(layout, mapped, _parse_arch(arch))
    bn_tasks = None
    if det_bn_src is not None:
        mapped = _merge_det_bn(layout, mapped, det_bn_src, drop_reverse_transfer)
        bn_tasks = ('cls', 'det')
    target = build_target_backbone(layout, main_cfg, aux_cfg, bn_tasks=bn_tasks,
                                   reverse_transfer=reverse_transfer)
    check_state_dict(mapped, target, type(target).__name__ + f'({main_cfg})')
    model_cfg = main_cfg if layout != 'central' else dict(
        type='CentralModel', main=main_cfg, aux=aux_cfg, out_indices=ALL_OUTPUTS,
        bn_tasks=bn_tasks, reverse_transfer=reverse_transfer)
    meta = dict(
        converter='intern_mm gvb2intern',
        source=src if isinstance(src, str) else '<in-memory>',
        det_bn_source=det_bn_src if isinstance(det_bn_src, str) else None,
        layout=layout, model_cfg=model_cfg, key_prefix=prefix,
        dropped_keys=dropped, ignored_keys=ignored)
    ckpt = dict(meta=meta,
                state_dict=OrderedDict((prefix + k, v.clone()) for k, v in mapped.items()))
    if dst is not None:
        torch.save(ckpt, dst)
    return ckpt
