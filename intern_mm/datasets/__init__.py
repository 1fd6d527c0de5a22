"""Datasets, samplers and transforms of intern_mm."""
from .samplers import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
