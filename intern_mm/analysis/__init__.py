"""Model analysis helpers (complexity, throughput)."""
from .complexity import build_module, count_complexity, measure_throughput

__all__ = ['build_module', 'count_complexity', 'measure_throughput']
