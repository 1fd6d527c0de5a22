"""intern_mm: the INTERN general-vision paradigm on OpenMMLab 2.0.

Importing the package registers every module (``intern_mm.models``, ``intern_mm.datasets``,
``intern_mm.engine``, ``intern_mm.evaluation``) and applies the compatibility fixes of
:mod:`intern_mm.utils.compat`, so ``custom_imports=dict(imports=['intern_mm'])`` is all a
stock mmdet / mmseg / mmpretrain config needs.
"""
from .utils.compat import apply_compat_patches
from .version import __version__

apply_compat_patches()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .utils.registration import register_parts_in_openmmlab  # noqa: E402

register_parts_in_openmmlab()  # bare names in stock mm* configs (docs/compat.md)

__all__ = ['__version__']
