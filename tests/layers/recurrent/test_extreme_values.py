"""The compiled core at extreme values: saturated gates, large states, infinities and NaN.

The Python engine (``fused.disabled()``, torch's own functions) is the reference: at every input
scale the core gives what it gives — torch's limits (σ(−1e4) = 0, tanh(1e4) = 1), finite where
the engine is finite, NaN where it has NaN — with gradients. The core's own exp, σ and tanh are
held against torch's over the whole float range.
"""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.layers.recurrent import QRNN, RNN, MinGRU, MinLSTM
from convrnn.layers.recurrent._compiled import load
from convrnn.layers.recurrent.fused import available, disabled
from layers.recurrent.test_compiled import FUSED, random_cell

needs_core = pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")

SCALES = [1.0, 30.0, 100.0, 1e4]
PARALLEL = {
    "mingru": lambda **kw: MinGRU(3, 4, **kw),
    "minlstm": lambda **kw: MinLSTM(3, 4, **kw),
    "qrnn_fo": lambda **kw: QRNN(3, 4, pooling="fo", **kw),
    "qrnn_ifo": lambda **kw: QRNN(3, 4, pooling="ifo", window=2, **kw),
}
TORCH = {"exp": torch.exp, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def float32_specials():
    """Every float32 of interest: zeros, subnormals, the edges of exp's range, ±1e4, ±∞, NaN,
    a dense grid over [−110, 110] and 200k random bit patterns (every exponent)."""
    edges = torch.tensor([0.0, -0.0, 1e-45, -1e-45, 1e-40, 1e-38, 0.625, -0.625, 0.6249999, 88.37, 88.72, 88.73,
                          89.0, -87.33, -87.34, -100.0, -103.97, -104.0, -150.0, 1e4, -1e4, 3e38, -3e38,
                          math.inf, -math.inf, math.nan])
    grid = torch.linspace(-110, 110, 400001)
    bits = torch.randint(-2**31, 2**31 - 1, (200000,), generator=torch.Generator().manual_seed(3), dtype=torch.int32)
    return torch.cat([edges, grid, bits.view(torch.float32)])


def assert_same_function(ours, reference, ulps):
    """Equal NaN pattern and infinities; elsewhere within ``ulps`` units in the last place of the
    reference; below the smallest normal number (where torch's float64 σ flushes to 0 what is
    subnormal) a difference under that number counts as under one ulp."""
    assert torch.equal(ours.isnan(), reference.isnan())
    finite = reference.isfinite()
    assert torch.equal(ours[~finite & ~reference.isnan()], reference[~finite & ~reference.isnan()])
    tiny = torch.finfo(reference.dtype).tiny
    spacing = torch.clamp(reference.abs() * torch.finfo(reference.dtype).eps, min=tiny)
    error = ((ours - reference).abs() / spacing)[finite]
    assert error.max() <= ulps, f"max error {error.max():.2f} ulp at {reference[finite][error.argmax()]}"


@needs_core
@pytest.mark.parametrize("function", ["exp", "sigmoid", "tanh"])
def test_pointwise_functions_equal_torch_over_the_float_range(function):
    x = float32_specials()
    ours = load().pointwise(function, x)
    reference = TORCH[function](x.double()).float()   # correctly rounded to float32
    assert_same_function(ours, reference, ulps=3)
    # float64 uses the C library: equal to torch to the last bits
    assert_same_function(load().pointwise(function, x.double()), TORCH[function](x.double()), ulps=2)


@needs_core
def test_pointwise_functions_reach_torch_limits():
    x = torch.tensor([-1e4, 1e4, -math.inf, math.inf, math.nan, -89.0, 89.0])
    assert load().pointwise("sigmoid", x)[:4].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert load().pointwise("tanh", x)[:4].tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert load().pointwise("exp", x).tolist()[:4] == [0.0, math.inf, 0.0, math.inf]
    assert load().pointwise("exp", x)[6] == math.inf
    for function in TORCH:
        assert load().pointwise(function, x)[4].isnan()


def run(module, x, lengths, state, weights):
    """Outputs, final state (and every state for the recurrent stacks) and the gradients of a
    random linear loss of all of them with respect to x, the initial state and the weights."""
    x = x.clone().requires_grad_()
    state = tuple(s.clone().requires_grad_() for s in state)
    module.zero_grad(set_to_none=True)
    given = state if len(state) > 1 else state[0]
    out, final, every = module(x, lengths, given, return_states=True)
    final = final if isinstance(final, tuple) else (final,)
    every = every if isinstance(every, tuple) else (every,)
    results = [out, *final, *every]
    loss = sum((r * w).sum() for r, w in zip(results, weights, strict=True))
    loss.backward()
    return results + [x.grad, *(s.grad for s in state)] + [p.grad for p in module.parameters()]


def assert_core_equals_engine(module, x, lengths, state, dtype):
    torch.manual_seed(5)
    with torch.no_grad():
        shapes = [r.shape for r in _flat(module(x, lengths, state if len(state) > 1 else state[0],
                                                return_states=True))]
    weights = [torch.randn(shape, dtype=dtype) for shape in shapes]
    fast = run(module, x, lengths, state, weights)
    with disabled():
        slow = run(module, x, lengths, state, weights)
    for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
        if a is None or b is None:   # a state the cell never reads (Jordan's h_0): None or zeros
            assert all(r is None or not r.any() for r in (a, b)), f"result {index}: a gradient on one path only"
            continue
        # finite exactly where the engine is finite, NaN where it is NaN
        assert torch.equal(a.isnan(), b.isnan()), f"result {index}: NaN pattern differs"
        assert torch.equal(a.isinf(), b.isinf()), f"result {index}: infinities differ"
        finite = b.isfinite()
        scale = max(1.0, b[finite].abs().max().item()) if finite.any() else 1.0
        tolerance = (1e-9 if dtype == torch.float64 else 2e-3) * scale
        torch.testing.assert_close(a[finite], b[finite], rtol=0, atol=tolerance, msg=lambda m, i=index: f"result {i}: {m}")


def _flat(results):
    out = []
    for r in results:
        out.extend(r if isinstance(r, tuple) else (r,))
    return out


def initial_state(module, batch, dtype, magnitude):
    rows = module.num_layers * (2 if module.bidirectional else 1)
    sizes = module.state_sizes if isinstance(module, RNN) else (module.hidden_size,)
    return tuple(magnitude * torch.randn(rows, batch, size, dtype=dtype) for size in sizes)


@needs_core
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", sorted(FUSED))
def test_compiled_cells_equal_engine_at_every_input_scale(name, scale, dtype):
    torch.manual_seed(0)
    rnn = RNN(random_cell(name, F=3, H=4), num_layers=2, bidirectional=True).to(dtype)
    rnn.use_native = False
    x = scale * torch.randn(3, 7, 3, dtype=dtype)
    lengths = torch.tensor([7, 4, 1])
    # initial states of magnitude 10³ (for an LSTM its cell state: tanh(c) saturates)
    assert_core_equals_engine(rnn, x, lengths, initial_state(rnn, 3, dtype, 1e3), dtype)
    assert_core_equals_engine(rnn, x, None, initial_state(rnn, 3, dtype, 1.0), dtype)


@needs_core
@pytest.mark.parametrize("scale", [100.0, 1e4])
@pytest.mark.parametrize("name", ["lstm_peephole", "gru_before", "mgu", "lstm_layer_norm", "gated_layer_norm",
                                  "jordan_softmax"])
def test_compiled_cells_equal_engine_with_lookahead_at_large_scales(name, scale):
    torch.manual_seed(1)
    rnn = RNN(random_cell(name, F=3, H=4), bidirectional=True, lookahead=2)
    x = scale * torch.randn(3, 6, 3, dtype=torch.float64)
    assert_core_equals_engine(rnn, x, torch.tensor([6, 3, 2]), initial_state(rnn, 3, torch.float64, 1e3),
                              torch.float64)


@needs_core
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", sorted(PARALLEL))
def test_parallel_layers_equal_engine_at_every_input_scale(name, scale, dtype):
    torch.manual_seed(0)
    layer = PARALLEL[name](num_layers=2, bidirectional=True).to(dtype)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-1.5, 1.5)
    x = scale * torch.randn(3, 7, 3, dtype=dtype)
    assert_core_equals_engine(layer, x, torch.tensor([7, 4, 1]), initial_state(layer, 3, dtype, 1e3), dtype)
    assert_core_equals_engine(layer, x, None, initial_state(layer, 3, dtype, 1.0), dtype)


@needs_core
@given(scale=st.floats(1.0, 1e5), steps=st.integers(1, 6), batch=st.integers(1, 4),
       name=st.sampled_from(sorted(FUSED) + sorted(PARALLEL)), state_magnitude=st.sampled_from([0.0, 1.0, 1e3]))
def test_core_equals_engine_over_scales_and_shapes(scale, steps, batch, name, state_magnitude):
    torch.manual_seed(2)
    if name in PARALLEL:
        module = PARALLEL[name](bidirectional=True).double()
    else:
        module = RNN(random_cell(name, F=3, H=4), bidirectional=True)
        module.use_native = False
    x = scale * torch.randn(batch, steps, 3, dtype=torch.float64)
    lengths = torch.randint(1, steps + 1, (batch,))
    assert_core_equals_engine(module, x, lengths, initial_state(module, batch, torch.float64, state_magnitude),
                              torch.float64)


@needs_core
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", sorted(FUSED) + sorted(PARALLEL))
def test_nan_and_infinity_in_the_input_propagate_as_in_the_engine(name, value):
    torch.manual_seed(3)
    if name in PARALLEL:
        module = PARALLEL[name]().double()
    else:
        module = RNN(random_cell(name, F=3, H=4))
        module.use_native = False
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    x[1, 2, 0] = value           # one step of one sequence: the others stay finite
    state = initial_state(module, 3, torch.float64, 1.0)
    with torch.no_grad():
        fast = _flat(module(x, None, state if len(state) > 1 else state[0]))
        with disabled():
            slow = _flat(module(x, None, state if len(state) > 1 else state[0]))
    for a, b in zip(fast, slow, strict=True):
        assert torch.equal(a.isnan(), b.isnan())
        assert torch.equal(a.isinf(), b.isinf())
        finite = b.isfinite()
        torch.testing.assert_close(a[finite], b[finite], rtol=0, atol=1e-9)
    out = fast[0]
    assert out[[0, 2]].isfinite().all()                  # other sequences untouched
    assert out[1, :2].isfinite().all()                   # steps before it untouched
    if value != value:
        assert out[1, 2:].isnan().any()                  # NaN in → NaN out, never silently finite


def train_language_model(steps=25, length=20):
    """A torch-style word language model (embedding → peephole LSTM → linear), its state carried
    across batches with ``detach``, gradient clipping, SGD. Its cell state grows by about one
    per step (candidate and gates biased open, positive input/forget peepholes), so the output
    gate's peephole term −c passes −88.5 (where σ's exp(−x) overflows float32) in the first
    hundred steps. Returns every batch's loss and the final cell state."""
    torch.manual_seed(0)
    embed, lstm, head = torch.nn.Embedding(30, 8), RNN("lstm", 8, 16, peephole=True), torch.nn.Linear(16, 30)
    cell = lstm.cells[0]
    with torch.no_grad():
        cell.bias_hh[:48] = 4.0                       # i, f, candidate: open
        cell.weight_peephole[:2] = 1.0                # i and f read +c
        cell.weight_peephole[2] = torch.tensor([-1.0, 1.0]).repeat(8)   # o reads −c or +c
    parameters = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimiser = torch.optim.SGD(parameters, lr=0.5)
    text = torch.randint(0, 30, (4, steps * length + 1), generator=torch.Generator().manual_seed(1))
    state, losses = None, []
    for batch in range(steps):
        x = text[:, batch * length:(batch + 1) * length]
        y = text[:, batch * length + 1:(batch + 1) * length + 1]
        out, state = lstm(embed(x), state=state)
        loss = torch.nn.functional.cross_entropy(head(out).flatten(0, 1), y.flatten())
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 0.25)
        optimiser.step()
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
    return torch.tensor(losses), state[1]


@needs_core
def test_language_model_with_carried_state_trains_through_saturated_gates_as_on_the_engine():
    losses, cell_state = train_language_model()
    assert cell_state.abs().max() > 200               # σ(−c) met pre-activations far below −88.5
    assert losses.isfinite().all()
    with disabled():
        reference, reference_state = train_language_model()
    torch.testing.assert_close(losses, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cell_state, reference_state, rtol=1e-4, atol=1e-3)
