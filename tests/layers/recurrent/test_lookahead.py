"""Limited look-ahead: what the backward direction may see, and equality with full bidirectional."""

import pytest
import torch
from torch.autograd.functional import jacobian

from convrnn.layers.recurrent import RNN


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("lookahead", [0, 2])
def test_backward_output_depends_only_on_the_lookahead_window(cell_name, cell_factory, lookahead):
    """∂y_t/∂x_s is exactly zero for s < t, s > t + L and s ≥ length, and not identically zero
    for t ≤ s ≤ min(t + L, length − 1)."""
    cell = cell_factory(cell_name, 2, 3)
    rnn = RNN(cell, bidirectional=True, lookahead=lookahead)
    # Positive weights and inputs keep every ReLU unit active, so no derivative vanishes by chance.
    low = 0.05 if "relu" in cell_name else -0.8
    with torch.no_grad():
        for parameter in rnn.cells[1].parameters():
            parameter.uniform_(low, 0.8)
    T, O = 6, cell.output_size
    lengths = torch.tensor([6, 4])
    x = torch.rand(2, T, 2, dtype=torch.float64) + (0.1 if "relu" in cell_name else -0.5)
    J = jacobian(lambda x: rnn(x, lengths)[0][..., O:], x)      # (N, T, O, N, T, F)
    for n, length in enumerate(lengths.tolist()):
        for t in range(T):
            for s in range(T):
                block = J[n, t, :, n, s]
                if t <= s <= min(t + lookahead, length - 1):
                    assert block.abs().max() > 0, (n, t, s)
                else:
                    assert torch.all(block == 0), (n, t, s)
        assert torch.all(J[n, :, :, 1 - n] == 0)


def test_lookahead_matches_windowed_reference(cell_name, cell_factory, reference):
    """y_t of the backward direction is the backward cell run from the initial state over
    x_{min(t+L, length−1)} … x_t."""
    cell = cell_factory(cell_name, 3, 4)
    rnn = RNN(cell, bidirectional=True, lookahead=2)
    rnn.cells[1].load_state_dict(cell_factory(cell_name, 3, 4).state_dict())
    rnn.double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 5])
    outputs, final = rnn(x, lengths)
    O = cell.output_size
    for n, length in enumerate(lengths.tolist()):
        for t in range(length):
            window = x[n:n + 1, t:min(t + 2, length - 1) + 1].flip(1)
            expected, history = reference(rnn.cells[1], window)
            torch.testing.assert_close(outputs[n, t, O:], expected[0, -1], rtol=0, atol=1e-12)
            if t == 0:
                for k, component in enumerate(as_tuple(final)):
                    torch.testing.assert_close(component[1, n], history[-1][k][0], rtol=0,
                                               atol=1e-12)


@pytest.mark.parametrize("lookahead", [5, 9])
def test_lookahead_of_at_least_t_minus_one_equals_full_bidirectional(cell_name, cell_factory,
                                                                    lookahead):
    full = RNN(cell_factory(cell_name, 3, 4), num_layers=2, bidirectional=True)
    limited = RNN(cell_factory(cell_name, 3, 4), num_layers=2, bidirectional=True,
                  lookahead=lookahead)
    limited.load_state_dict(full.state_dict())
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 1])
    expected = full(x, lengths, return_states=True)
    actual = limited(x, lengths, return_states=True)
    torch.testing.assert_close(actual[0], expected[0], rtol=0, atol=1e-12)
    for part in (1, 2):
        for a, b in zip(as_tuple(actual[part]), as_tuple(expected[part]), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_lookahead_runs_the_cell_lookahead_plus_one_times_not_once_per_step():
    """Vectorised over windows: the backward cell steps L + 1 times whatever T is."""
    rnn = RNN("gru", 3, 4, bidirectional=True, lookahead=2)
    calls = []
    original = rnn.cells[1].step
    rnn.cells[1].step = lambda *args: calls.append(1) or original(*args)
    rnn(torch.randn(2, 40, 3))
    assert len(calls) == 3
