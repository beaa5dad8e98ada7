"""Time-series forecasting: a recurrent network reads a sliding window of the past and predicts
the next value (one-step) or the next H values at once (multi-step, the direct strategy).

Also the window cutting and the seasonal-naive baseline every forecast is compared with.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.recurrent import RNN


class Forecaster(nn.Module):
    r"""``ŷ_{t+1} … ŷ_{t+H}`` from the window ``x_{t−W+1} … x_t``.

        (y_1 … y_W, s_W) = RNN(x_{t−W+1} … x_t);   ŷ_{t+1:t+H} = V · h_W + c

    One linear read-out of the last hidden state gives all H steps (the *direct* multi-step
    strategy: no forecast is fed back, so errors do not compound through the recursion);
    ``horizon=1`` is the one-step forecaster.

    With ``window_norm=True`` each window is first standardised by its own mean μ and standard
    deviation σ (per feature), and the forecasts are mapped back, ŷ = μ_0 + σ_0·(V·h_W + c)
    (reversible instance normalisation, Kim et al., 2022): the network then forecasts the shape of
    the coming steps relative to the recent level and amplitude, and can forecast levels it never
    saw in training — a series whose cycles grow, like the sunspots of the 1950s.

    Args:
        input_size: F features per step (1 for a univariate series).
        hidden_size: H_s; num_layers: L; cell: ``"lstm"``, ``"gru"``, …; dropout between layers.
        horizon: H, the number of future steps predicted.
        window_norm: standardise each window by its own statistics (see above).

    Shapes: window (N, W, F) → forecasts (N, H) of the first feature (the series forecast).
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 64, num_layers: int = 1, *,
                 cell: str = "lstm", horizon: int = 1, dropout: float = 0.0, window_norm: bool = False) -> None:
        super().__init__()
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"Forecaster: argument 'horizon' expected an int ≥ 1, got {horizon!r}")
        self.horizon, self.window_norm = horizon, window_norm
        self.rnn = RNN(cell, input_size, hidden_size, num_layers, dropout=dropout)
        self.readout = nn.Linear(hidden_size, horizon)

    def forward(self, window: Tensor) -> Tensor:
        check_tensor("window", window, dims=3, floating=True, where="Forecaster.forward")
        if not self.window_norm:
            return self.readout(self.rnn(window)[0][:, -1])
        mean = window.mean(1, keepdim=True)
        # a constant window has σ = 0: the floor keeps it finite (its forecast is then μ + c·floor)
        std = window.std(1, keepdim=True, unbiased=False).clamp(min=1e-3)
        outputs, _ = self.rnn((window - mean) / std)
        return self.readout(outputs[:, -1]) * std[:, :, 0] + mean[:, :, 0]


def sliding_windows(series: np.ndarray | Tensor, width: int, horizon: int,
                    targets_from: int = 0) -> tuple[Tensor, Tensor]:
    """Cut a series into (window, next ``horizon`` values) pairs, one per forecast origin.

    ``series``: (T,) or (T, F); origin t (the window's last step) runs over every position with
    ``width`` steps of history and ``horizon`` steps of future, and with its first target at
    index ≥ ``targets_from`` (so a test set can use the training years as history while scoring
    only on the test years). Returns windows (M, W, F) and targets (M, H) of feature 0, float32.
    """
    values = torch.as_tensor(np.asarray(series), dtype=torch.float32)
    if values.dim() == 1:
        values = values.unsqueeze(1)
    if values.dim() != 2:
        raise ValueError(f"sliding_windows: argument 'series' expected shape (T,) or (T, F), "
                         f"got {tuple(values.shape)}")
    for name, value in (("width", width), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"sliding_windows: argument '{name}' expected an int ≥ 1, got {value!r}")
    first = max(width, targets_from)
    starts = range(first, values.shape[0] - horizon + 1)    # index of each window's first target
    if not starts:
        raise ValueError(f"sliding_windows: a series of {values.shape[0]} steps has no window of "
                         f"width {width} with {horizon} targets at or after index {targets_from}")
    windows = torch.stack([values[s - width:s] for s in starts])
    targets = torch.stack([values[s:s + horizon, 0] for s in starts])
    return windows, targets


def seasonal_naive(series: np.ndarray, origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The seasonal-naive forecast: each step repeats the value one season earlier.

        ŷ_{t+h} = y_{t+h−p·⌈h/p⌉}        (t the origin, p the period, h = 1 … H)

    so only values up to y_t are used. ``series`` (T,); ``origins`` (M,) indices t; returns (M, H).
    """
    series = np.asarray(series, dtype=np.float64)
    origins = np.asarray(origins)
    steps = np.arange(1, horizon + 1)
    lag = period * np.ceil(steps / period).astype(int)
    index = origins[:, None] + steps[None, :] - lag[None, :]
    if index.min() < 0:
        raise ValueError(f"seasonal_naive: origins need {period} values of history, got origin "
                         f"{int(origins.min())}")
    return series[index]


__all__ = ["Forecaster", "seasonal_naive", "sliding_windows"]
