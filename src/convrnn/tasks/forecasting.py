"""Forecasting (``sunspots``): an LSTM/GRU over sliding windows of a series, one-step and
multi-step, beside seasonal-naive and ARIMA baselines.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from convrnn.models.forecaster import Forecaster, seasonal_naive, sliding_windows
from convrnn.tasks.protocol import ExportSignature
from convrnn.tasks.runs import Run
from convrnn.tasks.sequence import SequenceTask, load_sequence_model
from convrnn.training.distributed import is_main_process
from convrnn.training.metrics import MeanAbsoluteError


def arima_forecasts(series: np.ndarray, fit_until: int, origins: np.ndarray, horizon: int,
                    order: tuple[int, int, int]) -> np.ndarray | None:
    """statsmodels' ARIMA(``order``) fitted on ``series[:fit_until]``, then, with those
    parameters, the ``horizon`` forecasts from every origin t (using ``series[:t+1]``): (M, H).
    ``None`` if statsmodels is not installed (it is an optional dependency)."""
    try:
        from statsmodels.tsa.arima.model import ARIMA
    except ImportError:
        return None
    fitted = ARIMA(series[:fit_until], order=order).fit()
    return np.stack([fitted.apply(series[:origin + 1]).forecast(horizon) for origin in origins])


def forecast_errors(forecasts: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``{"mae_1": MAE of the one-step forecasts, "mae": MAE over all H steps}``; both (M, H)."""
    errors = np.abs(np.asarray(forecasts, dtype=np.float64) - np.asarray(targets, dtype=np.float64))
    return {"mae_1": float(errors[:, 0].mean()), "mae": float(errors.mean())}


@dataclass(frozen=True)
class ForecastingRecipe(SequenceTask):
    """Forecast a univariate series H steps ahead from a window of W past values, split
    chronologically: targets before ``validation_from`` train, then validation, and from
    ``test_from`` on test (windows may reach back into earlier years, targets never do).

    Baselines on the same forecast origins: seasonal naive (``period``) and, if statsmodels is
    installed, ARIMA(``arima_order``) fitted on everything before ``test_from``.
    """

    name: str
    description: str
    load: Callable[[], np.ndarray]
    validation_from: int
    test_from: int
    width: int = 22
    horizon: int = 11
    period: int = 11
    model_options: dict[str, Any] = field(default_factory=dict)
    arima_order: tuple[int, int, int] = (9, 0, 0)
    epochs: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    target: str = ""

    kind = "forecasting"
    capabilities = frozenset({"export"})

    def _split(self, series: np.ndarray, split: str) -> tuple[Tensor, Tensor, np.ndarray]:
        """Windows (M, W, 1), targets (M, H) and origins (M,) of ``split``."""
        bounds = {"train": (0, self.validation_from), "validation": (self.validation_from, self.test_from),
                  "test": (self.test_from, len(series))}
        if split not in bounds:
            raise ValueError(f"evaluate: argument 'split' expected one of {list(bounds)}, got {split!r}")
        start, end = bounds[split]
        windows, targets = sliding_windows(series[:end], self.width, self.horizon, targets_from=start)
        origins = np.arange(max(self.width, start), end - self.horizon + 1) - 1
        return windows, targets, origins

    def _network_forecasts(self, model: nn.Module, windows: Tensor, mean: float, std: float) -> np.ndarray:
        device = next(model.parameters()).device if isinstance(model, nn.Module) else torch.device("cpu")  # exported
        with torch.no_grad():
            return (model.eval()(((windows - mean) / std).to(device)) * std + mean).double().cpu().numpy()

    def _scores(self, model: nn.Module, series: np.ndarray, split: str, mean: float, std: float) -> dict[str, float]:
        windows, targets, origins = self._split(series, split)
        scores = {f"{key}": value for key, value in
                  forecast_errors(self._network_forecasts(model, windows, mean, std), targets.numpy()).items()}
        naive = forecast_errors(seasonal_naive(series, origins, self.horizon, self.period), targets.numpy())
        scores |= {f"seasonal_naive_{key}": value for key, value in naive.items()}
        arima = arima_forecasts(series, self.test_from, origins, self.horizon, self.arima_order)
        if arima is None:
            if is_main_process():
                print(f"{self.name}: statsmodels is not installed, so the ARIMA baseline is skipped "
                      "(pip install statsmodels)", file=sys.stderr)
        else:
            scores |= {f"arima_{key}": value for key, value in forecast_errors(arima, targets.numpy()).items()}
        return scores

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out``; scores are mean absolute errors in the series' own units."""
        settings, limit = run.settings, run.settings.limit
        series = np.asarray(self.load(), dtype=np.float64)
        mean, std = float(series[:self.validation_from].mean()), float(series[:self.validation_from].std())
        windows, targets, _ = self._split(series, "train")
        if limit is not None:
            windows, targets = windows[:limit], targets[:limit]
        val_windows, val_targets, _ = self._split(series, "validation")
        train = TensorDataset((windows - mean) / std, (targets - mean) / std)
        val = TensorDataset((val_windows - mean) / std, (val_targets - mean) / std)
        options = {"input_size": 1, "horizon": self.horizon, **self.model_options}
        model = Forecaster(**options)
        config = {"recipe": self.name, "model": "forecaster", "model_options": options,
                  "normalize": {"mean": mean, "std": std}, "width": self.width, "horizon": self.horizon}
        loader = DataLoader(train, batch_size=settings.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(settings.seed))
        self.fit_sequence_model(run, model, loader, DataLoader(val, batch_size=256), loss=nn.MSELoss(),
                                metrics={"mae": MeanAbsoluteError()}, monitor="val_mae", mode="min", config=config)
        scores = self._scores(model, series, "test", mean, std)
        return self.finish(run, {f"test_{key}": value for key, value in scores.items()})

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """MAE (one-step and over the horizon) of the network and the baselines on ``split``."""
        model, config = load_sequence_model(run)
        series = np.asarray(self.load(), dtype=np.float64)
        return self._scores(model, series, split, config["normalize"]["mean"], config["normalize"]["std"])

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """For each input — past values separated by commas or spaces, oldest first — the next
        H forecasts."""
        model, config = load_sequence_model(run)
        stats = config["normalize"]
        lines = []
        for text in inputs:
            try:
                values = [float(v) for v in text.replace(",", " ").split()]
            except ValueError:
                raise ValueError(f"predict: expected numbers separated by commas or spaces, got {text!r}") from None
            if not values:
                raise ValueError(f"predict: expected at least one past value, got {text!r}")
            window = torch.tensor(values, dtype=torch.float32).view(1, -1, 1)
            forecast = self._network_forecasts(model, window, stats["mean"], stats["std"])[0]
            lines.append(f"next {len(forecast)}: " + ", ".join(f"{v:.1f}" for v in forecast))
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Standardised past values ``(N, W, 1)`` in, the next H standardised values out; N and W
        dynamic."""
        return ExportSignature((torch.zeros(2, 12, 1),), {"window": ["N", "W", None]}, ["window"], ["forecast"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained forecaster and its window shape ``(W, 1)``."""
        return Forecaster(**{"input_size": 1, "horizon": self.horizon, **self.model_options}), (self.width, 1)


__all__ = ["ForecastingRecipe", "arima_forecasts", "forecast_errors"]
