"""Recurrent cells over text: colour each character by one cell's value, and find the cells that
track simple features of the text (Karpathy et al., 2015; seed 002's "cell sensitive to position
in line" and "cell that turns on inside quotes").

The finder correlates every unit u's value s_t,u with each feature φ_t over the T characters,

    r(u, φ) = Σ_t (s_t,u − s̄_u)(φ_t − φ̄) / √(Σ_t (s_t,u − s̄_u)² · Σ_t (φ_t − φ̄)²),

and lists the units with the largest |r| per feature. A unit or feature that never changes has
r = 0. Letters: T characters (steps), L layers, H hidden units per layer, U = L·H units.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_tensor
from convrnn.layers.recurrent.rnn import RNN


def _quotes(text: str) -> np.ndarray:
    # 1 from an opening '"' up to the character before the closing one.
    inside, out = False, np.zeros(len(text))
    for t, char in enumerate(text):
        if char == '"':
            inside = not inside
        out[t] = inside
    return out


def _position_in_line(text: str) -> np.ndarray:
    column, out = 0, np.zeros(len(text))
    for t, char in enumerate(text):
        out[t] = column
        column = 0 if char == "\n" else column + 1
    return out


def _parentheses(text: str) -> np.ndarray:
    # 1 from '(' to the character before its matching ')', nesting counted.
    depth, out = 0, np.zeros(len(text))
    for t, char in enumerate(text):
        depth = depth + 1 if char == "(" else max(depth - 1, 0) if char == ")" else depth
        out[t] = depth > 0
    return out


def _line_start(text: str) -> np.ndarray:
    return np.array([t == 0 or text[t - 1] == "\n" for t in range(len(text))], dtype=float)


TEXT_FEATURES: dict[str, Callable[[str], np.ndarray]] = {
    "inside quotes": _quotes,
    "position in line": _position_in_line,
    "inside parentheses": _parentheses,
    "line start": _line_start,
}
"""Each feature maps a text of T characters to φ (T,): one number per character."""


def text_features(text: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The features of :data:`TEXT_FEATURES` (all, or those named), each (T,) float64."""
    if not isinstance(text, str):
        raise TypeError(f"text_features: argument 'text' expected a str, got {type(text).__name__}")
    names = list(TEXT_FEATURES) if names is None else names
    for name in names:
        check_choice("names", name, list(TEXT_FEATURES), where="text_features")
    return {name: TEXT_FEATURES[name](text) for name in names}


@dataclass(frozen=True)
class CellMatch:
    """Unit ``unit`` (layer ``unit // H``, cell ``unit % H``) follows ``feature`` with Pearson r."""

    feature: str
    unit: int
    correlation: float


def correlations(values: Tensor | np.ndarray, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pearson r of every unit with every feature: values (T, U), each feature (T,) → (U,) each."""
    s = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"correlations: argument 'values' expected a (T, U) array, got shape {s.shape}")
    centred = s - s.mean(axis=0)
    spread = np.sqrt((centred ** 2).sum(axis=0))
    out = {}
    for name, phi in features.items():
        phi = np.asarray(phi, dtype=np.float64)
        if phi.shape != (s.shape[0],):
            raise ValueError(f"correlations: feature {name!r} expected shape ({s.shape[0]},) (one value per "
                             f"step of 'values'), got {phi.shape}")
        d = phi - phi.mean()
        denominator = spread * np.sqrt((d ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denominator > 0, (centred * d[:, None]).sum(axis=0) / denominator, 0.0)
        out[name] = r
    return out


def find_cells(values: Tensor | np.ndarray, text: str, top: int = 5,
               features: list[str] | None = None) -> dict[str, list[CellMatch]]:
    """The ``top`` units by |r| for each text feature: values (T, U) with one row per character
    of ``text`` (T characters). Returns ``{feature: [CellMatch, …]}``, strongest first."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"find_cells: argument 'top' expected a positive int, got {top!r}")
    table = correlations(values, text_features(text, features))
    return {name: [CellMatch(name, int(u), float(r[u])) for u in np.argsort(-np.abs(r), kind="stable")[:top]]
            for name, r in table.items()}


def _recurrent_part(model: nn.Module) -> tuple[nn.Module | None, RNN]:
    if isinstance(model, RNN):
        return None, model
    rnn, embedding = getattr(model, "rnn", None), getattr(model, "embedding", None)
    if isinstance(rnn, RNN) and isinstance(embedding, nn.Embedding):
        return embedding, rnn
    raise TypeError(f"cell_states: argument 'model' expected an RNN or a model with 'embedding' "
                    f"(nn.Embedding) and 'rnn' (RNN) like LanguageModel, got {type(model).__name__}")


def cell_states(model: nn.Module, inputs: Tensor, component: str = "c") -> Tensor:
    """Every unit's value after every step, for one sequence.

    model: an :class:`RNN`, or a model with ``embedding`` and ``rnn`` like
    :class:`convrnn.models.LanguageModel`. inputs: token ids (T,) for the latter, features (T, F)
    for an RNN. component: a state name of the cell, "c" (the LSTM cell, as in the seeds) or
    "h"; a cell without that component falls back to its output h.
    Returns (T, U), U = L·D·H: layer-major, so unit u is layer u // (D·H).
    """
    embedding, rnn = _recurrent_part(model)
    if embedding is not None:
        check_tensor("inputs", inputs, dims=1, where="cell_states")
        x = embedding(inputs.long().unsqueeze(0))
    else:
        check_tensor("inputs", inputs, dims=2, floating=True, where="cell_states")
        x = inputs.unsqueeze(0)
    names = rnn.cells[0].state_names
    index = names.index(component) if component in names else rnn.cells[0].output_index
    was_training = rnn.training
    try:
        rnn.eval()
        with torch.no_grad():
            x = x if rnn.batch_first else x.transpose(0, 1)
            _, _, states = rnn(x, return_states=True)
    finally:
        rnn.train(was_training)
    chosen = states[index] if isinstance(states, tuple) else states
    chosen = chosen if rnn.batch_first else chosen.transpose(0, 1)
    return chosen[0].flatten(1)                  # (T, L, D·H) → (T, U)


def color_text(text: str, values: Tensor | np.ndarray, scale: float | None = None) -> str:
    """HTML ``<pre>`` with each character on a background by its value v_t (T,): red for v > 0,
    blue for v < 0, strength |v| / s with s = max |v| unless ``scale`` is given (1 for tanh(c))."""
    v = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64).reshape(-1)
    if v.shape[0] != len(text):
        raise ValueError(f"color_text: argument 'values' expected one value per character ({len(text)}), "
                         f"got {v.shape[0]}")
    s = float(np.abs(v).max()) if scale is None else float(scale)
    strength = np.clip(np.abs(v) / s, 0.0, 1.0) if s > 0 else np.zeros_like(v)
    spans = []
    for char, value, alpha in zip(text, v, strength, strict=True):
        colour = "220,40,40" if value > 0 else "40,90,220"
        shown = "↵\n" if char == "\n" else html.escape(char)
        spans.append(f'<span style="background:rgba({colour},{alpha:.2f})" title="{value:.3f}">{shown}</span>')
    return '<pre class="cell-text">' + "".join(spans) + "</pre>"


__all__ = ["TEXT_FEATURES", "CellMatch", "cell_states", "color_text", "correlations", "find_cells", "text_features"]
