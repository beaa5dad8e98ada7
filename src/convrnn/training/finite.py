"""Stopping a run whose training loss became NaN or ±inf, before anything trained on it is saved.

The loss is watched on the device, with no host sync per step: a flag ``ok = ok ∧ isfinite(Lₜ)`` and a
count ``good = Σₜ okₜ`` of the steps before the first bad one. ``fit`` reads them (one sync) only where it
syncs anyway: at each log, at the end of each epoch, and before each checkpoint is written — so the last
checkpoint on disk is always one from before the loss went bad, and :class:`NonFiniteLossError` names it.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from convrnn.training import distributed

__all__ = ["FiniteLoss", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or ±inf at optimizer step ``step`` (counted from 1 over the whole
    run); ``checkpoint`` is the last checkpoint saved before it (``None`` if there was none) and
    ``checkpoint_step`` the step it holds."""

    def __init__(self, step: int, checkpoint: str | os.PathLike[str] | None = None,
                 checkpoint_step: int | None = None) -> None:
        self.step, self.checkpoint, self.checkpoint_step = step, checkpoint, checkpoint_step
        if checkpoint is None:
            saved = "no checkpoint was saved before it"
        else:
            saved = (f"the last good checkpoint is '{checkpoint}' (step {checkpoint_step}), which --resume "
                     "continues from (the same settings on the same data meet the same step again: for a smaller "
                     "learning rate start afresh)")
        super().__init__(f"fit: the training loss became NaN or infinite at step {step}; training stopped "
                         f"before saving anything trained on it; {saved}")


class FiniteLoss:
    """Watches each step's loss ``Lₜ`` on its device (see the module); :meth:`first_bad_step` is the
    first step whose loss was not finite on any process, or ``None``."""

    def __init__(self) -> None:
        self.since = 0
        self.ok: Tensor | None = None
        self.good: Tensor | None = None

    def start(self, step: int) -> None:
        """Watch from the step after ``step`` (the run's position when fit starts or resumes)."""
        self.since, self.ok, self.good = step, None, None

    def update(self, loss: Tensor) -> None:
        """Take one step's loss (a 0-d tensor), without a host sync."""
        finite = torch.isfinite(loss.detach()).reshape(())
        if self.ok is None or self.good is None:
            self.ok, self.good = finite.clone(), finite.long()
        else:
            self.ok = self.ok & finite
            self.good = self.good + self.ok.long()

    def first_bad_step(self) -> int | None:
        """The first step whose loss was NaN or ±inf, or None. Under DDP a collective (every rank
        calls it at the same step), and every rank answers alike."""
        if self.ok is None or self.good is None:
            return None
        bad = (~self.ok).long()
        if distributed.is_distributed():
            bad = distributed.all_reduce_sum(bad.to(distributed.collective_device(), copy=True))
        if not int(bad.item()):
            return None
        return self.since + int(self.good.item()) + 1
