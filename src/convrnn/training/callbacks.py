"""Callbacks: code ``fit`` calls at fixed points of a run, plus early stopping and checkpointing.

Hooks, in the order a run meets them::

    on_fit_start → (on_epoch_start → on_batch_end… [on_log every log_every steps]
                    → on_epoch_end)… → on_fit_end;   close() always, even after an error

Callbacks run sorted by ``order`` (stable), so :class:`Checkpoint` (order 100) saves after
every other callback has updated its state. Loggers live in ``convrnn.training.loggers``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from convrnn.functional._checks import check_choice
from convrnn.training import distributed
from convrnn.training.fit_state import FitState

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "TimeLimit"]


class Callback:
    """Base class; override the hooks you need. ``on_batch_end`` runs every step, so it must
    not call ``.item()`` or otherwise wait for the device: use ``on_log`` for numbers."""

    order: int = 0

    def on_fit_start(self, state: FitState) -> None:
        """Once, after a resumed run has restored its state."""

    def on_epoch_start(self, state: FitState) -> None:
        """Before the first batch of an epoch (``state.step_in_epoch`` > 0 when resuming)."""

    def on_batch_end(self, state: FitState) -> None:
        """After ``optimizer.step()`` (and a per-step scheduler step)."""

    def on_log(self, state: FitState, logs: dict[str, float]) -> None:
        """Every ``log_every`` steps: running epoch means (``loss``, metrics), ``lr`` and
        ``samples_per_s`` since the last log; under DDP summed over ranks (every rank's data)."""

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        """After validation; ``record`` is the epoch's history entry, averaged over ranks."""

    def on_fit_end(self, state: FitState) -> None:
        """After the last epoch (or early stop), not after an error."""

    def close(self) -> None:
        """Release files and terminals; called whether the run ended normally or not."""

    def state_dict(self) -> dict[str, Any]:
        """JSON values and tensors a resumed run needs to continue this callback exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _monitored(record: dict[str, float], monitor: str, where: str) -> float:
    if monitor not in record:
        raise ValueError(
            f"{where}: argument 'monitor' expected one of the epoch's keys {sorted(record)}, "
            f"got {monitor!r} (validation keys need a val loader)"
        )
    return record[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs in a row. ``mode="min"`` for losses, ``"max"`` for accuracies."""

    def __init__(self, monitor: str = "val_loss", *, mode: str = "min", patience: int = 5,
                 min_delta: float = 0.0) -> None:
        self.mode = check_choice("mode", mode, ("min", "max"), where="EarlyStopping")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: argument 'patience' expected an int ≥ 1, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.best: float | None = None
        self.epochs_without_improvement = 0

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        value = _monitored(record, self.monitor, "EarlyStopping")
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.epochs_without_improvement = value, 0
        else:
            self.epochs_without_improvement += 1
            if self.epochs_without_improvement >= self.patience:
                state.stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "epochs_without_improvement": self.epochs_without_improvement}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.epochs_without_improvement = state["epochs_without_improvement"]


class TimeLimit(Callback):
    """Stop after the epoch at whose end another epoch of the same length would overrun
    ``minutes`` of training. Under DDP every rank stops when one of them would overrun (their
    clocks differ a little; a rank that stopped alone would leave the others waiting)."""

    def __init__(self, minutes: float) -> None:
        self.seconds, self.started, self.last_end = minutes * 60, time.perf_counter(), None

    def on_fit_start(self, state: FitState) -> None:
        self.started = self.last_end = time.perf_counter()

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        now = time.perf_counter()
        overrun = now + (now - self.last_end) > self.started + self.seconds
        if distributed.is_distributed():
            votes = torch.tensor([int(overrun)], device=distributed.collective_device())
            overrun = bool(distributed.all_reduce_sum(votes).item())
        if overrun:
            state.stop = True
        self.last_end = now


class Checkpoint(Callback):
    """Save resumable checkpoints under ``directory``: ``last/`` every ``every_steps`` optimizer
    steps and every ``every_epochs`` epochs, ``best/`` whenever ``monitor`` improves.

    Resume with ``fit(..., resume=directory / "last")``. Only rank 0 writes; each save replaces
    the previous one atomically, so ``last/`` is always a complete checkpoint. No save happens once a
    training loss was NaN or ±inf (``fit`` stops with ``NonFiniteLossError`` naming ``last_saved``, the
    ``(directory, step)`` of the last save of ``last/``, or of the checkpoint resumed from).
    """

    order = 100

    def __init__(self, directory: str | os.PathLike[str], *, every_steps: int | None = None,
                 every_epochs: int | None = 1, monitor: str | None = "val_loss",
                 mode: str = "min") -> None:
        for name, value in (("every_steps", every_steps), ("every_epochs", every_epochs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"Checkpoint: argument '{name}' expected None or an int ≥ 1, "
                                 f"got {value!r}")
        self.directory = Path(directory)
        self.every_steps, self.every_epochs = every_steps, every_epochs
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("min", "max"), where="Checkpoint")
        self.best: float | None = None
        self.last_saved: tuple[Path, int] | None = None

    def on_fit_start(self, state: FitState) -> None:
        resumed = state.global_step > 0 and (self.last / "manifest.json").is_file()
        self.last_saved = (self.last, state.global_step) if resumed else None

    @property
    def last(self) -> Path:
        return self.directory / "last"

    @property
    def best_path(self) -> Path:
        return self.directory / "best"

    def on_batch_end(self, state: FitState) -> None:
        if self.every_steps is not None and state.global_step % self.every_steps == 0:
            self._save(state, self.last)

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        if self.monitor is not None:
            value = _monitored(record, self.monitor, "Checkpoint")
            if _improved(value, self.best, self.mode, 0.0):
                self.best = value  # before saving, so the saved state knows its own score
                self._save(state, self.best_path)
        if self.every_epochs is not None and (state.epoch + 1) % self.every_epochs == 0:
            self._save(state, self.last)

    def _save(self, state: FitState, path: Path) -> None:
        # every rank gets here at the same step: the epoch's sums are added over ranks first
        state.check_finite()
        sums = state.running_sums()
        if state.is_main_process:
            state.save_checkpoint(path, running_sums=sums)
        if path == self.last:
            self.last_saved = (path, state.global_step)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
