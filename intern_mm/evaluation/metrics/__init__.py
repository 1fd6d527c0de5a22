"""Metrics of intern_mm: GV-B conventions, per-source and image-text retrieval."""
from .citypersons_metric import CityPersonsMetric
from .depth_metric import GVBDepthMetric
from .feature_similarity_metric import FeatureSimilarityMetric
from .per_source_metric import PerSourceMetric
from .retrieval import ImageTextRetrievalMetric
from .widerface_metric import WiderFaceMetric

__all__ = [
    'PerSourceMetric', 'CityPersonsMetric', 'WiderFaceMetric', 'GVBDepthMetric',
    'ImageTextRetrievalMetric', 'FeatureSimilarityMetric'
]
