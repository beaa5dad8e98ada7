"""The training settings of one run: a recipe's defaults after the command line's overrides, checked once
for every runner (``convrnn train RECIPE --epochs --batch-size --lr --limit …``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    """The training settings of one run after the command line's overrides."""

    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    device: str = "cpu"
    resume: bool = False
    progress: bool = True
    limit: int | None = None


def resolve_settings(defaults: Any, epochs: int | None, batch_size: int | None, lr: float | None, *,
                     seed: int = 0, device: str = "cpu", resume: bool = False, progress: bool = True,
                     limit: int | None = None, min_limit: int = 1, limit_unit: str = "") -> Settings:
    """``defaults.epochs``/``batch_size``/``lr`` where the argument is None; every value checked, errors
    naming the argument (``limit``: None, or an int ≥ ``min_limit`` counted in ``limit_unit``)."""
    epochs = defaults.epochs if epochs is None else epochs
    batch_size = defaults.batch_size if batch_size is None else batch_size
    lr = defaults.lr if lr is None else lr
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train: argument '{name}' expected an int ≥ 1, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"train: argument 'lr' expected a positive number, got {lr!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < min_limit):
        unit = f" {limit_unit}" if limit_unit else ""
        raise ValueError(f"train: argument 'limit' expected an int ≥ {min_limit}{unit}, got {limit!r} "
                         "(None: no limit)")
    return Settings(epochs, batch_size, float(lr), seed, device, resume, progress, limit)


__all__ = ["Settings", "resolve_settings"]
