"""Every cell (and layer norm) against a naive reference written from its equations; gradcheck."""

import pytest
import torch
from torch.func import functional_call

from convrnn.layers.recurrent import RNN, ElmanCell, GRUCell, JordanCell, LSTMCell


@pytest.mark.parametrize("layer_norm", [False, True])
def test_cell_matches_reference_from_its_equations(cell_name, layer_norm, cell_factory, reference):
    cell = cell_factory(cell_name, 3, 4, layer_norm)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    state = tuple(torch.randn(2, s, dtype=torch.float64) for s in cell.state_sizes)
    rnn_state = tuple(s.unsqueeze(0) for s in state)
    outputs, final, every = RNN(cell)(x, state=rnn_state if len(state) > 1 else rnn_state[0],
                                      return_states=True)
    expected, history = reference(cell, x, state)
    torch.testing.assert_close(outputs, expected, rtol=0, atol=1e-12)
    final = final if isinstance(final, tuple) else (final,)
    every = every if isinstance(every, tuple) else (every,)
    for k in range(len(state)):
        torch.testing.assert_close(final[k][0], history[-1][k], rtol=0, atol=1e-12)
        steps = torch.stack([s[k] for s in history], dim=1)
        torch.testing.assert_close(every[k][:, :, 0], steps, rtol=0, atol=1e-12)


def test_both_directions_with_lengths_match_reference_per_sequence(cell_name, cell_factory, reference):
    cell = cell_factory(cell_name, 3, 4)
    rnn = RNN(cell, bidirectional=True)
    with torch.no_grad():
        for parameter in rnn.cells[1].parameters():
            parameter.uniform_(-0.8, 0.8)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 6, 1])
    outputs, _ = rnn.double()(x, lengths)
    O = cell.output_size
    for n, length in enumerate(lengths.tolist()):
        forward, _ = reference(rnn.cells[0], x[n:n + 1, :length])
        backward, _ = reference(rnn.cells[1], x[n:n + 1, :length].flip(1))
        torch.testing.assert_close(outputs[n, :length, :O], forward[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(outputs[n, :length, O:], backward[0].flip(0), rtol=0,
                                   atol=1e-12)
        assert torch.all(outputs[n, length:] == 0)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_gradients_pass_gradcheck_in_float64(cell_name, layer_norm, cell_factory):
    cell = cell_factory(cell_name, 2, 3, layer_norm)
    rnn = RNN(cell, bidirectional=True).double()
    names = [n for n, _ in rnn.named_parameters()]
    parameters = tuple(p.detach().clone().requires_grad_() for p in rnn.parameters())
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def run(x, *params):
        outputs, final = functional_call(rnn, dict(zip(names, params, strict=True)),
                                         (x, lengths))
        final = final if isinstance(final, tuple) else (final,)
        return (outputs, *final)

    assert torch.autograd.gradcheck(run, (x, *parameters))


def test_gru_variants_differ_only_in_where_reset_applies():
    before = GRUCell(3, 4, reset="before").double()
    after = GRUCell(3, 4, reset="after").double()
    after.load_state_dict(before.state_dict())
    with torch.no_grad():
        before.bias_hh.uniform_(-1, 1)
        after.bias_hh.copy_(before.bias_hh)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    assert not torch.allclose(RNN(before)(x)[0], RNN(after)(x)[0])


def test_like_rebuilds_same_kind_and_options_with_new_input_size():
    cell = JordanCell(3, 4, output_size=2, decision="sigmoid", layer_norm=True)
    twin = cell.like(7)
    assert type(twin) is JordanCell and twin.input_size == 7
    assert twin.config() == cell.config()
    assert LSTMCell(3, 4, peephole=True).like(5).peephole


def test_bad_cell_options_name_argument_expected_and_actual():
    with pytest.raises(ValueError, match=r"'nonlinearity' expected one of \['tanh', 'relu'\], "
                                         r"got 'sigmoid'"):
        ElmanCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"'reset' expected one of .*got 'middle'"):
        GRUCell(3, 4, reset="middle")
    with pytest.raises(ValueError, match=r"'decision' expected one of .*got 'relu'"):
        JordanCell(3, 4, decision="relu")
    with pytest.raises(ValueError, match=r"'hidden_size' expected a positive int, got 0"):
        LSTMCell(3, 0)
