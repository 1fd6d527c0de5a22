"""WIDER FACE Easy / Medium / Hard average precision.

Re-implements the official evaluation (``wider_eval`` / ``widerface_evaluate``):

* per setting each image has a *keep* set of ground-truth faces; faces outside it are
  ignored: a prediction whose best-IoU (>= 0.5) face is ignored is not counted as a
  proposal;
* prediction scores are min-max normalised over the whole test set, 1000 thresholds
  ``1 - (t + 1) / 1000``; per threshold, proposals and recalled kept faces are summed
  over images; precision = recalled / proposals, recall = recalled / kept faces;
* AP is the VOC area under the precision envelope.

The official keep sets come from ``wider_face_val.mat`` (``easy/medium/hard_gt_list``,
defined by detection difficulty). They are used, in this order, when

1. ``eval_mat`` is given, or a ``wider_face_val.mat`` lies next to the ground-truth file
   or in the folder above it (the prepared data root): the lists are read from it and
   matched to the boxes by image name and ``box_index`` (the box's position in the
   official label file; its position within the image when absent);
2. the ground truth says ``info.difficulty_source == 'wider_face_val.mat'`` (the
   converter copied the lists into each annotation's ``difficulty`` field).

Otherwise ``difficulty`` is the converter's approximation from the annotations (box
height, occlusion, blur; see ``gvb_prepare.py``), and the results carry
``widerface/approx_lists = 1.0`` (``0.0`` with the official lists) so that reports can mark
them. The Easy setting keeps difficulty 0, Medium <= 1, Hard <= 2. Without the official
lists, faces with ``ignore``/``iscrowd`` (the ``invalid`` flag) are never kept.
"""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from intern_mm.registry import METRICS

__all__ = ['WiderFaceMetric', 'widerface_image_eval', 'voc_area_ap', 'WIDER_SETTINGS',
           'WIDER_EVAL_MAT']

#: setting -> largest difficulty kept
WIDER_SETTINGS = OrderedDict(easy=0, medium=1, hard=2)
NUM_THRESHOLDS = 1000
#: file name of the official evaluation lists
WIDER_EVAL_MAT = 'wider_face_val.mat'
OFFICIAL_SOURCE = 'wider_face_val.mat'


def _iou(preds: np.ndarray, gts: np.ndarray) -> np.ndarray:
    if len(preds) == 0 or len(gts) == 0:
        return np.zeros((len(preds), len(gts)))
    x1 = np.maximum(preds[:, None, 0], gts[None, :, 0])
    y1 = np.maximum(preds[:, None, 1], gts[None, :, 1])
    x2 = np.minimum(preds[:, None, 2], gts[None, :, 2])
    y2 = np.minimum(preds[:, None, 3], gts[None, :, 3])
    # the official code uses pixel-inclusive (+1) box sizes
    inter = np.clip(x2 - x1 + 1, 0, None) * np.clip(y2 - y1 + 1, 0, None)
    area_p = (preds[:, 2] - preds[:, 0] + 1) * (preds[:, 3] - preds[:, 1] + 1)
    area_g = (gts[:, 2] - gts[:, 0] + 1) * (gts[:, 3] - gts[:, 1] + 1)
    return inter / (area_p[:, None] + area_g[None, :] - inter)


def widerface_image_eval(preds: np.ndarray, gts: np.ndarray, keep: np.ndarray,
                         iou_thr: float = 0.5):
    """Per-prediction recall count and proposal flags of one image (official logic).

    Args:
        preds (np.ndarray): ``(P, 4)`` xyxy predictions sorted by descending score.
        gts (np.ndarray): ``(G, 4)`` xyxy faces.
        keep (np.ndarray): ``(G,)`` bool, faces of the setting.
        iou_thr (float): Threshold. Defaults to 0.5.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``pred_recall`` (recalled kept faces after each
        prediction) and ``proposal`` (1 if the prediction counts, -1 if ignored).
    """
    pred_recall = np.zeros(len(preds))
    proposal = np.ones(len(preds))
    recall = np.zeros(len(gts))
    ious = _iou(preds, gts)
    for h in range(len(preds)):
        if len(gts):
            best = int(ious[h].argmax())
            if ious[h, best] >= iou_thr:
                if not keep[best]:
                    recall[best] = -1
                    proposal[h] = -1
                elif recall[best] == 0:
                    recall[best] = 1
        pred_recall[h] = (recall == 1).sum()
    return pred_recall, proposal


def voc_area_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC area-under-envelope AP.

    Args:
        recall (np.ndarray): Recall values (non-decreasing).
        precision (np.ndarray): Precision values.

    Returns:
        float: AP in [0, 1].
    """
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


@METRICS.register_module()
class WiderFaceMetric(BaseMetric):
    """WIDER FACE AP for the Easy, Medium and Hard settings (percent).

    Args:
        ann_file (str): COCO ground truth whose annotations carry ``difficulty``
            (0/1/2) and optionally ``ignore`` and ``box_index``.
        eval_mat (str, optional): Official ``wider_face_val.mat``. Defaults to None
            (looked up next to ``ann_file`` and in its parent folder).
        iou_thr (float): Defaults to 0.5.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str): Defaults to ``'widerface'``.

    Example:
        >>> metric = WiderFaceMetric(ann_file='annotations/val.json')
        >>> # {'widerface/easy': 93.1, 'widerface/medium': 91.2, 'widerface/hard': 77.0,
        >>> #  'widerface/approx_lists': 1.0}
    """
    default_prefix = 'widerface'

    def __init__(self,
                 ann_file: str,
                 eval_mat: Optional[str] = None,
                 iou_thr: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'WIDER FACE ground truth {ann_file} does not exist')
        with open(ann_file) as f:
            coco = json.load(f)
        self.iou_thr = iou_thr
        if eval_mat is None:
            here = osp.dirname(osp.abspath(ann_file))
            found = [osp.join(d, WIDER_EVAL_MAT) for d in (here, osp.dirname(here))
                     if osp.isfile(osp.join(d, WIDER_EVAL_MAT))]
            eval_mat = found[0] if found else None
        elif not osp.isfile(eval_mat):
            raise FileNotFoundError(f'WIDER FACE evaluation lists {eval_mat} do not exist')
        self.eval_mat = eval_mat
        mat_lists = None
        if eval_mat is not None:
            from intern_mm.datasets.gvb.converters import wider_eval_lists
            mat_lists = wider_eval_lists(eval_mat)
        #: whether the Easy/Medium/Hard sets are the annotation-based approximation
        self.approximate = mat_lists is None and \
            (coco.get('info') or {}).get('difficulty_source') != OFFICIAL_SOURCE
        stems = {img['id']: osp.splitext(osp.basename(img['file_name']))[0]
                 for img in coco['images']}
        self.gt = {img['id']: dict(boxes=[], difficulty=[], ignore=[])
                   for img in coco['images']}
        for ann in coco['annotations']:
            if 'difficulty' not in ann and mat_lists is None:
                raise KeyError(f'{ann_file}: annotation {ann.get("id")} has no '
                               '"difficulty" (convert with gvb_prepare.py widerface_det)')
            entry = self.gt[ann['image_id']]
            x, y, w, h = ann['bbox']
            if mat_lists is not None:
                index = int(ann.get('box_index', len(entry['boxes'])))
                # faces in no official list are kept by no setting
                difficulty = mat_lists.get(stems[ann['image_id']], {}).get(index, 3)
                ignore = False
            else:
                difficulty = int(ann['difficulty'])
                ignore = bool(ann.get('ignore', 0) or ann.get('iscrowd', 0))
            entry['boxes'].append([x, y, x + w, y + h])  # as the official code
            entry['difficulty'].append(difficulty)
            entry['ignore'].append(ignore)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the predictions with the image id."""
        for sample in data_samples:
            pred = sample['pred_instances']
            bboxes, scores = pred['bboxes'], pred['scores']
            self.results.append(dict(
                img_id=sample['img_id'],
                bboxes=np.asarray(bboxes.cpu() if hasattr(bboxes, 'cpu') else bboxes,
                                  dtype=np.float64).reshape(-1, 4),
                scores=np.asarray(scores.cpu() if hasattr(scores, 'cpu') else scores,
                                  dtype=np.float64).reshape(-1)))

    def evaluate_images(self, results: List[dict]) -> Dict[str, float]:
        """AP per setting (percent) for ``img_id/bboxes/scores`` dicts."""
        all_scores = np.concatenate([r['scores'] for r in results]) if results else \
            np.zeros(0)
        lo, hi = (all_scores.min(), all_scores.max()) if len(all_scores) else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        thresholds = 1.0 - (np.arange(NUM_THRESHOLDS) + 1) / NUM_THRESHOLDS
        out = OrderedDict()
        for name, max_diff in WIDER_SETTINGS.items():
            pr = np.zeros((NUM_THRESHOLDS, 2))
            num_faces = 0
            for res in results:
                gt = self.gt.get(res['img_id'])
                if gt is None:
                    raise KeyError(f'image id {res["img_id"]} is not in the ground truth')
                gts = np.asarray(gt['boxes'], dtype=np.float64).reshape(-1, 4)
                keep = (np.asarray(gt['difficulty']) <= max_diff) & \
                    ~np.asarray(gt['ignore'], dtype=bool)
                num_faces += int(keep.sum())
                if len(res['scores']) == 0:
                    continue
                order = np.argsort(-res['scores'], kind='stable')
                scores = (res['scores'][order] - lo) / span
                pred_recall, proposal = widerface_image_eval(res['bboxes'][order], gts,
                                                             keep, self.iou_thr)
                for t, thr in enumerate(thresholds):
                    idx = np.where(scores >= thr)[0]
                    if len(idx) == 0:
                        continue
                    last = idx[-1]
                    pr[t, 0] += (proposal[:last + 1] == 1).sum()
                    pr[t, 1] += pred_recall[last]
            if num_faces == 0:
                out[name] = float('nan')
                continue
            propose = pr[:, 1] / np.maximum(pr[:, 0], 1e-12)
            propose[pr[:, 0] == 0] = 0.0
            recall = pr[:, 1] / num_faces
            out[name] = 100.0 * voc_area_ap(recall, propose)
        return out

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """AP per setting (percent) and ``approx_lists`` (1.0: approximated sets)."""
        metrics = self.evaluate_images(results)
        MMLogger.get_current_instance().info(
            'WIDER FACE AP: ' + ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()) +
            (' (approximate Easy/Medium/Hard sets: no wider_face_val.mat)'
             if self.approximate else f' (official lists: {self.eval_mat or "ann_file"})'))
        metrics['approx_lists'] = float(self.approximate)
        return metrics
