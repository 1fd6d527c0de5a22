"""Run training / testing from a config through MMEngine's runner."""
from typing import Any, Dict

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

__all__ = ['build_runner', 'run_train', 'run_test']


def build_runner(cfg: Config) -> Runner:
    """Build the runner named by ``cfg.runner_type`` (default mmengine ``Runner``).

    Args:
        cfg (Config): A complete config (``model``, loops, dataloaders, ...).

    Returns:
        Runner: The runner.
    """
    import intern_mm  # noqa: F401  (registers modules, applies compat fixes)
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
