"""Convolution over time, chunk by chunk: ``Conv`` with one spatial dimension (``Conv1d``, depthwise,
the parts of ``SeparableConv``), ``SharedFilterConv`` over time, and ``torch.nn.Conv1d``.

Every padding (``"valid"``, ``"same"``, ``"full"``, explicit ``(low, high)``), dilation, stride, group
count and boundary but ``circular`` streams equal to offline (``windows.py``). Output o reads padded
cells o·s … o·s + K − 1, i.e. input steps up to o·s + K − 1 − low: the layer's look-ahead is
K − 1 − low input steps (0 for causal padding ``(d·(k − 1), 0)``, ⌈d·(k − 1)/2⌉ for ``"same"``).
``"same"`` with a stride pads the start by an amount that depends on the signal's length unless
⌊(K − s)/2⌋ = ⌊(K − 1)/2⌋ (even K with stride 2, …); elsewhere it cannot stream and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.functional.boundary import normalize_padding
from convrnn.functional.conv import resolve_padding
from convrnn.layers.conv import Conv, SharedFilterConv
from convrnn.stream.stage import NotCausalError, Stage, State
from convrnn.stream.windows import PaddedWindows


def time_padding(padding: str | object, kernel: int, stride: int, dilation: int, where: str) -> tuple[int, int]:
    """``(low, high)`` padding of a convolution over time, the same for every signal length, or a
    :class:`NotCausalError` where offline's depends on the length (``"same"`` with some strides)."""
    if not isinstance(padding, str):
        return normalize_padding(padding, 1, where=where)[0]
    pairs = {resolve_padding(padding, (n,), (kernel,), (stride,), (dilation,), where=where)[0]
             for n in range(stride, 2 * stride)}        # one length per remainder n mod s
    if len(pairs) > 1:
        raise NotCausalError(
            f"{where}: padding 'same' with stride {stride} and kernel span {dilation * (kernel - 1) + 1} pads the "
            f"start by {' or '.join(str(low) for low in sorted({low for low, _ in pairs}))} cells depending on "
            f"the signal's length, which a stream does not know; give the padding explicitly, e.g. "
            f"padding=[{sorted(pairs)[0]}] (or causal: [({dilation * (kernel - 1)}, 0)])")
    return pairs.pop()


class ConvStage(Stage):
    """A 1-d convolution over the last axis: ``x (N, C_in, T)`` → ``(N, C_out, T')``; state: the
    padded cells from the next window's start (see ``windows.py``)."""

    time_axis = -1

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__(name)
        self.module = module
        if isinstance(module, Conv):
            if len(module.kernel_size) != 1:
                raise TypeError(f"stream: {name} is a {len(module.kernel_size)}-d convolution; only convolutions "
                                f"with one spatial dimension (time) stream")
            kernel, stride, dilation = module.kernel_size[0], module.stride[0], module.dilation[0]
            padding, boundary, value = module.padding, module.boundary, module.value
        else:   # torch.nn.Conv1d
            kernel, stride, dilation = module.kernel_size[0], module.stride[0], module.dilation[0]
            padding = module.padding if isinstance(module.padding, str) else [module.padding[0]]
            modes = {"zeros": "zeros", "reflect": "reflect", "replicate": "neumann", "circular": "circular"}
            boundary, value = modes[module.padding_mode], 0.0
        where = f"stream: {name} ({type(module).__name__})"
        low, high = time_padding(padding, kernel, stride, dilation, where)
        span = dilation * (kernel - 1) + 1
        self.windows = PaddedWindows(span, stride, low, high, boundary, value, where=where)
        self.span, self.stride, self.lookahead = span, stride, span - 1 - low
        self.state_names = self.windows.names
        if self.windows.data_dependent:
            self.not_exportable = (f"{name}: its boundary {boundary!r} (or a stride above its span) makes the "
                                   f"chunk step branch on the signal")

    def describe(self) -> str:
        m = self.module
        pad = (self.windows.low, self.windows.high)
        return f"{type(m).__name__} k={m.kernel_size[0]} d={m.dilation[0]} s={m.stride[0]} pad={pad}"

    def init(self, x: Tensor) -> State:
        return self.windows.init(x)

    def _convolve(self, cells: Tensor) -> Tensor:
        # the cells are already padded: offline's convolution with padding "valid", straight to torch's kernel
        # (convrnn.functional.conv's checks cost as much as the small product a chunk needs)
        m = self.module
        weight = m.weight.flip(-1) if getattr(m, "flip", False) else m.weight
        return F.conv1d(cells, weight, m.bias, m.stride, 0, m.dilation, m.groups)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("x", x, dims=3, floating=True, where=f"stream: {self.name}")
        ready, state = self.windows.push(x, state)
        if ready is None:
            return x.new_zeros(x.shape[0], self.module.out_channels, 0), state
        return self._convolve(ready), state

    def finish(self, state: State) -> Tensor | None:
        rest = self.windows.finish(state)
        if rest is None or rest.shape[-1] < self.span:
            return None
        return self._convolve(rest)


class SharedFilterStage(Stage):
    """:class:`~convrnn.layers.SharedFilterConv` over time: its one-channel convolution streams on every
    channel at once (channels folded into the batch)."""

    time_axis = -1

    def __init__(self, module: SharedFilterConv, name: str) -> None:
        super().__init__(name)
        self.inner = ConvStage(module.conv, f"{name}.conv")
        self.lookahead, self.stride = self.inner.lookahead, self.inner.stride
        self.state_names, self.not_exportable = ("like", *self.inner.state_names), self.inner.not_exportable

    def describe(self) -> str:
        return f"SharedFilterConv: {self.inner.describe()}"

    @staticmethod
    def _fold(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0] * x.shape[1], 1, x.shape[2])

    def init(self, x: Tensor) -> State:
        # "like" (N, C, 0) keeps the batch size, which the folded buffers (N·C, 1, ·) do not show
        return {"like": x[..., :0], **self.inner.init(self._fold(x))}

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("x", x, dims=3, floating=True, where=f"stream: {self.name}")
        inner = {key: value for key, value in state.items() if key != "like"}
        y, inner = self.inner.step(self._fold(x), inner)
        return y.reshape(x.shape[0], x.shape[1] * y.shape[1], y.shape[-1]), {"like": state["like"], **inner}

    def finish(self, state: State) -> Tensor | None:
        y = self.inner.finish({key: value for key, value in state.items() if key != "like"})
        n, c = state["like"].shape[:2]
        return None if y is None else y.reshape(n, c * y.shape[1], y.shape[-1])


def conv_stages() -> Sequence[tuple[type, type[Stage]]]:
    """The convolution layers that stream, and their stages."""
    return ((SharedFilterConv, SharedFilterStage), (Conv, ConvStage), (nn.Conv1d, ConvStage))


__all__ = ["ConvStage", "SharedFilterStage", "conv_stages", "time_padding"]
