"""Up-A's val metric: image<->text retrieval accuracy."""
import pytest
import torch

from intern_mm.evaluation.metrics.retrieval import (ImageTextRetrievalMetric,
                                                    retrieval_accuracy)
from intern_mm.registry import METRICS


def test_hand_computed_retrieval():
    img = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    txt = torch.tensor([[1., 0.], [1., 0.1], [1., 1.]])
    # image 0 -> text 0 (ok); image 1 -> text 2 (wrong); image 2 -> text 2 (ok)
    # text 0 -> image 0 (ok); text 1 -> image 0 (wrong); text 2 -> image 2 (ok)
    res = retrieval_accuracy(img, txt, topk=(1, 2))
    assert res['i2t_top1'] == pytest.approx(200 / 3)
    assert res['t2i_top1'] == pytest.approx(200 / 3)
    assert res['i2t_top2'] == pytest.approx(100.)  # image 1's 2nd choice is text 1
    assert res['chance_top1'] == pytest.approx(100 / 3)


def test_identical_captions_count_as_correct():
    img = torch.tensor([[1., 0.], [0.9, 0.1]])
    txt = torch.tensor([[0., 1.], [1., 0.]])  # both images retrieve text 1
    assert retrieval_accuracy(img, txt, topk=(1, ))['i2t_top1'] == pytest.approx(50.)
    res = retrieval_accuracy(img, txt, captions=['a red circle'] * 2, topk=(1, ))
    assert res['i2t_top1'] == pytest.approx(100.) and res['chance_top1'] == pytest.approx(100.)


def test_metric_process_and_compute():
    metric = METRICS.build(dict(type='ImageTextRetrievalMetric', topk=(1, )))
    assert isinstance(metric, ImageTextRetrievalMetric)
    metric.process(None, [dict(img_feat=torch.eye(2)[i], text_feat=torch.eye(2)[i],
                               text=f'c{i}') for i in range(2)])
    res = metric.evaluate(2)
    assert res['retrieval/i2t_top1'] == 100. and res['retrieval/chance_top1'] == 50.
    with pytest.raises(KeyError, match='img_feat'):
        metric.process(None, [dict(text_feat=torch.zeros(2))])
    with pytest.raises(ValueError, match='topk'):
        ImageTextRetrievalMetric(topk=(0, ))
    with pytest.raises(ValueError, match='captions'):
        retrieval_accuracy(torch.eye(2), torch.eye(2), captions=['a'])
