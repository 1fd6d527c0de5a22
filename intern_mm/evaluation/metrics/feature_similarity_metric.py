"""Validation metric of feature distillation: student-teacher feature similarity."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from intern_mm.registry import METRICS

__all__ = ['FeatureSimilarityMetric']


@METRICS.register_module()
class FeatureSimilarityMetric(BaseMetric):
    """Mean cosine similarity between the connected student and the teacher features.

    Reads the ``feat_cosine`` field (one value per distilled level) that
    :meth:`intern_mm.models.FeatureDistiller.predict` writes into every data sample,
    and reports its mean over images, per level (``level_<i>``) and over levels
    (``mean``). 1.0 = the student reproduces the teacher's feature directions.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to ``'feat_cosine'``.

    Example:
        >>> metric = FeatureSimilarityMetric()
        >>> metric.process({}, [dict(feat_cosine=torch.tensor([0.5, 1.0]))])
        >>> metric.compute_metrics(metric.results)
        {'level_0': 0.5, 'level_1': 1.0, 'mean': 0.75}
    """
    default_prefix: Optional[str] = 'feat_cosine'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Collect every sample's per-level similarities."""
        for sample in data_samples:
            if 'feat_cosine' not in sample:
                raise KeyError('data sample has no "feat_cosine": the model is not a '
                               'FeatureDistiller (its predict mode writes it)')
            self.results.append(torch.as_tensor(sample['feat_cosine']).float().cpu())

    def compute_metrics(self, results: List[torch.Tensor]) -> Dict[str, float]:
        """Per-level and overall means over the images."""
        per_level = torch.stack(results).mean(0)
        metrics = {f'level_{i}': float(v) for i, v in enumerate(per_level)}
        metrics['mean'] = float(per_level.mean())
        return metrics
