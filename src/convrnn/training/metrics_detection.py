"""Mean average precision of a detector, as the COCO benchmark computes it (pycocotools' COCOeval, boxes, all areas).

For each class c and IoU threshold t, over every image:

1. Matching, per image: that image's detections of class c, by decreasing score (the best
   ``max_detections`` only), each take the not yet matched true box of class c with the highest
   IoU, if that IoU is ≥ t: a true positive; otherwise a false positive.
2. Precision and recall: the detections of every image, sorted by decreasing score (a stable
   sort of the images' lists concatenated in image order, as COCO), give after the n-th one
   ``recall_n = TP_n / G_c`` and ``precision_n = TP_n / n`` (G_c true boxes of class c).
3. Average precision by 101-point interpolation::

       p̃(r) = max_{n : recall_n ≥ r} precision_n     (0 where no n reaches recall r)
       AP_c(t) = 1/101 Σ_{r ∈ {0, 0.01, …, 1}} p̃(r)

   with the recall points exactly as COCO computes them (``np.linspace(0, 1, 101)`` in float64,
   so r = 0.30000000000000004 is not reached by a recall of 3/10), so the numbers equal COCO's.

mAP@t is the mean of AP_c(t) over the classes with at least one true box (a class without any
is left out, as COCO marks it −1); COCO's "AP" (mAP@0.5:0.95) is the mean over
t ∈ {0.50, 0.55, …, 0.95}. Boxes are ``(x1, y1, x2, y2)`` (:mod:`convrnn.functional.boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from convrnn.functional.boxes import box_iou

COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def average_precision(scores: np.ndarray, hits: np.ndarray, num_truth: int) -> float:
    """101-point interpolated AP (step 3 of the module docstring) of detections with ``scores (D,)``
    of which ``hits (D,)`` matched a true box, out of ``num_truth`` true boxes (NaN if none)."""
    if num_truth == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    true_positives = np.cumsum(np.asarray(hits, dtype=bool)[order])
    recall = true_positives / num_truth
    precision = true_positives / np.arange(1, len(order) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]   # p̃: the best precision at this recall or beyond
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = at < len(precision)
    return float(np.where(reached, precision[np.minimum(at, len(precision) - 1)], 0.0).mean()) if len(order) else 0.0


def match_detections(boxes: Tensor, scores: Tensor, truth: Tensor, thresholds: Sequence[float]) -> np.ndarray:
    """Greedy matching of one image and class (step 1): ``boxes (D, 4)`` with ``scores (D,)`` against
    ``truth (G, 4)`` → ``hits (T, D) bool`` for the ``T`` IoU ``thresholds``, columns in the order of
    ``boxes``. Each detection, by decreasing score, takes the unmatched true box of highest IoU if
    that IoU is ≥ the threshold (all thresholds at once)."""
    thresholds_array = np.asarray(thresholds, dtype=np.float64)[:, None]
    hits = np.zeros((len(thresholds_array), len(boxes)), dtype=bool)
    if len(boxes) == 0 or len(truth) == 0:
        return hits
    iou = box_iou(boxes.double(), truth.double()).cpu().numpy()                 # (D, G)
    taken = np.zeros((len(thresholds_array), len(truth)), dtype=bool)            # (T, G)
    rows = np.arange(len(thresholds_array))
    for d in np.argsort(-scores.double().cpu().numpy(), kind="mergesort"):
        candidates = np.where(taken, -1.0, iou[d][None, :])
        best = candidates.argmax(1)
        hit = candidates[rows, best] >= thresholds_array[:, 0]
        hits[:, d] = hit
        taken[rows[hit], best[hit]] = True
    return hits


def mean_average_precision(detections: Sequence[tuple[Tensor, Tensor, Tensor]],
                           truths: Sequence[tuple[Tensor, Tensor]], num_classes: int, *,
                           thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                           max_detections: int = 100) -> dict[str, float]:
    """COCO-style mean average precision (module docstring).

    Args:
        detections: per image ``(boxes (D, 4), scores (D,), classes (D,))``.
        truths: per image ``(boxes (G, 4), classes (G,))``.
        num_classes: K; classes are 0 … K − 1.
        thresholds: the IoU thresholds T (COCO's ten by default); mAP is their mean.
        max_detections: per image and class, only the best scored count (COCO: 100).

    Returns:
        ``{"map": mean over thresholds and classes, "map_50", "map_75" (where 0.5 / 0.75 are among
        the thresholds), "ap_50_<k>" and "ap_<k>" per class k (NaN for a class with no true box)}``.
    """
    if len(detections) != len(truths):
        raise ValueError(f"mean_average_precision: arguments 'detections' and 'truths' expected one entry per image "
                         f"each, got {len(detections)} and {len(truths)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"mean_average_precision: argument 'num_classes' expected an int ≥ 1, got {num_classes!r}")
    if not thresholds or not all(0 <= t <= 1 for t in thresholds):
        raise ValueError(f"mean_average_precision: argument 'thresholds' expected IoUs in [0, 1], got {thresholds!r}")
    count = len(thresholds)
    scores: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
    hits: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
    num_truth = np.zeros(num_classes, dtype=np.int64)
    for index, ((boxes, box_scores, classes), (truth, truth_classes)) in enumerate(zip(detections, truths,
                                                                                      strict=True)):
        if not (len(boxes) == len(box_scores) == len(classes)) or len(truth) != len(truth_classes):
            raise ValueError(f"mean_average_precision: image {index} expected as many boxes as scores and classes, "
                             f"got {len(boxes)}, {len(box_scores)}, {len(classes)} (truth {len(truth)} boxes, "
                             f"{len(truth_classes)} classes)")
        for c in range(num_classes):
            truth_c = truth[truth_classes == c]
            num_truth[c] += len(truth_c)
            mine = classes == c
            if not bool(mine.any()):
                continue
            boxes_c, scores_c = boxes[mine], box_scores[mine]
            best = torch.sort(scores_c, descending=True, stable=True).indices[:max_detections]
            boxes_c, scores_c = boxes_c[best], scores_c[best]
            hits[c].append(match_detections(boxes_c, scores_c, truth_c, thresholds))
            scores[c].append(scores_c.double().cpu().numpy())
    ap = np.full((count, num_classes), np.nan)
    for c in range(num_classes):
        if num_truth[c] == 0:
            continue
        class_scores = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        class_hits = np.concatenate(hits[c], axis=1) if hits[c] else np.zeros((count, 0), dtype=bool)
        for t in range(count):
            ap[t, c] = average_precision(class_scores, class_hits[t], int(num_truth[c]))
    present = num_truth > 0
    result = {"map": float(ap[:, present].mean()) if present.any() else float("nan")}
    for threshold, name in ((0.5, "map_50"), (0.75, "map_75")):
        if threshold in [round(t, 6) for t in thresholds]:
            row = [round(t, 6) for t in thresholds].index(threshold)
            result[name] = float(ap[row, present].mean()) if present.any() else float("nan")
            if threshold == 0.5:
                result.update({f"ap_50_{c}": float(ap[row, c]) for c in range(num_classes)})
    result.update({f"ap_{c}": float(ap[:, c].mean()) for c in range(num_classes)})
    return result


__all__ = ["COCO_IOU_THRESHOLDS", "average_precision", "match_detections", "mean_average_precision"]
