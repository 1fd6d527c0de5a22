"""Find the checkpoint an auto-resumed run continues from, robust to a kill at any moment."""
import glob
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.logging import print_log

__all__ = ['find_resumable_checkpoint']

_STEP = re.compile(r'(?:iter|epoch)_(\d+)\.pth$')


def _complete(path: str) -> bool:
    """Whether ``path`` is a fully written torch (zip) checkpoint."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(path: str) -> Optional[str]:
    """The checkpoint of ``path`` to resume from (mmengine's ``find_latest_checkpoint``).

    mmengine writes ``last_checkpoint`` after the checkpoint itself, and deletes old
    checkpoints (``max_keep_ckpts``) before writing the new one. A process killed in
    between leaves ``last_checkpoint`` empty or naming a deleted file, and auto-resume
    then fails. Here a ``last_checkpoint`` naming an existing file is used as mmengine
    does; otherwise the newest complete ``iter_*.pth`` / ``epoch_*.pth`` of ``path`` (a
    file cut off by the kill is skipped), with a warning.

    Args:
        path (str): The work dir.

    Returns:
        str | None: The checkpoint, or None when there is none.

    Example:
        >>> find_resumable_checkpoint('work_dirs/demo')  # doctest: +SKIP
        'work_dirs/demo/iter_300.pth'
    """
    marker = osp.join(path, 'last_checkpoint')
    named = None
    if osp.isfile(marker):
        with open(marker) as f:
            named = f.read().strip() or None
        if named and osp.isfile(named):
            return named
    candidates = []
    for ckpt in glob.glob(osp.join(path, '*.pth')):
        match = _STEP.search(osp.basename(ckpt))
        if match:
            candidates.append((int(match.group(1)), ckpt))
    for _, ckpt in sorted(candidates, reverse=True):
        if _complete(ckpt):
            if osp.isfile(marker):
                print_log(f'{marker} names {named!r}, which does not exist (interrupted '
                          f'while saving); resuming from {ckpt}', logger='current',
                          level=30)
            return ckpt
    if osp.isfile(marker):
        print_log(f'{marker} names {named!r}, which does not exist, and {path} holds no '
                  'complete checkpoint: starting from scratch', logger='current', level=30)
    else:
        print_log('Did not find last_checkpoint to be resumed.', logger='current')
    return None
