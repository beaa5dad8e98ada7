"""A stream's chunk step as a module with its state passed in and returned, the form a streamed model
needs outside PyTorch (icefall/sherpa-onnx's ``cached_*`` → ``new_cached_*``; kws_streaming's external
state mode).

    outputs, *new_state = ChunkModel(stream)(chunk, *state)

``state`` is the stream's :attr:`~convrnn.stream.Stream.State`, flat, one tensor per name; start from
:meth:`~convrnn.stream.Stream.initial_state` and feed each call's new state to the next. Exported with
``torch.export`` / ``torch.onnx.export(..., dynamo=True)`` at a fixed chunk size (a multiple of the
stream's output step, :attr:`~convrnn.stream.Stream.output_step`), every state tensor keeps its shape
from chunk to chunk, so the exported program runs the whole stream. Stages whose chunk step branches
on the state's values (centred STFT framing, look-ahead buffers that fill, pools counted on the
signal) cannot be exported; :class:`ChunkModel` refuses them by name.

:func:`export_stream` writes the chunk model with :func:`convrnn.export.export_model` (ONNX or a
``torch.export`` program, the contract beside it) and records in the contract what a runner needs: the
chunk size, the initial state, the time axes, the latency, and how many outputs a last, partial chunk
makes final; :class:`~convrnn.stream.ExportedStream` runs such a file with ``push``/``flush`` like a
:class:`~convrnn.stream.Stream` (``convrnn export RUN --stream``, ``convrnn listen FILE``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.stream.compose import Stream, build_stages


class ChunkModel(nn.Module):
    """``forward(chunk, *state) -> (outputs, *state)``: one step of ``stream`` with its state outside.

    Shapes: ``chunk`` in the model's input layout; each state tensor as in ``stream.State``.
    :meth:`input_names` and :meth:`output_names` name them for an exporter (``chunk``, the state's
    names; ``outputs``, ``next_`` + the state's names).
    """

    def __init__(self, stream: Stream) -> None:
        super().__init__()
        refused = [stage.not_exportable for stage in stream.stages if stage.not_exportable]
        if refused:
            raise ValueError("chunk_model: the stream cannot be exported: " + "; ".join(refused))
        self.stream = stream
        self.training = False   # inference (not recursive: the model keeps its own mode)
        # the model's parameters belong to this module, so exporters take them as weights
        if isinstance(stream.model, nn.Module):
            self.model = stream.model
        elif isinstance(stream.model, (list, tuple)):
            self.layers = nn.ModuleList(part for part in stream.model if isinstance(part, nn.Module))

    def input_names(self) -> list[str]:
        return ["chunk", *self.stream.State._fields]

    def output_names(self) -> list[str]:
        return ["outputs", *(f"next_{name}" for name in self.stream.State._fields)]

    def forward(self, chunk: Tensor, *state: Tensor) -> tuple[Any, ...]:
        outputs, new = self.stream.step(chunk, state)
        # an exported output must not be one of the inputs: copy any state the step passed through
        given = {id(tensor) for tensor in state}
        return (outputs, *(tensor.clone() if id(tensor) in given else tensor for tensor in new))


def export_stream(model: Any, chunk: Tensor, path: str | os.PathLike[str], *, format: str | None = None,
                  approximate: bool = False, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Export the chunk step of ``model``'s stream (a model, layer or list that ``convrnn.stream`` takes, or
    a :class:`~convrnn.stream.Stream`) at the size of ``chunk`` to ``path``; returns the contract.

    Shapes: ``chunk (N, …, T_chunk, …)`` in the model's input layout, T_chunk a positive multiple of the
    stream's :attr:`~convrnn.stream.Stream.output_step` (so every state tensor keeps its shape from chunk
    to chunk); the exported file takes exactly that shape and the state, and returns the outputs and the
    next state (:class:`ChunkModel`). The contract's ``"stream"`` entry holds the chunk size, the time axes,
    the latency (input steps), the approximations, the initial state (``[{name, dtype, shape, fill |
    values}]``) and ``first``/``later``: how many outputs r + 1 more input steps make final, r = 0 …
    T_chunk − 1, from the start and after whole chunks (what a partial last chunk gives).
    """
    from convrnn.export import export_model

    stream = model if isinstance(model, Stream) else Stream(model, build_stages(model, approximate=approximate))
    if not isinstance(chunk, Tensor):
        raise TypeError(f"export_stream: argument 'chunk' expected a tensor (one input), got {type(chunk).__name__}")
    axis = next((stage.time_axis for stage in stream.stages if stage.time_axis is not None), None)
    if axis is None:
        raise ValueError("export_stream: argument 'model' expected a model with a layer over time, got one that "
                         "acts on every step alone")
    axis %= chunk.dim()
    steps, unit = chunk.shape[axis], stream.output_step
    if steps == 0 or steps % unit:
        lower = max(unit, steps // unit * unit)
        raise ValueError(f"export_stream: argument 'chunk' expected a number of steps (axis {axis}) that is a "
                         f"positive multiple of the stream's output step {unit}, got {steps} (e.g. {lower} or "
                         f"{lower + unit})")
    chunk_model = ChunkModel(stream)             # refuses stages that branch on the signal, by name
    with torch.no_grad():
        state = stream.initial_state(chunk)
        first, later = _partial_chunk_outputs(stream, chunk, axis, state)
    entries = [_state_entry(name, tensor) for name, tensor in zip(stream.State._fields, state, strict=True)]
    details = {"chunk": steps, "time_axis": axis, "output_time_axis": stream.time_axis, "latency": stream.latency,
               "output_step": unit, "approximations": stream.approximations, "state": entries,
               "first": first, "later": later}
    names = chunk_model.input_names()
    args = (chunk, *state)
    fixed = {name: [None] * tensor.dim() for name, tensor in zip(names, args, strict=True)}
    return export_model(chunk_model, args, path, dynamic=fixed, names=names,
                        output_names=chunk_model.output_names(), format=format,
                        extra={**dict(extra or {}), "stream": details})


def _partial_chunk_outputs(stream: Stream, chunk: Tensor, axis: int, state: tuple[Tensor, ...]
                           ) -> tuple[list[int], list[int]]:
    """How many outputs 1, 2, … T_chunk − 1 more input steps make final, from ``state`` and after one
    whole chunk (the stages are windows and recurrences: the count does not depend on the values)."""
    out_axis = stream.time_axis if stream.time_axis is not None else 0

    def counts(state: tuple[Tensor, ...]) -> list[int]:
        total, result = 0, []
        for r in range(chunk.shape[axis] - 1):
            y, state = stream.step(chunk.narrow(axis, r, 1), state)
            total += y.shape[out_axis]
            result.append(total)
        return result

    first = counts(state)
    _, after = stream.step(chunk, state)
    return first, counts(after)


def _state_entry(name: str, tensor: Tensor) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "dtype": str(tensor.dtype).removeprefix("torch."),
                             "shape": list(tensor.shape)}
    flat = tensor.detach().reshape(-1)
    if flat.numel() and bool((flat == flat[0]).all()):
        entry["fill"] = flat[0].item()
    else:
        entry["values"] = flat.tolist()
    return entry


__all__ = ["ChunkModel", "export_stream"]
