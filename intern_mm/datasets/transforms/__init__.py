"""intern_mm.datasets.transforms: caption transforms and image-text packing."""
from .formatting import PackImageTextInputs
from .text_transforms import EDATextViews, RandomCaption, TokenizeText

__all__ = ['PackImageTextInputs', 'EDATextViews', 'RandomCaption', 'TokenizeText']
