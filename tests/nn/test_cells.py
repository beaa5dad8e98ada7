"""convrnn.nn's LSTMCell, GRUCell and RNNCell against torch.nn's: parameters from the same seed,
names and order, steps and gradients, state dicts both ways; a time-series loop (pytorch/examples'
time-sequence prediction, seed 004's "manage BPTT yourself") equal to the same loop over torch's."""

import pytest
import torch
from torch import nn as torch_nn

from convrnn import layers
from convrnn import nn as convrnn_nn

CASES = {
    "LSTMCell": (torch_nn.LSTMCell, convrnn_nn.LSTMCell, {}),
    "LSTMCell no bias": (torch_nn.LSTMCell, convrnn_nn.LSTMCell, {"bias": False}),
    "GRUCell": (torch_nn.GRUCell, convrnn_nn.GRUCell, {}),
    "GRUCell no bias": (torch_nn.GRUCell, convrnn_nn.GRUCell, {"bias": False}),
    "RNNCell": (torch_nn.RNNCell, convrnn_nn.RNNCell, {}),
    "RNNCell relu": (torch_nn.RNNCell, convrnn_nn.RNNCell, {"nonlinearity": "relu"}),
}


def parts(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_seed_same_parameters_steps_and_gradients_as_torch(case, dtype):
    theirs, ours, options = CASES[case]
    torch.manual_seed(2)
    reference = theirs(3, 4, **options, dtype=dtype)
    drawn = torch.random.get_rng_state()
    torch.manual_seed(2)
    cell = ours(3, 4, **options, dtype=dtype)
    assert torch.equal(torch.random.get_rng_state(), drawn)
    assert [n for n, _ in cell.named_parameters()] == [n for n, _ in reference.named_parameters()]
    for a, b in zip(cell.parameters(), reference.parameters(), strict=True):
        assert a.dtype == dtype and torch.equal(a, b)
    assert repr(cell) == repr(reference)
    assert isinstance(cell, layers.recurrent.Cell)   # a convrnn cell: layers.RNN(cell) runs it over time
    x = torch.randn(2, 3, dtype=dtype)
    state = tuple(torch.randn(2, 4, dtype=dtype) for _ in range(2 if "LSTM" in case else 1))
    hx = state if len(state) > 1 else state[0]
    for args in ((x,), (x, hx), (x[0], tuple(s[0] for s in state) if len(state) > 1 else state[0][0])):
        got, expected = parts(cell(*args)), parts(reference(*args))
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # gradients through two steps
    for m in (reference, cell):
        m.zero_grad()
        out = parts(m(x, m(x, hx)))[0]
        out.square().sum().backward()
    for a, b in zip(cell.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cell_state_dicts_load_both_ways(case):
    theirs, ours, options = CASES[case]
    reference, cell = theirs(3, 4, **options), ours(3, 4, **options)
    cell.load_state_dict(reference.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(cell.parameters(), reference.parameters(), strict=True))
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.add_(1.0)
    reference.load_state_dict(cell.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(cell.parameters(), reference.parameters(), strict=True))


def test_cell_extras_start_neutral_and_step_on_the_layers_equations():
    torch.manual_seed(4)
    reference = torch_nn.LSTMCell(3, 4)
    torch.manual_seed(4)
    cell = convrnn_nn.LSTMCell(3, 4, peephole=True, layer_norm=True)
    names = [name for name, _ in cell.named_parameters()]
    assert names == ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peephole", "input_norm.weight",
                     "input_norm.bias", "recurrent_norm.weight", "recurrent_norm.bias", "cell_norm.weight",
                     "cell_norm.bias"]
    assert cell.weight_peephole.abs().sum() == 0 and torch.all(cell.cell_norm.weight == 1)
    for a, b in zip(list(cell.parameters())[:4], reference.parameters(), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.uniform_(-0.8, 0.8)
    twin = layers.LSTMCell(3, 4, peephole=True, layer_norm=True)
    twin.load_state_dict(cell.state_dict())
    x, state = torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4))
    for a, b in zip(cell(x, state), twin(x, state), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    gru = convrnn_nn.GRUCell(3, 4, reset="before")
    seed_gru = layers.GRUCell(3, 4, reset="before")
    seed_gru.load_state_dict(gru.state_dict())
    h = torch.randn(2, 4)
    torch.testing.assert_close(gru(x, h), seed_gru(x, h), rtol=0, atol=0)


def test_cell_errors_use_torchs_argument_names():
    cell = convrnn_nn.LSTMCell(3, 4)
    with pytest.raises(TypeError, match=r"LSTMCell.forward: argument 'hx' expected a tuple of 2 tensors \(h, c\)"):
        cell(torch.randn(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"argument 'input' expected 3 features .*got shape \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell.forward: argument 'hx \(h\)' expected shape \(2, 4\), got \(4,\)"):
        convrnn_nn.GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(4))


class Sequence(torch.nn.Module):
    """pytorch/examples' time-sequence prediction model, written once against a namespace ``nn``."""

    def __init__(self, nn, hidden=11):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):   # predicting the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def train_time_series(nn, peephole=False):
    torch.manual_seed(0)
    steps = torch.arange(20, dtype=torch.double)
    shifts = torch.randint(-20, 20, (6, 1)).double()
    data = torch.sin((steps + shifts) / 4.0)
    input, target = data[:4, :-1], data[:4, 1:]
    test_input, test_target = data[4:, :-1], data[4:, 1:]
    model = Sequence(nn).double()
    if peephole:
        model.lstm1 = nn.LSTMCell(1, model.hidden, peephole=True).double()
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.8, max_iter=3)
    losses, predictions = [], []
    for _ in range(2):
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            losses.append(loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            future = 3
            prediction = model(test_input, future=future)
            losses.append(criterion(prediction[:, :-future], test_target).item())
            predictions.append(prediction)
    return losses, torch.stack(predictions)


def test_time_series_loop_over_lstm_cells_equals_torchs(one_thread):
    losses_torch, predictions_torch = train_time_series(torch_nn)
    losses_ours, predictions_ours = train_time_series(convrnn_nn)
    assert len(losses_ours) == len(losses_torch) > 6
    torch.testing.assert_close(torch.tensor(losses_ours), torch.tensor(losses_torch), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(predictions_ours, predictions_torch, rtol=1e-9, atol=1e-12)
    assert losses_torch[-1] < losses_torch[0]
    losses_peephole, _ = train_time_series(convrnn_nn, peephole=True)
    assert all(torch.isfinite(torch.tensor(losses_peephole))) and losses_peephole[-1] < losses_peephole[0]
