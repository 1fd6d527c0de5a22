"""Fixes for known incompatibilities of the pinned OpenMMLab stack.

Applied once when :mod:`intern_mm` is imported (idempotent):

* torch >= 2.6 loads with ``weights_only=True`` by default, while mmengine 0.10.7's
  local-file checkpoint loader does not pass ``weights_only``. Checkpoints written by
  mmengine hold ``HistoryBuffer`` / numpy objects in their ``message_hub`` and ``meta``,
  so resuming fails with ``UnpicklingError``. We register a local-file loader that passes
  ``weights_only=False``. Only load checkpoints you trust (as with any pickle).
* mmengine 0.10.7 cannot run distributed on a CPU-only machine: its launchers call
  ``torch.cuda.set_device`` unconditionally (and default to the NCCL backend), and the
  runner wraps the model with ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU
  modules. Without CUDA we initialise the process group with gloo and skip
  ``set_device``, and build ``MMDistributedDataParallel`` without ``device_ids`` for CPU
  modules. With CUDA nothing changes.
* mmengine only resolves ``pkg::path`` config bases for a fixed list of OpenMMLab
  packages; we add ``intern_mm`` so that ``_base_ = 'intern_mm::metanet/...'`` works like
  ``'mmdet::...'`` (configs are exposed under ``intern_mm/.mim`` by ``setup.py``).
* setuptools >= 82 removed ``pkg_resources``, which mmengine 0.10.7 imports to resolve
  ``pkg::path`` config bases (``_base_ = 'mmdet::...'``) and installed package paths. We
  replace mmengine's ``is_installed`` / ``get_installed_path`` / ``package2module`` with
  equivalents built on :mod:`importlib.metadata` (standard library), whether or not
  ``pkg_resources`` exists, so behaviour does not depend on the setuptools version.
* mmengine's auto-resume reads ``last_checkpoint``, which a kill while a checkpoint is
  saved can leave empty or naming a deleted file: ``find_latest_checkpoint`` is replaced
  by :func:`intern_mm.utils.resume.find_resumable_checkpoint` (falls back to the newest
  complete checkpoint).
* numpy 2 removed ``np.in1d`` (used by mmpretrain's retrieval metrics) and a few aliases
  (``np.float`` / ``np.int`` / ``np.bool`` / ``np.long``) that some mmdet/mmcv helpers
  still reference; we restore them as aliases of their replacements.
"""
import os.path as osp
from typing import Callable, Optional

import numpy as np
import torch

__all__ = ['apply_compat_patches', 'load_local_checkpoint']

_APPLIED = False


def load_local_checkpoint(filename: str,
                          map_location: Optional[str | Callable] = None):
    """Load a trusted local checkpoint with ``weights_only=False``.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str | Callable, optional): Passed to :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} does not exist')
    return torch.load(filename, map_location=map_location, weights_only=False)


def _patch_numpy() -> None:
    aliases = {'float': float, 'int': int, 'bool': bool, 'long': int, 'object': object}
    for name, value in aliases.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    if not hasattr(np, 'in1d'):
        np.in1d = np.isin  # type: ignore[attr-defined]


def _patch_cpu_distributed() -> None:
    import mmengine.dist
    import mmengine.dist.utils as dist_utils
    import mmengine.runner.runner as runner_module
    from mmengine.model.wrappers import MMDistributedDataParallel

    original_init_dist = dist_utils.init_dist

    def init_dist(launcher, backend='nccl', init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return original_init_dist(launcher, backend, init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda *args, **kw: None
        try:
            return original_init_dist(launcher, backend, init_backend, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    init_dist.__doc__ = original_init_dist.__doc__
    for module in (dist_utils, mmengine.dist, runner_module):
        module.init_dist = init_dist

    original_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, detect_anomalous_params=False, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original_ddp_init(self, module, detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init


def _metadata_package2module(package: str) -> str:
    """Infer the top-level module of an installed distribution (no ``pkg_resources``).

    Args:
        package (str): Distribution name, e.g. ``'mmsegmentation'``.

    Returns:
        str: The first entry of its ``top_level.txt``, e.g. ``'mmseg'``.

    Raises:
        importlib.metadata.PackageNotFoundError: If ``package`` is not installed.
        ValueError: If the distribution does not declare its top-level module.
    """
    from importlib import metadata
    top_level = metadata.distribution(package).read_text('top_level.txt')
    if top_level and top_level.split()[0]:
        return top_level.split()[0]
    raise ValueError(f'can not infer the module name of {package}')


def _metadata_is_installed(package: str) -> bool:
    """Whether ``package`` is an installed distribution or an importable module.

    Args:
        package (str): Distribution or module name.

    Returns:
        bool: ``True`` when installed (or importable from ``PYTHONPATH``).
    """
    import importlib.util
    from importlib import metadata
    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _metadata_get_installed_path(package: str) -> str:
    """Directory of an installed package, found without ``pkg_resources``.

    Args:
        package (str): Distribution name (``'mmsegmentation'``) or module name
            (``'mmseg'``).

    Returns:
        str: The folder holding the package's ``__init__.py``.

    Raises:
        importlib.metadata.PackageNotFoundError: If it is neither installed nor importable.
        RuntimeError: If it is a namespace package (as mmengine's original).
    """
    import importlib.util
    # an importable name is its own module; else the distribution names its module
    # (raises PackageNotFoundError when it is neither)
    module = package
    if importlib.util.find_spec(package) is None:
        module = _metadata_package2module(package)
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f'{package} is a namespace package, which is invalid '
                           'for `get_install_path`')
    return osp.dirname(spec.origin)


def _patch_package_utils() -> None:
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as mmengine_utils
    import mmengine.utils.package_utils as package_utils
    replacements = {
        'is_installed': _metadata_is_installed,
        'get_installed_path': _metadata_get_installed_path,
        'package2module': _metadata_package2module,
    }
    # every module that bound the names with `from ... import`
    for module in (package_utils, mmengine_utils, config_module, hub_module):
        for name, function in replacements.items():
            if hasattr(module, name):
                setattr(module, name, function)


def _register_config_package() -> None:
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('intern_mm', 'intern_mm')


def apply_compat_patches() -> None:
    """Apply the fixes listed in this module's docstring (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)
    _patch_numpy()
    _patch_cpu_distributed()
    _patch_package_utils()
    _register_config_package()
    # auto-resume survives a kill while a checkpoint was being saved (see utils/resume.py)
    import mmengine.runner.runner as mm_runner

    from .resume import find_resumable_checkpoint
    mm_runner.find_latest_checkpoint = find_resumable_checkpoint
    _APPLIED = True
