"""Training / validation loops of intern_mm."""
from .fast_restart_loop import FastRestartDataloaderIterator, FastRestartIterBasedTrainLoop
from .multi_task_loops import MultiTaskIterBasedTrainLoop, MultiTaskValLoop

__all__ = ['FastRestartDataloaderIterator', 'FastRestartIterBasedTrainLoop',
           'MultiTaskIterBasedTrainLoop', 'MultiTaskValLoop']
