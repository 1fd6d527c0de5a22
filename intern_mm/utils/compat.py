"""Fixes for known incompatibilities of the pinned OpenMMLab stack, each applied only where
needed.

:func:`apply_compat_patches` runs when :mod:`intern_mm` is imported. Every patch has a
name, a check that tells whether the installed stack needs it (a correct stack is left
untouched) and can be switched off with the environment variable
``INTERN_MM_NO_COMPAT``: ``1`` / ``all`` switches every patch off, a comma-separated
list of names switches those off (``INTERN_MM_NO_COMPAT=cpu_distributed,numpy_aliases``).
:func:`applied_patches` lists what was applied. The table in ``docs/compat.md`` is the
user-facing list.

* ``checkpoint_loader``: torch >= 2.6 loads with ``weights_only=True`` by default, and
  mmengine 0.10.7's ``load_from_local`` does not pass ``weights_only``. Checkpoints
  written by mmengine hold ``HistoryBuffer`` / numpy objects in ``message_hub`` and
  ``meta``, so ``resume``, ``load_from`` and ``Pretrained`` init from a trained stage
  (the paradigm's Up-E configs start from the Up-A checkpoint this way) fail with
  ``UnpicklingError``. Applied only when torch defaults to ``weights_only=True`` and
  mmengine's local loader does not set it: mmengine's local scheme reads with
  ``weights_only=False``, which is what mmengine's own fix does
  (open-mmlab/mmengine#1650). Allow-listing the classes instead is not enough:
  ``HistoryBuffer`` pickles its statistics methods through ``builtins.getattr``, which
  must not be allowed globally. Only load checkpoints you trust, as with any pickle.
* ``cpu_distributed``: mmengine <= 0.10.7 cannot run distributed on a CPU-only machine:
  its launchers call ``torch.cuda.set_device`` unconditionally (and default to NCCL), and
  the runner wraps the model with ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU
  modules. Applied only when CUDA is absent: ``init_dist`` uses gloo and skips
  ``set_device``; ``MMDistributedDataParallel`` drops ``device_ids`` for CPU modules.
* ``package_utils``: setuptools >= 82 removed ``pkg_resources``, which mmengine 0.10.7
  imports to resolve ``pkg::path`` config bases and installed package paths, and its
  ``pkg_resources`` path lookup misses the package of an editable (PEP 660) install.
  Applied only when ``pkg_resources`` cannot be imported or intern_mm is installed
  editable: mmengine's ``is_installed`` /
  ``get_installed_path`` / ``package2module`` are replaced by :mod:`importlib.metadata`
  equivalents.
* ``numpy_aliases``: numpy 2 removed ``np.in1d`` (used by mmpretrain's retrieval
  metrics) and the aliases ``np.float`` / ``np.int`` / ``np.bool`` / ``np.long`` /
  ``np.object`` that some mmdet / mmcv helpers still reference; only the missing ones are
  restored.
* ``config_package``: mmengine resolves ``pkg::path`` config bases only for a fixed list
  of OpenMMLab packages; ``intern_mm`` is added so that ``_base_ =
  'intern_mm::metanet/...'`` works like ``'mmdet::...'`` (not a fix: an addition to a
  table, applied whenever mmengine lacks the entry).
* ``resume_fallback``: mmengine's auto-resume reads ``last_checkpoint``, which a kill
  while a checkpoint is being saved can leave empty or naming a deleted file (mmengine
  deletes old checkpoints before writing the new one): the runner's
  ``find_latest_checkpoint`` is replaced by
  :func:`intern_mm.utils.checkpoint.find_resumable_checkpoint`, which falls back to the newest
  complete checkpoint. Applied whenever the runner still uses mmengine's own function.
* ``config_text_format``: ``Config.pretty_text`` formats the whole config with yapf, and
  mmengine computes it at every Runner start (the log's ``Config:`` and the config dump)
  and checkpoint save (``Runner.save_checkpoint`` stores it in ``meta``). yapf searches
  its whole space of line splits and takes seconds on a config with long paths (5 s on
  a stage config in a test folder), most of a short run's time. mmengine's
  ``FormatCode`` is replaced by :class:`ConfigTextFormatter`: black (79 columns, quotes
  and trailing commas left as mmengine writes them), memoised on the text (the last 64
  texts). Same Python, another layout; a text black cannot parse goes to yapf as before.
  Applied whenever mmengine's config module still calls yapf's function and black is
  installed.
"""
import os
import os.path as osp
import sys
from typing import Callable, Dict, List, NamedTuple, Set

import numpy as np
import torch

__all__ = ['apply_compat_patches', 'applied_patches', 'disabled_patches', 'PATCHES',
           'ConfigTextFormatter', 'ENV_VAR']

#: Environment variable that switches patches off (``1`` / ``all`` or a list of names).
ENV_VAR = 'INTERN_MM_NO_COMPAT'

_APPLIED: List[str] = []
_NUMPY_ALIASES = {'float': float, 'int': int, 'bool': bool, 'long': int, 'object': object}


def _version_tuple(version: str) -> tuple:
    parts = []
    for piece in version.split('+')[0].split('.')[:3]:
        digits = ''.join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


# ---------------------------------------------------------------- checkpoint_loader
def _needs_checkpoint_loader() -> bool:
    import inspect

    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local
    torch_default_safe = _version_tuple(torch.__version__) >= (2, 6)
    return (torch_default_safe and CheckpointLoader._schemes.get('') is load_from_local
            and 'weights_only' not in inspect.getsource(load_from_local))


def _trusted_load_from_local(filename: str, map_location=None):
    """mmengine's ``load_from_local`` with ``weights_only=False`` (trusted files)."""
    from .checkpoint import read_checkpoint
    return read_checkpoint(filename, map_location)


def _patch_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', force=True)(_trusted_load_from_local)


# ------------------------------------------------------------------ cpu_distributed
def _needs_cpu_distributed() -> bool:
    import mmengine
    return (not torch.cuda.is_available()
            and _version_tuple(mmengine.__version__) <= (0, 10, 7))


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


# -------------------------------------------------------------------- package_utils
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


def _editable_install() -> bool:
    """Whether intern_mm is installed in editable (PEP 660) mode."""
    from importlib import metadata
    try:
        direct_url = metadata.distribution('intern_mm').read_text('direct_url.json')
    except metadata.PackageNotFoundError:
        return False
    if not direct_url:
        return False
    import json
    return bool(json.loads(direct_url).get('dir_info', {}).get('editable', False))


def _needs_package_utils() -> bool:
    # mmengine's pkg_resources-based get_installed_path joins the distribution location
    # with the module name, which misses an editable install's package (intern_mm::
    # config bases then fail), and fails outright without pkg_resources.
    if _editable_install():
        return True
    if 'pkg_resources' in sys.modules:
        return sys.modules['pkg_resources'] is None
    import importlib.util
    try:
        return importlib.util.find_spec('pkg_resources') is None
    except (ImportError, ValueError):
        return True


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


# -------------------------------------------------------------------- numpy_aliases
def _needs_numpy_aliases() -> bool:
    return not hasattr(np, 'in1d') or any(n not in np.__dict__ for n in _NUMPY_ALIASES)


def _patch_numpy_aliases() -> None:
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    if not hasattr(np, 'in1d'):
        np.in1d = np.isin  # type: ignore[attr-defined]


# ------------------------------------------------------------------- config_package
def _needs_config_package() -> bool:
    from mmengine.config import utils as config_utils
    return 'intern_mm' not in config_utils.MODULE2PACKAGE


def _patch_config_package() -> None:
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE['intern_mm'] = 'intern_mm'



# ------------------------------------------------------------------ resume_fallback
def _needs_resume_fallback() -> bool:
    import mmengine.runner.runner as mm_runner

    from .checkpoint import find_resumable_checkpoint
    return mm_runner.find_latest_checkpoint is not find_resumable_checkpoint


def _patch_resume_fallback() -> None:
    import mmengine.runner.runner as mm_runner

    from .checkpoint import find_resumable_checkpoint
    mm_runner.find_latest_checkpoint = find_resumable_checkpoint

# ----------------------------------------------------------------- config_text_format
class ConfigTextFormatter:
    r"""A drop-in for yapf's ``FormatCode`` in mmengine's config module: black, memoised.

    mmengine hands it the config as Python source (one entry per line) with its yapf
    style; black lays it out in 79 columns, keeping mmengine's quotes and collapsing
    its trailing commas. The yapf style is not used. The last ``maxsize`` texts are
    kept, so a text formatted again (at every checkpoint save) costs nothing.

    Args:
        fallback (Callable): yapf's ``FormatCode``, for a text black cannot parse.
        maxsize (int): Texts kept. Defaults to 64.

    Example:
        >>> import yapf.yapflib.yapf_api as yapf_api
        >>> fmt = ConfigTextFormatter(yapf_api.FormatCode)
        >>> fmt("model=dict(\n    type='MetaNet',\n    arch='tiny',\n    )\n")[0]
        "model = dict(type='MetaNet', arch='tiny')\n"
    """

    def __init__(self, fallback: Callable, maxsize: int = 64) -> None:
        import black
        self._black = black
        self.fallback = fallback
        self.maxsize = maxsize
        self.mode = black.Mode(line_length=79, string_normalization=False,
                               magic_trailing_comma=False)
        self._cache: Dict[str, tuple] = {}

    def __call__(self, unformatted_source: str, style_config=None, **kwargs) -> tuple:
        """``(text, changed)``, as yapf's ``FormatCode`` returns it."""
        black = self._black
        if unformatted_source in self._cache:
            result = self._cache.pop(unformatted_source)  # most recently used last
        else:
            try:
                text = black.format_str(unformatted_source, mode=self.mode)
                result = (text, text != unformatted_source)
            except black.InvalidInput:
                result = self.fallback(unformatted_source, style_config=style_config,
                                       **kwargs)
        self._cache[unformatted_source] = result
        if len(self._cache) > self.maxsize:
            self._cache.pop(next(iter(self._cache)))
        return result


def _needs_config_text_format() -> bool:
    import importlib.util

    import mmengine.config.config as mm_config
    return (importlib.util.find_spec('black') is not None and not isinstance(
        getattr(mm_config, 'FormatCode', None), ConfigTextFormatter))


def _patch_config_text_format() -> None:
    import mmengine.config.config as mm_config
    mm_config.FormatCode = ConfigTextFormatter(mm_config.FormatCode)


class Patch(NamedTuple):
    """A compatibility patch: whether the installed stack needs it, and how to apply it."""
    needed: Callable[[], bool]
    apply: Callable[[], None]


#: Every patch by name, in application order (see the module docstring).
PATCHES: Dict[str, Patch] = {
    'checkpoint_loader': Patch(_needs_checkpoint_loader, _patch_checkpoint_loader),
    'cpu_distributed': Patch(_needs_cpu_distributed, _patch_cpu_distributed),
    'package_utils': Patch(_needs_package_utils, _patch_package_utils),
    'numpy_aliases': Patch(_needs_numpy_aliases, _patch_numpy_aliases),
    'config_package': Patch(_needs_config_package, _patch_config_package),
    'resume_fallback': Patch(_needs_resume_fallback, _patch_resume_fallback),
    'config_text_format': Patch(_needs_config_text_format, _patch_config_text_format),
}


def disabled_patches() -> Set[str]:
    """The patch names switched off by ``INTERN_MM_NO_COMPAT``.

    Returns:
        set[str]: Every name for ``1`` / ``all`` / ``true``, else the listed names.

    Raises:
        KeyError: If the variable names an unknown patch (the message lists the known
            ones).
    """
    value = os.environ.get(ENV_VAR, '').strip()
    if not value or value.lower() in ('0', 'false', 'no'):
        return set()
    if value.lower() in ('1', 'all', 'true', 'yes'):
        return set(PATCHES)
    names = {n.strip() for n in value.split(',') if n.strip()}
    unknown = names - set(PATCHES)
    if unknown:
        raise KeyError(f'{ENV_VAR}={value!r} names unknown patches {sorted(unknown)}; '
                       f'known: {list(PATCHES)}')
    return names


def applied_patches() -> List[str]:
    """Names of the patches applied in this process, in order."""
    return list(_APPLIED)


def apply_compat_patches() -> List[str]:
    """Apply every needed, not switched-off patch once (idempotent).

    Returns:
        list[str]: The patches applied so far in this process.

    Example:
        >>> from intern_mm.utils.compat import apply_compat_patches
        >>> 'numpy_aliases' in apply_compat_patches()  # numpy 2  # doctest: +SKIP
        True
    """
    disabled = disabled_patches()
    for name, patch in PATCHES.items():
        if name in _APPLIED or name in disabled or not patch.needed():
            continue
        patch.apply()
        _APPLIED.append(name)
    return applied_patches()
