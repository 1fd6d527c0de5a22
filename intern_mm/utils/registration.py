"""Make intern_mm's public parts reachable by their bare names from stock OpenMMLab configs.

One way for every part: a stock mmdet / mmseg / mmpretrain config that imports intern_mm
(``custom_imports=dict(imports=['intern_mm'], allow_failed_imports=False)``) writes the
bare class name (``type='MultiSourceDataset'``), because the class is also registered in
that codebase's registry of the same kind. :data:`OPENMMLAB_PARTS` lists the parts and
codebases; ``import intern_mm`` registers them (:func:`register_parts_in_openmmlab`). A
name the codebase already uses for a class of its own keeps meaning the codebase's class
there (never replaced); intern_mm's is then reached as ``type='intern_mm.<name>'``, which
works for every part from any scope. :data:`HOST_OWNED` lists the known cases (one:
mmdet's ``MultiSourceSampler``); an unexpected one warns. ``docs/compat.md`` shows the
list.

Example:
    >>> from intern_mm.utils.registration import register_parts_in_openmmlab
    >>> report = register_parts_in_openmmlab()
    >>> report[('mmdet', 'DATASETS', 'MultiSourceDataset')]
    'registered'
"""
import importlib
import warnings
from typing import Dict, Sequence, Tuple, Type

import intern_mm.registry as intern_registry

__all__ = ['register_in_openmmlab', 'register_parts_in_openmmlab', 'OPENMMLAB_SCOPES',
           'OPENMMLAB_PARTS', 'HOST_OWNED']

#: Codebases whose registries also receive intern_mm's public parts.
OPENMMLAB_SCOPES = ('mmpretrain', 'mmdet', 'mmseg')
_ALL = OPENMMLAB_SCOPES

#: Registry kind (the attribute of ``<codebase>.registry``) -> {class name: codebases}.
#: Every class is registered in intern_mm's registry of that kind under the same name.
OPENMMLAB_PARTS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'MODELS': {
        'MetaNet': _ALL,
        'CentralModel': _ALL,
        'MultiSourceLinearClsHead': ('mmpretrain', ),
        'MultiSourceBBoxHead': ('mmdet', ),
        'MultiSourceRoIHead': ('mmdet', ),
        'MultiSourceFCNHead': ('mmseg', ),
    },
    'DATASETS': {'MultiSourceDataset': _ALL},
    'DATA_SAMPLERS': {'MultiSourceSampler': _ALL},
    'METRICS': {'PerSourceMetric': _ALL},
    'TRANSFORMS': {'LoadImageFromFileOrSkip': _ALL},
    'HOOKS': {
        name: _ALL
        for name in ('DecodeFailureHook', 'FreezeScheduleHook', 'StageHandoffHook',
                     'LossWeightScheduleHook', 'SourceRatioScheduleHook', 'RNGStateHook',
                     'ChannelsLastHook')
    },
}

#: ``(codebase, kind, name)`` -> the codebase's own class of that name, which the bare
#: name keeps meaning there (intern_mm's: ``type='intern_mm.<name>'``). No warning.
HOST_OWNED: Dict[Tuple[str, str, str], str] = {
    ('mmdet', 'DATA_SAMPLERS', 'MultiSourceSampler'):
    "mmdet's fixed-ratio sampler of semi-supervised detection",
}


def register_in_openmmlab(cls: Type,
                          scopes: Sequence[str] = OPENMMLAB_SCOPES,
                          kind: str = 'MODELS') -> Type:
    """Register ``cls`` in the ``kind`` registry of each installed codebase.

    An unprefixed ``type='MetaNet'`` inside an mmdet config (``default_scope='mmdet'``) is
    only looked up in mmdet's registry and its parents, never in sibling scopes such as
    ``intern_mm``. Registering the class there too makes the usual
    ``custom_imports=dict(imports=['intern_mm'])`` + ``type='MetaNet'`` pattern work.

    The codebase's own modules of that registry are imported first (its lazy
    ``locations``), so that a name it uses itself is seen: such a name is left alone
    (a warning says so unless :data:`HOST_OWNED` lists it): the host's own modules are
    never replaced.

    Args:
        cls (type): The class (already registered in intern_mm's registry of ``kind``).
        scopes (Sequence[str]): Codebases to register into. Missing ones are skipped.
            Defaults to ``('mmpretrain', 'mmdet', 'mmseg')``.
        kind (str): The registry: ``'MODELS'``, ``'DATASETS'``, ``'DATA_SAMPLERS'``,
            ``'METRICS'``, ``'HOOKS'``, ``'TRANSFORMS'``, ... Defaults to ``'MODELS'``.

    Returns:
        type: ``cls`` unchanged, so that this can be used as a decorator.

    Example:
        >>> register_in_openmmlab(MultiSourceDataset, kind='DATASETS')  # doctest: +SKIP
    """
    _register(cls, scopes, kind)
    return cls


def _register(cls: Type, scopes: Sequence[str], kind: str) -> Dict[str, str]:
    """Register ``cls``; ``codebase -> 'registered' | 'host'`` for the installed ones."""
    outcome = {}
    for scope in scopes:
        try:
            registry_module = importlib.import_module(f'{scope}.registry')
        except ImportError:
            continue
        registry = getattr(registry_module, kind)
        registry.import_from_location()  # the host's own names first
        existing = registry.module_dict.get(cls.__name__)
        if existing is not None and existing.__module__ != cls.__module__:
            if (scope, kind, cls.__name__) not in HOST_OWNED:
                warnings.warn(f'{scope} already registers {cls.__name__} '
                              f'({existing.__module__}); use type="intern_mm.{cls.__name__}"')
            outcome[scope] = 'host'
            continue
        # same class, or the same class re-imported (module reload): refresh it
        registry.register_module(module=cls, force=True)
        outcome[scope] = 'registered'
    return outcome


def register_parts_in_openmmlab() -> Dict[Tuple[str, str, str], str]:
    """Register every part of :data:`OPENMMLAB_PARTS` in the codebases it lists.

    ``import intern_mm`` calls this once every intern_mm package is imported; the
    classes are taken from intern_mm's own registries.

    Returns:
        dict: ``(codebase, kind, name) -> 'registered'`` or ``'host'`` (the codebase
        keeps its own class of that name), for each installed codebase.

    Raises:
        KeyError: If a listed class is not in intern_mm's registry of its kind.

    Example:
        >>> register_parts_in_openmmlab()[('mmdet', 'DATA_SAMPLERS', 'MultiSourceSampler')]
        'host'
    """
    report = {}
    for kind, parts in OPENMMLAB_PARTS.items():
        own = getattr(intern_registry, kind)
        for name, scopes in parts.items():
            cls = own.module_dict.get(name)
            if cls is None:
                raise KeyError(f'{name} is not registered in intern_mm\'s {kind}')
            for scope, outcome in _register(cls, scopes, kind).items():
                report[(scope, kind, name)] = outcome
    return report
