"""Sequence classification, many → one over feature sequences (``japanese-vowels``): a recurrent
classifier over variable-length multichannel series, standardised with the training statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from convrnn.data.image_files import read_npy
from convrnn.models.sequence_classifier import RecurrentClassifier
from convrnn.tasks.image import classification_scores
from convrnn.tasks.protocol import ExportSignature
from convrnn.tasks.runs import Run
from convrnn.tasks.sequence import SequenceTask, load_sequence_model, ranked, sequence_loader
from convrnn.training.metrics import Accuracy

FeatureSplits = dict[str, tuple[list[np.ndarray], np.ndarray]]


def hold_out_per_class(labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): the last ``per_class`` examples of every class are held out."""
    labels = np.asarray(labels)
    held = np.concatenate([np.flatnonzero(labels == k)[-per_class:] for k in np.unique(labels)]) \
        if per_class > 0 else np.array([], dtype=int)
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return kept, np.sort(held)


@dataclass(frozen=True)
class FeatureSequenceRecipe(SequenceTask):
    """Classify variable-length multichannel sequences ``(T_i, F)`` with a recurrent classifier.

    ``load()`` returns ``{"train": (series, labels), "test": (series, labels)}`` (a
    ``"validation"`` entry is optional; without one ``validation_per_class`` training examples
    of each class are held out). Channels are standardised with the training set's statistics
    over its real steps.
    """

    name: str
    description: str
    load: Callable[[], FeatureSplits]
    classes: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 60
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    validation_per_class: int = 3
    target: str = ""

    kind = "sequence-classification"
    capabilities = frozenset({"export"})

    def _splits(self) -> tuple[FeatureSplits, np.ndarray, np.ndarray]:
        data = dict(self.load())
        if "validation" not in data:
            series, labels = data["train"]
            kept, held = hold_out_per_class(labels, self.validation_per_class)
            data["train"] = ([series[i] for i in kept], labels[kept])
            data["validation"] = ([series[i] for i in held], labels[held])
        steps = np.concatenate(data["train"][0])
        return data, steps.mean(0), steps.std(0) + 1e-8

    def _loader(self, series: list[np.ndarray], labels: np.ndarray, mean: Sequence[float], std: Sequence[float],
                batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader[Any]:
        mean_t, std_t = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        examples = [((torch.as_tensor(s, dtype=torch.float32) - mean_t) / std_t, int(y))
                    for s, y in zip(series, labels, strict=True)]
        return sequence_loader(examples, batch_size, shuffle=shuffle, seed=seed)

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out`` and return the test scores."""
        settings = run.settings
        data, mean, std = self._splits()
        series, labels = data["train"]
        if settings.limit is not None:
            series, labels = series[:settings.limit], labels[:settings.limit]
        train = self._loader(series, labels, mean, std, settings.batch_size, shuffle=True, seed=settings.seed)
        val = self._loader(*data["validation"], mean, std, 256, shuffle=False)
        options = {"num_classes": len(self.classes), "input_size": int(series[0].shape[1]), **self.model_options}
        model = RecurrentClassifier(**options)
        config = {"recipe": self.name, "model": "recurrent-classifier", "model_options": options,
                  "classes": list(self.classes), "normalize": {"mean": mean.tolist(), "std": std.tolist()}}
        self.fit_sequence_model(run, model, train, val, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()},
                                monitor="val_loss", mode="min", config=config)
        test = classification_scores(model, self._loader(*data["test"], mean, std, 256, shuffle=False),
                                     device=settings.device)
        return self.finish(run, {"test_accuracy": test["accuracy"], "test_loss": test["loss"]})

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Accuracy and loss of the trained model on ``split``."""
        model, config = load_sequence_model(run)
        data, _, _ = self._splits()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        stats = config["normalize"]
        return classification_scores(model, self._loader(*data[split], stats["mean"], stats["std"], 256,
                                                          shuffle=False), device=device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per file (``.npy``, or text with one row of F numbers per step): the ``top``
        most probable classes."""
        model, config = load_sequence_model(run)
        stats = config["normalize"]
        lines = []
        for path in inputs:
            series = read_sequence_file(path, features=len(stats["mean"]))
            mean, std = torch.tensor(stats["mean"]), torch.tensor(stats["std"])
            x = (torch.as_tensor(series, dtype=torch.float32) - mean) / std
            with torch.no_grad():
                probabilities = torch.softmax(model(x.unsqueeze(0).float()), dim=-1)[0]
            lines.append(f"{path}: {ranked(probabilities, config['classes'], top)}")
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Standardised series ``(N, T, F)`` in, class logits out; N and T dynamic."""
        series = torch.zeros(2, 9, len(config["normalize"]["mean"]))
        return ExportSignature((series,), {"series": ["N", "T", None]}, ["series"], ["logits"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model and an input shape ``(T, F)`` for ``convrnn summary``."""
        features = int(self.model_options.get("input_size", 12))
        return RecurrentClassifier(len(self.classes), **{"input_size": features, **self.model_options}), (29, features)


def read_sequence_file(path: str, *, features: int) -> np.ndarray:
    """A sequence ``(T, F)`` from a ``.npy`` file or a text file of T rows of F numbers
    (separated by spaces or commas)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"predict: no such file: '{path}'")
    if file.suffix == ".npy":
        series = read_npy(file)
    else:
        try:
            series = np.loadtxt(file, delimiter="," if "," in file.read_text() else None, ndmin=2)
        except ValueError as error:
            raise ValueError(f"predict: '{path}' is not a table of numbers: {error}") from None
    if series.ndim != 2 or series.shape[1] != features or series.shape[0] < 1:
        raise ValueError(f"predict: '{path}' expected a sequence of shape (T, {features}), got {series.shape}")
    return series


__all__ = ["FeatureSequenceRecipe", "hold_out_per_class", "read_sequence_file"]
