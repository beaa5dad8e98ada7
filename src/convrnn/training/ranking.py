"""Scores of a ranking of rare positives (fraud, anomalies): average precision, ROC AUC, and recall
at a fixed precision — computed on the whole evaluation set at once, since none is a per-batch ratio.

``scores: (N,)`` are any real numbers (higher: more likely positive), ``labels: (N,)`` are 0 or 1.
Thresholds are the distinct scores: flagging every example with a score ≥ t gives precision
P(t) = TP(t) / (TP(t) + FP(t)) and recall R(t) = TP(t) / #positives; equal scores are flagged together.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


def _checked(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor, where: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores.detach().cpu() if isinstance(scores, Tensor) else scores, dtype=np.float64)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"{where}: arguments 'scores' and 'labels' expected equal shapes (N,), "
                         f"got {s.shape} and {y.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{where}: argument 'scores' expected finite numbers, got NaN or infinity")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{where}: argument 'labels' expected 0 or 1, got {sorted(set(y.tolist()) - {0, 1})[:3]}")
    positives = int(y.sum())
    if positives == 0:
        raise ValueError(f"{where}: argument 'labels' holds no positive (1): the score is undefined")
    return s, y.astype(np.int64)


def _curve(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (TP, FP) at each distinct threshold, highest threshold first."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]   # the last example of each run of equal scores
    tp = np.cumsum(y)[last]
    return tp, (last + 1) - tp


def average_precision(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> float:
    """AP = Σ_k (R_k − R_{k−1}) · P_k over the thresholds, highest first (R_0 = 0): the area under the
    precision–recall curve as a step function (scikit-learn's ``average_precision_score``). A random
    ranking scores about the positive rate; a perfect one, 1."""
    s, y = _checked(scores, labels, "average_precision")
    tp, fp = _curve(s, y)
    precision, recall = tp / (tp + fp), tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> float:
    """The area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (Mann–Whitney U / (#positives · #negatives))."""
    s, y = _checked(scores, labels, "roc_auc")
    tp, fp = _curve(s, y)
    if fp[-1] == 0:
        raise ValueError("roc_auc: argument 'labels' holds no negative (0): the score is undefined")
    tpr, fpr = np.r_[0.0, tp / tp[-1]], np.r_[0.0, fp / fp[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))   # trapezoids: ties give the half


def recall_at_precision(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor, precision: float) -> float:
    """max R(t) over the thresholds t with P(t) ≥ ``precision`` (0 if none): the share of positives
    caught when flagged examples must be positives at least that often."""
    if not 0 < precision <= 1:
        raise ValueError(f"recall_at_precision: argument 'precision' expected a number in (0, 1], got {precision}")
    s, y = _checked(scores, labels, "recall_at_precision")
    tp, fp = _curve(s, y)
    ok = tp / (tp + fp) >= precision
    return float((tp[ok] / tp[-1]).max()) if ok.any() else 0.0


__all__ = ["average_precision", "recall_at_precision", "roc_auc"]
