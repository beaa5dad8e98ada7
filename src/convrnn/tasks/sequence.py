"""What the sequence task kinds share: many → one classification (feature sequences, texts), many →
many tagging, forecasting and seq2seq.

Each trains one or more models from the registry below with AdamW and a one-cycle rate, batches
variable-length examples by length (padded, with lengths), and rebuilds a saved model from its
config's ``model`` name. Every model here takes ``lengths`` and masks by them, so a padded batch
computes exactly what each sequence gives alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import LengthBucketSampler, SequenceCollate
from convrnn.models.forecaster import Forecaster
from convrnn.models.sequence_classifier import (
    BagOfWordsClassifier,
    ConvTextClassifier,
    EnsembleClassifier,
    RecurrentClassifier,
)
from convrnn.models.tagger import Tagger
from convrnn.tasks.fitting import bucket_epochs, fit_model
from convrnn.tasks.protocol import Task
from convrnn.tasks.runs import Run
from convrnn.training.fit_state import History

MODEL_CLASSES: dict[str, Callable[..., nn.Module]] = {
    "recurrent-classifier": RecurrentClassifier, "conv-text-classifier": ConvTextClassifier,
    "bag-of-words": BagOfWordsClassifier, "tagger": Tagger, "forecaster": Forecaster,
    "classifier-ensemble": EnsembleClassifier,
}


class SequenceTask(Task):
    """A task kind whose models are those of :data:`MODEL_CLASSES`, trained with AdamW (the recipe's
    ``weight_decay``) and a one-cycle learning rate, gradients clipped to norm 5."""

    optimizer = "adamw"
    scheduler = "onecycle"

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The (untrained) model a saved config names."""
        kind = config.get("model")
        if kind not in MODEL_CLASSES:
            raise ValueError(f"a saved config expected 'model' in {sorted(MODEL_CLASSES)}, got {kind!r}")
        return MODEL_CLASSES[kind](**config.get("model_options", {}))

    def fit_sequence_model(self, run: Run, model: nn.Module, train: DataLoader[Any], val: DataLoader[Any],
                           **options: Any) -> History:
        """:func:`convrnn.tasks.fitting.fit_model` as every sequence kind uses it: a missing checkpoint
        under ``--resume`` starts afresh (a recipe's later model may not have started yet), gradient
        norm clipped to 5, length buckets reshuffled each epoch."""
        options.setdefault("clip_grad_norm", 5.0)
        return fit_model(self, run, model, train, val, missing_ok=True, callbacks=bucket_epochs(train), **options)

    def finish(self, run: Run, scores: dict[str, Any]) -> dict[str, Any]:
        """``run.finish`` with the settings every sequence kind records."""
        settings = run.settings
        return run.finish(scores, {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                                   "seed": settings.seed, "limit": settings.limit})


def sequence_loader(examples: Sequence[tuple[Any, Any]], batch_size: int, *, shuffle: bool, seed: int = 0,
                    collate: Callable[..., Any] | None = None) -> DataLoader[Any]:
    """Batches of ``(sequence, target)`` examples of similar length, padded, with lengths."""
    lengths = [len(sequence) for sequence, _ in examples]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(list(examples), batch_sampler=sampler, collate_fn=collate or SequenceCollate())


def load_sequence_model(run: str | os.PathLike[str], name: str = "model") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild model ``name`` of a run directory (``"model"``, ``"cnn"``, ``"baseline"``) with
    its weights, in eval mode, and its config."""
    return SequenceTask.load_model(run, name)


def ranked(probabilities: Tensor, classes: Sequence[str], top: int) -> str:
    """``"class p%, …"`` for the ``top`` most probable classes, most probable first."""
    best = torch.topk(probabilities, min(top, probabilities.numel()))
    return ", ".join(f"{classes[i]} {p:.1%}" for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True))


class TokenInput(nn.Module):
    """Feeds a token model the integer ids that ``convrnn summary``'s all-zero float input stands
    for (id 0, padding): only so the summary can run a token model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.long())


__all__ = ["MODEL_CLASSES", "SequenceTask", "TokenInput", "load_sequence_model", "ranked", "sequence_loader"]
