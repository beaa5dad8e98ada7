"""RNN against torch.nn.LSTM/GRU/RNN with copied weights: outputs, final states, gradients, states."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrnn.layers.recurrent import GRU, LSTM, RNN, from_torch

TORCH_MODULES = {
    "lstm": lambda **kw: nn.LSTM(**kw),
    "gru": lambda **kw: nn.GRU(**kw),
    "rnn_tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
}


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_torch(module, x, lengths, state):
    """torch.nn module on a padded batch: pack when lengths are given, pad the outputs back."""
    if lengths is None:
        return module(x, state)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, final = module(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, final


@pytest.mark.parametrize("kind", sorted(TORCH_MODULES))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_torch_outputs_final_state_and_gradients(kind, bidirectional, with_lengths,
                                                        with_state):
    torch.manual_seed(1)
    module = TORCH_MODULES[kind](input_size=3, hidden_size=4, num_layers=2, batch_first=True,
                                 bidirectional=bidirectional).double()
    ours = from_torch(module)
    D = 2 if bidirectional else 1
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 1]) if with_lengths else None
    state = None
    if with_state:
        components = 2 if kind == "lstm" else 1
        state = tuple(torch.randn(2 * D, 4, 4, dtype=torch.float64) for _ in range(components))
        state = state if kind == "lstm" else state[0]

    x_theirs = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    out_theirs, final_theirs = run_torch(module, x_theirs, lengths, state)
    out_ours, final_ours = ours(x_ours, lengths, state)

    torch.testing.assert_close(out_ours, out_theirs, rtol=0, atol=1e-10)
    for a, b in zip(as_tuple(final_ours), as_tuple(final_theirs), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)

    weights = torch.randn_like(out_ours)
    final_weights = [torch.randn_like(f) for f in as_tuple(final_ours)]

    def loss(out, final):
        return (out * weights).sum() + sum((f * w).sum()
                                           for f, w in zip(as_tuple(final), final_weights,
                                                           strict=True))

    loss(out_theirs, final_theirs).backward()
    loss(out_ours, final_ours).backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=0, atol=1e-10)
    for position, cell in enumerate(ours.cells):
        layer, direction = divmod(position, D)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            theirs = getattr(module, name + suffix).grad
            torch.testing.assert_close(getattr(cell, name).grad, theirs, rtol=0, atol=1e-10)


def test_time_major_layout_matches_torch():
    module = nn.GRU(3, 4, num_layers=1, batch_first=False).double()
    ours = from_torch(module)
    assert not ours.batch_first
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], module(x)[0], rtol=0, atol=1e-12)


def test_torch_module_without_bias_loads_with_zero_biases():
    module = nn.LSTM(3, 4, bias=False, batch_first=True).double()
    ours = from_torch(module)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], module(x)[0], rtol=0, atol=1e-12)


def test_carrying_state_across_chunks_equals_one_run():
    rnn = LSTM(3, 4, num_layers=2).double()
    x = torch.randn(2, 8, 3, dtype=torch.float64)
    whole, final = rnn(x)
    first, state = rnn(x[:, :5])
    second, final_chunked = rnn(x[:, 5:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=1e-12)
    for a, b in zip(final_chunked, final, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_return_states_gives_every_h_and_c_of_every_layer():
    """Forward direction: the state after step t equals torch's final state on the prefix
    x[:, :t+1]; layer l is row l of torch's final state."""
    torch.manual_seed(2)
    module = nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    ours = from_torch(module)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    outputs, _, (h_all, c_all) = ours(x, return_states=True)
    assert h_all.shape == c_all.shape == (2, 5, 2, 4)
    torch.testing.assert_close(h_all[:, :, -1], outputs, rtol=0, atol=0)
    for t in range(5):
        _, (h, c) = module(x[:, :t + 1])
        torch.testing.assert_close(h_all[:, t], h.transpose(0, 1), rtol=0, atol=1e-12)
        torch.testing.assert_close(c_all[:, t], c.transpose(0, 1), rtol=0, atol=1e-12)


def test_return_states_backward_direction_and_padding():
    """Backward direction: the state at step t is torch's reverse final state on x[:, t:length];
    padded steps hold zeros."""
    torch.manual_seed(3)
    module = nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    ours = from_torch(module)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3])
    _, _, (h_all, c_all) = ours(x, lengths, return_states=True)
    assert h_all.shape == (2, 5, 1, 8)
    for n, length in enumerate(lengths.tolist()):
        assert torch.all(h_all[n, length:] == 0) and torch.all(c_all[n, length:] == 0)
        for t in range(length):
            _, (h, c) = module(x[n:n + 1, :t + 1])
            torch.testing.assert_close(c_all[n, t, 0, :4], c[0, 0], rtol=0, atol=1e-12)
            _, (h, c) = module(x[n:n + 1, t:length])
            torch.testing.assert_close(h_all[n, t, 0, 4:], h[1, 0], rtol=0, atol=1e-12)
            torch.testing.assert_close(c_all[n, t, 0, 4:], c[1, 0], rtol=0, atol=1e-12)


def test_residual_adds_each_layer_input_to_its_output():
    torch.manual_seed(4)
    plain = GRU(4, 4, num_layers=2, reset="after").double()
    residual = GRU(4, 4, num_layers=2, reset="after", residual=True).double()
    residual.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    _, _, h_all = plain(x, return_states=True)
    layer0 = h_all[:, :, 0]
    layer1_alone, _ = RNN(plain.cells[1])(layer0)
    out, _ = residual(x)
    torch.testing.assert_close(out, layer1_alone + layer0, rtol=0, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    rnn = LSTM(3, 4, num_layers=2, dropout=0.5).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    rnn.eval()
    first, _ = rnn(x)
    second, _ = rnn(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    rnn.train()
    assert not torch.allclose(rnn(x)[0], first)


def test_initialisation_orthogonal_recurrent_xavier_input_forget_bias_one():
    torch.manual_seed(5)
    rnn = LSTM(6, 8)
    cell = rnn.cells[0]
    for block in cell.weight_hh.split(8):
        torch.testing.assert_close(block @ block.T, torch.eye(8), rtol=0, atol=1e-5)
    bound = (6 / (6 + 8)) ** 0.5
    assert cell.weight_ih.abs().max() <= bound
    torch.testing.assert_close(cell.bias_ih[8:16] + cell.bias_hh[8:16], torch.ones(8))
    assert cell.bias_ih[:8].abs().max() == 0 and cell.bias_hh.abs().max() == 0


def test_load_torch_weights_rejects_cells_torch_does_not_have():
    with pytest.raises(ValueError, match="reset='after'"):
        GRU(3, 4).load_torch_state_dict(nn.GRU(3, 4).state_dict())
    with pytest.raises(ValueError, match=r"'weight_hh_l0' expected shape \(16, 4\), got \(16, 2\)"):
        LSTM(3, 4).load_torch_state_dict(nn.LSTM(3, 4, proj_size=2).state_dict())
    with pytest.raises(ValueError, match=r"unexpected keys \['bias_hh_l0', 'bias_ih_l0'\]"):
        LSTM(3, 4, bias=False).load_torch_state_dict(nn.LSTM(3, 4).state_dict())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_projected_lstm_matches_torch_on_native_kernel_and_engine(bias, bidirectional, with_lengths):
    torch.manual_seed(4)
    module = nn.LSTM(3, 5, num_layers=2, proj_size=2, bias=bias, bidirectional=bidirectional,
                     batch_first=True).double()
    ours = from_torch(module)
    assert ours.cells[0].proj_size == 2 and ours.cells[0].bias is bias
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4]) if with_lengths else None
    D = 2 if bidirectional else 1
    state = (torch.randn(2 * D, 3, 2, dtype=torch.float64), torch.randn(2 * D, 3, 5, dtype=torch.float64))
    expected_out, expected_final = run_torch(module, x, lengths, state)
    for native in (True, False):
        ours.use_native = native
        out, final = ours(x, lengths, state)
        torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-12)
        for a, b in zip(final, expected_final, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_from_torch_leaves_the_global_random_generator_untouched():
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = torch.random.get_rng_state()
    from_torch(module)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_bad_input_names_argument_expected_and_actual():
    rnn = LSTM(3, 4, num_layers=2)
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"'x' expected 3 features .*got shape \(2, 5, 7\)"):
        rnn(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match=r"'x' expected a 3-d tensor, got shape \(5, 3\)"):
        rnn(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"'lengths' expected values in \[1, T\] = \[1, 5\], "
                                         r"got min 2 and max 6"):
        rnn(x, torch.tensor([6, 2]))
    with pytest.raises(ValueError, match=r"'lengths' expected values in \[1, T\].*got min 0"):
        rnn(x, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"'lengths' expected shape \(2,\) .*got \(3,\)"):
        rnn(x, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"'lengths' expected a 1-d tensor, got shape \(2, 1\)"):
        rnn(x, torch.tensor([[1], [2]]))
    with pytest.raises(TypeError, match=r"'lengths' expected an integer tensor, got dtype "
                                        r"torch.float32"):
        rnn(x, torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"'state' expected a tuple of 2 tensors \(h, c\), "
                                        r"got Tensor"):
        rnn(x, state=torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"'state \(c\)' expected shape .* = \(2, 2, 4\), "
                                         r"got \(1, 2, 4\)"):
        rnn(x, state=(torch.zeros(2, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match=r"'state \(h\)' expected shape .* = \(2, 2, 4\), "
                                         r"got \(2, 3, 4\)"):
        GRU(3, 4, num_layers=2)(x, state=torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match=r"'state \(h\)' expected dtype torch.float32 \(that of "
                                        r"x\), got torch.float64"):
        GRU(3, 4)(x, state=torch.zeros(1, 2, 4, dtype=torch.float64))


def test_bad_construction_names_argument_expected_and_actual():
    with pytest.raises(ValueError, match=r"'lookahead' expected None or an int ≥ 0, got -1"):
        RNN("lstm", 3, 4, bidirectional=True, lookahead=-1)
    with pytest.raises(ValueError, match=r"'lookahead' .*expected bidirectional=True"):
        RNN("lstm", 3, 4, lookahead=2)
    with pytest.raises(ValueError, match=r"'cell' expected one of \[.*'lstm'.*\], got 'lstn'"):
        RNN("lstn", 3, 4)
    with pytest.raises(TypeError, match=r"'cell' expected a name in .*got 42"):
        RNN(42, 3, 4)
    with pytest.raises(ValueError, match=r"'dropout' expected a probability in \[0, 1\], got 1.5"):
        RNN("gru", 3, 4, dropout=1.5)
    with pytest.raises(ValueError, match=r"'num_layers' expected a positive int, got 0"):
        RNN("gru", 3, 4, num_layers=0)
    with pytest.raises(TypeError, match=r"'module' expected torch.nn.LSTM, GRU or RNN, got Linear"):
        from_torch(nn.Linear(3, 4))


@settings(max_examples=25)
@given(kind=st.sampled_from(["lstm", "gru", "mgu", "elman", "jordan"]),
       num_layers=st.integers(1, 3), bidirectional=st.booleans(), batch_first=st.booleans(),
       residual=st.booleans(), N=st.integers(1, 3), T=st.integers(1, 4))
def test_output_and_state_shapes_follow_the_documented_layout(kind, num_layers, bidirectional,
                                                              batch_first, residual, N, T):
    rnn = RNN(kind, 3, 4, num_layers, bidirectional=bidirectional, batch_first=batch_first,
              residual=residual, lookahead=1 if bidirectional else None)
    D, K = (2 if bidirectional else 1), len(rnn.state_sizes)
    x = torch.randn(N, T, 3) if batch_first else torch.randn(T, N, 3)
    outputs, final, states = rnn(x, return_states=True)
    front = (N, T) if batch_first else (T, N)
    assert outputs.shape == (*front, D * 4)
    final = final if K > 1 else (final,)
    states = states if K > 1 else (states,)
    assert len(final) == len(states) == K
    for f, s, size in zip(final, states, rnn.state_sizes, strict=True):
        assert f.shape == (num_layers * D, N, size)
        assert s.shape == (*front, num_layers, D * size)
    # Residual: y^l = h^l + y^{l−1}, so the outputs are the sum of every layer's h.
    every_h = states[rnn.cells[0].output_index]
    expected = every_h.sum(-2) if residual else every_h[..., -1, :]
    torch.testing.assert_close(outputs, expected, rtol=1e-6, atol=1e-6)


def test_one_layer_states_are_views_that_share_the_outputs_memory_and_gradients():
    """return_states of a one-layer, one-direction stack are views (no copy); the output state
    shares memory with the outputs, and a loss on both gets the gradient of both."""
    torch.manual_seed(14)
    rnn = RNN("gru", 3, 4, reset="before").double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    out, _, states = rnn(x, None, return_states=True)
    assert states.shape == (2, 5, 1, 4)
    assert states.untyped_storage().data_ptr() == out.untyped_storage().data_ptr()
    assert torch.equal(states[:, :, 0], out)
    (out.sum() + 2 * states.sum()).backward()
    expected = torch.autograd.grad(3 * rnn(x)[0].sum(), x)[0]
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("cell", "options"), [("lstm", {}), ("lstm", {"peephole": True}), ("gru", {"reset": "after"}),
                                               ("gru", {"reset": "before"}), ("mgu", {}), ("elman", {}),
                                               ("jordan", {})])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_every_cell_runs_under_cpu_autocast(cell, options, with_lengths):
    """Under torch.autocast the projections come in bfloat16 while the state stays float32: the
    steps must mix them by promotion (torch.lerp refused: a GRU with lengths crashed)."""
    torch.manual_seed(16)
    rnn = RNN(cell, 3, 4, **options)
    x = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 3]) if with_lengths else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = rnn(x, lengths)[0]
    assert out.shape == (2, 5, 4) and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), rnn(x, lengths)[0], rtol=0.05, atol=0.05)
