"""The INTERN paradigm pipeline (Up-A -> Up-E -> Up-G -> distil -> Downstream-Adaptation)."""
from .downstream import ADAPT_PROTOCOLS, SCRATCH_PROTOCOLS, DownstreamAdapter, backbone_spec
from .launch import StageFailedError
from .pipeline import ParadigmPipeline
from .stage_configs import STAGE_KINDS, rebase_paths
from .stage_runner import ProgressHook, read_done, train_stage
from .summary import (adaptation_table, build_summary, claim_table, render_markdown,
                      write_summary)

__all__ = [
    'ParadigmPipeline', 'StageFailedError', 'STAGE_KINDS', 'rebase_paths', 'train_stage',
    'read_done', 'ProgressHook', 'DownstreamAdapter', 'ADAPT_PROTOCOLS',
    'SCRATCH_PROTOCOLS', 'backbone_spec', 'build_summary', 'render_markdown',
    'write_summary', 'adaptation_table', 'claim_table'
]
