"""Gradients through time: how far back a loss reaches in a recurrent network (seeds 000 and 004).

For a linear recurrence h_t = U h_{t−1} + W x_t and a loss at the last step T−1,

    ∂L/∂h_t = (U^⊤)^{T−1−t} ∂L/∂h_{T−1},

so ‖∂L/∂h_t‖ shrinks like ρ(U)^{T−1−t} when the spectral radius ρ(U) < 1 (vanishing) and grows
when ρ(U) > 1 (exploding). A nonlinearity multiplies in diag(g′) at every step, which only
shrinks it further; the LSTM's additive cell c_t = f_t ∘ c_{t−1} + … lets it pass with factor f_t
instead. This file measures ‖∂L/∂h_t‖ against t, places the eigenvalues of U on the complex
plane next to the unit circle, and sets a vanilla RNN beside an LSTM.

Letters: N batch, T steps, F features, H hidden units, k the recurrent matrix's gate blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from convrnn.functional._checks import check_tensor
from convrnn.inspect._plot import figure_png, require_matplotlib
from convrnn.layers.recurrent.cells import Cell
from convrnn.layers.recurrent.rnn import RNN
from convrnn.training.tbptt import gradient_norms_through_time, spectral_radius

try:
    from convrnn.layers.recurrent.fused import disabled as _python_loop
except ImportError:  # an engine without the compiled core always runs its Python loop
    _python_loop = contextlib.nullcontext


def last_step_loss(outputs: Tensor) -> Tensor:
    """L = Σ y_{T−1}: the loss of the last step only, so ‖∂L/∂h_t‖ shows how far it reaches back.
    outputs: (N, T, O) → scalar."""
    return outputs[:, -1].sum()


def gradient_through_time(model: RNN | Cell, x: Tensor,
                          loss_fn: Callable[[Tensor], Tensor] = last_step_loss) -> Tensor:
    """‖∂L/∂h_t‖ for t = 0 … T−1 (total derivative through every later step).

    model: a cell or a one-layer, one-direction :class:`RNN`; x: (N, T, F);
    ``loss_fn(outputs (N, T, O)) -> scalar`` (default: the last step's outputs summed).
    Returns (T,). See :func:`convrnn.training.tbptt.gradient_norms_through_time`.
    """
    check_tensor("x", x, dims=3, floating=True, where="gradient_through_time")
    # The compiled core returns all steps' states from one autograd node, so no h_t of its
    # history lies on the path from L back to h_0; the Python loop keeps every h_t in the graph.
    with _python_loop():
        return gradient_norms_through_time(model, x, loss_fn).detach()


def recurrent_matrix(model: RNN | Cell) -> Tensor:
    """The recurrent matrix U of a cell (of the first layer of an RNN): (k·H, H), k gate blocks."""
    cell = model.cells[0] if isinstance(model, RNN) else model
    weight = getattr(cell, "weight_hh", None)
    if not isinstance(weight, Tensor):
        raise TypeError(f"recurrent_matrix: argument 'model' expected a cell with a 'weight_hh' "
                        f"recurrent matrix, got {type(cell).__name__}")
    return weight.detach()


def recurrent_eigenvalues(model: RNN | Cell) -> Tensor:
    """Eigenvalues λ_i of each (H, H) gate block of U: complex (k, H). ρ = max |λ_i| per block
    is :func:`convrnn.training.tbptt.spectral_radius`."""
    weight = recurrent_matrix(model)
    return torch.linalg.eigvals(weight.unflatten(0, (-1, weight.shape[1])))


def rnn_versus_lstm(steps: int = 50, hidden_size: int = 32, input_size: int = 8, batch: int = 4,
                    seed: int = 0) -> dict[str, Tensor]:
    """‖∂L/∂h_t‖ (T,) for a freshly initialised tanh Elman RNN and an LSTM of the same size on the
    same random input x (N, T, F) and the last-step loss — the seeds' side-by-side picture."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, input_size, generator=generator)
    curves = {}
    for label, cell in (("vanilla RNN (tanh)", "elman"), ("LSTM", "lstm")):
        torch.manual_seed(seed)
        curves[label] = gradient_through_time(RNN(cell, input_size, hidden_size), x)
    return curves


def plot_gradient_norms(curves: Mapping[str, Tensor], title: str = "‖∂L/∂h_t‖ through time") -> bytes:
    """PNG: one line per curve, ‖∂L/∂h_t‖ (T,) on a log scale against t."""
    plt = require_matplotlib()
    figure, axes = plt.subplots(figsize=(6, 3.4))
    for label, curve in curves.items():
        values = np.asarray(curve.detach().cpu(), dtype=float)
        axes.semilogy(np.arange(len(values)), np.maximum(values, 1e-30), label=label)
    axes.set_xlabel("step t (loss at the last step)")
    axes.set_ylabel("‖∂L/∂h_t‖")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return figure_png(figure)


def plot_eigenvalues(eigenvalues: Mapping[str, Tensor], title: str = "eigenvalues of U") -> bytes:
    """PNG: eigenvalues (any shape, complex) on the complex plane with the unit circle |λ| = 1;
    one panel per entry (e.g. before and after training)."""
    plt = require_matplotlib()
    count = max(len(eigenvalues), 1)
    figure, axes = plt.subplots(1, count, figsize=(3.4 * count, 3.4), squeeze=False)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 256))
    for panel, (label, values) in zip(axes[0], eigenvalues.items(), strict=False):
        z = np.asarray(values.detach().cpu().flatten().to(torch.complex128))
        panel.plot(circle.real, circle.imag, color="0.5", linewidth=1)
        panel.scatter(z.real, z.imag, s=10)
        radius = max(1.0, float(np.abs(z).max()) if z.size else 1.0) * 1.1
        panel.set_xlim(-radius, radius)
        panel.set_ylim(-radius, radius)
        panel.set_aspect("equal")
        panel.axhline(0, color="0.85", linewidth=0.8)
        panel.axvline(0, color="0.85", linewidth=0.8)
        panel.set_title(f"{label}\nρ = {float(np.abs(z).max()) if z.size else 0:.3f}")
        panel.set_xlabel("Re λ")
        panel.set_ylabel("Im λ")
    figure.suptitle(title, y=1.08)  # above the panels' own two-line titles
    return figure_png(figure)


__all__ = ["gradient_through_time", "last_step_loss", "plot_eigenvalues", "plot_gradient_norms",
           "recurrent_eigenvalues", "recurrent_matrix", "rnn_versus_lstm", "spectral_radius"]
