"""High-level entry points shared by the command-line tools."""
from .cli import add_common_args, parse_common_args
from .inference import optimize_for_inference, switch_to_deploy
from .config import UnknownConfigKeyError, build_cfg_from_args, merge_cfg_options
from .runs import build_runner, run_test, run_train

__all__ = [
    'add_common_args', 'parse_common_args', 'UnknownConfigKeyError', 'build_cfg_from_args',
    'merge_cfg_options', 'build_runner', 'run_test', 'run_train', 'optimize_for_inference',
    'switch_to_deploy'
]
