"""Process-wide glibc malloc setting that keeps freed CPU memory for reuse.

PyTorch allocates CPU tensors with the C library's ``malloc`` and has no caching
allocator on CPU. glibc serves large blocks with ``mmap`` and gives freed ones back to
the kernel, so a large activation allocated again in the next step touches fresh pages:
one page fault per 4 KiB. docs/deployment.md measures what that costs MN-B4.
"""
import ctypes
import os
from typing import Optional

__all__ = ['retain_cpu_memory', 'cpu_allocator_state', 'RETAIN_GLIBC_TUNABLES']

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: Largest trim threshold ``mallopt`` takes (its value is a C ``int``).
_TRIM_THRESHOLD = 2**31 - 1
#: The same setting for a whole command (inherited by torchrun / slurm workers):
#: ``GLIBC_TUNABLES=<this> python tools/train.py ...``.
RETAIN_GLIBC_TUNABLES = ('glibc.malloc.mmap_max=0:'
                         f'glibc.malloc.trim_threshold={_TRIM_THRESHOLD}')

_retained = False


def _libc_version() -> str:
    """``'glibc 2.36'`` style name of the C library, or ``''`` when unknown."""
    try:
        return os.confstr('CS_GNU_LIBC_VERSION') or ''
    except (AttributeError, ValueError, OSError):
        return ''


def _glibc() -> Optional[ctypes.CDLL]:
    """The process's C library if it is glibc, else None."""
    return ctypes.CDLL(None) if _libc_version().startswith('glibc') else None


def retain_cpu_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory in the process for reuse.

    Sets ``M_MMAP_MAX = 0`` (large blocks come from the heap, not from fresh ``mmap``
    regions) and the largest ``M_TRIM_THRESHOLD`` (freed memory is not handed back to
    the kernel), so that the tensors of the next step reuse pages that are already
    mapped instead of page-faulting. The process then keeps its peak memory until it
    exits. Affects the whole process from this call on (allocations made before keep
    their kind); there is no switching back. Equivalent to starting the process with
    ``GLIBC_TUNABLES=`` :data:`RETAIN_GLIBC_TUNABLES`.

    Returns:
        bool: True if applied; False (nothing changed) where the C library is not
        glibc (macOS, musl) or rejected the setting.

    Example:
        >>> from intern_mm.utils import retain_cpu_memory
        >>> retain_cpu_memory()  # on Linux with glibc
        True
    """
    global _retained
    libc = _glibc()
    if libc is None:
        return False
    ok = (libc.mallopt(_M_MMAP_MAX, 0) == 1
          and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1)
    _retained = _retained or ok
    return ok


def cpu_allocator_state() -> str:
    """One line naming the CPU allocator setting of this process (for benchmark logs).

    Example:
        >>> cpu_allocator_state()  # doctest: +SKIP
        'glibc 2.36 malloc, default settings'
    """
    preload = os.environ.get('LD_PRELOAD', '')
    if preload:
        return f'LD_PRELOAD={preload}'
    version = _libc_version() or 'unknown libc'
    if _retained:
        return f'{version} malloc, freed memory retained (retain_cpu_memory)'
    tunables = os.environ.get('GLIBC_TUNABLES', '')
    if 'glibc.malloc.' in tunables:
        return f'{version} malloc, GLIBC_TUNABLES={tunables}'
    return f'{version} malloc, default settings'
