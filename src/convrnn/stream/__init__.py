"""Streaming inference: any trained convrnn network on a live signal, chunk by chunk, equal to offline.

    stream = convrnn.stream(model)          # a layer, an nn.Sequential, or one of convrnn's models
    for chunk in chunks:                    # (N, T_chunk, …) in the model's own layout, any T_chunk ≥ 0
        outputs = stream.push(chunk)        # the steps now final (possibly none)
    outputs = stream.flush()                # the tail at the end of the signal
    stream.latency                          # look-ahead in input steps (Σ over the layers)

Each layer over time is a :class:`Stage` holding its state between chunks (``stage.py``): convolution and
pooling over time with every padding (``conv.py``, ``pool.py``, ``windows.py``), global pooling as a
running value, every recurrent layer with its state carried and look-ahead layers with their L-step
delay (``recurrent.py``), the log-mel front end and per-band normalisation (``features.py``), per-step
layers (``pointwise.py``); ``compose.py`` chains them through ``nn.Sequential`` and the models'
``stream_layers()``. A layer whose offline definition reads the future without bound refuses with a
:class:`NotCausalError` that names its causal variant. ``export.py`` passes the state in and out and
writes the chunk step as a file with its contract (:func:`export_stream`); ``exported.py`` runs such a
file as a stream (:class:`ExportedStream`); ``native.py`` runs a causal stream's chunk step in one compiled
call (:class:`NativeStream`, ``backend="native"``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from convrnn.functional._checks import check_choice
from convrnn.stream.compose import LayerLatency, Stream, build_stages, register
from convrnn.stream.export import ChunkModel, export_stream
from convrnn.stream.exported import ExportedStream
from convrnn.stream.native import NativeStream, NoLoweringError
from convrnn.stream.stage import NotCausalError, Stage, State

BACKENDS = ("python", "native")


def stream(model: Any, *, approximate: bool = False, backend: str = "python") -> Stream:
    """A :class:`Stream` of ``model``: a layer, an ``nn.Sequential``, a model with ``stream_layers()``, or a
    list of those (composed in order).

    ``approximate=True`` lets a layer that is not causal but has a running stand-in (``ClipNorm``:
    running statistics) stream anyway; :attr:`Stream.approximations` lists them. Without it such a layer
    raises :class:`NotCausalError`. Dropout and batch norm must be in evaluation mode (``model.eval()``).

    ``backend="native"`` runs each chunk step in one compiled call (:class:`NativeStream`, ``native.py``)
    where every stage has a native lowering, and otherwise raises :class:`NoLoweringError` naming the
    first stage that has none; ``"python"`` (the default) runs the stages in PyTorch and streams every layer.
    """
    check_choice("backend", backend, BACKENDS, where="stream")
    stages = build_stages(model, approximate=approximate)
    if backend == "native":
        return NativeStream(model, stages)
    return Stream(model, stages)


class _CallableModule(types.ModuleType):
    """``convrnn.stream`` is this package and the function at once: ``convrnn.stream(model)``."""

    def __call__(self, model: Any, *, approximate: bool = False, backend: str = "python") -> Stream:
        return stream(model, approximate=approximate, backend=backend)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["BACKENDS", "ChunkModel", "ExportedStream", "LayerLatency", "NativeStream", "NoLoweringError",
           "NotCausalError", "Stage", "State", "Stream", "build_stages", "export_stream", "register", "stream"]
