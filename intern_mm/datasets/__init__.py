"""Datasets, samplers and transforms of intern_mm."""
from .samplers import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .multi_source_dataset import MultiSourceDataset  # noqa: F401
from .image_text_dataset import ImageTextDataset  # noqa: F401
from .gvb import *  # noqa: F401,F403
