"""Metrics that accumulate on the device, so a training step never waits for the host.

A metric is a ratio Σ numerator / Σ denominator over the batches of an epoch (accuracy =
Σ correct / Σ counted, mean = Σ w·x / Σ w). Sums stay tensors until :meth:`Metric.compute`,
which the loop calls once per log interval; under DDP the two sums are added over ranks first,
so every rank reports the same number, exactly as if one process had seen every batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from convrnn.functional._checks import check_tensor
from convrnn.training.distributed import all_reduce_sum, collective_device, is_distributed

__all__ = ["Accuracy", "Mean", "MeanAbsoluteError", "Metric", "edit_distance"]


class Metric:
    """Base class: subclasses define :meth:`batch` returning ``(numerator, denominator)``."""

    def __init__(self) -> None:
        # int zeros keep integer sums (correct predictions) in int64, exact however long the epoch
        self.numerator: Tensor | float = 0
        self.denominator: Tensor | float = 0

    def batch(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor | float, Tensor | float]:
        """This batch's contribution; tensors stay on the device (no ``.item()``)."""
        raise NotImplementedError

    def update(self, outputs: Tensor, targets: Tensor | float) -> None:
        """Add one batch. ``outputs`` must be detached (the loop detaches them)."""
        numerator, denominator = self.batch(outputs, targets)
        self.numerator = self.numerator + numerator
        self.denominator = self.denominator + denominator

    def reset(self) -> None:
        self.numerator, self.denominator = 0, 0

    def totals(self, device: torch.device | str = "cpu") -> Tensor:
        """``[Σ numerator, Σ denominator]`` as one float64 tensor (one transfer, one all-reduce)."""
        parts = [torch.as_tensor(v, dtype=torch.float64, device=device).reshape(())
                 for v in (self.numerator, self.denominator)]
        return torch.stack(parts)

    def compute(self, *, synchronize: bool = True) -> float:
        """Σ numerator / Σ denominator (NaN if empty). With ``synchronize`` the sums are added
        over ranks first, which every rank must then call together; without, this rank's own."""
        if synchronize and is_distributed():
            totals = all_reduce_sum(self.totals(collective_device()))
        else:
            totals = self.totals(_device_of(self.numerator))
        numerator, denominator = totals.tolist()
        return numerator / denominator if denominator else float("nan")

    def state_dict(self) -> dict[str, Tensor | float]:
        return {"numerator": self.numerator, "denominator": self.denominator}

    def load_state_dict(self, state: dict[str, Tensor | float]) -> None:
        self.numerator, self.denominator = state["numerator"], state["denominator"]


def _device_of(value: Tensor | float) -> torch.device:
    return value.device if isinstance(value, Tensor) else torch.device("cpu")


class Accuracy(Metric):
    """Share of targets whose class is among the ``top_k`` highest scores.

    ``outputs: (N, C, *)`` scores or logits with classes on ``class_dim`` (1, as
    ``cross_entropy`` expects, or ``-1`` for ``(N, T, C)`` sequence outputs);
    ``targets: (N, *)`` class indices. Targets equal to ``ignore_index`` (padding) are not counted.
    """

    def __init__(self, top_k: int = 1, *, class_dim: int = 1, ignore_index: int | None = None):
        super().__init__()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"Accuracy: argument 'top_k' expected an int ≥ 1, got {top_k!r}")
        self.top_k, self.class_dim, self.ignore_index = top_k, class_dim, ignore_index

    def batch(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor | float]:
        check_tensor("outputs", outputs, dims=targets.dim() + 1, where="Accuracy")
        dim = self.class_dim % outputs.dim()
        if self.top_k == 1:
            correct = outputs.argmax(dim) == targets
        else:
            best = outputs.topk(self.top_k, dim=dim).indices
            correct = (best == targets.unsqueeze(dim)).any(dim)
        if self.ignore_index is None:
            return correct.sum(), float(targets.numel())
        counted = targets != self.ignore_index
        return (correct & counted).sum(), counted.sum()


class Mean(Metric):
    """Weighted mean Σ wᵢ·xᵢ / Σ wᵢ of scalars, e.g. batch-mean losses weighted by batch size.

    Used as ``update(value, weight)``: ``value`` a 0-d tensor, ``weight`` a number or 0-d tensor.
    """

    def batch(self, value: Tensor, weight: Tensor | float = 1.0) -> tuple[Tensor, Tensor | float]:
        return value.detach() * weight, weight


class MeanAbsoluteError(Metric):
    """Mean of |ŷ − y| over every element; ``outputs`` and ``targets`` share a shape ``(N, *)``."""

    def batch(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, float]:
        if outputs.shape != targets.shape:
            raise ValueError(
                f"MeanAbsoluteError: 'outputs' and 'targets' expected the same shape, got "
                f"{tuple(outputs.shape)} and {tuple(targets.shape)}"
            )
        return (outputs - targets).abs().sum(), float(targets.numel())


def edit_distance(hypothesis: Sequence[Any], reference: Sequence[Any]) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions turning
    ``hypothesis`` into ``reference`` (dynamic programming over one row); the numerator of
    character, phoneme and word error rates."""
    previous = list(range(len(reference) + 1))
    for i, h in enumerate(hypothesis, start=1):
        current = [i]
        for j, r in enumerate(reference, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (h != r)))
        previous = current
    return previous[-1]
