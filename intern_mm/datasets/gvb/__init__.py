"""GV-B datasets (classes read by the protocols), official-format converters, the one
annotation reader per format (``annotations``) and the seeded training subsets
(``units``, ``selection``, ``subsets``, ``manifest``).

Only the dataset classes are imported here: ``datasets/checks.py`` reads annotations
through ``gvb.annotations`` while ``gvb.units`` checks class names through
``datasets.checks``, so importing the subset modules from this ``__init__`` would make
``checks`` import itself half-initialised. Import them from their modules, e.g.
``from intern_mm.datasets.gvb.subsets import make_subset``.
"""
from .depth_dataset import GVBDepthDataset

__all__ = ['GVBDepthDataset']
