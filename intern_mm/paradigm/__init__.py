"""The INTERN upstream paradigm pipeline (Up-A -> Up-E -> Up-G -> downstream)."""
from .downstream import downstream_dataset_cfg, make_subset, probe_backbone
from .pipeline import ParadigmPipeline, rebase_paths
from .stage_runner import read_done, run_stage
from .summary import build_summary, render_markdown

__all__ = [
    'ParadigmPipeline', 'rebase_paths', 'run_stage', 'read_done', 'make_subset',
    'downstream_dataset_cfg', 'probe_backbone', 'build_summary', 'render_markdown'
]
