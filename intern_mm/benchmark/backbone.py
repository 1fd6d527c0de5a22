"""Backbone specifications for GV-B: parse and build (and load) any backbone.

A GV-B run evaluates one *backbone*. It may be given as

* an mmengine config file holding a full model (``model=dict(backbone=...)``), a
  ``backbone=dict(...)`` entry, or a bare backbone dict at top level,
* a checkpoint (``.pth``/``.pt``/``.ckpt``) together with a backbone config (or an mmengine
  checkpoint whose ``meta['cfg']`` records the config),
* a python-dict string such as ``"dict(type='mmpretrain.ResNet', depth=18)"``,
* a ``dict`` or an already built :class:`torch.nn.Module`.

Unprefixed types are looked up in intern_mm's registry (``MetaNet``) and then in
mmpretrain's (``ResNet``, ``ConvNeXt``, ...), and the returned config always carries the
scope prefix, so it builds inside mmdet / mmseg / mmpretrain model configs alike.

Weight loading and the description of a backbone's outputs are models' helpers
(:mod:`intern_mm.models.utils`).
"""
import ast
import copy
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import torch.nn as nn

from intern_mm.models.utils import load_backbone_weights
from intern_mm.utils.checkpoint import read_checkpoint
from intern_mm.utils.run_record import to_jsonable

__all__ = [
    'BackboneSpec', 'parse_backbone_spec', 'normalize_backbone_type', 'build_backbone',
    'parse_dict_string', 'DEFAULT_CLS_PREPROCESSOR'
]

#: ImageNet mean / std (RGB, 0-255) used by the GV-B classification recipe.
DEFAULT_CLS_PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

_CKPT_SUFFIXES = ('.pth', '.pt', '.ckpt', '.bin')
_CFG_SUFFIXES = ('.py', '.json', '.yml', '.yaml')


@dataclass
class BackboneSpec:
    """A resolved backbone description.

    Args:
        cfg (dict): Backbone config with a scope-prefixed ``type``.
        checkpoint (str, optional): Checkpoint to load the backbone weights from.
        data_preprocessor (dict, optional): The data preprocessor of the model config the
            backbone came from, if any.
        source (str): Human-readable origin (file name or ``'dict'``), for provenance.
    """
    cfg: dict
    checkpoint: Optional[str] = None
    data_preprocessor: Optional[dict] = None
    source: str = 'dict'
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable description (for result provenance)."""
        return dict(
            cfg=to_jsonable(self.cfg),
            checkpoint=self.checkpoint,
            data_preprocessor=to_jsonable(self.data_preprocessor),
            source=self.source)


def normalize_backbone_type(cfg: dict) -> dict:
    """Return a copy of ``cfg`` whose ``type`` carries a registry scope prefix.

    Args:
        cfg (dict): A backbone config.

    Returns:
        dict: The config with ``type`` like ``'intern_mm.MetaNet'`` or
        ``'mmpretrain.ResNet'``.

    Raises:
        KeyError: If the type is found neither in intern_mm nor in mmpretrain.

    Example:
        >>> normalize_backbone_type(dict(type='ResNet', depth=18))['type']
        'mmpretrain.ResNet'
    """
    cfg = dict(copy.deepcopy(cfg))
    if 'type' not in cfg:
        raise KeyError(f'backbone config has no "type" key: {cfg}')
    btype = cfg['type']
    if not isinstance(btype, str):
        return cfg  # a class object: builds from any registry
    if '.' in btype:
        return cfg
    import intern_mm.models  # noqa: F401  (fills the registry)
    from intern_mm.registry import MODELS
    if btype in MODELS.module_dict:
        cfg['type'] = f'intern_mm.{btype}'
        return cfg
    import mmpretrain.models  # noqa: F401  (fills mmpretrain's registry)
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    if btype in MMPRETRAIN_MODELS.module_dict:
        cfg['type'] = f'mmpretrain.{btype}'
        return cfg
    raise KeyError(f'unknown backbone type "{btype}": it is registered neither in '
                   'intern_mm nor in mmpretrain (prefix it, e.g. "mmdet.X", if it lives '
                   'elsewhere)')


def _backbone_from_config(cfg) -> Tuple[dict, Optional[dict]]:
    """Pick the backbone dict (and data preprocessor) out of an mmengine config."""
    cfg = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    if 'model' in cfg and isinstance(cfg['model'], dict):
        model = cfg['model']
        if 'backbone' not in model:
            raise KeyError('the config\'s model has no "backbone" entry')
        return model['backbone'], model.get('data_preprocessor')
    if 'backbone' in cfg and isinstance(cfg['backbone'], dict):
        return cfg['backbone'], cfg.get('data_preprocessor')
    if 'type' in cfg:
        return cfg, None
    raise KeyError('cannot find a backbone in the config: expected "model.backbone", '
                   '"backbone" or a top-level "type"')


def parse_dict_string(text: str) -> dict:
    """A config dict from the command line: ``dict(type=..., main=dict(...))`` (any
    nesting, through mmengine's Config) or a ``{...}`` literal.

    Args:
        text (str): The text.

    Returns:
        dict: The parsed dict.

    Example:
        >>> parse_dict_string("dict(type='CentralModel', main=dict(arch='tiny'))")
        {'type': 'CentralModel', 'main': {'arch': 'tiny'}}
    """
    text = text.strip()
    if text.startswith('{'):
        value = ast.literal_eval(text)
        if not isinstance(value, dict):
            raise ValueError(f'backbone string is not a dict: {text!r}')
        return value
    from mmengine.config import Config
    cfg = Config.fromstring(f'backbone = {text}\n', file_format='.py')
    return cfg.to_dict()['backbone']


def _backbone_of_checkpoint(checkpoint: str, backbone_cfg: Optional[Union[str, dict]]
                            ) -> Tuple[dict, Optional[dict]]:
    """Backbone config (and preprocessor) of a checkpoint: ``backbone_cfg`` or the
    config mmengine recorded in its ``meta['cfg']``."""
    from mmengine.config import Config
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'backbone checkpoint {checkpoint} does not exist')
    if backbone_cfg is not None:
        sub = parse_backbone_spec(backbone_cfg)
        return sub.cfg, sub.data_preprocessor
    ckpt = read_checkpoint(checkpoint)
    meta_cfg = ckpt.get('meta', {}).get('cfg') if isinstance(ckpt, dict) else None
    if not meta_cfg:
        raise ValueError(f'checkpoint {checkpoint} records no config: pass --backbone-cfg '
                         '(a config file or dict string describing the backbone)')
    return _backbone_from_config(Config.fromstring(meta_cfg, file_format='.py'))


def parse_backbone_spec(spec: Union[str, dict, 'BackboneSpec'],
                        checkpoint: Optional[str] = None,
                        backbone_cfg: Optional[Union[str, dict]] = None) -> BackboneSpec:
    """Resolve a user backbone description into a :class:`BackboneSpec`.

    Args:
        spec (str | dict | BackboneSpec): A config file, a checkpoint file, a dict string
            or a dict (see the module docstring).
        checkpoint (str, optional): Checkpoint to load (overrides one found in ``spec``).
        backbone_cfg (str | dict, optional): Backbone config for a checkpoint ``spec``.

    Returns:
        BackboneSpec: The resolved specification.

    Raises:
        FileNotFoundError: If a named file does not exist.
        ValueError: If a checkpoint is given without any way to know its architecture.

    Example:
        >>> spec = parse_backbone_spec("dict(type='ResNet', depth=18)")
        >>> spec.cfg['type']
        'mmpretrain.ResNet'
    """
    from mmengine.config import Config
    if isinstance(spec, BackboneSpec):
        return spec
    data_preprocessor = None
    source = 'dict'
    if isinstance(spec, dict):
        cfg, data_preprocessor = _backbone_from_config(spec)
    elif isinstance(spec, str):
        stripped = spec.strip()
        if stripped.startswith('{') or stripped.startswith('dict('):
            cfg = parse_dict_string(stripped)
            source = stripped
        elif stripped.lower().endswith(_CKPT_SUFFIXES):
            checkpoint = checkpoint or stripped
            source = stripped
            cfg, data_preprocessor = _backbone_of_checkpoint(stripped, backbone_cfg)
        elif stripped.lower().endswith(_CFG_SUFFIXES):
            if not osp.isfile(stripped):
                raise FileNotFoundError(f'backbone config {stripped} does not exist')
            cfg, data_preprocessor = _backbone_from_config(Config.fromfile(stripped))
            source = stripped
        else:
            raise ValueError(f'cannot interpret backbone "{spec}": expected a config file '
                             f'({", ".join(_CFG_SUFFIXES)}), a checkpoint '
                             f'({", ".join(_CKPT_SUFFIXES)}) or a dict string')
    else:
        raise TypeError(f'backbone spec must be a str or dict, got {type(spec)}')
    cfg = normalize_backbone_type(cfg)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'backbone checkpoint {checkpoint} does not exist')
    return BackboneSpec(
        cfg=cfg, checkpoint=checkpoint, data_preprocessor=data_preprocessor, source=source)


def build_backbone(spec: Union[str, dict, BackboneSpec, nn.Module],
                   checkpoint: Optional[str] = None) -> nn.Module:
    """Build (and load) a backbone from any accepted specification.

    A module that has a ``backbone`` attribute (e.g. an ``ImageClassifier``) yields that
    attribute.

    Args:
        spec (str | dict | BackboneSpec | nn.Module): The backbone.
        checkpoint (str, optional): Checkpoint to load (overrides ``spec.checkpoint``).

    Returns:
        nn.Module: The backbone with weights initialised / loaded.

    Example:
        >>> net = build_backbone(dict(type='mmpretrain.ResNet', depth=18))
    """
    if isinstance(spec, nn.Module):
        module = spec.backbone if hasattr(spec, 'backbone') else spec
        if checkpoint:
            load_backbone_weights(module, checkpoint)
        return module
    spec = parse_backbone_spec(spec, checkpoint=checkpoint)
    from intern_mm.registry import MODELS
    module = MODELS.build(copy.deepcopy(spec.cfg))
    if hasattr(module, 'init_weights'):
        # mmengine logs every parameter's initialisation at INFO level (hundreds of
        # lines per backbone); keep warnings, drop that dump.
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(max(level, logging.WARNING))
        try:
            module.init_weights()
        finally:
            logger.setLevel(level)
    if spec.checkpoint:
        load_backbone_weights(module, spec.checkpoint)
    return module
