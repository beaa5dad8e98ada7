"""The per-layer streaming protocol: a :class:`Stage` is one layer's computation over time, split into
chunks, with its state between them made explicit.

A stage is pure: ``init`` builds its state for a batch, ``step(x, state) -> (y, state)`` consumes a
chunk and returns the outputs that are now final (possibly none: zero steps), ``finish(state)``
returns the tail the end of the stream makes final. The state is a ``dict`` of tensors named by
``state_names``; a :class:`~convrnn.stream.Stream` chains the stages, carries their states (inside,
or passed in and out as one flat named tuple) and adds up their latencies.

Latency: ``lookahead`` is how many of its input steps past an output's own step the stage reads
before that output is final (``"same"`` convolutions and limited look-ahead recurrent layers have
some; causal stages 0); ``stride`` is how many input steps make one output step. Output o of a
stage is aligned with its input step o·stride, so a stack's look-ahead in the stream's input steps
is Σ_l lookahead_l · Π_{j<l} stride_j.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

State = dict[str, Tensor]


class NotCausalError(ValueError):
    """A layer whose offline definition reads the future without bound (per-clip statistics, a full
    bidirectional layer, a boundary that wraps the end to the start): it cannot stream equal to
    offline. The message names the layer and its causal variant."""


class Stage:
    """One layer (or a layer-wise function) over time, chunk by chunk (see the module docstring).

    Attributes:
        name: the layer's name in the model (``"body.0"``), for messages and state names.
        time_axis: the time axis of the stage's input (``None``: the stage acts on every step alike
            and does not care where time is).
        lookahead: input steps past an output's own step the stage reads (steady state).
        stride: input steps per output step.
        collapses: the stage turns a sequence into one value (global pooling); it streams the
            running value instead, one per step, in ``(N, T, …)`` layout.
        state_names: the keys of its state, in a fixed order.
        not_exportable: why its chunk step cannot be exported (data-dependent control flow), or None.
    """

    time_axis: int | None = None
    lookahead: int = 0
    stride: int = 1
    collapses: ClassVar[bool] = False
    state_names: tuple[str, ...] = ()
    not_exportable: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def output_time_axis(self) -> int | None:
        """The time axis of the stage's outputs (that of its input unless it says otherwise)."""
        return self.time_axis

    def init(self, x: Any) -> State:
        """The state before the first step, for the batch, dtype and device of ``x`` (a chunk of
        this stage's input with zero steps)."""
        return {}

    def step(self, x: Any, state: State) -> tuple[Any, State]:
        """Consume the chunk ``x``; return the outputs now final (zero steps if none) and the new state."""
        raise NotImplementedError

    def finish(self, state: State) -> Any | None:
        """The outputs the end of the stream makes final (None if there are none)."""
        return None

    def describe(self) -> str:
        """One line for the latency table: what this stage is."""
        return type(self).__name__


__all__ = ["NotCausalError", "Stage", "State"]
