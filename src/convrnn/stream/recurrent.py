"""Recurrent layers, chunk by chunk, their state carried from one chunk to the next.

- ``RNN`` (every cell, every stack, residual connections, zoneout in evaluation) in one direction: the
  stack runs on each chunk from the state the previous chunk left (``state`` in, ``final_state`` out:
  the engine's own path, so the outputs are offline's). Look-ahead 0.
- ``RNN(bidirectional=True, lookahead=L)``: layer by layer. The forward direction carries its state;
  the backward output at step t is the backward cell run over x_{t+L} … x_t (``lookahead.py``; each input
  projected once, kept with it, and only the windows of the outputs now final run), so it
  is final once x_{t+L} is in, or at the end of the stream, where the window stops at the last step as
  offline. Each layer holds its last L inputs and the forward outputs that wait for them: L steps of
  look-ahead per layer, num_layers · L for the stack (NeMo's arithmetic: layers × right context).
- ``MinGRU``, ``MinLSTM``, ``QRNN`` in one direction: h carried, and the last k − 1 inputs of each
  layer, so the gates' causal convolution of width k reads what it reads offline. Look-ahead 0.
- ``torch.nn.LSTM``/``GRU``/``RNN`` in one direction: ``(h, c)`` carried.

A bidirectional layer without look-ahead reads each sequence from its end: it cannot stream and says
so, naming ``lookahead=L`` as its causal variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from convrnn.layers.recurrent.cells import Cell
from convrnn.layers.recurrent.options import zoneout_weights
from convrnn.layers.recurrent.parallel import ParallelRNN
from convrnn.layers.recurrent.rnn import RNN
from convrnn.layers.recurrent.scan import run_direction, runner, scan
from convrnn.stream.stage import NotCausalError, Stage, State


def _refuse_training(module: nn.Module, name: str, options: Sequence[str]) -> None:
    if module.training and any(getattr(module, option, 0) for option in options):
        raise ValueError(f"stream: {name} ({type(module).__name__}) is in training mode, where "
                         f"{'/'.join(options)} draw at random; call model.eval() before streaming")


def _bidirectional_refused(module: nn.Module, name: str, variant: str) -> NotCausalError:
    return NotCausalError(
        f"stream: {name} ({type(module).__name__}) is bidirectional: its backward direction reads each sequence "
        f"from its end, so no output is final before the stream ends (not causal). {variant}")


class _TimeMajor(Stage):
    """Shared layout handling: inputs (N, T, F) with batch_first, else (T, N, F)."""

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__(name)
        self.module = module
        self.batch_first = bool(getattr(module, "batch_first", False))
        self.time_axis = 1 if self.batch_first else 0

    def _time_major(self, x: Tensor) -> Tensor:
        return x.transpose(0, 1) if self.batch_first else x

    def _batch(self, x: Tensor) -> int:
        return x.shape[0] if self.batch_first else x.shape[1]


class RecurrentStage(_TimeMajor):
    """A one-direction :class:`~convrnn.layers.RNN` stack with its state carried (see the module docstring)."""

    def __init__(self, module: RNN, name: str) -> None:
        super().__init__(module, name)
        _refuse_training(module, name, ("dropout", "recurrent_dropout", "zoneout"))
        self.state_names = module.cells[0].state_names

    def describe(self) -> str:
        m = self.module
        return f"{type(m).__name__} {type(m.cells[0]).__name__} {m.num_layers}×{m.hidden_size}"

    def init(self, x: Tensor) -> State:
        m, batch = self.module, self._batch(x)
        return {name: x.new_zeros(m.num_layers, batch, size)
                for name, size in zip(self.state_names, m.state_sizes, strict=True)}

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        if x.shape[self.time_axis] == 0:
            size = self.module.output_size
            shape = (x.shape[0], 0, size) if self.batch_first else (0, x.shape[1], size)
            return x.new_zeros(shape), state
        given = tuple(state[name] for name in self.state_names)
        outputs, final = self.module(x, state=given[0] if len(given) == 1 else given)
        final = (final,) if isinstance(final, Tensor) else final
        return outputs, dict(zip(self.state_names, final, strict=True))


class LookaheadStage(_TimeMajor):
    """A bidirectional :class:`~convrnn.layers.RNN` with ``lookahead=L``, layer by layer (module docstring)."""

    def __init__(self, module: RNN, name: str) -> None:
        super().__init__(module, name)
        _refuse_training(module, name, ("dropout", "recurrent_dropout", "zoneout"))
        self.L = module.lookahead
        self.lookahead = module.num_layers * self.L
        components = module.cells[0].state_names
        self.state_names = tuple(f"layer{layer}_{part}" for layer in range(module.num_layers)
                                 for part in (*components, "inputs", "forward", "projected"))
        self.not_exportable = (f"{name}: its buffers grow to L = {self.L} steps while the stream starts "
                               f"(shapes change from chunk to chunk)")

    def describe(self) -> str:
        m = self.module
        cell = type(m.cells[0]).__name__
        return f"{type(m).__name__} {cell} {m.num_layers}×{m.hidden_size} bidirectional, lookahead {self.L}"

    def init(self, x: Tensor) -> State:
        m, batch = self.module, self._batch(x)
        state: State = {}
        width = m.input_size
        for layer in range(m.num_layers):
            cell = m.cells[2 * layer]
            for part, size in zip(cell.state_names, cell.state_sizes, strict=True):
                state[f"layer{layer}_{part}"] = x.new_zeros(batch, size)
            state[f"layer{layer}_inputs"] = x.new_zeros(0, batch, width)
            state[f"layer{layer}_forward"] = x.new_zeros(0, batch, cell.output_size)
            state[f"layer{layer}_projected"] = x.new_zeros(0, batch, m.cells[2 * layer + 1].weight_ih.shape[0])
            width = m.output_size
        return state

    def _layer(self, layer: int, u: Tensor, state: State, final: bool) -> tuple[Tensor, State]:
        """Layer ``layer`` on the time-major chunk u (c, N, F): its outputs now final (all at the end).

        The backward cell's projections W x_t + b of the waiting inputs are kept with them (``projected``),
        so each input is projected once, and only the windows of the outputs now final run: window t
        (t < count) steps over x_{t+L}, …, x_t from the zero state (:func:`run_lookahead`'s definition),
        a position past the last input leaving the state as it is (only at the end of the stream)."""
        m, key = self.module, f"layer{layer}_"
        forward_cell, backward_cell = m.cells[2 * layer], m.cells[2 * layer + 1]
        carried = tuple(state[key + part] for part in forward_cell.state_names)
        inputs, waiting, projected = state[key + "inputs"], state[key + "forward"], state[key + "projected"]
        backward_cell = runner(backward_cell, inputs, python_loop=m.zoneout > 0)
        if u.shape[0]:
            out, carried, _ = run_direction(forward_cell, u, carried, zoneout=m.zoneout)
            u = u.contiguous()
            inputs, waiting = torch.cat([inputs, u]), torch.cat([waiting, out])
            projected = torch.cat([projected, backward_cell.project(u)])
        count = inputs.shape[0] if final else max(inputs.shape[0] - self.L, 0)
        batch = inputs.shape[1]
        if count:
            backward = self._windows(backward_cell, projected, count, batch)
            output = torch.cat([waiting[:count], backward], dim=-1)
            if m.residual and layer > 0:
                output = output + inputs[:count]
        else:
            output = inputs.new_zeros(0, batch, m.output_size)
        state = {**state, **dict(zip((key + part for part in forward_cell.state_names), carried, strict=True)),
                 key + "inputs": inputs[count:], key + "forward": waiting[count:],
                 key + "projected": projected[count:]}
        return output, state

    def _windows(self, cell: Cell, projected: Tensor, count: int, batch: int) -> Tensor:
        """Backward outputs (count, N, O) of windows t = 0 … count − 1 over ``projected`` (P, N, G)."""
        available, L = projected.shape[0], self.L
        steps = min(L, available - 1)           # window steps past the first: L, fewer at the end of a short stream
        padded = projected[:count + steps]
        if padded.shape[0] < count + steps:     # the end of the stream: positions past the last input
            padded = torch.cat([padded, padded.new_zeros(count + steps - padded.shape[0], *padded.shape[1:])])
        windows = torch.stack([padded[steps - k:steps - k + count] for k in range(steps + 1)]).flatten(1, 2)
        mask = None
        if count + steps > available:
            t = torch.arange(count, device=projected.device)
            k = torch.arange(steps + 1, device=projected.device)
            position = t.unsqueeze(0) + steps - k.unsqueeze(1)                     # (steps+1, count)
            mask = (position < available).repeat_interleave(batch, dim=1)         # (steps+1, count·N)
        start = tuple(projected.new_zeros(count * batch, size) for size in cell.state_sizes)
        keeps = zoneout_weights(self.module.zoneout, False, steps + 1, count * batch, cell.state_sizes, projected) \
            if self.module.zoneout > 0 else None
        _, last, _ = scan(cell, windows, start, mask=mask, zoneout=keeps)
        return last[cell.output_index].view(count, batch, -1)

    def _run(self, x: Tensor | None, state: State, final: bool) -> tuple[Tensor | None, State]:
        if x is None:
            batch = state["layer0_inputs"].shape[1]
            u = state["layer0_inputs"].new_zeros(0, batch, self.module.input_size)
        else:
            u = self._time_major(x)
        for layer in range(self.module.num_layers):
            u, state = self._layer(layer, u, state, final)
        if final and u.shape[0] == 0:
            return None, state
        return (u.transpose(0, 1) if self.batch_first else u), state

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        y, state = self._run(x, state, final=False)
        return y, state

    def finish(self, state: State) -> Tensor | None:
        return self._run(None, state, final=True)[0]


class ParallelStage(_TimeMajor):
    """A one-direction :class:`~convrnn.layers.ParallelRNN` (``MinGRU``, ``MinLSTM``, ``QRNN``): per layer
    h and the last k − 1 inputs (``window`` k) carried."""

    def __init__(self, module: ParallelRNN, name: str) -> None:
        super().__init__(module, name)
        _refuse_training(module, name, ("dropout",))
        context = ("context",) if module.window > 1 else ()
        self.state_names = tuple(f"layer{layer}_{part}" for layer in range(module.num_layers)
                                 for part in ("h", *context))

    def describe(self) -> str:
        m = self.module
        return f"{type(m).__name__} {m.num_layers}×{m.hidden_size} window {m.window}"

    def init(self, x: Tensor) -> State:
        m, batch = self.module, self._batch(x)
        state: State = {}
        for layer in range(m.num_layers):
            state[f"layer{layer}_h"] = x.new_zeros(batch, m.hidden_size)
            if m.window > 1:
                width = m.input_size if layer == 0 else m.output_size
                state[f"layer{layer}_context"] = x.new_zeros(m.window - 1, batch, width)
        return state

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        m = self.module
        if x.shape[self.time_axis] == 0:
            shape = (x.shape[0], 0, m.output_size) if self.batch_first else (0, x.shape[1], m.output_size)
            return x.new_zeros(shape), state
        u, state = self._time_major(x), dict(state)
        for layer in range(m.num_layers):
            key = f"layer{layer}_"
            if m.window > 1:
                full = torch.cat([state[key + "context"], u])
                projected = m.project(layer, full)[m.window - 1:]
                state[key + "context"] = full[full.shape[0] - (m.window - 1):]
            else:
                projected = m.project(layer, u.contiguous())
            u, h = m.recur(projected, state[key + "h"])
            state[key + "h"] = h[-1]
        return (u.transpose(0, 1) if self.batch_first else u), state


class TorchRecurrentStage(_TimeMajor):
    """``torch.nn.LSTM``/``GRU``/``RNN`` in one direction, ``h`` (and ``c``) carried."""

    def __init__(self, module: nn.RNNBase, name: str) -> None:
        super().__init__(module, name)
        _refuse_training(module, name, ("dropout",))
        self.state_names = ("h", "c") if isinstance(module, nn.LSTM) else ("h",)

    def describe(self) -> str:
        m = self.module
        return f"torch.nn.{type(m).__name__} {m.num_layers}×{m.hidden_size}"

    def init(self, x: Tensor) -> State:
        m, batch = self.module, self._batch(x)
        h = x.new_zeros(m.num_layers, batch, m.proj_size or m.hidden_size)
        if isinstance(m, nn.LSTM):
            return {"h": h, "c": x.new_zeros(m.num_layers, batch, m.hidden_size)}
        return {"h": h}

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        m = self.module
        if x.shape[self.time_axis] == 0:
            size = m.proj_size or m.hidden_size
            return x.new_zeros((x.shape[0], 0, size) if self.batch_first else (0, x.shape[1], size)), state
        hx = (state["h"], state["c"]) if isinstance(m, nn.LSTM) else state["h"]
        outputs, final = m(x, hx)
        final = final if isinstance(final, tuple) else (final,)
        return outputs, dict(zip(self.state_names, final, strict=True))


def rnn_stage(module: RNN, name: str) -> Stage:
    """The stage of a convrnn :class:`~convrnn.layers.RNN`: carried state, or look-ahead layer by layer."""
    if not module.bidirectional:
        return RecurrentStage(module, name)
    if module.lookahead is None:
        raise _bidirectional_refused(module, name, "Its causal variant: lookahead=L (the backward direction reads "
                                                   "L steps ahead; latency L steps per layer).")
    return LookaheadStage(module, name)


def parallel_stage(module: ParallelRNN, name: str) -> Stage:
    if module.bidirectional:
        raise _bidirectional_refused(module, name, "Its causal variant: bidirectional=False.")
    return ParallelStage(module, name)


def torch_rnn_stage(module: nn.RNNBase, name: str) -> Stage:
    if module.bidirectional:
        raise _bidirectional_refused(module, name, "Its causal variant: convrnn.layers.RNN(bidirectional=True, "
                                                   "lookahead=L) (convrnn.layers.from_torch copies the weights).")
    return TorchRecurrentStage(module, name)


def recurrent_stages() -> Sequence[tuple[type, object]]:
    """The recurrent layers that stream, and the functions that make their stages."""
    return ((RNN, rnn_stage), (ParallelRNN, parallel_stage), (nn.RNNBase, torch_rnn_stage))


__all__ = ["LookaheadStage", "ParallelStage", "RecurrentStage", "TorchRecurrentStage", "recurrent_stages"]
