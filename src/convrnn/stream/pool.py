"""Pooling over time, chunk by chunk: ``Pool`` with one spatial dimension (every kind, padding, dilation,
stride, ``ceil_mode``, boundary but ``circular``), ``torch.nn.MaxPool1d``/``AvgPool1d``, and global
pooling over time as a running value.

A window pool's look-ahead is K − 1 − low input steps, as a convolution's (``conv.py``). A global pool
(``GlobalPool``) has no window: offline it turns the whole sequence into one value; streamed it gives
that value *so far* at every step — y_t = kind{x_0 … x_t} (max, min, sum, avg, p-norm, median) — in
``(N, T, C)`` layout, and its last step is the offline output. Median keeps every value seen (its state
grows with the stream); the others keep one running value per channel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch._higher_order_ops.scan import scan as _scan

from convrnn.functional._checks import check_tensor
from convrnn.functional.pool import _abs_pow, _root, pool
from convrnn.functional.shapes import pool_output_size
from convrnn.layers.pool import GlobalPool, Pool
from convrnn.stream.stage import Stage, State
from convrnn.stream.windows import PaddedWindows, VirtualWindows


class PoolStage(Stage):
    """A window pool over the last axis: ``x (N, C, T)`` → ``(N, C, T')``."""

    time_axis = -1

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__(name)
        self.module = module
        where = f"stream: {name} ({type(module).__name__})"
        if isinstance(module, Pool):
            if module.dims != 1:
                raise TypeError(f"{where}: a {module.dims}-d pooling; only pooling with one spatial dimension "
                                f"(time) streams (a global pool over every dimension streams as GlobalPool)")
            kernel, stride, dilation = module.kernel_size[0], module.stride[0], module.dilation[0]
            (low, high), = module.padding
            self.kind, self.p, self.ceil_mode = module.kind, module.p, module.ceil_mode
            self.boundary, self.count_include_pad = module.boundary, module.count_include_pad
            value, indices = module.value, module.return_indices
        else:   # torch.nn.MaxPool1d / AvgPool1d
            def first(v: int | Sequence[int]) -> int:
                return v if isinstance(v, int) else v[0]

            kernel = first(module.kernel_size)
            stride = first(module.stride) if module.stride is not None else kernel
            low = high = first(module.padding)
            self.ceil_mode, self.boundary, self.p, value = module.ceil_mode, None, 2.0, 0.0
            if isinstance(module, nn.MaxPool1d):
                self.kind, dilation, indices, self.count_include_pad = "max", first(module.dilation), \
                    module.return_indices, True
            else:
                self.kind, dilation, indices = "avg", 1, False
                self.count_include_pad = module.count_include_pad
        if indices:
            raise TypeError(f"{where}: return_indices=True gives positions in the whole input, which a stream "
                            f"does not hold; stream the pool without indices")
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.span = dilation * (kernel - 1) + 1
        self.low, self.high = low, high
        self.lookahead = self.span - 1 - low
        if self.boundary is None:
            self.windows: PaddedWindows | VirtualWindows = VirtualWindows(
                kernel, stride, dilation, low, high, self.ceil_mode, self._pool_virtual)
        else:
            self.windows = PaddedWindows(self.span, stride, low, high, self.boundary, value, where=where)
        self.state_names = self.windows.names
        if self.boundary is None or self.windows.data_dependent:
            self.not_exportable = f"{name}: its windows are counted on the signal (control flow on the state)"

    def describe(self) -> str:
        return f"{type(self.module).__name__} {self.kind} k={self.kernel} d={self.dilation} s={self.stride} " \
               f"pad={self.low, self.high}"

    def _pool_virtual(self, cells: Tensor, low: int, high: int, ceil_mode: bool) -> Tensor:
        return pool(cells, self.kernel, self.stride, ((low, high),), self.dilation, kind=self.kind, p=self.p,
                    ceil_mode=ceil_mode, boundary=None, count_include_pad=self.count_include_pad)

    def _pool_padded(self, cells: Tensor, ceil_mode: bool) -> Tensor:
        return pool(cells, self.kernel, self.stride, 0, self.dilation, kind=self.kind, p=self.p,
                    ceil_mode=ceil_mode, boundary=None)

    def init(self, x: Tensor) -> State:
        return self.windows.init(x)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("x", x, dims=3, floating=True, where=f"stream: {self.name}")
        ready, state = self.windows.push(x, state)
        if ready is None:
            return x[..., :0], state
        if isinstance(self.windows, PaddedWindows):
            ready = self._pool_padded(ready, False)
        return ready, state

    def finish(self, state: State) -> Tensor | None:
        rest = self.windows.finish(state)
        if rest is None or isinstance(self.windows, VirtualWindows):
            return rest
        # Offline keeps a ceil_mode window only if it starts before the high padding. A window that overhangs
        # the end with fewer cells than its span is pooled behind m windows of placeholder cells that no kept
        # window reads, as offline pools it behind the earlier cells.
        m = -(-self.span // self.stride) if self.ceil_mode else 0
        rest = torch.cat([rest.new_zeros(*rest.shape[:-1], m * self.stride), rest], dim=-1)
        count = pool_output_size(rest.shape[-1] - self.high, self.kernel, self.stride, (0, self.high),
                                 self.dilation, self.ceil_mode) - m
        return self._pool_padded(rest, self.ceil_mode)[..., m:m + count] if count > 0 else None


class GlobalPoolStage(Stage):
    """A global pool streamed as its running value: ``x (N, C, *S, T)`` → ``(N, T, C)`` (``(N, T, C, 1, …)``
    with ``keepdim``), step t pooling every cell of steps 0 … t."""

    time_axis = -1
    collapses = True

    def __init__(self, module: GlobalPool, name: str) -> None:
        super().__init__(name)
        self.module, self.kind, self.p = module, module.kind, module.p
        self.state_names = ("history",) if self.kind == "median" else ("value", "seen")
        if self.kind == "median":
            self.not_exportable = f"{name}: a running median keeps a history that grows with the stream"

    @property
    def output_time_axis(self) -> int:
        return 1

    def describe(self) -> str:
        return f"GlobalPool {self.kind} (running)"

    def _start(self) -> float:
        if self.kind == "max" or (self.kind == "lp" and math.isinf(self.p)):
            return -math.inf if self.kind == "max" else 0.0
        return math.inf if self.kind == "min" else 0.0

    def init(self, x: Tensor) -> State:
        if self.kind == "median":
            return {"history": x.new_zeros(x.shape[0], x.shape[1], 0)}
        return {"value": x.new_full(x.shape[:2], self._start()),
                "seen": torch.zeros((), dtype=torch.long, device=x.device)}

    def _layout(self, running: Tensor, x: Tensor) -> Tensor:
        """(N, C, T) running values → (N, T, C[, 1, …])."""
        out = running.transpose(1, 2)
        return out.reshape(*out.shape, *([1] * (x.dim() - 2))) if self.module.keepdim else out

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        check_tensor("x", x, floating=True, where=f"stream: {self.name}")
        if x.dim() < 3:
            raise ValueError(f"stream: {self.name}: argument 'x' expected shape (N, C, *spatial, T), got "
                             f"shape {tuple(x.shape)}")
        steps = x.shape[-1]
        cells = x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:-1]), steps)        # (N, C, R, T)
        if self.kind == "median":
            history = state["history"]
            values = []
            for t in range(steps):
                history = torch.cat([history, cells[..., t]], dim=-1)
                values.append(history.median(dim=-1).values)
            running = torch.stack(values, dim=-1) if values else x.new_zeros(*x.shape[:2], 0)
            return self._layout(running, x), {"history": history}
        value, seen = state["value"], state["seen"]
        if self.kind == "max":
            running = _running_extreme(cells.amax(2), value, torch.maximum)
        elif self.kind == "min":
            running = _running_extreme(cells.amin(2), value, torch.minimum)
        elif self.kind == "lp" and math.isinf(self.p):
            running = _running_extreme(cells.abs().amax(2), value, torch.maximum)
        elif self.kind == "lp":
            running = value.unsqueeze(-1) + _abs_pow(cells, self.p).sum(2).cumsum(-1)
        else:   # sum, avg: the running sum
            running = value.unsqueeze(-1) + cells.sum(2).cumsum(-1)
        new_value = running[..., -1] if steps else value
        shown = running
        if self.kind == "avg":
            count = (seen.to(x.dtype) + torch.arange(1, steps + 1, dtype=x.dtype, device=x.device)) * cells.shape[2]
            shown = running / count
        elif self.kind == "lp" and not math.isinf(self.p):
            shown = _root(running, self.p)
        return self._layout(shown, x), {"value": new_value, "seen": seen + steps}


def _running_extreme(values: Tensor, start: Tensor, extreme: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """y_t = extreme(start, values_0 … values_t): values (N, C, T), start (N, C) → (N, C, T). Exported, a
    ``scan`` over the steps (ONNX has no cumulative maximum)."""
    if torch.compiler.is_exporting():
        def step(carry: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
            new = extreme(carry, value)
            return new, new.clone()

        return _scan(step, start, values.permute(2, 0, 1))[1].permute(1, 2, 0)
    ordered = torch.cat([start.unsqueeze(-1), values], dim=-1)
    running = ordered.cummax(-1) if extreme is torch.maximum else ordered.cummin(-1)
    return running.values[..., 1:]


def pool_stages() -> Sequence[tuple[type, type[Stage]]]:
    """The pooling layers that stream, and their stages."""
    return ((GlobalPool, GlobalPoolStage), (Pool, PoolStage), (nn.MaxPool1d, PoolStage), (nn.AvgPool1d, PoolStage))


__all__ = ["GlobalPoolStage", "PoolStage", "pool_stages"]
