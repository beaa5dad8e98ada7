"""Every recurrent layer streams with its state carried across chunks, equal to offline: convrnn's RNN
(every cell, stacks, residual), look-ahead bidirectional layers with their L-step delay per layer,
the parallel layers (MinGRU, MinLSTM, QRNN with its convolution's context) and torch's RNNs."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convrnn
from convrnn.layers import QRNN, RNN, MinGRU, MinLSTM
from convrnn.stream import NotCausalError

from .conftest import chunkings, run_stream

CELLS = ["lstm", "gru", "elman", "mgu", "jordan"]


def _x(batch_first=True, length=19):
    x = torch.randn(2, length, 4, dtype=torch.float64)
    return x if batch_first else x.transpose(0, 1)


@settings(max_examples=20)
@given(cell=st.sampled_from(CELLS), layers=st.integers(1, 3), residual=st.booleans(), batch_first=st.booleans(),
       sizes=chunkings)
def test_recurrent_stack_streams_with_its_state_carried(cell, layers, residual, batch_first, sizes):
    rnn = RNN(cell, 4, 4, num_layers=layers, residual=residual, batch_first=batch_first).double().eval()
    x = _x(batch_first)
    stream, y = run_stream(rnn, x, sizes, 1 if batch_first else 0)
    torch.testing.assert_close(y, rnn(x)[0], rtol=0, atol=1e-10)
    assert stream.latency == 0


@settings(max_examples=20)
@given(cell=st.sampled_from(["lstm", "gru"]), layers=st.integers(1, 3), lookahead=st.integers(0, 4),
       sizes=chunkings, length=st.integers(1, 15))
def test_lookahead_bidirectional_layer_streams_with_its_delay(cell, layers, lookahead, sizes, length):
    rnn = RNN(cell, 4, 3, num_layers=layers, bidirectional=True, lookahead=lookahead).double().eval()
    x = _x(length=length)
    stream, y = run_stream(rnn, x, sizes, 1)
    torch.testing.assert_close(y, rnn(x)[0], rtol=0, atol=1e-10)
    assert stream.latency == layers * lookahead


@settings(max_examples=25, deadline=None)
@given(cell=st.sampled_from(CELLS), layers=st.integers(1, 3), lookahead=st.integers(0, 3), residual=st.booleans(),
       zoneout=st.sampled_from([0.0, 0.3]), batch_first=st.booleans(), sizes=chunkings, length=st.integers(1, 12))
def test_lookahead_layer_streams_every_cell_residual_and_zoneout_equal_to_offline(cell, layers, lookahead, residual,
                                                                                  zoneout, batch_first, sizes, length):
    rnn = RNN(cell, 6, 3, num_layers=layers, bidirectional=True, lookahead=lookahead, residual=residual,
              zoneout=zoneout, batch_first=batch_first).double().eval()
    with torch.no_grad():
        for parameter in rnn.parameters():   # biases too (zero when made), so a step read past the end would show
            parameter.normal_(0.0, 0.5)
    x = torch.randn(2, length, 6, dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    _, y = run_stream(rnn, x, sizes, 1 if batch_first else 0)
    torch.testing.assert_close(y, rnn(x)[0], rtol=0, atol=1e-10)


def test_lookahead_stream_projects_each_input_once_per_direction(monkeypatch):
    rnn = RNN("lstm", 4, 3, num_layers=2, bidirectional=True, lookahead=2).double().eval()
    rows = []
    for cell in rnn.cells[1::2]:   # the backward cells
        project = cell.project
        monkeypatch.setattr(cell, "project", lambda x, project=project: rows.append(x.shape[0]) or project(x))
    x = _x(length=11)
    _, y = run_stream(rnn, x, [1, 3], 1)
    assert sum(rows) == 2 * 11   # 11 inputs, each projected once by each layer's backward cell
    torch.testing.assert_close(y, rnn(x)[0], rtol=0, atol=1e-10)


def test_float32_lookahead_lstm_stream_equals_offline_to_rounding():
    rnn = RNN("lstm", 16, 32, num_layers=2, bidirectional=True, lookahead=2).eval()
    x = torch.randn(3, 40, 16)
    # measured: at most 1.5e-7 over 10 seeds (the window products take other rows than offline's)
    torch.testing.assert_close(run_stream(rnn, x, [1, 5], 1)[1], rnn(x)[0], rtol=0, atol=1e-6)


def test_lookahead_outputs_are_final_exactly_lookahead_steps_per_layer_later():
    rnn = RNN("gru", 4, 3, num_layers=2, bidirectional=True, lookahead=2).double().eval()
    stream = convrnn.stream(rnn)
    x = _x(length=12)
    counts = [stream.push(x[:, t:t + 1]).shape[1] for t in range(12)]
    assert counts == [0] * 4 + [1] * 8     # output t once input t + 2·2 is in
    assert stream.flush().shape[1] == 4


@pytest.mark.parametrize("layer", [MinGRU, MinLSTM, QRNN])
@pytest.mark.parametrize("sizes", [[1], [2, 3], [19]])
def test_parallel_layers_stream_equal_to_offline(layer, sizes):
    options = {"window": 3} if layer is QRNN else {}
    rnn = layer(4, 5, num_layers=2, **options).double().eval()
    x = _x()
    torch.testing.assert_close(run_stream(rnn, x, sizes, 1)[1], rnn(x)[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU, nn.RNN])
def test_torch_rnns_stream_equal_to_offline(layer):
    rnn = layer(4, 5, num_layers=2, batch_first=True).double().eval()
    x = _x()
    for sizes in ([1], [3, 5]):
        torch.testing.assert_close(run_stream(rnn, x, sizes, 1)[1], rnn(x)[0], rtol=0, atol=1e-10)


def test_float32_lstm_stream_equals_offline_to_rounding():
    rnn = RNN("lstm", 16, 32, num_layers=2).eval()
    x = torch.randn(3, 60, 16)
    torch.testing.assert_close(run_stream(rnn, x, [1, 7], 1)[1], rnn(x)[0], rtol=1e-5, atol=1e-5)


def test_full_bidirectional_layers_refuse_naming_the_lookahead_variant():
    with pytest.raises(NotCausalError, match=r"bidirectional.*lookahead=L"):
        convrnn.stream(RNN("lstm", 4, 4, bidirectional=True))
    with pytest.raises(NotCausalError, match="bidirectional"):
        convrnn.stream(nn.LSTM(4, 4, bidirectional=True))


def test_dropout_in_training_mode_refuses_and_names_eval():
    with pytest.raises(ValueError, match=r"training mode.*model.eval\(\)"):
        convrnn.stream(RNN("lstm", 4, 4, num_layers=2, dropout=0.5))


def test_reset_starts_a_new_signal_and_flush_clears_the_state():
    rnn = RNN("gru", 4, 3).double().eval()
    x = _x()
    stream = convrnn.stream(rnn)
    stream.push(torch.randn_like(x))
    stream.reset()
    torch.testing.assert_close(stream.push(x), rnn(x)[0], rtol=0, atol=1e-10)
    stream.flush()
    assert stream.state is None
    torch.testing.assert_close(stream.push(x), rnn(x)[0], rtol=0, atol=1e-10)
