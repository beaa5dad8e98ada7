"""Where a training run stands: the objects it trains, its position, its history, its running sums.

``fit`` owns one :class:`FitState` and hands it to every callback. It is also exactly what a
checkpoint must hold to resume: :meth:`FitState.save_checkpoint` writes it and
:meth:`FitState.restore` reads it back.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from convrnn.training import distributed
from convrnn.training.checkpoint import LoadedCheckpoint, save_checkpoint
from convrnn.training.finite import FiniteLoss, NonFiniteLossError
from convrnn.training.metrics import Mean, Metric

__all__ = ["FitState", "History", "Resumable"]


class Resumable(Protocol):
    """What a run's state needs of a callback (every :class:`convrnn.training.callbacks.Callback`
    is one): the JSON values and tensors that continue it exactly, and their inverse."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class History:
    """One record per finished epoch: ``history.records[e]`` is a dict of floats, and
    ``history["val_loss"]`` lists one key over the epochs (NaN where an epoch lacks it)."""

    def __init__(self, records: list[dict[str, float]] | None = None) -> None:
        self.records: list[dict[str, float]] = list(records or [])

    def __getitem__(self, key: str) -> list[float]:
        if not any(key in record for record in self.records):
            known = sorted({name for record in self.records for name in record})
            raise KeyError(f"history has no '{key}'; it records {known}")
        return [record.get(key, float("nan")) for record in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self.records)} epochs, keys={sorted(self.keys())})"

    def keys(self) -> list[str]:
        """Every key any record has, in first-seen order."""
        return list(dict.fromkeys(name for record in self.records for name in record))


@dataclass
class FitState:
    """The run's objects and position. Epochs and steps count from 0; ``global_step`` counts
    optimizer steps over the whole run; ``epoch_finished`` marks an epoch whose validation and
    callbacks are done. A callback sets ``stop = True`` to end the run after this epoch."""

    model: nn.Module
    optimizer: Optimizer
    scheduler: Any
    epochs: int
    steps_per_epoch: int | None
    callbacks: Sequence[Resumable]
    config: dict[str, Any]
    metadata: dict[str, Any]
    seed: int
    is_main_process: bool = True
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    epoch_finished: bool = False
    stop: bool = False
    history: History = field(default_factory=History)
    train_loss: Mean = field(default_factory=Mean)
    train_metrics: dict[str, Metric] = field(default_factory=dict)
    finite: FiniteLoss = field(default_factory=FiniteLoss)

    def check_finite(self) -> None:
        """Raise :class:`~convrnn.training.finite.NonFiniteLossError` if a training loss since fit
        started was NaN or ±inf, naming the step and the last checkpoint a callback saved before it
        (callbacks with a ``last_saved = (directory, step)`` attribute, as ``Checkpoint``). Under DDP a
        collective."""
        step = self.finite.first_bad_step()
        if step is None:
            return
        saved = [callback.last_saved for callback in self.callbacks if getattr(callback, "last_saved", None)]
        directory, saved_step = saved[-1] if saved else (None, None)
        raise NonFiniteLossError(step, directory, saved_step)

    def running_sums(self) -> dict[str, Any]:
        """The epoch's running loss and metric sums (their state dicts), summed over ranks under
        DDP — a collective every rank must call at the same step; this process's own otherwise."""
        return {"train_loss": summed_over_ranks(self.train_loss.state_dict()),
                "train_metrics": {name: summed_over_ranks(metric.state_dict())
                                  for name, metric in self.train_metrics.items()}}

    def save_checkpoint(self, directory: str | os.PathLike[str], *,
                        running_sums: dict[str, Any] | None = None) -> Path:
        """Write everything needed to resume from this exact point (see ``checkpoint``);
        ``running_sums`` (from :meth:`running_sums`, the whole run's under DDP) replace this
        process's own sums."""
        sums = running_sums if running_sums is not None else {
            "train_loss": self.train_loss.state_dict(),
            "train_metrics": {name: m.state_dict() for name, m in self.train_metrics.items()}}
        training = {
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "epoch_finished": self.epoch_finished,
            "stop": self.stop,
            "seed": self.seed,
            "history": self.history.records,
            "train_loss": sums["train_loss"],
            "train_metrics": sums["train_metrics"],
            "callbacks": {key: cb.state_dict() for key, cb in _keyed(self.callbacks).items()},
        }
        return save_checkpoint(directory, self.model, self.optimizer, self.scheduler,
                               config=self.config, metadata=self.metadata, training=training)

    def restore(self, loaded: LoadedCheckpoint) -> None:
        """Take the position, history, running sums and callback states of a checkpoint whose
        model, optimizer, scheduler and RNG states were already loaded. The saved sums are every
        rank's together, so under DDP rank 0 takes them and the other ranks start from zero: their
        sum over ranks is then the saved one, whatever the number of ranks."""
        training = loaded.training
        if training is None:
            raise ValueError(
                f"fit: argument 'resume' expected a checkpoint saved during training, but "
                f"'{loaded.directory}' holds no training state (is it a final model?)"
            )
        if training["seed"] != self.seed:
            raise ValueError(
                f"fit: argument 'seed' expected {training['seed']} (the resumed run's), "
                f"got {self.seed}; the batch order would differ"
            )
        for name in ("epoch", "step_in_epoch", "global_step", "epoch_finished", "stop"):
            setattr(self, name, training[name])
        self.history = History(training["history"])
        saved_metrics = training["train_metrics"]
        if set(saved_metrics) != set(self.train_metrics):
            raise ValueError(
                f"fit: argument 'metrics' expected the resumed run's {sorted(saved_metrics)}, "
                f"got {sorted(self.train_metrics)}"
            )
        if self.is_main_process:
            self.train_loss.load_state_dict(training["train_loss"])
            for name, metric in self.train_metrics.items():
                metric.load_state_dict(saved_metrics[name])
        else:
            self.train_loss.reset()
            for metric in self.train_metrics.values():
                metric.reset()
        saved = training["callbacks"]
        for key, callback in _keyed(self.callbacks).items():
            if key in saved:
                callback.load_state_dict(saved[key])
            elif callback.state_dict():
                warnings.warn(f"fit: the resumed checkpoint has no state for callback {key}",
                              stacklevel=3)


def summed_over_ranks(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (numbers and tensors) with every value summed over ranks under DDP (a
    collective); ``state`` itself otherwise. Numbers stay numbers, tensors keep dtype and device."""
    if not distributed.is_distributed():
        return state
    summed: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, Tensor):
            total = value.to(distributed.collective_device(), copy=True)  # the running sum itself stays local
            summed[key] = distributed.all_reduce_sum(total).to(value.device)
        else:
            total = torch.tensor(value, dtype=torch.int64 if isinstance(value, int) else torch.float64,
                                 device=distributed.collective_device())
            summed[key] = distributed.all_reduce_sum(total).item()
    return summed


def _keyed(callbacks: Sequence[Resumable]) -> dict[str, Resumable]:
    """Name callbacks by class and occurrence ("EarlyStopping", "EarlyStopping#2") so that
    adding or removing another kind of callback between runs does not mismatch states."""
    seen: Counter[str] = Counter()
    keyed = {}
    for callback in callbacks:
        name = type(callback).__name__
        seen[name] += 1
        keyed[name if seen[name] == 1 else f"{name}#{seen[name]}"] = callback
    return keyed
