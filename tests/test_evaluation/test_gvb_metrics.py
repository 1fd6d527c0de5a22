"""GV-B metric conventions on hand-computed inputs."""
import json
import math

import numpy as np
import pytest
import torch

from intern_mm.evaluation import CityPersonsMetric, GVBDepthMetric, WiderFaceMetric
from intern_mm.registry import METRICS


def _coco(tmp_path, images, anns, name='gt.json'):
    path = tmp_path / name
    path.write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.jpg', width=1000, height=1000) for i in images],
        annotations=[dict(id=k + 1, category_id=1, iscrowd=0, **a)
                     for k, a in enumerate(anns)],
        categories=[dict(id=1, name='x')])))
    return str(path)


def _pred(img_id, boxes_xywh, scores):
    b = np.asarray(boxes_xywh, dtype=float).reshape(-1, 4)
    b[:, 2:] += b[:, :2]
    return dict(img_id=img_id, bboxes=b, scores=np.asarray(scores, dtype=float))


def test_citypersons_mr_hand_computed(tmp_path):
    ann = _coco(tmp_path, [0, 1], [
        dict(image_id=0, bbox=[0, 0, 20, 100], vis_ratio=1.0, ignore=0),    # A
        dict(image_id=0, bbox=[100, 0, 20, 60], vis_ratio=0.5, ignore=0),   # B
        dict(image_id=0, bbox=[200, 0, 50, 100], vis_ratio=1.0, ignore=1),  # region
        dict(image_id=1, bbox=[0, 0, 30, 90], vis_ratio=0.9, ignore=0),     # D
    ])
    metric = METRICS.build(dict(type='intern_mm.CityPersonsMetric', ann_file=ann))
    results = [
        _pred(0, [[0, 0, 20, 100], [100, 0, 20, 60], [205, 10, 20, 60], [300, 0, 20, 80]],
              [0.9, 0.8, 0.7, 0.6]),
        _pred(1, [[400, 0, 20, 70]], [0.95]),
    ]
    out = metric.compute_metrics(results)
    # Reasonable: gts A, D; pooled dets FP(.95) TP(.9) FP(.6); fppi .5 .5 1, recall 0 .5 .5
    # -> miss 1 at the 7 FPPI points below .5, .5 at 0.562 and 1.0
    assert out['reasonable'] == pytest.approx(100 * 0.5 ** (2 / 9), abs=1e-6)
    # Heavy: only B; d1 is matched to the (now ignored) A and ignored, d2 is TP
    expected = 100 * math.exp((2 * math.log(1e-10)) / 9)
    assert out['heavy'] == pytest.approx(expected, rel=1e-6)


def test_citypersons_requires_visibility(tmp_path):
    ann = _coco(tmp_path, [0], [dict(image_id=0, bbox=[0, 0, 10, 60])])
    with pytest.raises(KeyError, match='vis_ratio'):
        CityPersonsMetric(ann_file=ann)
    with pytest.raises(FileNotFoundError):
        CityPersonsMetric(ann_file=str(tmp_path / 'nope.json'))


def test_widerface_ap_hand_computed(tmp_path):
    ann = _coco(tmp_path, [0], [
        dict(image_id=0, bbox=[0, 0, 100, 100], difficulty=0),
        dict(image_id=0, bbox=[200, 0, 40, 40], difficulty=1),
        dict(image_id=0, bbox=[300, 0, 10, 10], difficulty=2),
    ])
    metric = WiderFaceMetric(ann_file=ann)
    results = [_pred(0, [[0, 0, 100, 100], [300, 0, 10, 10], [500, 500, 20, 20],
                         [200, 0, 40, 40]], [0.9, 0.8, 0.7, 0.6])]
    out = metric.compute_metrics(results)
    assert out['easy'] == pytest.approx(100.0)
    assert out['medium'] == pytest.approx(100 * (0.5 + 0.5 * 2 / 3), abs=1e-6)
    assert out['hard'] == pytest.approx(100 * (2 / 3 + 1 / 3 * 3 / 4), abs=1e-6)


def test_depth_metric_garg_crop_hand_computed():
    metric = GVBDepthMetric(crop_type='garg', max_depth_eval=80.0)
    gt = torch.full((1, 10, 10), 2.0)
    pred = torch.full((1, 10, 10), 100.0)
    pred[:, 4:9, 0:9] = 1.0  # the Garg crop of a 10x10 map: rows 4-8, columns 0-8
    metric.process({}, [dict(pred_depth_map=dict(data=pred),
                             gt_depth_map=dict(data=gt))])
    out = metric.compute_metrics(metric.results)
    assert out['rmse'] == pytest.approx(1.0)
    assert out['abs_rel'] == pytest.approx(0.5)
    assert out['sq_rel'] == pytest.approx(0.5)
    assert out['log10'] == pytest.approx(math.log10(2))
    assert out['d1'] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='crop_type'):
        GVBDepthMetric(crop_type='bogus')


def test_mean_per_class_convention():
    """Mean per-class accuracy (pets, flowers102, caltech101, aircraft) vs. top-1."""
    from mmpretrain.evaluation import SingleLabelMetric
    from intern_mm.benchmark import classification_metrics
    target = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 0, 0, 1, 1, 0, 2, 0])
    scores = torch.nn.functional.one_hot(pred, 3).float()
    got = classification_metrics(scores, target)
    assert got['top1'] == pytest.approx(62.5)
    assert got['mean_per_class'] == pytest.approx(100 * (3 / 4 + 1 / 2 + 1 / 2) / 3)
    metric = SingleLabelMetric(items=('recall', ), average='macro')
    metric.process({}, [dict(pred_score=s, pred_label=p, gt_label=t.view(1), num_classes=3)
                        for s, p, t in zip(scores, pred, target)])
    assert metric.compute_metrics(metric.results)['recall'] == pytest.approx(
        got['mean_per_class'])
