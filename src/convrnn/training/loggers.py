"""Callbacks that report a run: a progress bar, a CSV file, TensorBoard. Only rank 0 reports."""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from convrnn.data.cache import write_bytes_atomic
from convrnn.training.callbacks import Callback
from convrnn.training.fit_state import FitState

__all__ = ["CSVLogger", "ProgressBar", "TensorBoardLogger", "format_record"]


def format_record(record: dict[str, float]) -> str:
    """``"train_loss 0.1234  val_accuracy 0.9876  samples_per_s 3812"`` for a one-line summary."""
    parts = []
    for key, value in record.items():
        if key == "epoch":
            continue
        if key.endswith("_per_s") or key.endswith("seconds"):
            parts.append(f"{key} {value:.1f}")
        else:
            parts.append(f"{key} {value:.4g}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss, metrics and samples/s.

    On a terminal (``live=None`` checks ``file.isatty()``) the bar redraws in place; elsewhere
    (CI logs, redirected output) it prints one summary line per epoch instead.
    """

    def __init__(self, *, live: bool | None = None, file: TextIO | None = None) -> None:
        self.file = file
        self.live = live
        self.bar: Any = None

    def _stream(self) -> TextIO:
        return self.file if self.file is not None else sys.stderr

    def on_epoch_start(self, state: FitState) -> None:
        if not state.is_main_process:
            return
        live = self.live if self.live is not None else self._stream().isatty()
        if live:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.steps_per_epoch, initial=state.step_in_epoch,
                            desc=f"epoch {state.epoch + 1}/{state.epochs}", unit="batch",
                            file=self._stream(), dynamic_ncols=True, leave=True)

    def on_batch_end(self, state: FitState) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, state: FitState, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_short(logs), refresh=False)

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        if not state.is_main_process:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(_short(record), refresh=True)
            self.close()
        else:
            line = f"epoch {state.epoch + 1}/{state.epochs}  {format_record(record)}"
            print(line, file=self._stream(), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _short(logs: dict[str, float]) -> str:
    parts = []
    for key, value in logs.items():
        if key in ("epoch", "lr", "epoch_seconds") or math.isnan(value):
            continue
        if key.endswith("_per_s"):
            parts.append(f"{value:,.0f} samples/s")
        else:
            parts.append(f"{key}={value:.4f}")
    return ", ".join(parts)


class CSVLogger(Callback):
    """One row per epoch (the history's records) in ``path``, rewritten atomically each epoch
    from the history itself — so a resumed run's file never holds the rows of epochs it redid."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        if not state.is_main_process:
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=state.history.keys(), restval="",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(state.history.records)
        write_bytes_atomic(self.path, buffer.getvalue().encode())


def _summary_writer_class() -> type:
    try:
        import torch.utils.tensorboard  # noqa: F401 — fails without the tensorboard package
    except ImportError as error:
        raise ImportError(
            "TensorBoardLogger needs the 'tensorboard' package, which is not installed: "
            "run `pip install tensorboard`"
        ) from error
    from convrnn.training.event_file import EventFileWriter

    return EventFileWriter


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard under ``log_dir``: ``train/<name>`` every log interval and
    ``epoch/<name>`` (``epoch/epoch`` the epoch's number) at the end of each epoch, all against the
    optimizer step (one x axis, so that a resumed run's purge is exact). Needs ``pip install tensorboard``.

    Each run (and each resumed run) writes a new event file (:class:`convrnn.training.event_file.EventFileWriter`),
    in the training process itself: the events of each log interval are written when it ends, and made
    durable (fsync) at the end of each epoch. A resumed run first writes a purge mark at its first step, so that
    TensorBoard drops what a killed run logged after the checkpoint it resumes from. A failed write (a full
    disk) stops training with that ``OSError`` (the event file cut back to its last whole record, the
    checkpoints untouched): free space and resume. A killed run leaves at most one cut-off record at the end of
    its file, which TensorBoard's reader skips (its length and data carry CRCs).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.writer_class = _summary_writer_class()  # fail now, not after the first epoch
        self.log_dir = Path(log_dir)
        self.writer: Any = None

    def on_fit_start(self, state: FitState) -> None:
        if state.is_main_process:
            # the events at the checkpoint's own step are the resumed state's; later ones a killed run's
            purge = state.global_step + 1 if state.global_step > 0 else None
            self.writer = self.writer_class(log_dir=str(self.log_dir), purge_step=purge)

    def on_log(self, state: FitState, logs: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in logs.items():
                self.writer.add_scalar(f"train/{key}", value, state.global_step)
            self.writer.flush()

    def on_epoch_end(self, state: FitState, record: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in record.items():
                self.writer.add_scalar(f"epoch/{key}", value, state.global_step)
            self.writer.flush(fsync=True)

    def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
