"""GV-D, the data system: declared sources, one label space per task, the data checks."""
from .errors import GVDInputError
from .class_file import AS_WRITTEN, parse_key_value, parse_overrides, read_class_file
from .wordnet import WORDNET_ENV, load_wordnet, wordnet_root
from .taxonomy import ClassSense, LabelSpace, build_label_space, normalize_class_name
from .image_hashes import (DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MAX_DISTANCE,
                           DEFAULT_MAX_FINE_DISTANCE, hash_images, list_images)
from .hamming_search import near_duplicate_pairs
from .leak_check import ImagePair, LeakReport, folder_groups, leak_check

__all__ = [
    'GVDInputError', 'AS_WRITTEN', 'parse_key_value', 'parse_overrides', 'read_class_file',
    'WORDNET_ENV', 'load_wordnet', 'wordnet_root', 'ClassSense', 'LabelSpace',
    'build_label_space', 'normalize_class_name',
    'DEFAULT_MAX_DISTANCE', 'DEFAULT_MAX_FINE_DISTANCE', 'DEFAULT_MAX_COLOUR_DISTANCE',
    'ImagePair', 'LeakReport',
    'folder_groups', 'hash_images', 'leak_check', 'list_images', 'near_duplicate_pairs'
]
