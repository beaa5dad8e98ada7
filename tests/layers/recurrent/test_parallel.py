"""MinGRU, MinLSTM and QRNN against sequential references written from the papers' equations:
each sequence run alone, step by step, in both directions, multi-layer, with state."""

import contextlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.layers.recurrent.fused import disabled
from convrnn.layers.recurrent.parallel import QRNN, MinGRU, MinLSTM

LAYERS = {
    "mingru": lambda F, H, **kw: MinGRU(F, H, **kw),
    "minlstm": lambda F, H, **kw: MinLSTM(F, H, **kw),
    "minlstm_window3": lambda F, H, **kw: MinLSTM(F, H, window=3, **kw),
    "qrnn_f": lambda F, H, **kw: QRNN(F, H, pooling="f", **kw),
    "qrnn_fo": lambda F, H, **kw: QRNN(F, H, pooling="fo", window=3, **kw),
    "qrnn_ifo": lambda F, H, **kw: QRNN(F, H, pooling="ifo", window=1, **kw),
}


def gate_inputs(projection, window, x):
    """Every step's projection written out: Σ_j W[:, :, j] x_{t−k+1+j} + b for a width-k
    causal convolution (weights (G, F, k)), W x_t + b for a linear map. x: (T, F)."""
    if window == 1:
        return x @ projection.weight.T + projection.bias
    rows = []
    for t in range(x.shape[0]):
        total = projection.bias.clone()
        for j in range(window):
            source = t - window + 1 + j
            if source >= 0:
                total = total + projection.weight[:, :, j] @ x[source]
        rows.append(total)
    return torch.stack(rows)


def reference_direction(layer, position, x, h):
    """One sequence x: (T, F), one direction, from state h: (H,), step by step from the paper's
    equations. Returns outputs (T, H) and states (T, H)."""
    sig, tanh = torch.sigmoid, torch.tanh
    gates = gate_inputs(layer.projections[position], layer.window, x)
    outputs, states = [], []
    for g in gates:
        blocks = g.chunk(layer.gates)
        if isinstance(layer, MinGRU):
            z = sig(blocks[0])
            h = (1 - z) * h + z * blocks[1]
            y = h
        elif isinstance(layer, MinLSTM):
            f, i = sig(blocks[0]), sig(blocks[1])
            h = f / (f + i) * h + i / (f + i) * blocks[2]
            y = h
        else:
            z, f = tanh(blocks[0]), sig(blocks[1])
            i = sig(blocks[3]) if layer.pooling == "ifo" else 1 - f
            h = f * h + i * z
            y = h if layer.pooling == "f" else sig(blocks[2]) * h
        outputs.append(y)
        states.append(h)
    return torch.stack(outputs), torch.stack(states)


def reference(layer, x, length, state):
    """The whole stack on one sequence x: (T, F) cut to ``length``; state (L·D, H).
    Returns outputs (length, D·H), final state (L·D, H), states (length, L, D·H)."""
    x = x[:length]
    finals, every = [], []
    for layer_index in range(layer.num_layers):
        outputs, states = [], []
        for direction in range(layer.directions):
            position = layer_index * layer.directions + direction
            source = x.flip(0) if direction else x
            out, h = reference_direction(layer, position, source, state[position])
            finals.append(h[-1])
            outputs.append(out.flip(0) if direction else out)
            states.append(h.flip(0) if direction else h)
        x = torch.cat(outputs, dim=-1)
        every.append(torch.cat(states, dim=-1))
    return x, torch.stack(finals), torch.stack(every, dim=1)


def random_layer(name, F, H, **kw):
    layer = LAYERS[name](F, H, **kw).double()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-0.8, 0.8)
    return layer


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_sequential_reference_of_each_sequence_alone(name, bidirectional):
    torch.manual_seed(0)
    layer = random_layer(name, 3, 4, num_layers=2, bidirectional=bidirectional)
    D = layer.directions
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 2, 6, 1])
    state = torch.randn(2 * D, 4, 4, dtype=torch.float64)
    out, final, states = layer(x, lengths, state, return_states=True)
    for n, length in enumerate(lengths.tolist()):
        ref_out, ref_final, ref_states = reference(layer, x[n], length, state[:, n])
        torch.testing.assert_close(out[n, :length], ref_out, rtol=0, atol=1e-10)
        torch.testing.assert_close(final[:, n], ref_final, rtol=0, atol=1e-10)
        torch.testing.assert_close(states[n, :length], ref_states, rtol=0, atol=1e-10)
        assert torch.all(out[n, length:] == 0) and torch.all(states[n, length:] == 0)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("name", ["mingru", "minlstm", "qrnn_fo"])
def test_thousand_steps_match_sequential_reference_to_1e_10(name, chunked):
    """Both scans: the compiled one-pass loop (CPU) and the chunked scan (GPUs, no compiler)."""
    torch.manual_seed(1)
    layer = LAYERS[name](3, 4).double()
    x = torch.randn(2, 1000, 3, dtype=torch.float64)
    with disabled() if chunked else contextlib.nullcontext():
        out, final = layer(x)
    for n in range(2):
        ref_out, ref_final, _ = reference(layer, x[n], 1000, torch.zeros(1, 4, dtype=torch.float64))
        torch.testing.assert_close(out[n], ref_out, rtol=0, atol=1e-10)
        torch.testing.assert_close(final[:, n], ref_final, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradients_pass_gradcheck(name):
    torch.manual_seed(2)
    layer = random_layer(name, 2, 3, bidirectional=True)
    x = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])
    names = [name for name, _ in layer.named_parameters()]
    weights = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())

    def run(x, state, *weights):
        return torch.func.functional_call(layer, dict(zip(names, weights)), (x, lengths, state))

    assert torch.autograd.gradcheck(run, (x, state, *weights), fast_mode=True)


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(sorted(LAYERS)), steps=st.integers(1, 12), batch=st.integers(1, 3),
       num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch_first=st.booleans())
def test_padding_never_changes_outputs_and_shapes_follow_the_layout(name, steps, batch, num_layers,
                                                                      bidirectional, batch_first):
    torch.manual_seed(steps)
    layer = LAYERS[name](3, 5, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=batch_first).double().eval()
    D = layer.directions
    x = torch.randn(batch, steps, 3, dtype=torch.float64)
    lengths = torch.randint(1, steps + 1, (batch,))
    padded = torch.cat([x, torch.randn(batch, 3, 3, dtype=torch.float64)], dim=1)
    feed = padded if batch_first else padded.transpose(0, 1)
    out, final, states = layer(feed, lengths, return_states=True)
    out = out if batch_first else out.transpose(0, 1)
    states = states if batch_first else states.transpose(0, 1)
    assert out.shape == (batch, steps + 3, D * 5)
    assert final.shape == (num_layers * D, batch, 5)
    assert states.shape == (batch, steps + 3, num_layers, D * 5)
    for n, length in enumerate(lengths.tolist()):
        alone = x[n:n + 1, :length]
        alone_out, alone_final = layer(alone if batch_first else alone.transpose(0, 1))
        alone_out = alone_out if batch_first else alone_out.transpose(0, 1)
        torch.testing.assert_close(out[n:n + 1, :length], alone_out, rtol=0, atol=1e-12)
        torch.testing.assert_close(final[:, n:n + 1], alone_final, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["mingru", "minlstm", "qrnn_ifo"])
def test_carrying_state_across_chunks_equals_one_run(name):
    torch.manual_seed(3)
    layer = LAYERS[name](3, 4, num_layers=2).double()   # window 1: nothing but h crosses chunks
    x = torch.randn(2, 10, 3, dtype=torch.float64)
    whole, whole_final = layer(x)
    first, state = layer(x[:, :4])
    second, final = layer(x[:, 4:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=1e-12)
    torch.testing.assert_close(final, whole_final, rtol=0, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    layer = MinGRU(3, 6, num_layers=2, dropout=0.5).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    layer.eval()
    first = layer(x)[0]
    torch.testing.assert_close(layer(x)[0], first, rtol=0, atol=0)
    layer.train()
    assert not torch.allclose(layer(x)[0], first)


def test_bad_input_names_argument_expected_and_actual():
    layer = MinGRU(3, 4)
    with pytest.raises(ValueError, match=r"'x' expected 3 features .* got shape \(2, 5, 2\)"):
        layer(torch.randn(2, 5, 2))
    with pytest.raises(ValueError, match=r"'lengths' expected values in \[1, T\] = \[1, 5\], got min 0"):
        layer(torch.randn(2, 5, 3), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"'state' expected shape .* \(1, 2, 4\), got \(2, 2, 4\)"):
        layer(torch.randn(2, 5, 3), state=torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"'window' expected a positive int, got 0"):
        QRNN(3, 4, window=0)
    with pytest.raises(ValueError, match=r"'pooling' expected one of \['f', 'fo', 'ifo'\], got 'o'"):
        QRNN(3, 4, pooling="o")
    with pytest.raises(ValueError, match=r"'dropout' expected a probability in \[0, 1\), got 1.0"):
        MinLSTM(3, 4, dropout=1.0)
