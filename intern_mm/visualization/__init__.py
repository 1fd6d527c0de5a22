"""Figures of intern_mm results (matplotlib, Agg backend).

* :mod:`.gvb_figures`: the GV-B report heatmap and each run against a published row;
* :mod:`.claim_figure`: the paradigm's claim, 10%-adapted backbones vs scratch training.

Nothing here is imported by ``import intern_mm``; matplotlib is loaded on first use.
"""
__all__ = ['gvb_figures', 'claim_figure']
