"""What a run's figures depend on besides its config: the machine and the packages.

A run repeats itself to the last digit on one machine and one environment; its
floating-point sums depend on the thread count (the config's), on the CPU's vector
kernels and on the numeric packages' versions (image resizing, BLAS). Records of figures
carry :func:`run_environment` so that a mismatch can be traced. (mmengine's
``collect_env`` names torch, OpenCV and mmengine but not numpy, Pillow, the mm* model
libraries or the CPU model, and imports torch and cv2 to do it; this reads installed
distribution metadata only.)

Example:
    >>> env = run_environment()
    >>> sorted(env)[:3]
    ['cpu', 'cpus', 'packages']
"""
import importlib.metadata
import os
import platform
import sys
from typing import Dict

__all__ = ['cpu_model', 'run_environment', 'NUMERIC_PACKAGES']

#: The distributions whose versions a training run's figures can depend on.
NUMERIC_PACKAGES = ('torch', 'torchvision', 'numpy', 'opencv-python', 'pillow', 'scipy',
                    'mmcv', 'mmengine', 'mmpretrain', 'mmdet', 'mmsegmentation',
                    'pycocotools')


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else what :mod:`platform` says).

    Example:
        >>> isinstance(cpu_model(), str)
        True
    """
    try:
        with open('/proc/cpuinfo') as f:
            return next(line.split(':', 1)[1].strip() for line in f
                        if line.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def run_environment() -> Dict[str, object]:
    """The machine and package versions of this process.

    Returns:
        dict: ``cpu`` (model), ``cpus``, ``python``, ``packages`` (distribution ->
        version, ``None`` when not installed; :data:`NUMERIC_PACKAGES`).
    """
    packages = {}
    for name in NUMERIC_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return dict(cpu=cpu_model(), cpus=os.cpu_count(), python=sys.version.split()[0],
                packages=packages)
