"""Evaluate any metric separately on each supervision source of a multi-source set."""
import copy
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from intern_mm.registry import METRICS

__all__ = ['PerSourceMetric']


@METRICS.register_module()
class PerSourceMetric(BaseMetric):
    """Run one copy of ``metric`` per source and report each source's results.

    Samples are routed by ``dataset_source`` in their metainfo (set by
    :class:`~intern_mm.datasets.MultiSourceDataset`). Each source's copy sees only that
    source's samples, so e.g. the accuracy of the ``colour`` source or the mAP of
    ``det_b`` is computed exactly as if it were evaluated alone. Keys are
    ``{source}/{inner key}`` plus ``mean/{inner key}``, the unweighted mean over the
    sources that have the key (e.g. a ``save_best`` target).

    The inner metric must append one result per sample in ``process`` and compute its
    metrics from its result list alone (true for mmpretrain ``Accuracy``, mmdet
    ``VOCMetric``, mmseg ``IoUMetric``); results are gathered across ranks by this
    wrapper.

    Args:
        metric (dict): Config of the metric to evaluate per source.
        sources (Sequence[str]): Source names to report, in order.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of every key. Defaults to None.

    Example:
        >>> val_evaluator = dict(
        ...     type='PerSourceMetric',
        ...     metric=dict(type='mmpretrain.Accuracy', topk=(1, )),
        ...     sources=['shape', 'colour', 'coarse'])
        >>> # -> {'shape/accuracy/top1': ..., ..., 'mean/accuracy/top1': ...}
    """

    def __init__(self,
                 metric: dict,
                 sources: Sequence[str],
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not sources:
            raise ValueError('PerSourceMetric needs at least one source')
        self.sources = [str(s) for s in sources]
        self.metrics = OrderedDict(
            (name, METRICS.build(copy.deepcopy(metric))) for name in self.sources)

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics.values():
            metric.dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Hand each sample to its source's metric and keep its result."""
        for sample in data_samples:
            # the evaluator hands over ``DataSample.to_dict()``: metainfo keys are flat
            meta = sample if isinstance(sample, dict) else sample.metainfo
            source = meta.get('dataset_source')
            if source is None:
                raise KeyError('a sample has no "dataset_source"; wrap the val '
                               'datasets in MultiSourceDataset')
            produced: List = []
            if source in self.metrics:
                inner = self.metrics[source]
                before = len(inner.results)
                inner.process(data_batch, [sample])
                produced = inner.results[before:]
                del inner.results[before:]
            # one entry per sample (also for unreported sources): mmengine's
            # collect_results relies on it to drop the distributed sampler's padding
            self.results.append((source, produced))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        """Compute every source's metrics, then their means."""
        out: Dict[str, float] = OrderedDict()
        per_key: Dict[str, List[float]] = OrderedDict()
        for name, metric in self.metrics.items():
            own = [r for source, produced in results if source == name
                   for r in produced]
            if not own:
                continue
            values = metric.compute_metrics(own)
            for key, value in values.items():
                key = f'{metric.prefix}/{key}' if metric.prefix else key
                out[f'{name}/{key}'] = value
                if np.isscalar(value) or getattr(value, 'ndim', 1) == 0:
                    per_key.setdefault(key, []).append(float(value))
        for key, values in per_key.items():
            out[f'mean/{key}'] = float(np.mean(values))
        return out
