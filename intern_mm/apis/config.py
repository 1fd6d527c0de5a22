"""Config handling shared by ``tools/train.py``, ``tools/test.py`` and the pipelines."""
import difflib
import os.path as osp
from argparse import Namespace
from typing import Any, Dict, List

from mmengine.config import Config, ConfigDict

__all__ = ['merge_cfg_options', 'build_cfg_from_args', 'UnknownConfigKeyError']


class UnknownConfigKeyError(KeyError):
    """Raised when ``--cfg-options`` names a key that the config does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0])


def _flatten_keys(node: Any, prefix: str = '') -> List[str]:
    keys = []
    if isinstance(node, dict):
        for k, v in node.items():
            full = f'{prefix}{k}'
            keys.append(full)
            keys.extend(_flatten_keys(v, full + '.'))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            keys.extend(_flatten_keys(v, f'{prefix}{i}.'))
    return keys


def _has_key(cfg: Config, dotted: str) -> bool:
    node: Any = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    for part in dotted.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def merge_cfg_options(cfg: Config, options: Dict[str, Any]) -> Config:
    """Merge ``--cfg-options`` into ``cfg``, refusing keys the config lacks.

    mmengine's ``merge_from_dict`` silently adds misspelt keys (``train_cfg.max_iter=10``
    would train for the config's full length). Here every key must already exist, except
    keys prefixed with ``+`` (``+model.backbone.init_cfg=...``) which are added
    deliberately, and new arguments of a module dict that has a ``type`` (such as
    ``model.backbone.init_cfg`` or ``train_cfg.val_interval``), which the module's
    constructor checks when it is built.

    Args:
        cfg (Config): The config, modified in place.
        options (dict): ``{dotted.key: value}`` as parsed by ``DictAction``.

    Returns:
        Config: ``cfg``.

    Raises:
        UnknownConfigKeyError: If a key is unknown; the message lists close matches.

    Example:
        >>> cfg = Config(dict(train_cfg=dict(max_iters=100)))
        >>> merge_cfg_options(cfg, {'train_cfg.max_iters': 10}).train_cfg.max_iters
        10
    """
    clean = {}
    for key, value in options.items():
        if key.startswith('+'):
            clean[key[1:]] = value
            continue
        if not _has_key(cfg, key):
            parent = key.rsplit('.', 1)[0] if '.' in key else None
            parent_ok = parent is not None and _has_key(cfg, parent) and isinstance(
                _get(cfg, parent), (dict, ConfigDict)) and _get(cfg, parent).get('type')
            if not parent_ok:
                close = difflib.get_close_matches(key, _flatten_keys(cfg._cfg_dict), n=3)
                hint = f' Did you mean: {", ".join(close)}?' if close else ''
                raise UnknownConfigKeyError(
                    f'--cfg-options key "{key}" does not exist in the config.{hint} '
                    f'Prefix it with "+" to add a new key on purpose.')
        clean[key] = value
    cfg.merge_from_dict(clean)
    return cfg


def _get(cfg: Config, dotted: str) -> Any:
    node: Any = cfg._cfg_dict
    for part in dotted.split('.'):
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    return node


def build_cfg_from_args(args: Namespace, mode: str = 'train') -> Config:
    """Load ``args.config`` and apply the usual OpenMMLab command-line switches.

    Handles ``--cfg-options``, ``--work-dir`` (default ``./work_dirs/<config name>``),
    ``--launcher``, and for training ``--resume``, ``--amp``, ``--no-validate``,
    ``--auto-scale-lr``; for testing ``checkpoint``.

    Args:
        args (Namespace): Parsed command-line arguments.
        mode (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.

    Returns:
        Config: The ready-to-run config.

    Raises:
        FileNotFoundError: If the config (or test checkpoint) file does not exist.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if getattr(args, 'cfg_options', None):
        merge_cfg_options(cfg, args.cfg_options)
    cfg.launcher = args.launcher
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if mode == 'train':
        if getattr(args, 'amp', False):
            _enable_amp(cfg)
        if getattr(args, 'auto_scale_lr', False):
            if 'auto_scale_lr' not in cfg:
                raise KeyError('--auto-scale-lr needs `auto_scale_lr=dict(base_batch_size=...)` '
                               'in the config')
            cfg.auto_scale_lr.enable = True
        if getattr(args, 'no_validate', False):
            cfg.val_cfg = None
            cfg.val_dataloader = None
            cfg.val_evaluator = None
        resume = getattr(args, 'resume', None)
        if resume == 'auto':
            cfg.resume = True
            cfg.load_from = None
        elif resume is not None:
            if not osp.isfile(resume):
                raise FileNotFoundError(f'--resume checkpoint {resume} does not exist')
            cfg.resume = True
            cfg.load_from = resume
    elif mode == 'test':
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint file {args.checkpoint} does not exist')
        cfg.load_from = args.checkpoint
    else:
        raise ValueError(f'mode must be "train" or "test", got {mode!r}')
    return cfg


def _enable_amp(cfg: Config) -> None:
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        return
    if optim_wrapper not in ('OptimWrapper', 'mmengine.OptimWrapper'):
        raise ValueError(f'--amp only works with OptimWrapper, the config uses {optim_wrapper}')
    from mmengine.device import is_cuda_available, is_mlu_available, is_npu_available
    if not (is_cuda_available() or is_npu_available() or is_mlu_available()):
        raise RuntimeError('--amp needs a CUDA, NPU or MLU device: mmengine\'s '
                           'AmpOptimWrapper does not train on the CPU')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
