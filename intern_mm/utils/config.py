"""The checked ``--cfg-options`` merge: every key must exist in the config.

Owned here (``utils``) so that every floor that merges user options (``benchmark``,
``paradigm``, the tools) refuses a misspelt key the same way.
"""
import difflib
from typing import Any, Dict, List

from mmengine.config import Config, ConfigDict

__all__ = ['merge_cfg_options', 'UnknownConfigKeyError']


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
