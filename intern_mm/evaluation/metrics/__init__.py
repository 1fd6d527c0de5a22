"""intern_mm.evaluation.metrics."""
from .per_source_metric import PerSourceMetric

__all__ = ['PerSourceMetric']
