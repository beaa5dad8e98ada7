"""Truncated backpropagation through time, and the gradient-through-time picture of a recurrence.

Truncated BPTT(k1, k2) (Williams & Peng, 1990; the seeds' drawing "pick a maximum number of time
steps and go backwards that much"): a long sequence is consumed k1 steps at a time; after each
k1 steps the losses of those steps are backpropagated through the last k2 ≥ k1 steps only, and
the state is carried forward detached. Update u ends at e_u = min(u·k1, T) and its graph starts
from the state at b_u = max(0, e_u − k2), detached, so

    g_u = Σ_{t ∈ [e_{u−1}, e_u)} ∂L_t/∂θ   through steps b_u … t only.

Dependencies of L_t on anything older than b_u are ignored; with k2 ≥ T nothing is, and the sum
of all g_u is the full BPTT gradient. The k2 − k1 overlap steps are recomputed at each update
(compute T·k2/k1, memory O(k2)): that is what lets any model with state in/out be truncated.

Letters: N batch, T steps, F features, O outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.layers.recurrent.cells import Cell
from convrnn.layers.recurrent.rnn import RNN
from convrnn.layers.recurrent.scan import scan

Forward = Callable[[Tensor, Any], tuple[Tensor, Any]]
"""``forward(x_window (N, t, F), state) -> (outputs (N, t, O), state)``, e.g.
``lambda x, s: rnn(x, state=s)``; ``state`` None means the model's zero state."""


@dataclass
class TruncatedRun:
    """What :func:`truncated_bptt` returns: the summed loss, the detached state after the last
    step (to carry into the next sequence) and the number of updates."""

    loss: float
    state: Any
    updates: int


def detach_state(state: Any) -> Any:
    """Detach a tensor or a (nested) tuple/list of tensors; None stays None."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    return state


def truncated_bptt(forward: Forward, loss_fn: Callable[[Tensor, Tensor], Tensor],
                   inputs: Tensor, targets: Tensor, *, k1: int, k2: int, state: Any = None,
                   optimizer: torch.optim.Optimizer | None = None,
                   parameters: Iterable[Tensor] | None = None, clip_norm: float | None = None,
                   clip_value: float | None = None) -> TruncatedRun:
    """Run BPTT(k1, k2) over one long batch of sequences (see the module docstring).

    Args:
        forward: the model, ``(x (N, t, F), state) -> (outputs (N, t, O), state)``.
        loss_fn: ``(outputs (N, t, O), targets (N, t, …)) -> scalar`` for the t steps of one
            update. Use a loss that adds over steps (e.g. ``reduction="sum"``) for the updates'
            gradients to add up to the full BPTT gradient.
        inputs: (N, T, F); targets: (N, T, …).
        k1: steps between updates; k2 ≥ k1: steps backpropagated at each update.
        state: the initial state (detached before use), None for zeros.
        optimizer: stepped (then zeroed) after every update; without one the truncated
            gradients accumulate in ``.grad``.
        parameters: what the clipping sees (default: the optimizer's parameters).
        clip_norm, clip_value: ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` before
            each optimizer step.
    """
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"truncated_bptt: argument '{name}' expected a positive int, "
                             f"got {value!r}")
    if k2 < k1:
        raise ValueError(f"truncated_bptt: argument 'k2' expected k2 ≥ k1 = {k1}, got {k2}")
    if inputs.dim() < 2 or targets.shape[:2] != inputs.shape[:2]:
        raise ValueError(f"truncated_bptt: arguments 'inputs' and 'targets' expected the same "
                         f"(N, T) in front, got {tuple(inputs.shape)} and {tuple(targets.shape)}")
    steps = inputs.shape[1]
    if parameters is None and optimizer is not None:
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
    parameters = list(parameters) if parameters is not None else []

    ends = [*range(k1, steps, k1), steps]
    anchor = detach_state(state)          # the detached state at the start of the next graph
    total, previous_end = 0.0, 0
    for update, end in enumerate(ends):
        start = max(0, end - k2)
        following = max(0, ends[update + 1] - k2) if update + 1 < len(ends) else end
        # Run [start, following) then [following, end): the state in between anchors the next
        # update's graph. start ≤ following ≤ end because k2 ≥ k1.
        current, pieces = anchor, []
        if following > start:
            out, current = forward(inputs[:, start:following], current)
            pieces.append(out)
        anchor = detach_state(current)
        if end > following:
            out, current = forward(inputs[:, following:end], current)
            pieces.append(out)
        outputs = torch.cat(pieces, dim=1)[:, previous_end - start:]
        loss = loss_fn(outputs, targets[:, previous_end:end])
        loss.backward()
        total += float(loss.detach())
        if optimizer is not None:
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(parameters, clip_norm)
            if clip_value is not None:
                nn.utils.clip_grad_value_(parameters, clip_value)
            optimizer.step()
            optimizer.zero_grad()
        previous_end = end
    return TruncatedRun(loss=total, state=detach_state(current), updates=len(ends))


def gradient_norms_through_time(model: RNN | Cell, x: Tensor,
                                loss_fn: Callable[[Tensor], Tensor]) -> Tensor:
    """‖∂L/∂h_t‖ for every step t: the vanishing/exploding picture of seeds 000 and 004.

    ∂L/∂h_t is the total derivative, through every later step (h_t → h_{t+1} → … → L), not only
    through the output at t. ``model`` is a cell or a one-layer, one-direction :class:`RNN`;
    x: (N, T, F); ``loss_fn(outputs (N, T, O)) -> scalar``, e.g. ``lambda y: y[:, -1].sum()``
    to see how far the last step's loss reaches back. Returns (T,): the norm over batch and
    units of the gradient with respect to the output component h_t. Parameter ``.grad`` is
    left untouched.
    """
    if isinstance(model, RNN):
        if model.num_layers != 1 or model.bidirectional:
            raise ValueError(f"gradient_norms_through_time: argument 'model' expected a one-layer, "
                             f"one-direction RNN, got num_layers={model.num_layers}, "
                             f"bidirectional={model.bidirectional}")
        x = x if model.batch_first else x.transpose(0, 1)
        model = model.cells[0]
    state = tuple(x.new_zeros(x.shape[0], size) for size in model.state_sizes)
    outputs, _, history = scan(model, model.project(x.transpose(0, 1)), state, keep_states=True)
    hidden = [step[model.output_index] for step in history]
    grads = torch.autograd.grad(loss_fn(outputs.transpose(0, 1)), hidden, allow_unused=True)
    return torch.stack([g.norm() if g is not None else x.new_zeros(()) for g in grads])


def spectral_radius(weight: Tensor) -> Tensor:
    """ρ(U) = max |λ_i(U)|, the largest eigenvalue modulus of a recurrent matrix (seed 000:
    ρ < 1 makes U^n → 0, ρ > 1 lets it explode).

    weight: (H, H), or (k·H, H) stacked gate blocks like ``weight_hh`` (one radius per block).
    Returns (k,).
    """
    if weight.dim() != 2 or weight.shape[0] % weight.shape[1]:
        raise ValueError(f"spectral_radius: argument 'weight' expected a (k·H, H) matrix, "
                         f"got shape {tuple(weight.shape)}")
    blocks = weight.detach().unflatten(0, (-1, weight.shape[1]))
    return torch.linalg.eigvals(blocks).abs().amax(dim=-1)
