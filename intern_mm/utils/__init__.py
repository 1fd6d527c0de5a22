"""Utilities of intern_mm: compatibility patches, checkpoints, registration, CPU allocator."""
from .compat import apply_compat_patches
from .config import UnknownConfigKeyError, merge_cfg_options
from .cpu_allocator import RETAIN_GLIBC_TUNABLES, cpu_allocator_state, retain_cpu_memory
from .environment import cpu_model, run_environment
from .registration import register_in_openmmlab
from .setup_env import register_all_modules

__all__ = [
    'apply_compat_patches', 'register_in_openmmlab', 'register_all_modules',
    'retain_cpu_memory', 'cpu_allocator_state', 'RETAIN_GLIBC_TUNABLES', 'merge_cfg_options',
    'UnknownConfigKeyError', 'cpu_model', 'run_environment'
]
