"""Rare-event detection over table rows (``credit-card-fraud``): an MLP scores each row, trained
with a class-weighted logistic loss, and judged by how well its scores rank the rare positives.

A row's inputs are ``features(table)`` standardised with the training split's mean and standard
deviation. The loss is the weighted binary cross-entropy

    L = −mean_i [ w · y_i · log σ(z_i) + (1 − y_i) · log(1 − σ(z_i)) ],

with w the recipe's ``positive_weight`` (default: #negatives / #positives in the training split), so
both classes weigh alike. Its minimiser has odds w times the true odds, so ``predict`` reports
σ(z − log w), the weighting undone (a calibrated probability where the model fits; the ranking, and
so every score below, is the same either way). The epoch with the lowest validation loss is kept.

Scores (:mod:`convrnn.training.ranking`): average precision (area under the precision–recall curve,
the measure that stays informative when positives are 0.2 % of rows), ROC AUC, and recall at the
recipe's ``precision`` (how many positives are caught when that share of the flagged rows must be
positives).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from convrnn.models.mlp import MLP
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run
from convrnn.training.ranking import average_precision, recall_at_precision, roc_auc

RowSplits = dict[str, tuple[np.ndarray, np.ndarray]]


class WeightedLogisticLoss(nn.Module):
    """``loss(logits: (N, 1) or (N,), targets: (N,) in {0, 1})``: the binary cross-entropy with
    positives weighted by ``positive_weight`` (the formula in the module docstring)."""

    def __init__(self, positive_weight: float) -> None:
        super().__init__()
        if not positive_weight > 0:
            raise ValueError(f"WeightedLogisticLoss: argument 'positive_weight' expected > 0, got {positive_weight}")
        self.register_buffer("positive_weight", torch.tensor(float(positive_weight)))

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits.reshape(-1), targets.reshape(-1).to(logits.dtype),
                                                  pos_weight=self.positive_weight)


def ranking_scores(scores: np.ndarray | Tensor, labels: np.ndarray | Tensor, precision: float) -> dict[str, float]:
    """``{"average_precision", "roc_auc", "recall_at_precision", "positives", "rows"}`` of ``scores: (N,)``
    against ``labels: (N,)``."""
    labels = np.asarray(labels)
    return {"average_precision": average_precision(scores, labels), "roc_auc": roc_auc(scores, labels),
            "recall_at_precision": recall_at_precision(scores, labels, precision),
            "positives": int(labels.sum()), "rows": len(labels)}


@dataclass(frozen=True)
class RareEventRecipe(Task):
    """Score table rows for a rare positive class with an :class:`~convrnn.models.mlp.MLP`.

    ``load()`` returns ``{"train", "validation", "test"}`` each ``(table (N_s, C), labels (N_s,))``;
    ``features(table) → (N, F)`` turns a table into the model's inputs; ``read(path) → table (N, C)``
    reads the rows ``predict`` scores; ``columns`` names the C columns a predict file must have.
    """

    name: str
    description: str
    load: Callable[[], RowSplits]
    features: Callable[[np.ndarray], np.ndarray]
    read: Callable[[str], np.ndarray]
    columns: tuple[str, ...]
    hidden_sizes: tuple[int, ...] = (64, 64)
    dropout: float = 0.1
    positive_weight: float | None = None
    precision: float = 0.9
    epochs: int = 20
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 1e-4
    target: str = ""

    kind = "rare-event"
    capabilities = frozenset({"export"})
    optimizer = "adamw"
    scheduler = "onecycle"
    momentum = 0.0

    def _inputs(self, table: np.ndarray, normalize: dict[str, Sequence[float]]) -> Tensor:
        x = torch.as_tensor(self.features(table), dtype=torch.float64)
        mean, std = torch.tensor(normalize["mean"], dtype=torch.float64), torch.tensor(normalize["std"],
                                                                                       dtype=torch.float64)
        return ((x - mean) / std).float()

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out`` and return the test scores."""
        settings = run.settings
        data = self.load()
        table, labels = data["train"]
        if settings.limit is not None:
            table, labels = table[:settings.limit], labels[:settings.limit]
        positives = int(np.sum(labels))
        if positives == 0 or positives == len(labels):
            raise ValueError(f"train: the {self.name} training rows need both classes; got {positives} positives "
                             f"in {len(labels)} rows")
        weight = self.positive_weight or (len(labels) - positives) / positives
        x = self.features(table)
        normalize = {"mean": x.mean(0).tolist(), "std": (x.std(0) + 1e-8).tolist()}

        def dataset(split_table: np.ndarray, split_labels: np.ndarray) -> TensorDataset:
            return TensorDataset(self._inputs(split_table, normalize), torch.as_tensor(split_labels))

        options = {"input_size": int(x.shape[1]), "hidden_sizes": list(self.hidden_sizes), "outputs": 1,
                   "dropout": self.dropout}
        model = MLP(**options)
        config = {"recipe": self.name, "model": "mlp", "model_options": options, "normalize": normalize,
                  "positive_weight": weight, "columns": list(self.columns)}
        fit_model(self, run, model, dataset(table, labels), dataset(*data["validation"]),
                  loss=WeightedLogisticLoss(weight), metrics={}, monitor="val_loss", mode="min", config=config)
        test = self._scores(model, config, *data["test"], device=settings.device)
        return run.finish({f"test_{key}": value for key, value in test.items()},
                          {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                           "seed": settings.seed, "limit": settings.limit, "positive_weight": weight})

    def _logits(self, model: nn.Module, config: dict[str, Any], table: np.ndarray, device: str = "cpu") -> Tensor:
        x = self._inputs(table, config["normalize"])
        if isinstance(model, nn.Module):   # not an exported model (predict takes .onnx/.pt2 files too)
            model.to(device).eval()   # dropout off: fit leaves the model in training mode
        with torch.no_grad():
            return torch.cat([model(chunk.to(device)).reshape(-1).cpu() for chunk in x.split(8192)])

    def _scores(self, model: nn.Module, config: dict[str, Any], table: np.ndarray, labels: np.ndarray,
                device: str = "cpu") -> dict[str, float]:
        logits = self._logits(model, config, table, device)
        loss = WeightedLogisticLoss(config["positive_weight"])(logits, torch.as_tensor(labels)).item()
        return {**ranking_scores(logits, labels, self.precision), "loss": loss}

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The (untrained) MLP a saved config describes."""
        if config.get("model") != "mlp":
            raise ValueError(f"a saved config expected 'model' 'mlp', got {config.get('model')!r}")
        return MLP(**config["model_options"])

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Average precision, ROC AUC, recall at the recipe's precision and the weighted loss on ``split``."""
        data = self.load()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        model, config = self.load_model(run)
        return self._scores(model, config, *data[split], device=device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per row of each file (``read``: a CSV with the recipe's ``columns``): its
        probability of the positive class, σ(z − log w) (``top`` is not used)."""
        model, config = self.load_model(run)
        lines = []
        for path in inputs:
            table = self.read(path)
            logits = self._logits(model, config, table) - math.log(config["positive_weight"])
            lines += [f"{path}:{row + 1}: fraud probability {p:.4f}"
                      for row, p in enumerate(torch.sigmoid(logits).tolist())]
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Standardised features ``(N, F)`` in, the weighted-loss logit ``(N, 1)`` out; N dynamic."""
        features = len(config["normalize"]["mean"])
        return ExportSignature((torch.zeros(2, features),), {"features": ["N", None]}, ["features"], ["logits"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model and an input shape ``(F,)`` for ``convrnn summary``."""
        features = int(self.features(np.zeros((1, len(self.columns)))).shape[1])
        return MLP(features, self.hidden_sizes, 1, self.dropout), (features,)


__all__ = ["RareEventRecipe", "WeightedLogisticLoss", "ranking_scores"]
