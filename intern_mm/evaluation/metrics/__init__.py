"""intern_mm.evaluation.metrics."""
from .citypersons_metric import CityPersonsMetric
from .depth_metric import GVBDepthMetric
from .per_source_metric import PerSourceMetric
from .widerface_metric import WiderFaceMetric

__all__ = ['PerSourceMetric', 'CityPersonsMetric', 'WiderFaceMetric', 'GVBDepthMetric']
