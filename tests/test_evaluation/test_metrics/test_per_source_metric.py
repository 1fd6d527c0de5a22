"""PerSourceMetric: any metric evaluated separately on each source."""
import pytest
import torch
from mmpretrain.structures import DataSample

from intern_mm.evaluation.metrics import PerSourceMetric
from intern_mm.registry import METRICS


def _sample(source, pred, gt):
    score = torch.zeros(3)
    score[pred] = 1.0
    return DataSample(metainfo=dict(dataset_source=source)).set_gt_label(gt) \
        .set_pred_score(score).set_pred_label(pred).to_dict()


def test_accuracy_per_source():
    metric = METRICS.build(dict(type='PerSourceMetric',
                                metric=dict(type='mmpretrain.Accuracy', topk=(1, )),
                                sources=['a', 'b']))
    metric.dataset_meta = dict(classes=('x', 'y', 'z'))
    samples = [_sample('a', 0, 0), _sample('a', 1, 0), _sample('b', 2, 2),
               _sample('b', 2, 2), _sample('b', 0, 1), _sample('c', 0, 0)]
    metric.process(None, samples[:3])
    metric.process(None, samples[3:])
    assert len(metric.results) == 6  # one per sample, as collect_results expects
    results = metric.evaluate(size=6)
    assert results['a/accuracy/top1'] == pytest.approx(50.0)
    assert results['b/accuracy/top1'] == pytest.approx(200 / 3, abs=1e-3)
    assert results['mean/accuracy/top1'] == pytest.approx((50 + 200 / 3) / 2, abs=1e-3)
    assert not any(k.startswith('c/') for k in results)


def test_missing_source_raises():
    metric = PerSourceMetric(metric=dict(type='mmpretrain.Accuracy'), sources=['a'])
    sample = _sample('a', 0, 0)
    sample.pop('dataset_source')
    with pytest.raises(KeyError, match='dataset_source'):
        metric.process(None, [sample])
    with pytest.raises(ValueError, match='at least one source'):
        PerSourceMetric(metric=dict(type='mmpretrain.Accuracy'), sources=[])
