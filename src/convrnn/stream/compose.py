"""A model as a chain of stages, and the :class:`Stream` that runs it chunk by chunk.

How a model becomes stages (:func:`build_stages`), first rule that applies:

1. a layer with a registered stage (convolution and pooling over time, global pooling, recurrent
   layers, the log-mel front end, per-band normalisation; :func:`register` adds more);
2. a module with a ``stream_layers()`` method — convrnn's models (``KeywordSpotter``, ``Tagger``) and
   any of the user's: the modules (or per-step functions) its ``forward`` composes, in order;
3. an ``nn.Sequential`` (``SeparableConv`` included) or a list of layers: its children, in order;
4. a layer that acts on each step alone (``pointwise.py``), or a plain function in a
   ``stream_layers()`` list (taken to act on each step alone);
5. anything else is refused, naming the layer and what streams.
"""

from __future__ import annotations

import keyword
import re
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.layers.time_norm import ClipNorm, RunningNorm
from convrnn.stream.conv import conv_stages
from convrnn.stream.features import LogMelStage, RunningNormStage, clip_norm_stage
from convrnn.stream.pointwise import EVALUATION_ONLY, POINTWISE, FoldedStage, PointwiseStage, check_pointwise
from convrnn.stream.pool import pool_stages
from convrnn.stream.recurrent import recurrent_stages
from convrnn.stream.stage import Stage, State

StageFactory = Callable[[Any, str], Stage]

_REGISTRY: list[tuple[type, StageFactory]] = []


def _defaults() -> list[tuple[type, StageFactory]]:
    from convrnn.data.audio import LogMelSpectrogram

    return [*conv_stages(), *pool_stages(), *recurrent_stages(),  # type: ignore[list-item]
            (LogMelSpectrogram, LogMelStage), (RunningNorm, RunningNormStage)]


def register(module_type: type, factory: StageFactory) -> None:
    """Stream every ``module_type`` (and subclass) layer with ``factory(module, name) -> Stage``; it takes
    precedence over the built-in stages. See :class:`~convrnn.stream.Stage` for what a stage implements."""
    if not isinstance(module_type, type):
        raise TypeError(f"register: argument 'module_type' expected a class, got {module_type!r}")
    if not callable(factory):
        raise TypeError(f"register: argument 'factory' expected a callable (module, name) -> Stage, got {factory!r}")
    _REGISTRY.insert(0, (module_type, factory))


def _factory(module: object) -> StageFactory | None:
    for kind, factory in [*_REGISTRY, *_defaults()]:
        if isinstance(module, kind):
            return factory
    return None


def _child_names(module: nn.Module) -> dict[int, str]:
    return {id(child): name for name, child in module.named_modules() if name}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def build_stages(model: object, name: str = "", *, approximate: bool = False) -> list[Stage]:
    """The stages of ``model`` (a module, or a function acting on each step), by the rules of the
    module docstring; global pooling turns every later layer into a per-step one."""
    stages: list[Stage] = []
    for part, part_name in _flatten(model, name, approximate):
        if isinstance(part, Stage):
            stages.append(part)
        else:
            stages.append(PointwiseStage(part, part_name))
    return _fold_after_collapse(stages)


def _flatten(model: object, name: str, approximate: bool) -> list[tuple[object, str]]:
    shown = name or type(model).__name__
    if isinstance(model, ClipNorm):
        return [(clip_norm_stage(model, shown, approximate), shown)]
    factory = _factory(model)
    if factory is not None:
        return [(factory(model, shown), shown)]
    if isinstance(model, nn.Module) and callable(getattr(model, "stream_layers", None)):
        names = _child_names(model)
        parts = []
        for part in model.stream_layers():
            part_name = names.get(id(part)) or getattr(part, "__name__", type(part).__name__)
            parts += _flatten(part, _join(name, part_name), approximate)
        return parts
    if isinstance(model, (list, tuple)):   # layers composed in order, as a stream_layers() list
        return [item for index, part in enumerate(model)
                for item in _flatten(part, _join(name, getattr(part, "__name__", type(part).__name__)), approximate)]
    if isinstance(model, nn.Sequential):
        return [item for child_name, child in model.named_children()
                for item in _flatten(child, _join(name, child_name), approximate)]
    if isinstance(model, POINTWISE):
        check_pointwise(model, shown)
        return [(model, shown)]
    if callable(model) and not isinstance(model, nn.Module):
        return [(model, shown)]
    raise TypeError(
        f"stream: {shown} ({type(model).__name__}) has no streaming form. What streams: convolution and pooling "
        f"over time (Conv1d, Pool1d, torch.nn.Conv1d/MaxPool1d/AvgPool1d), GlobalPool (running), recurrent layers "
        f"(RNN and its cells, lookahead=L, MinGRU, MinLSTM, QRNN, torch.nn.LSTM/GRU/RNN), LogMelSpectrogram, "
        f"RunningNorm, per-step layers (activations, Linear, Embedding, BatchNorm1d and Dropout in eval mode), "
        f"nn.Sequential, and models with a stream_layers() method; convrnn.stream.register adds a layer")


def _fold_after_collapse(stages: list[Stage]) -> list[Stage]:
    out: list[Stage] = []
    collapsed: str | None = None
    for stage in stages:
        if collapsed is None:
            out.append(stage)
            collapsed = stage.name if stage.collapses else None
            continue
        if not isinstance(stage, PointwiseStage):
            raise TypeError(f"stream: {stage.name} comes after {collapsed}, which turns the sequence into one "
                            f"value: there is no time left for it to run over")
        function = stage.function
        if isinstance(function, nn.Module):
            for module in function.modules():
                if isinstance(module, EVALUATION_ONLY):
                    check_pointwise(module, stage.name)
        out.append(FoldedStage(function, stage.name))
    return out


@dataclass(frozen=True)
class LayerLatency:
    """One row of :meth:`Stream.latency_table`: a stage, its look-ahead in its own input steps, how many
    of the stream's input steps one of those is (``jump``), and their product."""

    name: str
    what: str
    lookahead: int
    jump: int

    @property
    def steps(self) -> int:
        """The look-ahead in the stream's input steps."""
        return self.lookahead * self.jump


def _field(name: str) -> str:
    field = re.sub(r"\W", "_", name)
    if not field.isidentifier() or field.startswith("_") or keyword.iskeyword(field):
        field = "s" + field
    return field


def _narrow(x: Any, axis: int) -> Any:
    return x.narrow(axis, 0, 0) if isinstance(x, Tensor) else x


class Stream:
    """A model running on a signal chunk by chunk, its outputs equal to offline for causal definitions.

    Stateful use: ``push(chunk) -> outputs`` (the steps now final, possibly zero of them), ``flush() ->
    outputs`` (the tail at the end of the signal; the stream is then ready for a new one), ``reset()``.
    Chunks are in the model's own input layout, with any number of steps (one, or fewer than a kernel);
    outputs are in its output layout, ``time_axis`` holding the steps.

    External state (for export): ``initial_state(chunk)`` → ``state`` (a :attr:`State` named tuple of
    tensors, flat, named ``<layer>_<part>``), ``step(chunk, state) -> (outputs, state)``,
    ``finish(state) -> outputs``; :meth:`chunk_model` wraps ``step`` as an ``nn.Module`` to export.

    Latency: :attr:`latency` is the look-ahead in input steps, Σ over the stages of their look-ahead
    times their input's step size (:meth:`latency_table`). After a global pool the stream gives the
    pooled value so far at every step, ``(N, T, …)``; its last step is the offline output.
    """

    def __init__(self, model: object, stages: Sequence[Stage]) -> None:
        self.model, self.stages = model, list(stages)
        fields, self._keys = [], []
        seen: dict[str, int] = {}
        for stage in self.stages:
            prefix = _field(stage.name)
            count = seen.get(prefix, 0)
            seen[prefix] = count + 1
            prefix = prefix if count == 0 else f"{prefix}_{count}"
            keys = tuple(stage.state_names)
            self._keys.append(keys)
            fields += [f"{prefix}_{key}" for key in keys]
        self.State = namedtuple("StreamState", fields)  # type: ignore[misc]
        self._state: tuple[Tensor, ...] | None = None
        self._first_shape: tuple[int, ...] | None = None
        self.time_axis: int | None = None
        self._empty: Any = None

    # ------------------------------------------------------------------ latency

    @property
    def latencies(self) -> list[LayerLatency]:
        """Every stage with a window or a recurrence: its look-ahead and step size (see :class:`LayerLatency`)."""
        rows, jump = [], 1
        for stage in self.stages:
            if stage.lookahead or stage.stride != 1 or stage.time_axis is not None:
                rows.append(LayerLatency(stage.name, stage.describe(), stage.lookahead, jump))
            jump *= stage.stride
        return rows

    @property
    def latency(self) -> int:
        """Look-ahead of the whole stream in its input steps: Σ_l lookahead_l · Π_{j<l} stride_j."""
        return sum(row.steps for row in self.latencies)

    @property
    def output_step(self) -> int:
        """How many input steps one output step is (the product of the strides)."""
        jump = 1
        for stage in self.stages:
            jump *= stage.stride
        return jump

    @property
    def approximations(self) -> list[str]:
        """The stages that do not compute what offline computes (asked for with ``approximate=True``)."""
        return [f"{stage.name}: {stage.describe()}" for stage in self.stages if getattr(stage, "approximating", False)]

    def latency_table(self, rate: float | None = None) -> str:
        """The look-ahead of every stage and their sum; with ``rate`` (input steps per second) in ms too."""
        def shown(steps: int) -> str:
            return f"{steps}" + (f" ({1000 * steps / rate:.1f} ms)" if rate else "")

        lines = [f"{'layer':28s} {'what':60s} {'look-ahead':>10s} {'× step':>7s}  = input steps"]
        for row in self.latencies:
            lines.append(f"{row.name:28s} {row.what:60s} {row.lookahead:10d} {row.jump:7d}  = {shown(row.steps)}")
        lines.append(f"{'total':28s} {'':60s} {'':10s} {'':7s}  = {shown(self.latency)}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ external state

    def _split(self, state: Sequence[Tensor]) -> list[State]:
        values, parts, at = tuple(state), [], 0
        if len(values) != len(self.State._fields):
            raise ValueError(f"Stream.step: argument 'state' expected {len(self.State._fields)} tensors "
                             f"({', '.join(self.State._fields)}), got {len(values)}")
        for keys in self._keys:
            parts.append(dict(zip(keys, values[at:at + len(keys)], strict=True)))
            at += len(keys)
        return parts

    def _join(self, parts: Sequence[State]) -> tuple[Tensor, ...]:
        return self.State(*(part[key] for part, keys in zip(parts, self._keys, strict=True) for key in keys))

    def initial_state(self, chunk: Any) -> tuple[Tensor, ...]:
        """The state before the first chunk, for the batch, dtype and device of ``chunk`` (a chunk of
        input; its steps are not consumed)."""
        x, parts, time_axis = chunk, [], None
        for stage in self.stages:
            if stage.time_axis is not None:
                x = _narrow(x, stage.time_axis)
                time_axis = stage.output_time_axis
            part = stage.init(x)
            parts.append(part)
            # the next stage's input without steps: a padding the step hands out at once stays in ``part``
            x, _ = stage.step(x, dict(part))
            if time_axis is not None:
                x = _narrow(x, time_axis)
        self.time_axis = time_axis
        self._empty = x
        # one tensor per name (exporters take a tensor given twice as one input)
        seen: set[int] = set()
        for part in parts:
            for key, value in part.items():
                if id(value) in seen:
                    part[key] = value.clone()
                seen.add(id(part[key]))
        return self._join(parts)

    def step(self, chunk: Any, state: Sequence[Tensor]) -> tuple[Any, tuple[Tensor, ...]]:
        """Consume ``chunk`` from ``state``: ``(outputs now final, new state)``."""
        parts = self._split(state)
        x = chunk
        for index, stage in enumerate(self.stages):
            x, parts[index] = stage.step(x, parts[index])
        return x, self._join(parts)

    def finish(self, state: Sequence[Tensor]) -> Any:
        """The outputs the end of the signal makes final, from ``state``."""
        parts = self._split(state)
        x = None
        for index, stage in enumerate(self.stages):
            pieces = []
            if x is not None:
                y, parts[index] = stage.step(x, parts[index])
                pieces.append(y)
            tail = stage.finish(parts[index])
            if tail is not None:
                pieces.append(tail)
            axis = stage.output_time_axis if stage.time_axis is not None else 0
            x = None if not pieces else pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=axis)
        return x if x is not None else self._empty

    def chunk_model(self) -> nn.Module:
        """``step`` as a module to export: ``forward(chunk, *state) -> (outputs, *state)``, the state flat
        in :attr:`State`'s order (see :mod:`convrnn.stream.export`)."""
        from convrnn.stream.export import ChunkModel

        return ChunkModel(self)

    # ------------------------------------------------------------------ stateful use

    @property
    def state(self) -> tuple[Tensor, ...] | None:
        """The state the stream holds (None before the first chunk)."""
        return self._state

    def push(self, chunk: Any) -> Any:
        """Consume ``chunk``; return the outputs that are now final (possibly zero steps)."""
        self._check_chunk(chunk)
        with torch.no_grad():
            if self._state is None:
                self._state = self.initial_state(chunk)
            out, self._state = self.step(chunk, self._state)
        return out

    def flush(self) -> Any:
        """The outputs that only the end of the signal makes final; then start over (:meth:`reset`).
        None if nothing was pushed."""
        if self._state is None:
            return None
        with torch.no_grad():
            out = self.finish(self._state)
        self.reset()
        return out

    def reset(self) -> None:
        """Forget the signal: the next chunk starts a new one."""
        self._state, self._first_shape = None, None

    def _check_chunk(self, chunk: Any) -> None:
        if not isinstance(chunk, Tensor):
            if not isinstance(chunk, tuple) or not chunk:
                raise TypeError(f"Stream.push: argument 'chunk' expected a tensor (or a tuple of tensors for a "
                                f"model of several inputs), got {type(chunk).__name__}")
            return
        shape = tuple(chunk.shape)
        if self._first_shape is None:
            self._first_shape = shape
            return
        first = self._first_shape
        axis = next((stage.time_axis for stage in self.stages if stage.time_axis is not None), None)
        if axis is None:
            return
        same = len(shape) == len(first) and all(
            a == b for index, (a, b) in enumerate(zip(shape, first, strict=True)) if index != axis % len(shape))
        if not same:
            raise ValueError(f"Stream.push: argument 'chunk' expected the shape of the first chunk {first} but "
                             f"for the number of steps (axis {axis}), got {shape}")

    def __repr__(self) -> str:
        return f"Stream({len(self.stages)} stages, latency {self.latency} input steps)"


__all__ = ["LayerLatency", "Stream", "build_stages", "register"]
