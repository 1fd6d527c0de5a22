"""Command-line plumbing shared by ``tools/train.py``, ``tools/test.py`` and the other tools.

* :func:`add_common_args` / :func:`parse_common_args`: the mmengine switches
  (``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``, ``--debug``).
* :func:`run_cli`: runs a tool's ``main`` so that an error ends in **one clear message**
  on stderr (``<tool>: error: <message>``) and exit status 1 instead of a Python
  traceback. The traceback is written to a file named in the message; ``--debug``
  (anywhere on the command line) re-raises instead, showing the traceback. A process
  group the tool started (torchrun / slurm launchers) is destroyed before it returns.
"""
import argparse
import os
import sys
import tempfile
import traceback
from typing import Callable, List, Optional

import torch.distributed as dist
from mmengine.config import DictAction

__all__ = ['add_common_args', 'parse_common_args', 'run_cli', 'format_error', 'DEBUG_FLAG']

#: Command-line flag that shows the traceback instead of the one-line message.
DEBUG_FLAG = '--debug'


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``, ``--debug``.

    Args:
        parser (argparse.ArgumentParser): The parser to extend.

    Returns:
        argparse.ArgumentParser: ``parser``.

    Example:
        >>> parser = add_common_args(argparse.ArgumentParser())
        >>> parser.parse_args(['--launcher', 'pytorch']).launcher
        'pytorch'
    """
    parser.add_argument('--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=10 model.backbone.arch=tiny '
        '(keys must exist in the config unless prefixed with "+")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        DEBUG_FLAG,
        action='store_true',
        help='show the Python traceback of an error (default: one line naming the '
        'problem, the traceback goes to a file)')
    return parser


def parse_common_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` and export ``LOCAL_RANK`` for launchers that only pass the flag."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def format_error(err: BaseException) -> str:
    """The message of ``err`` for a user: its text, or its type when it has none.

    ``KeyError`` quotes its message (``"'x'"``); the quotes are dropped.

    Args:
        err (BaseException): The exception.

    Returns:
        str: The message, without a trailing newline.

    Example:
        >>> format_error(KeyError('train_cfg.max_iter does not exist'))
        'KeyError: train_cfg.max_iter does not exist'
    """
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = text.strip()
    name = type(err).__name__
    return f'{name}: {text}' if text else name


def run_cli(main: Callable[..., Optional[int]],
            argv: Optional[List[str]] = None,
            prog: Optional[str] = None) -> int:
    """Run a tool's ``main(argv)``; turn an exception into one message and status 1.

    ``--debug`` in ``argv`` re-raises the exception (full traceback). Otherwise the
    message is printed as ``<prog>: error: <Type>: <message> [traceback: FILE; --debug
    shows it]`` on stderr (the traceback is saved to a temporary file). ``SystemExit``
    (argparse, explicit exits) and ``KeyboardInterrupt`` pass through unchanged. A
    process group ``main`` initialised (``--launcher pytorch``) is destroyed before
    returning: left to interpreter shutdown, gloo's worker threads may abort the process
    (SIGABRT) after a run that succeeded.

    Args:
        main (callable): ``main(argv) -> int | None``; it may declare ``--debug`` in
            its parser (see :func:`add_common_args`), the flag is left in ``argv``.
        argv (list[str], optional): Arguments. Defaults to ``sys.argv[1:]``.
        prog (str, optional): Tool name in the message. Defaults to ``sys.argv[0]``'s
            file name.

    Returns:
        int: ``main``'s return value (0 for None), or 1 after an error.

    Example:
        >>> def main(argv):
        ...     raise FileNotFoundError('config file x.py does not exist')
        >>> run_cli(main, [], prog='train.py')  # doctest: +SKIP
        train.py: error: FileNotFoundError: config file x.py does not exist [traceback: ...]
        1
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0]) or 'intern_mm'
    started_group = not _group_initialized()
    try:
        return _run_main(main, argv, prog)
    finally:
        if started_group and _group_initialized():
            dist.destroy_process_group()


def _group_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def _run_main(main: Callable[..., Optional[int]], argv: List[str], prog: str) -> int:
    if DEBUG_FLAG in argv:
        return main(argv) or 0
    try:
        return main(argv) or 0
    except Exception as err:  # noqa: BLE001  (every error ends in one message)
        fd, path = tempfile.mkstemp(prefix=f'{os.path.splitext(prog)[0]}-',
                                    suffix='.traceback.txt')
        with os.fdopen(fd, 'w') as f:
            traceback.print_exc(file=f)
        print(f'{prog}: error: {format_error(err)} [traceback: {path}; {DEBUG_FLAG} shows '
              'it]', file=sys.stderr)
        return 1
