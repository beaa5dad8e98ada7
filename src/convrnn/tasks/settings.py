"""The training settings of one run: a recipe's defaults after the command line's overrides
(``convrnn train RECIPE --epochs --batch-size --lr --limit --device …``), checked once for every task kind."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from convrnn.training.devices import resolve_device


@dataclass(frozen=True)
class Settings:
    """The training settings of one run after the command line's overrides.

    ``batch_size`` is the global batch: under torchrun each of the ``world_size`` processes takes
    ``per_rank_batch = batch_size / world_size`` of it, over the process-group ``backend``
    (``"gloo"`` or ``"nccl"``; None for one plain process). ``device`` is this process's."""

    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    device: str = "cpu"
    resume: bool = False
    progress: bool = True
    limit: int | None = None
    world_size: int = 1
    backend: str | None = None

    @property
    def per_rank_batch(self) -> int:
        """The share of the global batch each process trains on."""
        return self.batch_size // self.world_size

    def launch(self) -> dict[str, Any]:
        """How the run was launched, as a run directory records it: ``world_size``, ``per_rank_batch``
        and ``backend``."""
        return {"world_size": self.world_size, "per_rank_batch": self.per_rank_batch, "backend": self.backend}


def resolve_settings(defaults: Any, epochs: int | None, batch_size: int | None, lr: float | None, *,
                     seed: int = 0, device: str = "cpu", resume: bool = False, progress: bool = True,
                     limit: int | None = None, min_limit: int = 1, limit_unit: str = "") -> Settings:
    """``defaults.epochs``/``batch_size``/``lr`` where the argument is None; every value checked, errors
    naming the argument (``limit``: None, or an int ≥ ``min_limit`` counted in ``limit_unit``;
    ``device``: see :func:`resolve_device`)."""
    epochs = defaults.epochs if epochs is None else epochs
    batch_size = defaults.batch_size if batch_size is None else batch_size
    lr = defaults.lr if lr is None else lr
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train: argument '{name}' expected an int ≥ 1, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < math.inf:
        raise ValueError(f"train: argument 'lr' expected a positive finite number, got {lr!r}")
    check_limit(limit, min_limit=min_limit, unit=limit_unit)
    return Settings(epochs, batch_size, float(lr), seed, resolve_device(device), resume, progress, limit)


def check_limit(limit: Any, *, min_limit: int = 1, unit: str = "") -> None:
    """``limit`` is None (no limit) or an int ≥ ``min_limit`` (counted in ``unit``)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < min_limit):
        shown = f" {unit}" if unit else ""
        raise ValueError(f"train: argument 'limit' expected an int ≥ {min_limit}{shown}, got {limit!r} "
                         "(None: no limit)")


__all__ = ["Settings", "check_limit", "resolve_device", "resolve_settings"]
