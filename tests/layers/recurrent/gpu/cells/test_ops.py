"""The cell kernels (``torch.ops.convrnn_gpu.cell`` and its backward) against the Python engine.

The reference is the engine itself (``gpu/cells/naive.py`` runs ``Cell.step`` through ``scan``):
every cell × the options (lengths, in-kernel reversal, look-ahead windows, recurrent dropout,
zoneout in evaluation and with Philox draws in training) × both strategies, in float64, forward
states and the gradients of a random linear loss of every state with respect to the projections,
the initial state and every parameter. Float32 and bfloat16 projections against the float64
engine with tolerances. On a machine without CUDA the kernels run on CPU tensors through Triton's
interpreter (~1–5 s per case); the default run takes each cell once, with the options and
strategy rotating, and the whole cross product is marked slow.
"""

import itertools

import pytest
import torch

pytest.importorskip("triton", reason="Triton is not installed (pip install 'convrnn[gpu]'): the GPU kernels' "
                                     "tests need it (on a CPU, through its interpreter)")

from convrnn.layers.recurrent import GatedCell, GRUCell, JordanCell
from convrnn.layers.recurrent.gpu.cells import naive
from convrnn.layers.recurrent.gpu.cells.ops import cell as cell_op
from convrnn.layers.recurrent.gpu.cells.spec import as_tuple, epsilon_of, parameters_of, spec_of
from layers.recurrent.test_compiled import FUSED

CELLS = {
    **FUSED,
    # layer norm where the CPU core has none
    "gru_after_layer_norm": lambda F, H: GRUCell(F, H, reset="after", layer_norm=True),
    "jordan_tanh_layer_norm": lambda F, H: JordanCell(F, H, output_size=H + 1, decision="tanh", layer_norm=True),
    "gated_layer_norm": lambda F, H: GatedCell(F, H, layer_norm=True),
}

# (reverse, lookahead, zoneout, training, recurrent dropout)
OPTIONS = {
    "plain": (False, -1, 0.0, False, False),
    "reverse_zoneout_eval_dropout": (True, -1, 0.3, False, True),
    "lookahead": (False, 2, 0.0, False, False),
    "reverse_zoneout_training": (True, -1, 0.4, True, False),
    "lookahead_zoneout_training_dropout": (False, 1, 0.3, True, True),
}
STRATEGIES = ("persistent", "stepwise")
T, N, F_IN, H = 5, 3, 3, 5
SEED = 123


def make(name, dtype=torch.float64):
    torch.manual_seed(sum(map(ord, name)))
    cell = CELLS[name](F_IN, H).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.uniform_(-0.8, 0.8)
    return cell.to(dtype)


def run(cell, xw, state, lengths, drop, options, strategy, precision="ieee"):
    """The operator's (every state, final state) per component, differentiable."""
    reverse, lookahead, zoneout, training, _ = options
    spec = spec_of(cell)
    empty = state[0].new_empty(0)
    out = cell_op(xw, state[0], state[1] if spec.components == 2 else empty, *parameters_of(cell, spec),
                  lengths if lengths is not None else empty.long(), drop if drop is not None else empty,
                  [int(v) for v in as_tuple(spec)], zoneout, training, SEED, epsilon_of(cell), reverse, lookahead,
                  strategy, precision)
    K = spec.components
    return (*out[:K], *out[2:2 + K])


def inputs(cell, options, dtype=torch.float64, lengths=(5, 3, 1)):
    _, lookahead, _, _, dropout = options
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(T, N, F_IN, dtype=torch.float64, generator=generator)
    xw = cell.double().project(x).detach().to(dtype)
    state = tuple(torch.randn(N, s, dtype=torch.float64, generator=generator).to(dtype) for s in cell.state_sizes)
    drop = None
    if dropout:
        drop = torch.bernoulli(torch.full((N, cell.output_size), 0.7, dtype=torch.float64), generator=generator) / 0.7
    return xw, state, torch.tensor(lengths) if lengths is not None else None, drop


def reference(cell, xw, state, lengths, drop, options):
    reverse, lookahead, zoneout, training, _ = options
    keeps = None
    if zoneout > 0:
        rows = N if lookahead < 0 else T * N
        steps = T if lookahead < 0 else lookahead + 1
        keeps = naive.zoneout_keeps(SEED, zoneout, steps, rows, cell.state_sizes, xw) if training \
            else (zoneout,) * len(cell.state_sizes)
    return naive.reference(cell, xw, state, lengths, drop, keeps, reverse, lookahead)


def check(name, option, strategy, lengths=(5, 3, 1)):
    cell = make(name)
    options = OPTIONS[option]
    xw, state, lengths, drop = inputs(cell, options, lengths=lengths)
    xw = xw.requires_grad_()
    state = tuple(s.requires_grad_() for s in state)
    parameters = [p for p in parameters_of(cell, spec_of(cell)) if p.numel()]
    expected = reference(cell, xw, state, lengths, drop, options)
    ours = run(cell, xw, state, lengths, drop, options, strategy)
    weights = [torch.randn_like(e) for e in expected]
    wanted = [xw, *state, *parameters]
    grads_expected = torch.autograd.grad(sum((e * w).sum() for e, w in zip(expected, weights)), wanted)
    grads_ours = torch.autograd.grad(sum((o * w).sum() for o, w in zip(ours, weights)), wanted)
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_ours, grads_expected):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


# each cell once: the options and the strategy rotate over the cells
ROTATION = [(name, list(OPTIONS)[i % len(OPTIONS)], STRATEGIES[i % 2]) for i, name in enumerate(CELLS)]


@pytest.mark.parametrize(("name", "option", "strategy"), ROTATION)
def test_kernels_match_the_engine_forward_and_backward(name, option, strategy):
    check(name, option, strategy)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "option", "strategy"), list(itertools.product(CELLS, OPTIONS, STRATEGIES)))
def test_kernels_match_the_engine_for_every_option_and_strategy(name, option, strategy):
    check(name, option, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_full_length_batch_and_gradient_of_final_state_only(strategy):
    """No lengths, and a loss of the final state alone (no gradient reaches every step's state)."""
    cell = make("lstm_peephole")
    options = OPTIONS["plain"]
    xw, state, _, _ = inputs(cell, options, lengths=None)
    xw = xw.requires_grad_()
    expected = reference(cell, xw, state, None, None, options)
    ours = run(cell, xw, state, None, None, options, strategy)
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    g1 = torch.autograd.grad(ours[2].sum() + ours[3].square().sum(), [xw, *cell.parameters()], allow_unused=True)
    g2 = torch.autograd.grad(expected[2].sum() + expected[3].square().sum(), [xw, *cell.parameters()],
                             allow_unused=True)
    for a, b in zip(g1, g2):
        if b is None:
            assert a is None or not a.any()
        else:
            torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


def test_float32_against_the_float64_engine():
    """Float32 states and products: within float32 rounding of the float64 engine."""
    cell = make("gru_before_layer_norm")
    options = OPTIONS["reverse_zoneout_training"]
    xw, state, lengths, drop = inputs(cell, options)
    expected = reference(cell, xw, state, lengths, drop, options)
    ours = run(cell.float(), xw.float(), tuple(s.float() for s in state), lengths, None, options, "persistent")
    for a, b in zip(ours, expected):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-5)


def test_bfloat16_projections_keep_float32_state():
    """bfloat16 projections (autocast's) and bfloat16-rounded recurrent products, float32 state:
    within bfloat16 rounding (2⁻⁸ relative) of the float64 engine, and ∂L/∂xw in bfloat16."""
    cell = make("lstm")
    options = OPTIONS["plain"]
    xw, state, lengths, _ = inputs(cell, options)
    expected = reference(cell, xw, state, lengths, None, options)
    low = xw.bfloat16().requires_grad_()
    ours = run(cell.float(), low, tuple(s.float() for s in state), lengths, None, options, "persistent",
               precision="bf16_emulated")
    for a, b in zip(ours, expected):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=0.0, atol=3e-2)
    (grad,) = torch.autograd.grad(ours[0].sum(), [low])
    assert grad.dtype == torch.bfloat16 and torch.isfinite(grad.float()).all()


def test_zoneout_training_draws_repeat_with_the_seed_and_differ_across_seeds():
    cell = make("mgu")
    first = naive.zoneout_keeps(5, 0.5, T, N, cell.state_sizes, torch.empty(0, dtype=torch.float64))
    again = naive.zoneout_keeps(5, 0.5, T, N, cell.state_sizes, torch.empty(0, dtype=torch.float64))
    other = naive.zoneout_keeps(6, 0.5, T, N, cell.state_sizes, torch.empty(0, dtype=torch.float64))
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], other[0])
    assert set(first[0].unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize(("reset", "strategy"), [("before", "persistent"), ("after", "stepwise")])
def test_seed_004_gru_runs_on_the_kernels_as_its_previous_form(reset, strategy):
    """GRUCell(z_multiplies="candidate") has no kernel of its own: the engine hands the kernels its
    previous_form() (z weights negated). The kernels on that view equal the engine running seed
    004's own equation, forward and the gradients of the cell's own parameters."""
    torch.manual_seed(5)
    cell = GRUCell(F_IN, H, reset=reset, z_multiplies="candidate").double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.uniform_(-0.8, 0.8)
    assert spec_of(cell) is None
    twin = cell.previous_form()
    options = OPTIONS["plain"]
    x = torch.randn(T, N, F_IN, dtype=torch.float64)
    state = (torch.randn(N, H, dtype=torch.float64),)
    lengths = torch.tensor([5, 3, 1])
    expected = reference(cell, cell.project(x), state, lengths, None, options)
    ours = run(twin, twin.project(x), state, lengths, None, options, strategy)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    weights = [torch.randn_like(e) for e in expected]
    wanted = list(cell.parameters())
    got = torch.autograd.grad(sum((o * w).sum() for o, w in zip(ours, weights)), wanted)
    want = torch.autograd.grad(sum((e * w).sum() for e, w in zip(expected, weights)), wanted)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)
