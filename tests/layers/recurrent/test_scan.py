"""The engine: padding never changes a result, reversal within lengths, per-step options."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.layers.recurrent import RNN, scan
from convrnn.layers.recurrent.options import recurrent_dropout_mask, zoneout_weights
from convrnn.layers.recurrent.scan import reversal_index, reverse_within_lengths


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@settings(max_examples=8)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       layer_norm=st.booleans(), lookahead=st.sampled_from([None, 0, 2]))
def test_padding_never_changes_outputs_or_final_state(cell_name, cell_factory, lengths,
                                                      layer_norm, lookahead):
    """Each sequence run alone (its own length, its own initial state) equals its row of the
    padded batch: outputs, final state of both directions of both layers."""
    torch.manual_seed(len(lengths))
    rnn = RNN(cell_factory(cell_name, 3, 4, layer_norm), num_layers=2, bidirectional=True,
              lookahead=lookahead).double()
    N, T = len(lengths), 5
    x = torch.randn(N, T, 3, dtype=torch.float64)
    state = tuple(torch.randn(4, N, s, dtype=torch.float64) for s in rnn.state_sizes)
    state = state if len(state) > 1 else state[0]
    out, final = rnn(x, torch.tensor(lengths), state)
    for n, length in enumerate(lengths):
        alone_state = tuple(s[:, n:n + 1] for s in as_tuple(state))
        alone_state = alone_state if len(alone_state) > 1 else alone_state[0]
        alone, alone_final = rnn(x[n:n + 1, :length], state=alone_state)
        torch.testing.assert_close(out[n:n + 1, :length], alone, rtol=0, atol=1e-12)
        assert torch.all(out[n, length:] == 0)
        for a, b in zip(as_tuple(final), as_tuple(alone_final), strict=True):
            torch.testing.assert_close(a[:, n:n + 1], b, rtol=0, atol=1e-12)


@settings(max_examples=30)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5))
def test_reversal_within_lengths_is_its_own_inverse_and_leaves_padding(lengths):
    T = 6
    lengths = torch.tensor(lengths)
    index = reversal_index(lengths, T)
    x = torch.arange(T * len(lengths), dtype=torch.float64).view(T, -1, 1)
    reversed_x = reverse_within_lengths(x, index)
    torch.testing.assert_close(reverse_within_lengths(reversed_x, index), x, rtol=0, atol=0)
    for n, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(reversed_x[:length, n], x[:length, n].flip(0), rtol=0, atol=0)
        torch.testing.assert_close(reversed_x[length:, n], x[length:, n], rtol=0, atol=0)


def test_scan_recurrent_dropout_and_zoneout_match_reference(cell_name, cell_factory, reference):
    """Explicit masks: one recurrent-dropout mask per sequence reused at every step, zoneout
    draws per step and unit, on every state component."""
    cell = cell_factory(cell_name, 3, 4, True)
    N, T = 3, 5
    x = torch.randn(N, T, 3, dtype=torch.float64)
    state = tuple(torch.randn(N, s, dtype=torch.float64) for s in cell.state_sizes)
    mask = recurrent_dropout_mask(N, cell.output_size, 0.5, x)
    assert set(mask.unique().tolist()) <= {0.0, 2.0}
    keeps = zoneout_weights(0.3, True, T, N, cell.state_sizes, x)
    outputs, final, history = scan(cell, cell.project(x.transpose(0, 1)), state,
                                   feedback_mask=mask, zoneout=keeps, keep_states=True)
    expected, expected_history = reference(cell, x, state, mask, keeps)
    torch.testing.assert_close(outputs.transpose(0, 1), expected, rtol=0, atol=1e-12)
    for ours, theirs in zip(history, expected_history, strict=True):
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_rnn_draws_one_recurrent_dropout_mask_per_sequence(cell_name, cell_factory, reference):
    cell = cell_factory(cell_name, 3, 4)
    rnn = RNN(cell, recurrent_dropout=0.4)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.manual_seed(7)
    trained, _ = rnn(x)
    torch.manual_seed(7)
    mask = recurrent_dropout_mask(2, cell.output_size, 0.4, x)
    expected, _ = reference(cell, x, None, mask)
    torch.testing.assert_close(trained, expected, rtol=0, atol=1e-12)
    rnn.eval()
    torch.testing.assert_close(rnn(x)[0], reference(cell, x)[0], rtol=0, atol=1e-12)


def test_rnn_zoneout_draws_in_training_and_expectation_in_evaluation(cell_name, cell_factory,
                                                                     reference):
    cell = cell_factory(cell_name, 3, 4)
    rnn = RNN(cell, zoneout=0.25)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.manual_seed(8)
    trained, _ = rnn(x)
    torch.manual_seed(8)
    keeps = zoneout_weights(0.25, True, 5, 2, cell.state_sizes, x)
    torch.testing.assert_close(trained, reference(cell, x, None, None, keeps)[0], rtol=0,
                               atol=1e-12)
    rnn.eval()
    expected = reference(cell, x, None, None, (0.25,) * len(cell.state_sizes))[0]
    torch.testing.assert_close(rnn(x)[0], expected, rtol=0, atol=1e-12)


def test_scan_with_every_option_passes_gradcheck(cell_name, cell_factory):
    """Fixed recurrent-dropout mask and zoneout draws on one component, the expectation p on
    the others, a padded sequence: gradients w.r.t. inputs and initial state."""
    cell = cell_factory(cell_name, 2, 3, True)
    N, T = 2, 3
    mask = torch.tensor([[True, True], [True, True], [True, False]])
    feedback_mask = recurrent_dropout_mask(N, cell.output_size, 0.3, mask.double())
    keeps = (zoneout_weights(0.4, True, T, N, cell.state_sizes[:1], mask.double())
             + (0.4,) * (len(cell.state_sizes) - 1))
    xw = torch.randn(T, N, cell.chunks * 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(N, s, dtype=torch.float64, requires_grad=True)
                  for s in cell.state_sizes)

    def run(xw, *state):
        outputs, final, _ = scan(cell, xw, state, mask=mask, feedback_mask=feedback_mask,
                                 zoneout=keeps)
        return (outputs, *final)

    assert torch.autograd.gradcheck(run, (xw, *state))
