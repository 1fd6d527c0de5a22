"""Training / validation loops of intern_mm."""
from .multi_task_loops import MultiTaskIterBasedTrainLoop, MultiTaskValLoop

__all__ = ['MultiTaskIterBasedTrainLoop', 'MultiTaskValLoop']
