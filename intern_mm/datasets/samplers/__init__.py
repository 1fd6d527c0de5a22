"""Samplers of intern_mm."""
from .multi_source_sampler import MultiSourceSampler

__all__ = ['MultiSourceSampler']
