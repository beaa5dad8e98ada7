"""layer_stats(): the seed's 208-parameter panel against numbers computed by hand in numpy."""

import numpy as np
import pytest
import torch
from torch import nn

from convrnn.inspect import layer_stats
from convrnn.layers import Conv2d


def _seed_layer() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return nn.Sequential(Conv2d(1, 8, 5)), torch.randn(3, 1, 28, 28)


def _conv_by_hand(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid cross-correlation by explicit windows: x (N, 1, H, W), w (K, 1, 5, 5) → (N, K, H−4, W−4)."""
    n, _, h, width = x.shape
    out = np.zeros((n, w.shape[0], h - 4, width - 4))
    for i in range(h - 4):
        for j in range(width - 4):
            patch = x[:, 0, i:i + 5, j:j + 5].reshape(n, 25)
            out[:, :, i, j] = patch @ w.reshape(w.shape[0], 25).T + b
    return out


def test_seed_208_parameter_layer_matches_hand_computation():
    model, x = _seed_layer()
    weights = torch.randn(3, 8, 24, 24)  # L = Σ c ⊙ a, so ∂L/∂a = c exactly
    table = layer_stats(model, x, loss_fn=lambda a: (a * weights).sum())
    (row,) = table.rows
    conv = model[0]
    w, b = conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy()
    a = _conv_by_hand(x.double().numpy(), w, b)
    c = weights.double().numpy()
    assert row.output_shape == (8, 24, 24)
    assert row.params == 208 and row.formula == "8×5×5×1 + 8"
    assert "8×5×5×1 + 8 = 208" in str(table)
    assert row.activation_max == pytest.approx(a.max(), abs=1e-5)
    assert row.activation_min == pytest.approx(a.min(), abs=1e-5)
    assert row.activation_mean == pytest.approx(a.mean(), abs=1e-5)
    assert row.activation_std == pytest.approx(a.std(), abs=1e-5)
    assert row.gradient_max == pytest.approx(c.max()) and row.gradient_min == pytest.approx(c.min())
    assert row.gradient_norm == pytest.approx(np.sqrt((c ** 2).sum()), rel=1e-6)
    assert row.weight_norm == pytest.approx(np.sqrt((w ** 2).sum() + (b ** 2).sum()), rel=1e-6)
    # ∂L/∂W[k] = Σ_n Σ_(i,j) c[n,k,i,j] · x[n, 0, i:i+5, j:j+5];  ∂L/∂b[k] = Σ c[:, k]
    xs = x.double().numpy()
    grad_w = np.zeros((8, 5, 5))
    for i in range(24):
        for j in range(24):
            grad_w += np.einsum("nk,nuv->kuv", c[:, :, i, j], xs[:, 0, i:i + 5, j:j + 5])
    grad_b = c.sum(axis=(0, 2, 3))
    assert row.weight_gradient_norm == pytest.approx(np.sqrt((grad_w ** 2).sum() + (grad_b ** 2).sum()), rel=1e-5)
    assert row.activation.shape == (8, 24, 24) and torch.equal(row.gradient, weights[0])
    assert conv.weight.grad is None


def test_dead_relu_fraction_counts_units_off_for_the_whole_batch():
    model, x = _seed_layer()
    model.append(nn.ReLU())
    with torch.no_grad():
        model[0].weight[0].zero_()
        model[0].bias[0] = -1.0        # channel 0 never fires: 24·24 of 8·24·24 units
        model[0].bias[1:] = 1000.0     # every other unit always fires
    table = layer_stats(model, x)
    assert table.rows[1].dead_fraction == pytest.approx(1 / 8)
    assert table.rows[0].dead_fraction is None
    assert table.rows[0].gradient_norm is None and table.loss is None


def test_targets_default_to_cross_entropy_and_name_lookup():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x, y = torch.randn(5, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    table = layer_stats(model, (x, y))
    expected = nn.functional.cross_entropy(model(x), y).detach()
    assert table.loss == pytest.approx(float(expected))
    probabilities = torch.softmax(model(x), -1).detach()
    grad = (probabilities - nn.functional.one_hot(y, 3)) / 5
    assert table["1"].gradient_max == pytest.approx(float(grad.max()), abs=1e-6)
    assert table["0"].gradient_norm is None  # Flatten of the input has no gradient path
    assert "loss" in str(table)


def test_bad_arguments_are_named():
    model, x = _seed_layer()
    with pytest.raises(TypeError, match="'batch'"):
        layer_stats(model, x.numpy())
    with pytest.raises(ValueError, match="'batch' expected x or"):
        layer_stats(model, (x, x, x))
    with pytest.raises(ValueError, match="'loss_fn' expected to return a scalar"):
        layer_stats(model, x, loss_fn=lambda a: a)
    with pytest.raises(KeyError, match="no layer named"):
        layer_stats(model, x)["nope"]


def test_a_recurrent_stack_is_one_layer_with_all_its_parameters():
    from convrnn.models.language_model import LanguageModel

    torch.manual_seed(0)
    model = LanguageModel(10, 4, 6, num_layers=2)
    tokens = torch.randint(0, 10, (2, 7))
    table = layer_stats(model, (tokens[:, :-1], tokens[:, 1:]))
    rnn = table["rnn"]
    assert rnn.kind == "RNN" and rnn.output_shape == (6, 6)
    assert rnn.params == sum(p.numel() for p in model.rnn.parameters())
    assert rnn.weight_gradient_norm is not None and rnn.gradient_norm is not None
    assert not any(row.kind == "LSTMCell" for row in table.rows)
    outputs, _ = model.rnn(model.embedding(tokens[:, :-1]))
    assert rnn.activation_max == pytest.approx(float(outputs.max()))
