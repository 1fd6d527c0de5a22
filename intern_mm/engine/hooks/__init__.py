"""Staged-training hooks of intern_mm (freeze schedule, stage hand-off, schedules)."""
from .freeze_schedule_hook import FreezeScheduleHook
from .loss_weight_schedule_hook import LossWeightScheduleHook, interpolate_schedule
from .rng_state_hook import RNGStateHook
from .source_ratio_schedule_hook import SourceRatioScheduleHook
from .stage_handoff_hook import StageHandoffHook

__all__ = [
    'FreezeScheduleHook', 'StageHandoffHook', 'LossWeightScheduleHook',
    'SourceRatioScheduleHook', 'interpolate_schedule', 'RNGStateHook'
]
