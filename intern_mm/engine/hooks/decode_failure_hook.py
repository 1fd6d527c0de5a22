"""Report the images that failed to decode (and were skipped) at the end of training."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from intern_mm.datasets.transforms.decode_failures import decode_failure_summary
from intern_mm.registry import HOOKS
from intern_mm.utils.run_record import dump_json

__all__ = ['DecodeFailureHook', 'ensure_decode_failure_hook', 'DECODE_SUMMARY_FILE']

#: The summary the hook writes into the run's log folder.
DECODE_SUMMARY_FILE = 'decode_failures.json'


@HOOKS.register_module()
class DecodeFailureHook(Hook):
    """Count the images :class:`~intern_mm.datasets.LoadImageFromFileOrSkip` skipped.

    After training it reads the run's ``decode_failures.jsonl`` (every dataloader
    worker and rank writes there) and

    * logs one line: the number of files and their names (WARNING when there are any),
    * puts the summary (``count``, ``skips``, ``files``: file -> reason) into the message
      hub's runtime info under ``decode_failures``, and
    * writes it to ``decode_failures.json`` in the run's log folder (main process).

    Args:
        max_listed (int): Files named in the log line; the JSON has them all.
            Defaults to 20.

    Example:
        >>> custom_hooks = [dict(type='DecodeFailureHook')]
    """

    priority = 'VERY_LOW'

    def __init__(self, max_listed: int = 20) -> None:
        self.max_listed = max_listed
        self.summary: Optional[dict] = None

    def after_train(self, runner) -> None:
        """Read, log, publish and write the run's decode failures."""
        summary = decode_failure_summary(runner.log_dir)
        self.summary = summary
        runner.message_hub.update_info('decode_failures', summary)
        files = list(summary['files'])
        if files:
            listed = ', '.join(files[:self.max_listed])
            more = f' (+{len(files) - self.max_listed} more)' if len(
                files) > self.max_listed else ''
            runner.logger.warning(
                f'decode failures: {summary["count"]} image file(s) could not be decoded '
                f'and were skipped ({summary["skips"]} sample(s) redrawn): {listed}{more}')
        else:
            runner.logger.info('decode failures: 0 (every image decoded)')
        if is_main_process():
            dump_json(osp.join(runner.log_dir, DECODE_SUMMARY_FILE), summary)


def ensure_decode_failure_hook(runner) -> DecodeFailureHook:
    """The runner's :class:`DecodeFailureHook`, registered first if it has none.

    Args:
        runner (Runner): The runner (before ``runner.train()``).

    Returns:
        DecodeFailureHook: The hook (its ``summary`` is set after training).

    Example:
        >>> hook = ensure_decode_failure_hook(runner)  # doctest: +SKIP
        >>> runner.train(); hook.summary['count']  # doctest: +SKIP
        0
    """
    for hook in runner.hooks:
        if isinstance(hook, DecodeFailureHook):
            return hook
    hook = DecodeFailureHook()
    runner.register_hook(hook)
    return hook
