"""CityPersons log-average miss rate (MR^-2), lower is better.

Re-implements the Caltech / CityPersons protocol (``eval_MR_multisetup.py`` of the
CityPersons release):

* per setting, a ground-truth box is *ignored* when it is an ignore region / non-pedestrian
  person (``ignore`` or ``iscrowd`` set), outside the height range, outside the
  visibility range, or (optionally) too close to the image border;
* detections are kept by score (the ``max_dets`` best), then those whose height is
  outside ``[h_min / 1.25, h_max * 1.25)`` are *removed before matching* (the reference
  order: an out-of-range detection never consumes a ground truth);
* the remaining detections (score order) match the best unmatched regular ground truth
  with IoU >= 0.5; failing that, the best ignored ground truth by IoA (intersection / detection area) >= 0.5
  -- such detections are ignored; all other detections are false positives;
* miss rate vs. false positives per image, sampled at 9 FPPI points log-spaced in
  [1e-2, 1] (the miss rate at the largest FPPI <= each point; 1 when there is none),
  MR^-2 = the geometric mean of the 9 miss rates, in percent.

Settings (``SETTINGS``): Reasonable (height >= 50, visibility >= 0.65) and Heavy
(height >= 50, visibility in [0.2, 0.65]).

The ground truth comes from a COCO file whose annotations carry ``bbox`` (x, y, w, h),
``vis_ratio`` (visible area / box area) and ``ignore`` -- the converter
``gvb_prepare.py citypersons_det`` writes it.
"""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from intern_mm.registry import METRICS

__all__ = ['CityPersonsMetric', 'log_average_miss_rate', 'match_detections', 'SETTINGS']

#: name -> (height range, visibility range)
SETTINGS = OrderedDict(
    reasonable=((50, 1e10), (0.65, 1e10)),
    heavy=((50, 1e10), (0.2, 0.65)),
)
FPPI_POINTS = np.logspace(-2.0, 0.0, 9)
EXPAND = 1.25


def _iou_matrix(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes; for crowd (ignored) ground truth, IoA over the detection."""
    if len(dets) == 0 or len(gts) == 0:
        return np.zeros((len(dets), len(gts)))
    x1 = np.maximum(dets[:, None, 0], gts[None, :, 0])
    y1 = np.maximum(dets[:, None, 1], gts[None, :, 1])
    x2 = np.minimum(dets[:, None, 2], gts[None, :, 2])
    y2 = np.minimum(dets[:, None, 3], gts[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_d = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
    area_g = (gts[:, 2] - gts[:, 0]) * (gts[:, 3] - gts[:, 1])
    union = area_d[:, None] + area_g[None, :] - inter
    denom = np.where(crowd[None, :], area_d[:, None], union)
    return inter / np.maximum(denom, 1e-12)


def match_detections(dets: np.ndarray, scores: np.ndarray, gts: np.ndarray,
                     gt_ignore: np.ndarray, iou_thr: float = 0.5):
    """Greedy CityPersons matching of one image.

    Args:
        dets (np.ndarray): ``(D, 4)`` xyxy detections.
        scores (np.ndarray): ``(D,)`` scores.
        gts (np.ndarray): ``(G, 4)`` xyxy ground truth.
        gt_ignore (np.ndarray): ``(G,)`` bool, ignored ground truth (matched by IoA).
        iou_thr (float): Threshold. Defaults to 0.5.

    Returns:
        tuple: ``(order, tp, ignored)`` -- detection indices by descending score, and
        boolean arrays (in that order) marking true positives and ignored detections.
    """
    order = np.argsort(-scores, kind='stable')
    dets = dets[order]
    # regular ground truth first, as in the reference implementation
    g_order = np.argsort(gt_ignore, kind='stable')
    gts, gt_ignore = gts[g_order], gt_ignore[g_order]
    ious = _iou_matrix(dets, gts, gt_ignore)
    matched = np.zeros(len(gts), dtype=bool)
    tp = np.zeros(len(dets), dtype=bool)
    ignored = np.zeros(len(dets), dtype=bool)
    for d in range(len(dets)):
        best, best_iou, best_regular = -1, min(iou_thr, 1 - 1e-10), False
        for g in range(len(gts)):
            if matched[g] and not gt_ignore[g]:
                continue
            if best_regular and gt_ignore[g]:
                break
            if ious[d, g] < best_iou:
                continue
            best, best_iou, best_regular = g, ious[d, g], not gt_ignore[g]
        if best < 0:
            continue
        if gt_ignore[best]:
            ignored[d] = True
        else:
            tp[d] = True
            matched[best] = True
    return order, tp, ignored


def log_average_miss_rate(scores: np.ndarray, tp: np.ndarray, num_gt: int,
                          num_images: int,
                          fppi_points: Sequence[float] = FPPI_POINTS) -> float:
    """MR^-2 from pooled (non-ignored) detections.

    Args:
        scores (np.ndarray): Scores of all non-ignored detections of all images.
        tp (np.ndarray): Whether each is a true positive.
        num_gt (int): Number of non-ignored ground-truth boxes.
        num_images (int): Number of images.
        fppi_points (Sequence[float]): Reference FPPI values.

    Returns:
        float: The log-average miss rate in [0, 1] (NaN without ground truth).
    """
    if num_gt == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    tp = tp[order].astype(np.float64)
    tp_sum = np.cumsum(tp)
    fp_sum = np.cumsum(1.0 - tp)
    recall = tp_sum / num_gt
    fppi = fp_sum / max(num_images, 1)
    miss = []
    for ref in fppi_points:
        idx = np.searchsorted(fppi, ref, side='right') - 1
        miss.append(1.0 - recall[idx] if idx >= 0 else 1.0)
    miss = np.maximum(np.asarray(miss), 1e-10)
    return float(np.exp(np.mean(np.log(miss))))


def _xywh2xyxy(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


@METRICS.register_module()
class CityPersonsMetric(BaseMetric):
    """MR^-2 of pedestrian detection under the CityPersons settings (lower is better).

    Args:
        ann_file (str): COCO ground truth with ``vis_ratio`` / ``ignore`` per box.
        settings (dict, optional): ``name -> (height range, visibility range)``.
            Defaults to :data:`SETTINGS` (Reasonable and Heavy).
        iou_thr (float): Matching threshold. Defaults to 0.5.
        border (Sequence[float], optional): ``(x1, y1, x2, y2)``: ground truth not
            inside it is ignored (CityPersons uses ``(5, 5, 2043, 1019)``).
        max_dets (int): Detections kept per image. Defaults to 1000.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str): Defaults to ``'citypersons'``.

    Example:
        >>> metric = CityPersonsMetric(ann_file='annotations/val.json')
        >>> # after evaluation: {'citypersons/reasonable': 12.3, 'citypersons/heavy': 45.6}
    """
    default_prefix = 'citypersons'

    def __init__(self,
                 ann_file: str,
                 settings: Optional[Dict[str, Sequence]] = None,
                 iou_thr: float = 0.5,
                 border: Optional[Sequence[float]] = None,
                 max_dets: int = 1000,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'CityPersons ground truth {ann_file} does not exist')
        with open(ann_file) as f:
            coco = json.load(f)
        self.settings = OrderedDict(settings or SETTINGS)
        self.iou_thr = iou_thr
        self.border = border
        self.max_dets = max_dets
        self.gt = {}
        for img in coco['images']:
            self.gt[img['id']] = dict(boxes=[], vis=[], ignore=[])
        for ann in coco['annotations']:
            if 'vis_ratio' not in ann:
                raise KeyError(f'{ann_file}: annotation {ann.get("id")} has no "vis_ratio" '
                               '(convert with gvb_prepare.py citypersons_det)')
            entry = self.gt[ann['image_id']]
            entry['boxes'].append(ann['bbox'])
            entry['vis'].append(float(ann['vis_ratio']))
            entry['ignore'].append(bool(ann.get('ignore', 0) or ann.get('iscrowd', 0)))

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the predictions (xyxy boxes and scores) with the image id."""
        for sample in data_samples:
            pred = sample['pred_instances']
            self.results.append(dict(
                img_id=sample['img_id'],
                bboxes=np.asarray(pred['bboxes'].cpu() if hasattr(pred['bboxes'], 'cpu')
                                  else pred['bboxes']).reshape(-1, 4),
                scores=np.asarray(pred['scores'].cpu() if hasattr(pred['scores'], 'cpu')
                                  else pred['scores']).reshape(-1)))

    def evaluate_images(self, results: List[dict]) -> Dict[str, float]:
        """MR^-2 (percent) of each setting for a list of ``img_id/bboxes/scores`` dicts."""
        out = OrderedDict()
        for name, (h_rng, v_rng) in self.settings.items():
            all_scores, all_tp, num_gt = [], [], 0
            for res in results:
                gt = self.gt.get(res['img_id'])
                if gt is None:
                    raise KeyError(f'image id {res["img_id"]} is not in the ground truth')
                boxes = _xywh2xyxy(gt['boxes'])
                heights = boxes[:, 3] - boxes[:, 1]
                vis = np.asarray(gt['vis'], dtype=np.float64)
                ignore = np.asarray(gt['ignore'], dtype=bool)
                ignore = ignore | (heights < h_rng[0]) | (heights > h_rng[1]) | \
                    (vis < v_rng[0]) | (vis > v_rng[1])
                if self.border is not None and len(boxes):
                    b = self.border
                    ignore |= (boxes[:, 0] < b[0]) | (boxes[:, 1] < b[1]) | \
                        (boxes[:, 2] > b[2]) | (boxes[:, 3] > b[3])
                num_gt += int((~ignore).sum())
                dets, scores = res['bboxes'], res['scores']
                keep = np.argsort(-scores, kind='stable')[:self.max_dets]
                dets, scores = dets[keep], scores[keep]
                # reference order: drop out-of-range detections BEFORE matching
                d_h = dets[:, 3] - dets[:, 1]
                in_range = (d_h >= h_rng[0] / EXPAND) & (d_h < h_rng[1] * EXPAND)
                dets, scores = dets[in_range], scores[in_range]
                order, tp, ignored = match_detections(dets, scores, boxes, ignore,
                                                      self.iou_thr)
                all_scores.append(scores[order][~ignored])
                all_tp.append(tp[~ignored])
            scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
            tps = np.concatenate(all_tp) if all_tp else np.zeros(0, dtype=bool)
            out[name] = 100.0 * log_average_miss_rate(scores, tps, num_gt, len(results))
        return out

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """MR^-2 per setting (percent, lower is better)."""
        metrics = self.evaluate_images(results)
        MMLogger.get_current_instance().info(
            'CityPersons MR^-2: ' + ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()))
        return metrics
