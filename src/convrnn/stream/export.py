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
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from convrnn.stream.compose import Stream


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


__all__ = ["ChunkModel"]
