"""The line ``tools/train.py`` prints when its data check (:mod:`.checks`) passes."""
from typing import Dict

from .checks import SplitReport

__all__ = ['data_check_line']


def data_check_line(mode: str, reports: Dict[str, SplitReport]) -> str:
    """The line ``tools/train.py`` prints when its data check passes.

    It says per split what was checked and, for ``quick``, that the train images were
    not decoded and how to decode them.

    Args:
        mode (str): ``'quick'`` or ``'full'``.
        reports (dict): ``split -> SplitReport`` of the passing check.

    Returns:
        str: One line.

    Example:
        >>> data_check_line('quick', dict(train=SplitReport('train', num_samples=4),
        ...                               val=SplitReport('val', num_samples=2,
        ...                                               num_decoded=2)))  # doctest: +SKIP
        'data check (quick): train: 4 samples, annotations, files and class names checked,
        images NOT decoded (...); val: 2 samples, 2 files decoded'
    """
    parts = []
    for split, report in reports.items():
        text = f'{split}: {report.num_samples} samples, '
        if report.num_decoded:
            text += f'{report.num_decoded} files decoded'
        else:
            text += ('annotations, files and class names checked, images NOT decoded '
                     '(--check-data full or tools/misc/check_dataset.py CONFIG decodes '
                     'them; with LoadImageFromFileOrSkip an image that does not decode '
                     'is skipped and named at run time)')
        parts.append(text)
    return f'data check ({mode}): ' + '; '.join(parts)
