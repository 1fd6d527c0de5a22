"""Utilities of intern_mm: compatibility patches, checkpoints, registration."""
from .compat import apply_compat_patches
from .registration import register_in_openmmlab
from .setup_env import register_all_modules

__all__ = ['apply_compat_patches', 'register_in_openmmlab', 'register_all_modules']
