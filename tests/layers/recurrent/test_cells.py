"""Every cell (and layer norm) against a naive reference written from its equations; gradcheck."""

import contextlib

import pytest
import torch
from torch.func import functional_call

from convrnn.layers.recurrent import (
    CELLS,
    GRU,
    RNN,
    Elman,
    ElmanCell,
    Gated,
    GatedCell,
    GRUCell,
    JordanCell,
    LSTMCell,
    MGUCell,
    convert_z_convention,
)
from convrnn.layers.recurrent.fused import disabled


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
    with pytest.raises(ValueError, match=r"ElmanCell: argument 'nonlinearity' expected one of \['tanh', 'relu', "
                                         r"'sigmoid', 'leaky_relu', 'identity'\], got 'softplus'"):
        ElmanCell(3, 4, nonlinearity="softplus")
    with pytest.raises(ValueError, match=r"ElmanCell: argument 'negative_slope' expected a finite number ≥ 0, "
                                         r"got -0.1"):
        ElmanCell(3, 4, nonlinearity="leaky_relu", negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"'negative_slope' applies to nonlinearity='leaky_relu', got "
                                         r"negative_slope=0.2 with nonlinearity='tanh'"):
        ElmanCell(3, 4, negative_slope=0.2)
    with pytest.raises(ValueError, match=r"GRUCell: argument 'z_multiplies' expected one of \['previous', "
                                         r"'candidate'\], got 'new'"):
        GRUCell(3, 4, z_multiplies="new")
    with pytest.raises(ValueError, match=r"'reset' expected one of .*got 'middle'"):
        GRUCell(3, 4, reset="middle")
    with pytest.raises(ValueError, match=r"'decision' expected one of .*got 'relu'"):
        JordanCell(3, 4, decision="relu")
    with pytest.raises(ValueError, match=r"'hidden_size' expected a positive int, got 0"):
        LSTMCell(3, 0)


# --------------------------------------------------------------------- one step: cell(x, state)


def test_one_step_call_matches_reference_step(cell_name, cell_factory, reference_one_step):
    """cell(x, state) is one step of the cell's equations (the conftest reference, written from
    them), for every cell with and without layer norm; the state comes back in the structure it
    went in (a tensor for one-part states, a tuple otherwise)."""
    for layer_norm in (False, True):
        cell = cell_factory(cell_name, 3, 4, layer_norm)
        x = torch.randn(2, 3, dtype=torch.float64)
        state = tuple(torch.randn(2, s, dtype=torch.float64) for s in cell.state_sizes)
        expected = reference_one_step(cell, x, state, torch.ones((), dtype=torch.float64))
        got = cell(x, state if len(state) > 1 else state[0])
        got = got if isinstance(got, tuple) else (got,)
        assert isinstance(cell(x, state if len(state) > 1 else state[0]), tuple) == (len(state) > 1)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_loop_of_steps_is_the_sequence_run_with_its_gradients(cell_name, cell_factory):
    """Backpropagation through time managed by hand (seed 004): a Python loop of cell(x_t, s)
    gives the RNN's outputs and the same gradients for the input and every parameter."""
    cell = cell_factory(cell_name, 3, 4)
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    outputs, _ = RNN(cell)(x)
    outputs.square().sum().backward()
    expected = [x.grad.clone()] + [p.grad.clone() for p in cell.parameters()]
    x.grad = None
    cell.zero_grad()
    state, looped = None, []
    for t in range(5):
        state = cell(x[:, t], state)
        looped.append(state[cell.output_index] if isinstance(state, tuple) else state)
    looped = torch.stack(looped, dim=1)
    torch.testing.assert_close(looped, outputs, rtol=0, atol=1e-12)
    looped.square().sum().backward()
    for a, b in zip([x.grad] + [p.grad for p in cell.parameters()], expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_plain_cells_step_like_torch_cells_batched_and_unbatched(kind):
    """The plain cells step on torch's fused cell kernels: torch.nn.LSTMCell's numbers exactly."""
    from torch import nn

    theirs = {"lstm": nn.LSTMCell(3, 4), "gru": nn.GRUCell(3, 4), "rnn_tanh": nn.RNNCell(3, 4),
              "rnn_relu": nn.RNNCell(3, 4, nonlinearity="relu")}[kind]
    ours = {"lstm": LSTMCell(3, 4), "gru": GRUCell(3, 4, reset="after"), "rnn_tanh": ElmanCell(3, 4),
            "rnn_relu": ElmanCell(3, 4, nonlinearity="relu")}[kind]
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3)
    state = (torch.randn(2, 4), torch.randn(2, 4)) if kind == "lstm" else torch.randn(2, 4)
    for args in ((x,), (x, state), (x[0], tuple(s[0] for s in state) if kind == "lstm" else state[0])):
        got, expected = ours(*args), theirs(*args)
        for a, b in zip(got if kind == "lstm" else (got,), expected if kind == "lstm" else (expected,),
                        strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_unbatched_step_is_the_batched_row_and_none_state_is_zeros():
    cell = LSTMCell(3, 4, peephole=True, layer_norm=True).double()
    with torch.no_grad():
        cell.weight_peephole.uniform_(-1, 1)
    x = torch.randn(2, 3, dtype=torch.float64)
    h, c = cell(x)
    zeros = torch.zeros(2, 4, dtype=torch.float64)
    for a, b in zip((h, c), cell(x, (zeros, zeros)), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    h1, c1 = cell(x[1], (h[1], c[1]))
    h2, c2 = cell(x, (h, c))
    assert h1.shape == (4,)
    torch.testing.assert_close(h1, h2[1], rtol=0, atol=1e-14)
    torch.testing.assert_close(c1, c2[1], rtol=0, atol=1e-14)


def test_projected_and_bias_free_lstm_cells_step_like_torch():
    """proj_size and bias=False are torch's: one step equals torch.nn.LSTM on a one-step sequence."""
    from torch import nn

    for options in ({"proj_size": 2}, {"bias": False}, {"proj_size": 2, "bias": False}):
        theirs = nn.LSTM(3, 5, **options).double()
        ours = LSTMCell(3, 5, **options).double()
        ours.load_state_dict({key.removesuffix("_l0"): value for key, value in theirs.state_dict().items()})
        assert ours.state_sizes == (options.get("proj_size", 5), 5)
        x = torch.randn(4, 3, dtype=torch.float64)
        state = (torch.randn(4, options.get("proj_size", 5), dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64))
        _, (h, c) = theirs(x.unsqueeze(0), tuple(s.unsqueeze(0) for s in state))
        got = ours(x, state)
        torch.testing.assert_close(got[0], h[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(got[1], c[0], rtol=0, atol=1e-12)


def test_bias_free_cells_have_no_bias_parameters_and_save_none():
    for cell in (LSTMCell(3, 4, bias=False), GRUCell(3, 4, bias=False), ElmanCell(3, 4, bias=False),
                 JordanCell(3, 4, bias=False)):
        names = [name for name, _ in cell.named_parameters()]
        assert not any(name.startswith("bias") for name in names)
        assert not any(key.startswith("bias") for key in cell.state_dict())
        assert cell.bias_ih.abs().sum() == 0 and cell.like(5).bias is False


def test_one_step_bad_input_names_argument_expected_and_actual():
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"LSTMCell.forward: argument 'x' expected 3 features .*got shape \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"argument 'x' expected a floating-point \(N, F\) or \(F,\) tensor, "
                                         r"got shape \(2, 1, 3\)"):
        cell(torch.randn(2, 1, 3))
    with pytest.raises(TypeError, match=r"argument 'state' expected a tuple of 2 tensors \(h, c\), got Tensor"):
        cell(torch.randn(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"argument 'state \(c\)' expected shape \(2, 4\), got \(3, 4\)"):
        cell(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(3, 4)))
    with pytest.raises(TypeError, match=r"argument 'state \(h\)' expected dtype torch.float32 .*got torch.float64"):
        GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"MGUCell.forward: argument 'state' expected a tensor \(h\), "
                                        r"got a tuple of 2 tensors"):
        MGUCell(3, 4)(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"'proj_size' expected an int in \[0, hidden_size\) = \[0, 4\), got 4"):
        LSTMCell(3, 4, proj_size=4)


# ------------------------------------------------- the seeds' other cells and conventions (issue 25)


def handwritten(step, x, h):
    """Every state of h_t = step(x_t, h_{t−1}) over x: (N, T, F) from h (N, H)."""
    states = []
    for t in range(x.shape[1]):
        h = step(x[:, t], h)
        states.append(h)
    return torch.stack(states, 1)


@pytest.mark.parametrize(("nonlinearity", "g"), [
    ("sigmoid", lambda a: 1 / (1 + torch.exp(-a))),
    ("leaky_relu", lambda a: torch.where(a > 0, a, 0.25 * a)),
    ("identity", lambda a: a),
])
def test_elman_nonlinearities_are_seed_001s_equation(nonlinearity, g):
    """z_t = g(V z_{t−1} + W x_t + b) written out in the test, float64, both engines."""
    torch.manual_seed(0)
    slope = {"negative_slope": 0.25} if nonlinearity == "leaky_relu" else {}
    layer = Elman(3, 4, nonlinearity=nonlinearity, **slope).double()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-0.9, 0.9)
    cell = layer.cells[0]
    W, V, b = cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    expected = handwritten(lambda x_t, z: g(z @ V.T + x_t @ W.T + b), x, h0)
    for engine in (contextlib.nullcontext(), disabled()):
        with engine:
            torch.testing.assert_close(layer(x, state=h0[None])[0], expected, rtol=1e-12, atol=1e-12)


def test_leaky_relu_slope_is_kept_by_like_and_config():
    cell = ElmanCell(3, 4, nonlinearity="leaky_relu", negative_slope=0.3)
    assert cell.like(5).negative_slope == 0.3 and cell.config()["negative_slope"] == 0.3
    assert ElmanCell(3, 4, nonlinearity="leaky_relu").negative_slope == 0.01
    assert "negative_slope" not in ElmanCell(3, 4).config()


def test_gated_cell_is_seed_001s_gated_unit():
    """z_{t+1} = g ∘ z_t + (1 − g) ∘ ẑ_t, g = σ(V_g z_t + W_g x + b_g), ẑ = tanh(V_h z_t + W_h x + b_h)."""
    torch.manual_seed(1)
    layer = Gated(3, 4).double()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-0.9, 0.9)
    cell = layer.cells[0]
    (W_g, W_h), (V_g, V_h) = cell.weight_ih.chunk(2), cell.weight_hh.chunk(2)
    b_g, b_h = (cell.bias_ih + cell.bias_hh).chunk(2)

    def step(x_t, z):
        gate = torch.sigmoid(z @ V_g.T + x_t @ W_g.T + b_g)
        candidate = torch.tanh(z @ V_h.T + x_t @ W_h.T + b_h)
        return gate * z + (1 - gate) * candidate

    x = torch.randn(2, 5, 3, dtype=torch.float64)
    expected = handwritten(step, x, torch.zeros(2, 4, dtype=torch.float64))
    for engine in (contextlib.nullcontext(), disabled()):
        with engine:
            torch.testing.assert_close(layer(x)[0], expected, rtol=1e-12, atol=1e-12)
    assert CELLS["gated"] is GatedCell and sum(p.numel() for p in cell.parameters()) == 2 * 4 * (3 + 4 + 2)


@pytest.mark.parametrize("reset", ["before", "after"])
def test_gru_z_multiplies_candidate_is_seed_004s_equation(reset):
    """Seed 004's eq. 8, h = (1 − z) ∘ h + z ∘ h̄, written out in the test (r, z, h̄ as in seed 002)."""
    torch.manual_seed(2)
    layer = GRU(3, 4, reset=reset, z_multiplies="candidate").double()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-0.9, 0.9)
    cell = layer.cells[0]
    (W_r, W_z, W_h), (U_r, U_z, U_h) = cell.weight_ih.chunk(3), cell.weight_hh.chunk(3)
    (b_r, b_z, b_h), (c_r, c_z, c_h) = cell.bias_ih.chunk(3), cell.bias_hh.chunk(3)

    def step(x_t, h):
        r = torch.sigmoid(x_t @ W_r.T + b_r + h @ U_r.T + c_r)
        z = torch.sigmoid(x_t @ W_z.T + b_z + h @ U_z.T + c_z)
        inner = (r * h) @ U_h.T + c_h if reset == "before" else r * (h @ U_h.T + c_h)
        h_bar = torch.tanh(x_t @ W_h.T + b_h + inner)
        return (1 - z) * h + z * h_bar

    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    expected = handwritten(step, x, h0)
    for engine in (contextlib.nullcontext(), disabled()):
        with engine:
            torch.testing.assert_close(layer(x, state=h0[None])[0], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(cell(x[:, 0], h0), expected[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", [{"reset": "before"}, {"reset": "after"}, {"layer_norm": True},
                                     {"bias": False, "bidirectional": True, "num_layers": 2}])
def test_converted_gru_computes_the_same_in_the_other_convention(options):
    torch.manual_seed(3)
    options = dict(options)
    stack = {k: options.pop(k) for k in ("bidirectional", "num_layers") if k in options}
    model = GRU(3, 4, **stack, **options).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-0.9, 0.9)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3])
    converted = convert_z_convention(model, "candidate")
    assert all(c.z_multiplies == "candidate" for c in converted.cells)
    assert all(c.z_multiplies == "previous" for c in model.cells)   # the original is left alone
    back = convert_z_convention(converted, "previous")
    for engine in (contextlib.nullcontext(), disabled()):
        with engine:
            expected = model(x, lengths)
            for other in (converted, back):
                for got, want in zip(other(x, lengths), expected, strict=True):
                    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    H = 4
    torch.testing.assert_close(converted.cells[0].weight_hh[H:2 * H], -model.cells[0].weight_hh[H:2 * H])
    torch.testing.assert_close(back.state_dict(), model.state_dict(), rtol=0, atol=0)
    # the state dict means the cell's own convention: loading it into a "candidate" GRU reproduces converted
    fresh = GRU(3, 4, **stack, **options, z_multiplies="candidate").double()
    fresh.load_state_dict(converted.state_dict())
    torch.testing.assert_close(fresh(x, lengths)[0], expected[0], rtol=1e-12, atol=1e-12)


def test_convert_z_convention_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"convert_z_convention: argument 'z_multiplies' expected one of "
                                         r"\['previous', 'candidate'\], got 'old'"):
        convert_z_convention(GRU(3, 4), "old")
    with pytest.raises(TypeError, match=r"convert_z_convention: argument 'module' expected a torch.nn.Module, "
                                        r"got dict"):
        convert_z_convention({}, "candidate")


def test_previous_form_passes_gradients_to_the_cells_own_parameters():
    torch.manual_seed(4)
    cell = GRUCell(3, 4, z_multiplies="candidate", layer_norm=True).double()
    twin = cell.previous_form()
    assert twin.z_multiplies == "previous" and cell.z_multiplies == "candidate"
    assert {name for name, _ in cell.named_parameters()} == set(cell.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h = torch.randn(2, 4, dtype=torch.float64)
    ours = RNN(cell).cells[0].step(cell.project(x[0]), (h,), h)[0]
    theirs = twin.step(twin.project(x[0]), (h,), h)[0]
    torch.testing.assert_close(theirs, ours, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(theirs.sum(), list(cell.parameters()))
    expected = torch.autograd.grad(ours.sum(), list(cell.parameters()))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
