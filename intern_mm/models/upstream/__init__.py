"""Upstream-Amateur (Up-A) models: DeCLIP, its text tower, tokenizer and preprocessor."""
from .data_preprocessor import ImageTextDataPreprocessor
from .declip import DeCLIP
from .text_transformer import TextTransformer
from .tokenizer import CaptionTokenizer, clean_text

__all__ = [
    'ImageTextDataPreprocessor', 'DeCLIP', 'TextTransformer', 'CaptionTokenizer',
    'clean_text'
]
