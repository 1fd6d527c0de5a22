"""Model analysis helpers (complexity, throughput)."""
from .complexity import (build_module, count_complexity, make_step, measure_throughput,
                         sdpa_flop_jit)

__all__ = ['build_module', 'count_complexity', 'make_step', 'measure_throughput',
           'sdpa_flop_jit']
