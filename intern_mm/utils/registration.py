"""Make intern_mm modules visible to the stock OpenMMLab codebases."""
import importlib
import warnings
from typing import Sequence, Type

__all__ = ['register_in_openmmlab']

#: Codebases whose ``MODELS`` registry also receives intern_mm backbones.
OPENMMLAB_SCOPES = ('mmpretrain', 'mmdet', 'mmseg')


def register_in_openmmlab(cls: Type, scopes: Sequence[str] = OPENMMLAB_SCOPES) -> Type:
    """Register ``cls`` in the ``MODELS`` registry of each installed codebase.

    An unprefixed ``type='MetaNet'`` inside an mmdet config (``default_scope='mmdet'``) is
    only looked up in mmdet's registry and its parents, never in sibling scopes such as
    ``intern_mm``. Registering the class there too makes the usual
    ``custom_imports=dict(imports=['intern_mm'])`` + ``type='MetaNet'`` pattern work.

    A name the codebase already uses for another class is left alone (a warning says
    so): the host's own modules are never replaced. The classes registered this way are
    listed in ``docs/compat.md``.

    Args:
        cls (type): The module class (already registered in intern_mm's ``MODELS``).
        scopes (Sequence[str]): Codebases to register into. Missing ones are skipped.
            Defaults to ``('mmpretrain', 'mmdet', 'mmseg')``.

    Returns:
        type: ``cls`` unchanged, so that this can be used as a decorator.
    """
    for scope in scopes:
        try:
            registry_module = importlib.import_module(f'{scope}.registry')
        except ImportError:
            continue
        registry = registry_module.MODELS
        existing = registry.module_dict.get(cls.__name__)
        if existing is not None and existing.__module__ != cls.__module__:
            warnings.warn(f'{scope} already registers {cls.__name__} '
                          f'({existing.__module__}); use type="intern_mm.{cls.__name__}"')
            continue
        # same class, or the same class re-imported (module reload): refresh it
        registry.register_module(module=cls, force=True)
    return cls
