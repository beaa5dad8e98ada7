"""Gradients through time: a linear RNN with U = λI scales ‖∂L/∂h_t‖ by λ per step back."""

import pytest
import torch

from convrnn.inspect.through_time import (
    gradient_through_time,
    plot_eigenvalues,
    plot_gradient_norms,
    recurrent_eigenvalues,
    rnn_versus_lstm,
)
from convrnn.layers.recurrent import RNN


def _linear_rnn(scale: float, hidden: int = 3) -> RNN:
    # ReLU with positive inputs, positive W and zero biases never clips: h_t = λ h_{t−1} + W x_t.
    rnn = RNN("elman", 2, hidden, nonlinearity="relu")
    with torch.no_grad():
        rnn.cells[0].weight_hh.copy_(scale * torch.eye(hidden))
        rnn.cells[0].weight_ih.fill_(0.5)
        rnn.cells[0].bias_ih.zero_()
        rnn.cells[0].bias_hh.zero_()
    return rnn


@pytest.mark.parametrize("scale", [0.5, 0.9, 1.0, 1.5])
def test_linear_rnn_gradient_scales_as_power_of_lambda(scale):
    steps, batch, hidden = 12, 2, 3
    x = torch.rand(batch, steps, 2) + 0.1
    norms = gradient_through_time(_linear_rnn(scale, hidden), x)
    # L = Σ h_{T−1}: ∂L/∂h_{T−1} is all ones (norm √(N·H)), and each step back multiplies by λ.
    expected = torch.tensor([scale ** (steps - 1 - t) for t in range(steps)]) * (batch * hidden) ** 0.5
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=0)


def test_eigenvalues_of_lambda_identity_and_lstm_blocks():
    values = recurrent_eigenvalues(_linear_rnn(0.7))
    assert values.shape == (1, 3)
    torch.testing.assert_close(values.real, torch.full((1, 3), 0.7))
    assert recurrent_eigenvalues(RNN("lstm", 2, 5)).shape == (4, 5)
    with pytest.raises(TypeError, match="'model' expected a cell with a 'weight_hh'"):
        recurrent_eigenvalues(torch.nn.Linear(2, 2))


def test_lstm_keeps_gradient_further_back_than_tanh_rnn():
    curves = rnn_versus_lstm(steps=40, hidden_size=16, seed=0)
    rnn, lstm = curves["vanilla RNN (tanh)"], curves["LSTM"]
    assert rnn.shape == lstm.shape == (40,)
    # relative reach: gradient at t = 0 over gradient at the last step
    assert lstm[0] / lstm[-1] > rnn[0] / rnn[-1]


def test_plots_are_png():
    pytest.importorskip("matplotlib")
    assert plot_gradient_norms({"a": torch.tensor([1.0, 0.5, 0.25])}).startswith(b"\x89PNG")
    assert plot_eigenvalues({"U": torch.tensor([0.5 + 0.5j, -0.2])}).startswith(b"\x89PNG")
