"""Make intern_mm modules visible to the stock OpenMMLab codebases."""
import importlib
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
        registry_module.MODELS.register_module(module=cls, force=True)
    return cls
