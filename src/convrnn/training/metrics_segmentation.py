"""Segmentation scores from a confusion matrix: per-class intersection over union, mean IoU, pixel accuracy.

With ``M[t, p]`` = the number of pixels of true class t predicted as class p (K × K)::

    IoU_k          = M[k, k] / (Σ_p M[k, p] + Σ_t M[t, k] − M[k, k])   = |T_k ∩ P_k| / |T_k ∪ P_k|
    mean IoU       = (1 / |K'|) Σ_{k ∈ K'} IoU_k,   K' = classes present in the truth or the prediction
    pixel accuracy = Σ_k M[k, k] / Σ M

A class absent from both truth and prediction has an empty union: its IoU is 0/0, reported as NaN
and left out of the mean (it was neither missed nor hallucinated, so it says nothing). A class
present in only one of them has IoU 0 and counts. Over a whole test set every class is present,
and this is the plain mean over all K classes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrnn.functional._checks import check_tensor
from convrnn.training.distributed import all_reduce_sum, collective_device, is_distributed
from convrnn.training.metrics import Metric

__all__ = ["MeanIoU", "confusion_matrix", "intersection_over_union", "mean_iou", "pixel_accuracy"]


def _check_count(name: str, value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: argument '{name}' expected an int ≥ 1, got {value!r}")
    return value


def _counts(predictions: Tensor, targets: Tensor, num_classes: int, ignore_index: int | None) -> Tensor:
    """The confusion matrix without range checks (no host synchronisation): targets out of
    ``[0, K)`` and equal to ``ignore_index`` are not counted."""
    predictions, targets = predictions.reshape(-1).long(), targets.reshape(-1).long()
    counted = (targets >= 0) & (targets < num_classes)
    if ignore_index is not None:
        counted &= targets != ignore_index
    pairs = torch.where(counted, targets * num_classes + predictions, num_classes * num_classes)
    # scatter_add into a fixed-size tensor: unlike bincount it never asks the GPU for max(pairs)
    counts = torch.zeros(num_classes * num_classes + 1, dtype=torch.int64, device=pairs.device)
    counts.scatter_add_(0, pairs, torch.ones_like(pairs))
    return counts[:-1].reshape(num_classes, num_classes)


def confusion_matrix(predictions: Tensor, targets: Tensor, num_classes: int, *,
                     ignore_index: int | None = None) -> Tensor:
    """``M (K, K) int64``: ``M[t, p]`` counts pixels of true class t predicted as p.

    ``predictions`` and ``targets``: class indices of the same shape ``(N, *)``, in ``[0, K)``;
    targets equal to ``ignore_index`` are not counted.
    """
    where = "confusion_matrix"
    num_classes = _check_count("num_classes", num_classes, where)
    check_tensor("predictions", predictions, where=where)
    check_tensor("targets", targets, where=where)
    if predictions.shape != targets.shape:
        raise ValueError(f"{where}: arguments 'predictions' and 'targets' expected the same shape, got "
                         f"{tuple(predictions.shape)} and {tuple(targets.shape)}")
    for name, values in (("predictions", predictions), ("targets", targets)):
        if values.is_floating_point():
            raise TypeError(f"{where}: argument '{name}' expected integer class indices, got dtype {values.dtype}")
        kept = values if name == "predictions" or ignore_index is None else values[values != ignore_index]
        if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= num_classes):
            raise ValueError(f"{where}: argument '{name}' expected class indices in [0, {num_classes}), "
                             f"got values in [{int(kept.min())}, {int(kept.max())}]")
    return _counts(predictions, targets, num_classes, ignore_index)


def _check_confusion(confusion: Tensor, where: str) -> Tensor:
    check_tensor("confusion", confusion, dims=2, where=where)
    if confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"{where}: argument 'confusion' expected a square (K, K) matrix, "
                         f"got shape {tuple(confusion.shape)}")
    return confusion.double()


def intersection_over_union(confusion: Tensor) -> Tensor:
    """``IoU (K,) float64`` per class from ``confusion (K, K)``; NaN for a class absent from both
    truth and prediction (see the module docstring)."""
    m = _check_confusion(confusion, "intersection_over_union")
    intersection = m.diagonal()
    union = m.sum(0) + m.sum(1) - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.full_like(union, float("nan")))


def mean_iou(confusion: Tensor) -> float:
    """Mean of the per-class IoU over the classes present in truth or prediction (NaN if none)."""
    iou = intersection_over_union(confusion)
    present = ~iou.isnan()
    return float(iou[present].mean()) if bool(present.any()) else float("nan")


def pixel_accuracy(confusion: Tensor) -> float:
    """Share of counted pixels whose predicted class is the true one: trace(M) / ΣM (NaN if empty)."""
    m = _check_confusion(confusion, "pixel_accuracy")
    total = float(m.sum())
    return float(m.trace()) / total if total else float("nan")


class MeanIoU(Metric):
    """Mean IoU over a whole epoch (one confusion matrix summed over batches, not a mean of batch
    scores), for ``fit(metrics={"mean_iou": MeanIoU(11)})``.

    ``outputs: (N, K, *)`` scores with classes on ``class_dim``; ``targets: (N, *)`` class indices.
    The matrix stays on the device; under DDP it is summed over ranks before the score.
    :attr:`confusion` holds the running ``(K, K)`` counts.
    """

    def __init__(self, num_classes: int, *, class_dim: int = 1, ignore_index: int | None = None) -> None:
        super().__init__()
        self.num_classes = _check_count("num_classes", num_classes, "MeanIoU")
        self.class_dim, self.ignore_index = class_dim, ignore_index
        self.confusion: Tensor = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, outputs: Tensor, targets: Tensor) -> None:
        check_tensor("outputs", outputs, dims=targets.dim() + 1, where="MeanIoU")
        if outputs.shape[self.class_dim] != self.num_classes:
            raise ValueError(f"MeanIoU: argument 'outputs' expected {self.num_classes} class scores on dim "
                             f"{self.class_dim}, got shape {tuple(outputs.shape)}")
        counts = _counts(outputs.argmax(self.class_dim), targets, self.num_classes, self.ignore_index)
        self.confusion = self.confusion.to(counts.device) + counts

    def reset(self) -> None:
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)

    def compute(self, *, synchronize: bool = True) -> float:
        confusion = self.confusion.double()
        if synchronize and is_distributed():
            confusion = all_reduce_sum(confusion.to(collective_device()))
        return mean_iou(confusion)

    def state_dict(self) -> dict[str, Tensor]:
        return {"confusion": self.confusion.cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.confusion = state["confusion"].clone()
