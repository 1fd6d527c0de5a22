"""GV-B datasets (classes read by the protocols) and official-format converters."""
from .depth_dataset import GVBDepthDataset

__all__ = ['GVBDepthDataset']
