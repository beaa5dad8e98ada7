"""Forecaster shapes, agreement with torch.nn.LSTM, window cutting and seasonal naive by hand."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convrnn.models.forecaster import Forecaster, seasonal_naive, sliding_windows


@settings(max_examples=15)
@given(batch=st.integers(1, 4), width=st.integers(1, 6), features=st.integers(1, 3),
       horizon=st.integers(1, 5), cell=st.sampled_from(["lstm", "gru"]))
def test_forecasts_have_one_row_per_window_and_one_column_per_step(batch, width, features, horizon, cell):
    model = Forecaster(features, 4, cell=cell, horizon=horizon)
    assert model(torch.randn(batch, width, features)).shape == (batch, horizon)


def test_forecast_matches_torch_lstm_with_copied_weights():
    model = Forecaster(2, 5, num_layers=2, horizon=3).double()
    reference = nn.LSTM(2, 5, 2, batch_first=True).double()
    model.rnn.load_torch_state_dict(reference.state_dict())
    window = torch.randn(4, 7, 2, dtype=torch.float64)
    expected = model.readout(reference(window)[0][:, -1])
    assert torch.allclose(model(window), expected, atol=1e-12)


def test_forecaster_gradients_match_finite_differences():
    model = Forecaster(1, 3, horizon=2, cell="gru").double()
    window = torch.randn(2, 4, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (window,))


def test_sliding_windows_by_hand():
    series = np.arange(10.0) * 10                      # 0, 10, …, 90
    windows, targets = sliding_windows(series, width=3, horizon=2)
    assert windows.shape == (6, 3, 1) and targets.shape == (6, 2)
    assert windows[0, :, 0].tolist() == [0, 10, 20] and targets[0].tolist() == [30, 40]
    assert windows[-1, :, 0].tolist() == [50, 60, 70] and targets[-1].tolist() == [80, 90]
    # test targets start at index 7, the windows still reach back into earlier years
    windows, targets = sliding_windows(series, width=3, horizon=1, targets_from=7)
    assert targets[:, 0].tolist() == [70, 80, 90] and windows[0, :, 0].tolist() == [40, 50, 60]


def test_seasonal_naive_by_hand():
    series = np.array([1.0, 2, 3, 4, 5, 6, 7])
    # period 3, origin t = 4 (value 5): ŷ_5 = y_2 = 3, ŷ_6 = y_3 = 4, ŷ_7 = y_4 = 5, ŷ_8 = y_2 = 3
    assert seasonal_naive(series, np.array([4]), horizon=4, period=3).tolist() == [[3, 4, 5, 3]]
    # period 1 is the naive "tomorrow equals today"
    assert seasonal_naive(series, np.array([2, 5]), horizon=2, period=1).tolist() == [[3, 3], [6, 6]]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="argument 'horizon' expected an int ≥ 1, got 0"):
        Forecaster(horizon=0)
    with pytest.raises(ValueError, match="argument 'window' expected a 3-d tensor"):
        Forecaster()(torch.randn(3, 4))
    with pytest.raises(ValueError, match="has no window"):
        sliding_windows(np.arange(4.0), width=3, horizon=2)
    with pytest.raises(ValueError, match="origins need 3 values of history"):
        seasonal_naive(np.arange(5.0), np.array([1]), horizon=3, period=3)


def test_window_norm_standardises_each_window_and_maps_the_forecast_back():
    model = Forecaster(1, 4, horizon=2, window_norm=True).double()
    reference = nn.LSTM(1, 4, batch_first=True).double()
    model.rnn.load_torch_state_dict(reference.state_dict())
    window = 50 + 20 * torch.randn(3, 6, 1, dtype=torch.float64)
    mean, std = window.mean(1, keepdim=True), window.std(1, keepdim=True, unbiased=False)
    expected = model.readout(reference((window - mean) / std)[0][:, -1]) * std[:, :, 0] + mean[:, :, 0]
    assert torch.allclose(model(window), expected, atol=1e-10)
    # scaling and shifting a window scales and shifts its forecast: levels never seen still work
    assert torch.allclose(model(3 * window + 7), 3 * model(window) + 7, atol=1e-9)
    assert torch.isfinite(model(torch.full((1, 5, 1), 4.0, dtype=torch.float64))).all()
    window.requires_grad_(True)
    assert torch.autograd.gradcheck(model, (window,))
