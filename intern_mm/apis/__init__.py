"""High-level entry points shared by the command-line tools."""
from .config import UnknownConfigKeyError, build_cfg_from_args, merge_cfg_options
from .runs import build_runner, run_test, run_train

__all__ = [
    'UnknownConfigKeyError', 'build_cfg_from_args', 'merge_cfg_options', 'build_runner',
    'run_test', 'run_train'
]
