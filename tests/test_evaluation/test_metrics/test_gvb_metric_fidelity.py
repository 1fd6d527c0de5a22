"""Fidelity of the GV-B detection metrics to the reference evaluations.

* CityPersons (``eval_MR_multisetup.py``): detections outside ``[h_min / 1.25,
  h_max * 1.25)`` are removed *before* matching, so they can neither consume a ground truth
  nor be matched to an ignore region; ignore regions match by IoA. The hand-made cases
  below give different MR^-2 under the two orders.
* WIDER FACE: the official Easy/Medium/Hard lists of ``wider_face_val.mat`` are used when
  present (a small hand-made ``.mat`` written with ``scipy.io.savemat``), and results
  record whether the annotation-based approximation was used.
"""
import json
import math

import numpy as np
import pytest

from intern_mm.evaluation import CityPersonsMetric, WiderFaceMetric

#: MR^-2 (percent) when every FPPI point has miss rate 0 (clamped to 1e-10)
MR_ZERO = 100 * 1e-10
#: MR^-2 (percent) when every FPPI point has miss rate 1
MR_ONE = 100.0


def _coco(path, images, anns, info=None):
    data = dict(
        images=[dict(id=i, file_name=name, width=2048, height=1024)
                for i, name in images],
        annotations=[dict(id=k + 1, category_id=1, iscrowd=0, **a)
                     for k, a in enumerate(anns)],
        categories=[dict(id=1, name='x')])
    if info is not None:
        data['info'] = info
    path.write_text(json.dumps(data))
    return str(path)


def _pred(img_id, boxes_xywh, scores):
    b = np.asarray(boxes_xywh, dtype=float).reshape(-1, 4)
    b[:, 2:] += b[:, :2]
    return dict(img_id=img_id, bboxes=b, scores=np.asarray(scores, dtype=float))


# ------------------------------------------------------------------------- CityPersons
def test_out_of_range_detection_cannot_consume_a_ground_truth(tmp_path):
    """A 39-px detection (below 50 / 1.25 = 40) overlaps a 50-px person with IoU 0.78.

    Reference order: it is removed first; the exact 50-px detection is a true positive
    (MR^-2 ~ 0). Filtering after matching (the old order) lets the small one take the
    person and then drops it, so the exact detection becomes a false positive and the
    person a miss (MR^-2 = 100).
    """
    ann = _coco(tmp_path / 'gt.json', [(0, 'a.png')],
                [dict(image_id=0, bbox=[100, 100, 20, 50], vis_ratio=1.0, ignore=0)])
    metric = CityPersonsMetric(ann_file=ann)
    out = metric.compute_metrics(
        [_pred(0, [[100, 100, 20, 39], [100, 100, 20, 50]], [0.9, 0.8])])
    assert out['reasonable'] == pytest.approx(MR_ZERO, rel=1e-6)
    # the small detection alone is no detection at all (not a false positive either)
    out = metric.compute_metrics([_pred(0, [[100, 100, 20, 39]], [0.9])])
    assert out['reasonable'] == pytest.approx(MR_ONE)


def test_upper_height_bound_is_exclusive_and_applied_before_matching(tmp_path):
    """Setting 'mid' = heights [50, 100): detections of height >= 100 * 1.25 = 125 are
    removed before matching; a 124-px one stays (and is ignored over an ignore region,
    a false positive elsewhere).
    """
    ann = _coco(tmp_path / 'gt.json', [(0, 'a.png')], [
        dict(image_id=0, bbox=[0, 0, 20, 60], vis_ratio=1.0, ignore=0),       # person
        dict(image_id=0, bbox=[500, 0, 200, 300], vis_ratio=1.0, ignore=1),   # region
    ])
    metric = CityPersonsMetric(ann_file=ann,
                               settings=dict(mid=((50, 100), (0.65, 1e10))))
    # TP (.9), ignored by the region (.8, 124 px), removed (.7, 125 px), FP (.6):
    # recall 1 before the only false positive
    dets = [[0, 0, 20, 60], [510, 10, 30, 124], [520, 10, 30, 125], [900, 0, 20, 70]]
    out = metric.compute_metrics([_pred(0, dets, [0.9, 0.8, 0.7, 0.6])])
    assert out['mid'] == pytest.approx(MR_ZERO, rel=1e-6)
    # a 125-px detection over open ground scoring above the person: removed, so the
    # person is found before any false positive
    out = metric.compute_metrics([_pred(0, [[300, 0, 30, 125], [0, 0, 20, 60]],
                                        [0.9, 0.8])])
    assert out['mid'] == pytest.approx(MR_ZERO, rel=1e-6)
    # at 124 px it is a false positive first: FPPI 1 before the person is found, so the
    # miss rate is 1 at the 8 FPPI points below 1 and 0 at FPPI 1
    out = metric.compute_metrics([_pred(0, [[300, 0, 30, 124], [0, 0, 20, 60]],
                                        [0.9, 0.8])])
    assert out['mid'] == pytest.approx(100 * math.exp(math.log(1e-10) / 9), rel=1e-6)


def test_ignore_region_matched_by_ioa_not_iou(tmp_path):
    """A detection inside a large ignore region: IoU 0.02 but IoA 1 -> ignored, not FP."""
    ann = _coco(tmp_path / 'gt.json', [(0, 'a.png')], [
        dict(image_id=0, bbox=[0, 0, 20, 60], vis_ratio=1.0, ignore=0),
        dict(image_id=0, bbox=[300, 0, 400, 400], vis_ratio=1.0, ignore=1),
    ])
    metric = CityPersonsMetric(ann_file=ann)
    # the region detection scores highest: as a FP it would cost the person's recall at
    # every FPPI point below 1 (one image); ignored, the TP comes first
    out = metric.compute_metrics([_pred(0, [[310, 10, 20, 60], [0, 0, 20, 60]],
                                        [0.9, 0.8])])
    assert out['reasonable'] == pytest.approx(MR_ZERO, rel=1e-6)


# -------------------------------------------------------------------------- WIDER FACE
def _wider_gt(tmp_path, difficulty, info=None, box_index=None):
    """One image ``0--Parade/0_Parade_1.jpg`` with three faces (official indices 1, 3, 4:
    the face of index 2 had zero width and was dropped by the converter)."""
    anns = []
    for k, (bbox, d) in enumerate(zip([[0, 0, 100, 100], [200, 0, 40, 40],
                                       [300, 0, 10, 10]], difficulty)):
        ann = dict(image_id=0, bbox=bbox, difficulty=d)
        if box_index is not None:
            ann['box_index'] = box_index[k]
        anns.append(ann)
    (tmp_path / 'annotations').mkdir(exist_ok=True)
    return _coco(tmp_path / 'annotations' / 'val.json',
                 [(0, 'raw/WIDER_val/images/0--Parade/0_Parade_1.jpg')], anns, info)


def _write_mat(path, easy, medium, hard):
    from scipy.io import savemat

    def cell(values):
        inner = np.empty((1, 1), dtype=object)
        inner[0, 0] = np.asarray(values, dtype=np.float64).reshape(-1, 1)
        outer = np.empty((1, 1), dtype=object)
        outer[0, 0] = inner
        return outer

    names = np.empty((1, 1), dtype=object)
    names[0, 0] = '0_Parade_1'
    file_list = np.empty((1, 1), dtype=object)
    file_list[0, 0] = names
    savemat(str(path), dict(file_list=file_list, easy_gt_list=cell(easy),
                            medium_gt_list=cell(medium), hard_gt_list=cell(hard)))


#: predictions: face 1 (.9), face 3 (.8), a false positive (.7), face 2 (.6)
PREDS = [_pred(0, [[0, 0, 100, 100], [300, 0, 10, 10], [500, 500, 20, 20],
                   [200, 0, 40, 40]], [0.9, 0.8, 0.7, 0.6])]
#: AP with all three faces kept (TP, TP, FP, TP)
AP_ALL = 100 * (2 / 3 + 1 / 3 * 3 / 4)


def test_widerface_official_lists_from_mat(tmp_path):
    # the annotations' (approximate) difficulty says every face is easy
    ann = _wider_gt(tmp_path, [0, 0, 0], box_index=[0, 2, 3])
    approx = WiderFaceMetric(ann_file=ann).compute_metrics(PREDS)
    assert approx['easy'] == pytest.approx(AP_ALL, abs=1e-6)
    assert approx['approx_lists'] == 1.0

    # official lists (1-based official indices): easy {1}, medium {1, 3}, hard {1, 3, 4}
    _write_mat(tmp_path / 'wider_face_val.mat', [1], [1, 3], [1, 3, 4])
    official = WiderFaceMetric(ann_file=ann).compute_metrics(PREDS)  # found by itself
    assert official['approx_lists'] == 0.0
    assert official['easy'] == pytest.approx(100.0)
    # medium keeps the faces of official index 1 and 3: TP, ignored (index 4), FP, TP
    assert official['medium'] == pytest.approx(100 * (0.5 + 0.5 * 2 / 3), abs=1e-6)
    assert official['hard'] == pytest.approx(AP_ALL, abs=1e-6)

    # an explicit eval_mat wins, and a face in no list is kept by no setting
    _write_mat(tmp_path / 'other.mat', [1], [1], [1])
    only_first = WiderFaceMetric(ann_file=ann, eval_mat=str(tmp_path / 'other.mat'))
    out = only_first.compute_metrics(PREDS)
    # hard keeps face 1 only: TP, ignored, FP, ignored -> AP 100 (not AP_ALL)
    assert out['hard'] == pytest.approx(100.0)
    with pytest.raises(FileNotFoundError, match='nope.mat'):
        WiderFaceMetric(ann_file=ann, eval_mat=str(tmp_path / 'nope.mat'))


def test_widerface_official_lists_copied_by_the_converter(tmp_path):
    ann = _wider_gt(tmp_path, [0, 2, 1],
                    info=dict(difficulty_source='wider_face_val.mat'))
    out = WiderFaceMetric(ann_file=ann).compute_metrics(PREDS)
    assert out['approx_lists'] == 0.0
    assert out['easy'] == pytest.approx(100.0)
    assert out['hard'] == pytest.approx(AP_ALL, abs=1e-6)


def test_widerface_converter_writes_the_official_lists(tmp_path):
    """``gvb_prepare.py widerface_det --option eval_mat=...`` end to end on two faces."""
    from PIL import Image

    from intern_mm.datasets.gvb.converters import CONVERTERS
    src = tmp_path / 'wider'
    for split in ('train', 'val'):
        img = src / f'WIDER_{split}' / 'images' / '0--Parade' / '0_Parade_1.jpg'
        img.parent.mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (400, 200)).save(img)
        (src / 'wider_face_split').mkdir(parents=True, exist_ok=True)
        # three boxes, the middle one has zero width (dropped); both kept boxes would be
        # "easy" by the annotation rule (>= 50 px, clear, no occlusion)
        (src / 'wider_face_split' / f'wider_face_{split}_bbx_gt.txt').write_text(
            '0--Parade/0_Parade_1.jpg\n3\n10 10 60 60 0 0 0 0 0 0 \n'
            '5 5 0 10 0 0 0 0 0 0 \n100 20 80 80 0 0 0 0 0 0 \n')
    _write_mat(tmp_path / 'wider_face_val.mat', [1], [1], [1, 3])
    CONVERTERS['widerface_det'](str(src), str(tmp_path / 'out'),
                                eval_mat=str(tmp_path / 'wider_face_val.mat'))
    val = json.loads((tmp_path / 'out' / 'annotations' / 'val.json').read_text())
    train = json.loads((tmp_path / 'out' / 'annotations' / 'train.json').read_text())
    assert val['info']['difficulty_source'] == 'wider_face_val.mat'
    assert train['info']['difficulty_source'] == 'approximation'
    assert [(a['box_index'], a['difficulty']) for a in val['annotations']] == [(0, 0),
                                                                               (2, 2)]
    assert [a['difficulty'] for a in train['annotations']] == [0, 0]
    assert WiderFaceMetric(
        ann_file=str(tmp_path / 'out' / 'annotations' / 'val.json')).approximate is False
