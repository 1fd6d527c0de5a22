"""Run training / testing from a config through MMEngine's runner."""
from typing import Any, Dict, List

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

__all__ = ['build_runner', 'run_train', 'run_test', 'sync_bn_to_bn_without_cuda']

#: Norm-layer types that only run on CUDA under a distributed process group.
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN', 'nn.SyncBatchNorm', 'SyncBatchNorm')


def _replace_sync_bn(node: Any, path: str, changed: List[str]) -> None:
    if isinstance(node, dict):
        if node.get('type') in SYNC_BN_TYPES:
            changed.append(f"{path or 'model'} ({node['type']})")
            node['type'] = 'BN'
        for key, value in node.items():
            _replace_sync_bn(value, f'{path}.{key}' if path else key, changed)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _replace_sync_bn(value, f'{path}.{i}', changed)


def sync_bn_to_bn_without_cuda(cfg: Config) -> List[str]:
    """Make a distributed config trainable on CPU: SyncBN becomes BN when CUDA is absent.

    PyTorch's ``SyncBatchNorm`` raises ``SyncBatchNorm layers only work with GPU
    modules`` in a gloo (CPU) process group, and mmcv's ``MMSyncBN`` needs CUDA too.
    Without CUDA, under a launcher, every SyncBN norm config of ``cfg.model`` is replaced
    by ``BN`` (statistics per process, as in single-process training) and mmengine's
    ``sync_bn`` switch is dropped. With CUDA, or without a launcher (where SyncBN acts as
    BN anyway), nothing changes.

    Args:
        cfg (Config): The config, modified in place.

    Returns:
        list[str]: The config paths that were changed (empty when none).

    Example:
        >>> cfg = Config(dict(launcher='pytorch', model=dict(
        ...     type='EncoderDecoder', decode_head=dict(norm_cfg=dict(type='SyncBN')))))
        >>> sync_bn_to_bn_without_cuda(cfg)  # on a machine without CUDA
        ['decode_head.norm_cfg (SyncBN)']
    """
    import torch
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return []
    changed: List[str] = []
    model = cfg.get('model')
    if model is not None:
        _replace_sync_bn(model, '', changed)
    if cfg.get('sync_bn'):
        changed.append(f"sync_bn ({cfg['sync_bn']})")
        cfg['sync_bn'] = None
    if changed:
        from mmengine.logging import print_log
        print_log('no CUDA: SyncBN replaced by BN for the gloo process group in '
                  + ', '.join(changed), logger='current')
    return changed


def build_runner(cfg: Config) -> Runner:
    """Build the runner named by ``cfg.runner_type`` (default mmengine ``Runner``).

    Distributed configs without CUDA get BN for SyncBN first
    (:func:`sync_bn_to_bn_without_cuda`).

    Args:
        cfg (Config): A complete config (``model``, loops, dataloaders, ...).

    Returns:
        Runner: The runner.
    """
    sync_bn_to_bn_without_cuda(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def run_train(cfg: Config) -> Runner:
    """Train with ``cfg`` and return the finished runner.

    Example:
        >>> runner = run_train(Config.fromfile('configs/metanet/xxx.py'))  # doctest: +SKIP
    """
    from intern_mm.engine.hooks.rng_state_hook import ensure_rng_state_hook
    runner = build_runner(cfg)
    ensure_rng_state_hook(runner)  # a resumed run continues the random streams
    runner.train()
    return runner


def run_test(cfg: Config) -> Dict[str, Any]:
    """Evaluate ``cfg.load_from`` on ``cfg.test_dataloader`` and return the metrics."""
    runner = build_runner(cfg)
    return runner.test()
