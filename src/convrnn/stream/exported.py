"""A stream's exported chunk model (:func:`~convrnn.stream.export_stream`, ``convrnn export RUN --stream``)
run like a :class:`~convrnn.stream.Stream`: ``push`` any number of steps, ``flush`` at the end.

The exported file computes exactly T_chunk input steps at a time (its inputs have fixed shapes), so
``push`` keeps the steps that do not fill a chunk until more arrive: the outputs of a step come out
at most one chunk later than from the stream in PyTorch (plus the compute). ``flush`` runs the last,
partial chunk padded with zeros and keeps the outputs its real steps make final (the contract says
how many), so the outputs of a causal stream equal the PyTorch stream's, and offline's. A stream
with look-ahead also makes outputs final only at the end of the signal (its ``finish``: a "same"
convolution's high padding); an exported chunk model has no such step, and those last ``latency``
input steps' outputs are not given.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from convrnn.export import ExportedModel


class ExportedStream:
    """``push(chunk) -> outputs``, ``flush() -> outputs``, ``reset()``, ``latency``, ``output_step``,
    ``approximations``: the interface of :class:`~convrnn.stream.Stream`, over an exported chunk model
    (ONNX in onnxruntime, or a ``torch.export`` program).

    Shapes: ``chunk`` as the exported chunk but for its number of steps along ``time_axis`` (any, ≥ 0);
    outputs along ``output_time_axis``. ``threads``: onnxruntime's threads (one suits a live stream best).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        self.model = ExportedModel(path, threads=threads)
        spec = self.model.contract.get("stream")
        if not isinstance(spec, dict):
            raise ValueError(f"'{path}' is an exported model of whole inputs, not a stream's chunk step; export "
                             f"one with `convrnn export RUN --stream` (convrnn.stream.export_stream)")
        self.path = self.model.path
        self.chunk: int = spec["chunk"]
        self.time_axis: int = spec["time_axis"]
        outputs = self.model.contract["outputs"][0]
        self.output_time_axis: int = (spec["output_time_axis"] or 0) % len(outputs["shape"])
        self.latency: int = spec["latency"]
        self.output_step: int = spec["output_step"]
        self.approximations: list[str] = list(spec["approximations"])
        self._first: list[int] = spec["first"]
        self._later: list[int] = spec["later"]
        self._initial = tuple(_state_tensor(entry) for entry in spec["state"])
        inputs = self.model.contract["inputs"]
        self._chunk_shape, self._chunk_dtype = inputs[0]["shape"], getattr(torch, inputs[0]["dtype"])
        self._empty_shape = [0 if axis == self.output_time_axis else size for axis, size in enumerate(outputs["shape"])]
        self._output_dtype = getattr(torch, outputs["dtype"])
        self.reset()

    def reset(self) -> None:
        """Forget the signal: the next chunk starts a new one."""
        self._state = self._initial
        self._pending: Tensor | None = None
        self._chunks_done = 0

    def push(self, chunk: Tensor) -> Tensor:
        """Consume ``chunk`` (any number of steps); the outputs of the whole chunks it completes."""
        self._check(chunk)
        pending = chunk if self._pending is None else torch.cat([self._pending, chunk], dim=self.time_axis)
        outputs = []
        while pending.shape[self.time_axis] >= self.chunk:
            outputs.append(self._run(pending.narrow(self.time_axis, 0, self.chunk)))
            pending = pending.narrow(self.time_axis, self.chunk, pending.shape[self.time_axis] - self.chunk)
        self._pending = pending
        return self._join(outputs)

    def flush(self) -> Tensor:
        """The outputs of the steps pushed since the last whole chunk (that chunk padded with zeros, the
        outputs of the padding dropped); then start over (:meth:`reset`)."""
        rest = 0 if self._pending is None else self._pending.shape[self.time_axis]
        outputs = []
        if rest:
            valid = (self._later if self._chunks_done else self._first)[rest - 1]
            zeros = self._pending.new_zeros(_with(self._pending.shape, self.time_axis, self.chunk - rest))
            y = self._run(torch.cat([self._pending, zeros], dim=self.time_axis))
            outputs.append(y.narrow(self.output_time_axis, 0, valid))
        self.reset()
        return self._join(outputs)

    def _run(self, chunk: Tensor) -> Tensor:
        y, *state = self.model(chunk.to(self._chunk_dtype), *self._state)
        self._state = tuple(state)
        self._chunks_done += 1
        return y

    def _join(self, outputs: list[Tensor]) -> Tensor:
        if not outputs:
            return torch.zeros(self._empty_shape, dtype=self._output_dtype)
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=self.output_time_axis)

    def _check(self, chunk: Any) -> None:
        expected = _with(self._chunk_shape, self.time_axis, "T")
        if not isinstance(chunk, Tensor) or chunk.dim() != len(expected) or any(
                size != want for axis, (size, want) in enumerate(zip(chunk.shape, expected, strict=True))
                if axis != self.time_axis):
            got = tuple(chunk.shape) if isinstance(chunk, Tensor) else type(chunk).__name__
            raise ValueError(f"ExportedStream.push: argument 'chunk' expected shape {expected} (any T), got {got}")

    def __repr__(self) -> str:
        return (f"ExportedStream('{self.path.name}', {self.chunk} steps a chunk, latency {self.latency} input "
                f"steps)")


def _with(shape: Any, axis: int, value: Any) -> list[Any]:
    shape = list(shape)
    shape[axis] = value
    return shape


def _state_tensor(entry: dict[str, Any]) -> Tensor:
    dtype = getattr(torch, entry["dtype"])
    if "fill" in entry:
        return torch.full(entry["shape"], entry["fill"], dtype=dtype)
    return torch.tensor(entry["values"], dtype=dtype).reshape(entry["shape"])


__all__ = ["ExportedStream"]
