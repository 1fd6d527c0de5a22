"""intern_mm.datasets.transforms: caption transforms, image-text packing and a loader that
skips images that do not decode."""
from .decode_failures import (DECODE_FAILURE_FILE, decode_failure_summary,
                              record_decode_failure, reset_decode_failures)
from .formatting import PackImageTextInputs
from .loading import LoadImageFromFileOrSkip
from .text_transforms import EDATextViews, RandomCaption, TokenizeText

__all__ = [
    'PackImageTextInputs', 'EDATextViews', 'RandomCaption', 'TokenizeText',
    'LoadImageFromFileOrSkip', 'DECODE_FAILURE_FILE', 'decode_failure_summary',
    'record_decode_failure', 'reset_decode_failures'
]
