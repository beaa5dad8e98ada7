"""Training curves from a run's ``log.csv`` (one row per epoch, written by ``CSVLogger``):
losses, every other metric (train beside validation), and the learning rate."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from convrnn.inspect._plot import figure_png, require_matplotlib

SKIPPED = ("epoch", "train_seconds", "samples_per_s")


def read_log(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The columns of a CSV log as float arrays (E,), E epochs; empty cells become NaN.
    ``path`` is the file or a run directory holding ``log.csv``."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.csv"
    if not path.is_file():
        raise FileNotFoundError(f"read_log: no training log at '{path}'")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"read_log: '{path}' holds a header but no epochs")

    def number(text: str | None) -> float:
        try:
            return float(text) if text not in (None, "") else math.nan
        except ValueError:
            return math.nan

    return {name: np.array([number(row.get(name)) for row in rows]) for name in rows[0]}


def curve_groups(log: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Columns grouped by quantity: ``{"loss": ["train_loss", "val_loss"], "accuracy": […], "lr": ["lr"]}``."""
    groups: dict[str, list[str]] = {}
    for name in log:
        if name in SKIPPED or np.isnan(log[name]).all():
            continue
        quantity = name.split("_", 1)[1] if name.startswith(("train_", "val_")) else name
        groups.setdefault(quantity, []).append(name)
    return groups


def plot_curves(log: dict[str, np.ndarray]) -> bytes:
    """PNG: one panel per quantity of :func:`curve_groups` against the epoch (loss on a log scale)."""
    plt = require_matplotlib()
    groups = curve_groups(log)
    if not groups:
        raise ValueError("plot_curves: argument 'log' expected at least one numeric column besides the epoch")
    epochs = log.get("epoch", np.arange(1, len(next(iter(log.values()))) + 1))
    figure, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3), squeeze=False)
    for panel, (quantity, names) in zip(axes[0], groups.items(), strict=True):
        for name in names:
            panel.plot(epochs, log[name], marker="o", markersize=3, label=name)
        if quantity == "loss" and np.nanmin([np.nanmin(log[n]) for n in names]) > 0:
            panel.set_yscale("log")
        panel.set_title(quantity)
        panel.set_xlabel("epoch")
        panel.grid(True, alpha=0.3)
        if len(names) > 1:
            panel.legend()
    return figure_png(figure)


__all__ = ["curve_groups", "plot_curves", "read_log"]
