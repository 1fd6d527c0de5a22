"""Utilities of intern_mm."""
from .compat import apply_compat_patches, load_local_checkpoint
from .registration import register_in_openmmlab
from .setup_env import register_all_modules

__all__ = [
    'apply_compat_patches', 'load_local_checkpoint', 'register_in_openmmlab',
    'register_all_modules'
]
