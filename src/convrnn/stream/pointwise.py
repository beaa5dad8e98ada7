"""Layers that act on every step alone (activations, ``Linear``, ``Embedding``, batch norm in evaluation,
dropout in evaluation, a model's own per-step functions): a chunk goes through them as it is, with no
state and no look-ahead. After a layer that turns the sequence into one value (global pooling), every
later layer is applied to each step's running value on its own: the steps are folded into the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from convrnn.stream.stage import NotCausalError, Stage, State

# Modules that treat every step alike in any layout (elementwise), or along the feature axis only.
POINTWISE: tuple[type[nn.Module], ...] = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softplus, nn.Softsign, nn.Tanhshrink,
    nn.Dropout, nn.Dropout1d, nn.AlphaDropout, nn.BatchNorm1d, nn.Linear, nn.Embedding,
)
# Modules that need evaluation mode to act on each step alone.
EVALUATION_ONLY: tuple[type[nn.Module], ...] = (nn.Dropout, nn.Dropout1d, nn.AlphaDropout, nn.BatchNorm1d)


def check_pointwise(module: nn.Module, name: str) -> None:
    """Refuse a per-step module whose offline result would mix steps (training mode, batch statistics)."""
    if isinstance(module, EVALUATION_ONLY) and module.training:
        raise ValueError(f"stream: {name} ({type(module).__name__}) is in training mode, where it "
                         f"{'uses the batch statistics' if isinstance(module, nn.BatchNorm1d) else 'draws at random'}; "
                         f"call model.eval() before streaming")
    if isinstance(module, nn.BatchNorm1d) and not module.track_running_stats:
        raise NotCausalError(f"stream: {name} (BatchNorm1d with track_running_stats=False) normalises by the "
                             f"statistics of the whole input even in evaluation: not causal")


class PointwiseStage(Stage):
    """A module or function applied to each chunk as it is (``time_axis`` None: it does not care); a
    tuple chunk (a model of several inputs) is passed as its arguments."""

    def __init__(self, function: Callable[..., Any], name: str) -> None:
        super().__init__(name)
        self.function = function

    def describe(self) -> str:
        return type(self.function).__name__ if isinstance(self.function, nn.Module) else \
            getattr(self.function, "__name__", "function")

    def step(self, x: Any, state: State) -> tuple[Any, State]:
        # a model of several inputs (words and their characters) takes a tuple, given as arguments
        return (self.function(*x) if isinstance(x, tuple) else self.function(x)), state


class FoldedStage(Stage):
    """After a global pool: ``x (N, T, *S)`` → ``function`` on ``(N·T, *S)`` → ``(N, T, *S')``, each
    step's running value on its own."""

    time_axis = 1

    def __init__(self, function: Callable[[Tensor], Tensor], name: str) -> None:
        super().__init__(name)
        self.function = function

    def describe(self) -> str:
        inner = type(self.function).__name__ if isinstance(self.function, nn.Module) else \
            getattr(self.function, "__name__", "function")
        return f"{inner} (on each step's value)"

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        y = self.function(x.flatten(0, 1))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:]), state


__all__ = ["EVALUATION_ONLY", "POINTWISE", "FoldedStage", "PointwiseStage", "check_pointwise"]
