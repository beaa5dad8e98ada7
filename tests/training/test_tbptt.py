"""Truncated BPTT against full BPTT and against its definition; gradient-through-time diagnostics."""

import numpy as np
import pytest
import torch

from convrnn.layers.recurrent import GRU, LSTM, Elman, ElmanCell
from convrnn.training.tbptt import (
    gradient_norms_through_time,
    spectral_radius,
    truncated_bptt,
)


def squared_error(outputs, targets):
    return ((outputs - targets) ** 2).sum()


def test_truncation_longer_than_the_sequence_equals_full_bptt():
    torch.manual_seed(1)
    rnn = LSTM(3, 4, num_layers=2).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    targets = torch.randn(2, 12, 4, dtype=torch.float64)
    squared_error(rnn(x)[0], targets).backward()
    full = [p.grad.clone() for p in rnn.parameters()]
    rnn.zero_grad()
    run = truncated_bptt(lambda x, s: rnn(x, state=s), squared_error, x, targets, k1=5, k2=12)
    assert run.updates == 3
    for truncated, expected in zip((p.grad for p in rnn.parameters()), full, strict=True):
        torch.testing.assert_close(truncated, expected, rtol=0, atol=1e-10)
    final = rnn(x)[1]
    for a, b in zip(run.state, final, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("k1", "k2"), [(1, 3), (2, 3), (3, 3), (2, 5)])
def test_gradient_ignores_dependencies_older_than_k2_steps(k1, k2):
    """From the definition: update u adds ∂L_t/∂x_s for its loss steps t ∈ [e_{u−1}, e_u) and
    only s ∈ [max(0, e_u − k2), t] — computed here from the full Jacobian of every L_t."""
    torch.manual_seed(2)
    rnn = GRU(2, 3, reset="after").double()
    T = 9
    x = torch.randn(1, T, 2, dtype=torch.float64)
    targets = torch.randn(1, T, 3, dtype=torch.float64)

    per_step = []                                    # row t: ∂L_t/∂x (T, 2) through the full graph
    for t in range(T):
        leaf = x.clone().requires_grad_()
        outputs = rnn(leaf)[0]
        squared_error(outputs[:, t], targets[:, t]).backward()
        per_step.append(leaf.grad[0])
    expected = torch.zeros(T, 2, dtype=torch.float64)
    previous = 0
    for end in [*range(k1, T, k1), T]:
        start = max(0, end - k2)
        for t in range(previous, end):
            expected[start:t + 1] += per_step[t][start:t + 1]
        previous = end

    leaf = x.clone().requires_grad_()
    truncated_bptt(lambda x, s: rnn(x, state=s), squared_error, leaf, targets, k1=k1, k2=k2)
    torch.testing.assert_close(leaf.grad[0], expected, rtol=0, atol=1e-12)
    full = torch.stack(per_step).sum(0)
    assert not torch.allclose(leaf.grad[0], full)  # truncation really dropped something


def test_optimizer_steps_after_each_update_with_clipped_gradients():
    torch.manual_seed(3)
    rnn = Elman(2, 3).double()
    norms = []

    class Recording(torch.optim.SGD):
        def step(self, closure=None):
            norms.append(torch.cat([p.grad.flatten() for p in rnn.parameters()]).norm())
            return super().step(closure)

    optimizer = Recording(rnn.parameters(), lr=0.1)
    before = [p.detach().clone() for p in rnn.parameters()]
    x = 10 * torch.randn(2, 10, 2, dtype=torch.float64)
    targets = torch.randn(2, 10, 3, dtype=torch.float64)
    run = truncated_bptt(lambda x, s: rnn(x, state=s), squared_error, x, targets, k1=4, k2=6,
                         optimizer=optimizer, clip_norm=0.5)
    assert run.updates == len(norms) == 3
    assert max(float(n) for n in norms) <= 0.5 + 1e-9
    assert all(p.grad is None or torch.all(p.grad == 0) for p in rnn.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, rnn.parameters(), strict=True))


def test_bad_truncation_arguments_raise():
    rnn = Elman(2, 3)
    x, y = torch.randn(1, 5, 2), torch.randn(1, 5, 3)
    with pytest.raises(ValueError, match=r"'k2' expected k2 ≥ k1 = 3, got 2"):
        truncated_bptt(lambda x, s: rnn(x, state=s), squared_error, x, y, k1=3, k2=2)
    with pytest.raises(ValueError, match=r"'k1' expected a positive int, got 0"):
        truncated_bptt(lambda x, s: rnn(x, state=s), squared_error, x, y, k1=0, k2=2)


def test_gradient_norms_through_time_follow_the_chain_rule():
    """Elman: ∂L/∂h_t = (∂L/∂h_{t+1} ∘ (1 − h_{t+1}²)) U, computed here by hand backwards."""
    torch.manual_seed(4)
    cell = ElmanCell(2, 3).double()
    x = torch.randn(2, 8, 2, dtype=torch.float64)
    norms = gradient_norms_through_time(cell, x, lambda y: y[:, -1].sum())

    h = torch.zeros(2, 3, dtype=torch.float64)
    hidden = []
    with torch.no_grad():
        for t in range(8):
            h = torch.tanh(x[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T
                           + cell.bias_hh)
            hidden.append(h)
        grad = torch.ones(2, 3, dtype=torch.float64)
        expected = [grad.norm()]
        for t in range(7, 0, -1):
            grad = (grad * (1 - hidden[t] ** 2)) @ cell.weight_hh
            expected.append(grad.norm())
    torch.testing.assert_close(norms, torch.stack(expected[::-1]), rtol=0, atol=1e-12)
    assert all(p.grad is None for p in cell.parameters())


def test_gradients_vanish_with_a_contracting_recurrent_matrix():
    rnn = Elman(2, 6).double()
    with torch.no_grad():
        rnn.cells[0].weight_hh.mul_(0.3)           # orthogonal · 0.3: spectral radius 0.3
    norms = gradient_norms_through_time(rnn, torch.randn(1, 20, 2, dtype=torch.float64),
                                        lambda y: y[:, -1].sum())
    assert norms[0] < 1e-8 * norms[-1]
    assert torch.all(norms[1:] >= norms[:-1])


def test_spectral_radius_matches_numpy_per_gate_block():
    weight = torch.randn(12, 3, dtype=torch.float64)
    expected = [np.abs(np.linalg.eigvals(block)).max() for block in weight.numpy().reshape(4, 3, 3)]
    torch.testing.assert_close(spectral_radius(weight), torch.tensor(expected), rtol=1e-12, atol=0)
    rotation = torch.tensor([[0.0, -2.0], [2.0, 0.0]])
    torch.testing.assert_close(spectral_radius(rotation), torch.tensor([2.0]))
    with pytest.raises(ValueError, match=r"'weight' expected a \(k·H, H\) matrix, got shape"):
        spectral_radius(torch.randn(5, 3))
