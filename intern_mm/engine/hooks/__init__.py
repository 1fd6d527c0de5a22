"""Hooks of intern_mm: staged training (freeze schedule, stage hand-off, schedules) and
channels_last."""
from .channels_last_hook import ChannelsLastHook, to_channels_last
from .decode_failure_hook import DecodeFailureHook, ensure_decode_failure_hook
from .freeze_schedule_hook import FreezeScheduleHook
from .loss_weight_schedule_hook import LossWeightScheduleHook, interpolate_schedule
from .rng_state_hook import RNGStateHook
from .source_ratio_schedule_hook import SourceRatioScheduleHook
from .stage_handoff_hook import StageHandoffHook

__all__ = [
    'FreezeScheduleHook', 'StageHandoffHook', 'LossWeightScheduleHook',
    'SourceRatioScheduleHook', 'interpolate_schedule', 'RNGStateHook', 'ChannelsLastHook',
    'to_channels_last', 'DecodeFailureHook', 'ensure_decode_failure_hook'
]
