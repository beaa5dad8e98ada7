"""Recurrent layers that train in parallel over time: ``MinGRU``, ``MinLSTM``, ``QRNN``.

Their gates read the input only, never h_{t−1}, so every gate of every step is one matrix
product (or one convolution over time) and the remaining recurrence is linear,
h_t = a_t ∘ h_{t−1} + b_t, which ``linear_scan.py`` runs in O(√T) sequential steps instead of T.
On a CPU with the compiled core, the gates, the recurrence and the output gate are instead one
C++ pass through time, forward and backward (``parallel_fused.py``; same results).

Letters as in ``rnn.py``: N batch, T steps, F input features, H hidden units, L ``num_layers``,
D = 2 if bidirectional else 1. Masking by ``lengths`` is the engine's: at padded steps a = 1 and
b = 0, so the state stays frozen and each sequence's final state is its state at its own last
step; padded outputs are 0; the backward direction reverses each sequence within its own length.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import (
    check_choice,
    check_flag,
    check_like,
    check_real,
    check_tensor,
    refuse_torchscript,
)
from convrnn.layers.recurrent.fused import core_for
from convrnn.layers.recurrent.gpu import dispatch as gpu_dispatch
from convrnn.layers.recurrent.linear_scan import linear_recurrence
from convrnn.layers.recurrent.parallel_fused import project_and_run, run_parallel
from convrnn.layers.recurrent.rnn import check_lengths
from convrnn.layers.recurrent.scan import reversal_index, reverse_within_lengths


class ParallelRNN(nn.Module):
    """A stack of layers whose recurrence is linear in the state: h_t = a_t ∘ h_{t−1} + b_t.

    A subclass sets ``gates`` (how many H-sized blocks its input projection has) and implements
    :meth:`coefficients`, mapping the projection of every step to (a, b, o): the outputs are
    y_t = h_t, or o_t ∘ h_t when o is not None.

    Args:
        input_size: F. hidden_size: H. num_layers: L.
        bidirectional: add a backward direction to every layer.
        dropout: dropout probability on the input of every layer but the first.
        batch_first: x and outputs are (N, T, ·) if True (default), (T, N, ·) if False.
        window: k, how many steps x_{t−k+1} … x_t the gates read (a causal convolution over
            time; the backward direction reads x_t … x_{t+k−1}). 1 = a linear map of x_t.

    Shapes (batch_first=True): x (N, T, F); lengths (N,) integers in [1, T] or None;
    state (L·D, N, H) or None for zeros (row l·D + d is layer l, direction d); outputs
    (N, T, D·H), zero at padded steps; final_state (L·D, N, H); with ``return_states=True``
    also states (N, T, L, D·H), every h_t of every layer, zero at padded steps.
    Carrying ``state`` across chunks of a sequence carries h only; a window k > 1 sees zeros
    before the chunk's first step.

    Parameters: per layer and direction, ``projections[l·D + d]`` a ``torch.nn.Linear``
    (window 1) or a ``torch.nn.Conv1d`` (window k) to gates·H features, torch's default
    initialisation. Their weights are read directly (one product over the k shifted inputs);
    a projection with hooks (pruning, the old-style ``weight_norm``, a user's hook) is called as
    a module instead, on the PyTorch path.

    On the compiled path (CPU) the projection of every step, (T·N, gates·H), is computed inside
    it and its memory is reused: the backward pass writes the projection's gradient over it, and
    the block (8 MiB or more) is kept for the next step of the same size; at most 512 MiB,
    freed by :func:`convrnn.layers.recurrent.projection_buffers.release_buffers`.
    """

    gates: ClassVar[int] = 2
    #: the compiled core's name for this layer's equations (``parallel_fused.KINDS``), None if none
    compiled: ClassVar[str | None] = None

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bidirectional: bool = False, dropout: float = 0.0, batch_first: bool = True,
                 window: int = 1) -> None:
        super().__init__()
        where = type(self).__name__
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: argument '{name}' expected a positive int, got {value!r}")
        try:
            check_real("dropout", dropout, minimum=0, below=1, where=where)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: argument 'dropout' expected a probability in [0, 1), "
                              f"got {dropout!r}") from None
        bidirectional = check_flag("bidirectional", bidirectional, where=where)
        batch_first = check_flag("batch_first", batch_first, where=where)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.batch_first = bidirectional, dropout, batch_first
        self.window = window
        self.directions = 2 if bidirectional else 1
        self.output_size = self.directions * hidden_size
        projections = []
        for position in range(num_layers * self.directions):
            features = input_size if position < self.directions else self.output_size
            out = self.gates * hidden_size
            projections.append(nn.Linear(features, out) if window == 1 else nn.Conv1d(features, out, window))
        self.projections = nn.ModuleList(projections)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, dropout={self.dropout}, window={self.window}, "
                f"batch_first={self.batch_first}")

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """projected: (T, N, gates·H) → a, b, o, each (T, N, H) (o may be None)."""
        raise NotImplementedError

    def project(self, position: int, x: Tensor) -> Tensor:
        """The gates' input terms of every step: x (T, N, F) → (T, N, gates·H). Where x is a
        transposed batch-first tensor the product runs on that memory and the result is a
        transposed (N, T, gates·H) tensor: no copy of x into time-major order, and the compiled
        core then reads each sequence's steps adjacent in memory."""
        if _batch_major(x):
            return self._project(position, x.transpose(0, 1), time=1).transpose(0, 1)
        return self._project(position, x, time=0)

    def _project(self, position: int, x: Tensor, time: int) -> Tensor:
        """project() of x with time along dimension ``time``: 0 for (T, N, F), 1 for (N, T, F)."""
        projection = self.projections[position]
        if _hooked(projection):
            return self._call_projection(projection, x, time)
        weight, bias = self._gate_weight(position)
        return F.linear(self._taps(x, time), weight, bias)

    def _call_projection(self, projection: nn.Module, x: Tensor, time: int) -> Tensor:
        """The projection called as a module, so that its hooks run (pruning, the old-style
        ``weight_norm``, a user's hook): a Linear on x, or the Conv1d on x with k − 1 zero steps
        in front (causal), in (N, F, T) layout."""
        if self.window == 1:
            return projection(x)
        channels_first = x.permute(1, 2, 0) if time == 0 else x.transpose(1, 2)       # (N, F, T)
        gates = projection(F.pad(channels_first, (self.window - 1, 0)))               # (N, G, T)
        return gates.permute(2, 0, 1) if time == 0 else gates.transpose(1, 2)

    def _taps(self, x: Tensor, time: int) -> Tensor:
        """What the gates' matrix reads at each step: x (·, ·, F) itself for window 1, else the
        k shifted copies of x side by side, (·, ·, k·F), time along dimension ``time``, written
        straight into one buffer (zeros before the first step).

        The causal convolution Σ_j W_j x_{t−k+1+j} + b is then one matrix product over them, in
        x's own layout: Conv1d needs (N, F, T) copies both ways, and shifting the (wide) gate
        output instead makes its backward fill full-size zero tensors; both measured 3–4× slower."""
        if self.window == 1:
            return x
        k, steps, features = self.window, x.shape[time], x.shape[-1]
        if torch.compiler.is_compiling():
            # Traced (torch.compile, export): the same taps without in-place writes or comparing
            # the shift with a symbolic T — each x padded by its shift in front, cut to T steps.
            pads = [(0, 0) * (x.dim() - 1 - time) + (k - 1 - j, 0) for j in range(k)]
            return torch.cat([F.pad(x, pad).narrow(time, 0, steps) for pad in pads], dim=-1)
        taps = x.new_empty(*x.shape[:-1], k * features)
        for j in range(k):
            shift = min(k - 1 - j, steps)                    # tap j reads x_{t − (k − 1 − j)}
            block = taps[..., j * features:(j + 1) * features]
            block.narrow(time, 0, shift).zero_()
            block.narrow(time, shift, steps - shift).copy_(x.narrow(time, 0, steps - shift))
        return taps

    def _gate_weight(self, position: int) -> tuple[Tensor, Tensor | None]:
        """The gates' matrix (gates·H, k·F) over :meth:`_taps` and their bias (gates·H,)."""
        projection = self.projections[position]
        if self.window == 1:
            return projection.weight, projection.bias
        return projection.weight.permute(0, 2, 1).reshape(projection.out_channels, -1), projection.bias

    def __prepare_scriptable__(self) -> nn.Module:
        refuse_torchscript(self)
        return self

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: Tensor | None = None,
                return_states: bool = False) -> tuple[Tensor, ...]:
        """Returns ``(outputs, final_state)``, or ``(outputs, final_state, states)`` with
        ``return_states=True``; shapes in the class docstring."""
        where = f"{type(self).__name__}.forward"
        check_tensor("x", x, dims=3, floating=True, where=where)
        check_like("x", x, next(self.parameters()), where=where, reference_name="the layer's parameters")
        return_states = check_flag("return_states", return_states, where=where)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{where}: argument 'x' expected {self.input_size} features in the last "
                             f"dimension (input_size), got shape {tuple(x.shape)}")
        x = x.transpose(0, 1) if self.batch_first else x
        steps, batch = x.shape[:2]
        if steps == 0:
            raise ValueError(f"{where}: argument 'x' expected at least one step, got shape {tuple(x.shape)}")
        lengths = check_lengths(lengths, batch, steps, x.device, where)
        rows = self.num_layers * self.directions
        if state is not None:
            check_tensor("state", state, floating=True, where=where)
            check_like("state", state, x, where=where, reference_name="x")
            if tuple(state.shape) != (rows, batch, self.hidden_size):
                raise ValueError(f"{where}: argument 'state' expected shape (num_layers·D, N, H) = "
                                 f"{(rows, batch, self.hidden_size)}, got {tuple(state.shape)}")
        padded = index = None
        if lengths is not None:
            padded = (torch.arange(steps, device=x.device).unsqueeze(1) >= lengths).unsqueeze(-1)
            index = reversal_index(lengths, steps)

        finals, every = [], []
        layer_input = x
        for layer in range(self.num_layers):
            inputs = F.dropout(layer_input, self.dropout, self.training) if layer else layer_input
            outputs, states = [], []
            for direction in range(self.directions):
                position = layer * self.directions + direction
                start = state[position] if state is not None else None
                out, h = self._run_direction(position, inputs, start, padded, index, direction == 1)
                outputs.append(out)
                states.append(h)
                # Backward: h came back in the caller's order, so step 0 holds the state after x_0.
                finals.append(h[0] if direction == 1 else h[-1])
            layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if return_states:
                every.append(torch.cat(states, dim=-1) if len(states) > 1 else states[0])

        outputs = layer_input.transpose(0, 1) if self.batch_first else layer_input
        final_state = torch.stack(finals)
        if not return_states:
            return outputs, final_state
        stacked = torch.stack(every, dim=2)                               # (T, N, L, D·H)
        if padded is not None:
            stacked = stacked.masked_fill(padded.unsqueeze(-1), 0.0)
        return outputs, final_state, stacked.transpose(0, 1) if self.batch_first else stacked

    def _run_direction(self, position: int, x: Tensor, start: Tensor | None, padded: Tensor | None,
                       index: Tensor | None, reverse: bool) -> tuple[Tensor, Tensor]:
        """One layer, one direction: outputs (T, N, H) zero at padded steps, and every h_t
        (T, N, H) in the caller's time order (frozen, not zeroed, at padded steps)."""
        if reverse:
            x = reverse_within_lengths(x, index)
        out, h = self._project_and_recur(position, x, start, padded)
        if reverse:
            out, h = reverse_within_lengths(out, index), reverse_within_lengths(h, index)
        return out, h

    def _project_and_recur(self, position: int, x: Tensor, start: Tensor | None,
                           padded: Tensor | None) -> tuple[Tensor, Tensor]:
        """recur(project(position, x), start, padded); on the compiled core, with the projection
        computed there too, so that its memory is reused (``parallel_fused.project_and_run``)."""
        if (self.compiled is not None and x.shape[1] > 0 and core_for(x) is not None
                and not _hooked(self.projections[position])
                and not torch.is_autocast_enabled("cpu") and gpu_dispatch.scan_refusal(x) is not None):
            steps, batch = x.shape[:2]
            batch_major = _batch_major(x)
            taps = self._taps(x.transpose(0, 1), time=1) if batch_major else self._taps(x.contiguous(), time=0)
            weight, bias = self._gate_weight(position)
            h0 = start if start is not None else x.new_zeros(batch, self.hidden_size)
            fused = project_and_run(self.compiled, taps.reshape(steps * batch, -1), weight, bias, h0,
                                    None if padded is None else ~padded.squeeze(-1), steps, batch_major)
            if fused is not None:
                h, out = fused
                return out, h
        return self.recur(self.project(position, x), start, padded)

    def recur(self, projected: Tensor, start: Tensor | None = None,
              padded: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The recurrence of one layer and direction over its gates' input terms (the
        :meth:`project` of its input): projected (T, N, gates·H), start (N, H) the state before
        step 0 or None (zeros), padded (T, N, 1) bool, True at padded steps, or None. Returns the
        outputs (T, N, H), zero at padded steps, and every h_t (T, N, H), frozen at padded steps.
        On the compiled core where it runs (gates, recurrence and output gate in one pass), else
        the gates as PyTorch ops and :func:`linear_recurrence` (on CUDA with Triton: its Triton
        kernel, ``gpu/scan``); they agree (tested)."""
        if self.compiled is not None and gpu_dispatch.scan_refusal(projected) is not None:
            h0 = start if start is not None else projected.new_zeros(projected.shape[1], self.hidden_size)
            fused = run_parallel(self.compiled, projected, h0, None if padded is None else ~padded.squeeze(-1))
            if fused is not None:
                h, out = fused
                return out, h
        a, b, o = self.coefficients(projected)
        if padded is not None:
            a, b = a.masked_fill(padded, 1.0), b.masked_fill(padded, 0.0)
        h = linear_recurrence(a, b, start)
        out = h if o is None else o * h
        if padded is not None:
            out = out.masked_fill(padded, 0.0)
        return out, h


def _batch_major(x: Tensor) -> bool:
    """Whether x (T, N, ·) is a transposed batch-first (N, T, ·) tensor (read in place then)."""
    return x.shape[0] > 1 and not x.is_contiguous() and x.transpose(0, 1).is_contiguous()


def _hooked(module: nn.Module) -> bool:
    """Whether calling ``module`` runs hooks (its own or global ones) that reading its weight
    directly would skip."""
    hooks = nn.modules.module
    return bool(module._forward_hooks or module._forward_pre_hooks or hooks._global_forward_hooks
                or hooks._global_forward_pre_hooks)


class MinGRU(ParallelRNN):
    """Minimal GRU (Feng et al., 2024, "Were RNNs All We Needed?", §3.1, eq. for minGRU):
    the GRU without the reset gate and without h_{t−1} in the gates.

        z_t = σ(W_z x_t + b_z)
        h̃_t = W_h x_t + b_h
        h_t = (1 − z_t) ∘ h_{t−1} + z_t ∘ h̃_t          (a_t = 1 − z_t, b_t = z_t ∘ h̃_t)

    Projection blocks: z, h̃. See :class:`ParallelRNN` for arguments and shapes.
    """

    gates = 2
    compiled = "mingru"

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        z_hat, candidate = projected.chunk(2, dim=-1)
        z = torch.sigmoid(z_hat)
        # 1 − σ(u) = σ(−u), exact for large u where 1 − σ(u) would round to 0.
        return torch.sigmoid(-z_hat), z * candidate, None


class MinLSTM(ParallelRNN):
    """Minimal LSTM (Feng et al., 2024, §3.2, minLSTM with normalised gates): forget and input
    gates read x_t only and are normalised to sum to 1, so the state stays time-independent
    in scale.

        f_t = σ(W_f x_t + b_f),  i_t = σ(W_i x_t + b_i),  h̃_t = W_h x_t + b_h
        f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
        h_t = f'_t ∘ h_{t−1} + i'_t ∘ h̃_t

    Projection blocks: f, i, h̃. See :class:`ParallelRNN` for arguments and shapes.
    """

    gates = 3
    compiled = "minlstm"

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        f_hat, i_hat, candidate = projected.chunk(3, dim=-1)
        # f / (f + i) = σ(log σ(f̂) − log σ(î)): no division that could meet 0 / 0.
        difference = F.logsigmoid(f_hat) - F.logsigmoid(i_hat)
        return torch.sigmoid(difference), torch.sigmoid(-difference) * candidate, None


class QRNN(ParallelRNN):
    """Quasi-recurrent neural network (Bradbury et al., 2017): a convolution over time computes
    the gates of every step at once (the seeds' convolution), a recurrent pooling carries the
    state (the seeds' recurrence).

        Z = tanh(W_z ∗ X),  F = σ(W_f ∗ X),  O = σ(W_o ∗ X),  I = σ(W_i ∗ X)      (eq. 1–3)
        ∗ a causal convolution of width k = ``window`` (default 2) over time.
        pooling="f":   h_t = f_t ∘ h_{t−1} + (1 − f_t) ∘ z_t                        (eq. 4)
        pooling="fo":  c_t = f_t ∘ c_{t−1} + (1 − f_t) ∘ z_t,  h_t = o_t ∘ c_t       (eq. 5)
        pooling="ifo": c_t = f_t ∘ c_{t−1} + i_t ∘ z_t,  h_t = o_t ∘ c_t             (eq. 6)

    The carried state (``state``, ``final_state``, ``states``) is c_t (h_t for "f"); outputs
    are h_t. Projection blocks: z, f, then o and i where the pooling has them. See
    :class:`ParallelRNN` for arguments and shapes.
    """

    poolings: ClassVar[dict[str, int]] = {"f": 2, "fo": 3, "ifo": 4}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 pooling: str = "fo", window: int = 2, **kwargs: Any) -> None:
        self.pooling = check_choice("pooling", pooling, tuple(self.poolings), where="QRNN")
        self.gates = self.poolings[pooling]
        self.compiled = f"qrnn_{pooling}"
        super().__init__(input_size, hidden_size, num_layers, window=window, **kwargs)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pooling={self.pooling!r}"

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        blocks = projected.chunk(self.gates, dim=-1)
        z, f_hat = torch.tanh(blocks[0]), blocks[1]
        f = torch.sigmoid(f_hat)
        o = torch.sigmoid(blocks[2]) if self.pooling != "f" else None
        if self.pooling == "ifo":
            return f, torch.sigmoid(blocks[3]) * z, o
        return f, torch.sigmoid(-f_hat) * z, o
