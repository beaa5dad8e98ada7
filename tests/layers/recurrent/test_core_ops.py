"""The compiled core as PyTorch operators (``torch.ops.convrnn.*``): schema, fake implementation,
autograd registration (``torch.library.opcheck``), and every recurrent layer inside
``torch.compile`` with ``fullgraph=True`` equal to eager, the core's operators in its graph."""

import pytest
import torch

from convrnn.layers.recurrent import RNN, MinGRU, core_ops
from convrnn.layers.recurrent.fused import available, disabled
from deploy_cases import LAYERS

needs_core = pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")

T, N, H = 4, 3, 2


def tensors(*shapes, grad=True):
    return [torch.randn(*s, dtype=torch.float64, requires_grad=grad) for s in shapes]


def empty():
    return torch.empty(0, dtype=torch.float64)


def no_mask():
    return torch.empty(0, dtype=torch.bool)


def mask():
    return torch.arange(T).unsqueeze(1) < torch.tensor([T, 2, 1])


def layer_norm_inputs(blocks, raw):
    gains = tensors((blocks, H), (blocks, H))
    inputs = tensors((blocks, H), (blocks, H), (blocks * H,)) if raw else [empty(), empty(), empty()]
    return gains, inputs


def operator_cases():
    """(name, arguments) of every forward operator, with and without masks and options."""
    cases = []
    for lengths in (no_mask, mask):
        for peephole in (False, True):
            xw, h0, c0, w, b = tensors((T, N, 4 * H), (N, H), (N, H), (4 * H, H), (4 * H,))
            v = tensors((3, H))[0] if peephole else empty()
            cases.append(("lstm", (xw, h0, c0, w, b, v, lengths())))
            for raw in (False, True):
                xw, h0, c0, w, b = tensors((T, N, 4 * H), (N, H), (N, H), (4 * H, H), (4 * H,))
                gain_shift, inputs = layer_norm_inputs(4, raw)
                cell = tensors((1, H), (1, H))
                cases.append(("layer_norm_lstm", (xw, h0, c0, w, b, v, *gain_shift, *cell, *inputs, lengths(), 1e-5)))
        for gru, S in ((True, 2), (False, 1)):
            xw, h0, w, b = tensors((T, N, (S + 1) * H), (N, H), ((S + 1) * H, H), ((S + 1) * H,))
            cases.append(("gated", (gru, xw, h0, w, b, lengths())))
            for raw in (False, True):
                gain_shift, inputs = layer_norm_inputs(S + 1, raw)
                cases.append(("layer_norm_gated", (gru, xw, h0, w, b, *gain_shift, *inputs, lengths(), 1e-5)))
        for activation in range(5):   # tanh, relu, sigmoid, leaky relu (slope 0.2), identity
            xw, h0, w, b = tensors((T, N, H), (N, H), (H, H), (H,))
            cases.append(("elman", (activation, 0.2, xw, h0, w, b, lengths())))
            gain_shift, inputs = layer_norm_inputs(1, activation % 2 == 1)
            cases.append(("layer_norm_elman", (activation, 0.2, xw, h0, w, b, *gain_shift, *inputs, lengths(), 1e-5)))
        xw, h0, w, b = tensors((T, N, 2 * H), (N, H), (2 * H, H), (2 * H,))
        cases.append(("gated_unit", (xw, h0, w, b, lengths())))
        for raw in (False, True):
            gain_shift, inputs = layer_norm_inputs(2, raw)
            cases.append(("layer_norm_gated_unit", (xw, h0, w, b, *gain_shift, *inputs, lengths(), 1e-5)))
        xw, h0, w, b = tensors((T, N, 3 * H), (N, H), (3 * H, H), (3 * H,))
        cases.append(("gru_after", (xw, h0, w, b, lengths())))
        for decision in range(4):
            O = H + 1
            xw, h0, y0, w, v, c = tensors((T, N, H), (N, H), (N, O), (H, O), (O, H), (O,))
            cases.append(("jordan", (decision == 1, decision, xw, h0, y0, w, v, c, lengths())))
        for kind, blocks in ((0, 2), (1, 3), (2, 2), (3, 3), (4, 4)):
            P, h0 = tensors((T, N, blocks * H), (N, H))
            cases.append(("parallel_cells", (kind, P, h0, lengths())))
    a, b, h0 = tensors((T, N, H), (T, N, H), (N, H))
    cases.append(("linear_scan", (a, b, h0)))
    return cases


CASES = operator_cases()


@needs_core
@pytest.mark.parametrize(("name", "arguments"), CASES, ids=[f"{name}-{i}" for i, (name, _) in enumerate(CASES)])
def test_every_operator_passes_opcheck(name, arguments):
    """Schema, fake implementation (shapes and strides), autograd registration and AOT dispatch
    with dynamic shapes, as torch.library checks them."""
    torch.library.opcheck(getattr(torch.ops.convrnn, name).default, arguments)


@needs_core
@pytest.mark.parametrize(("name", "arguments"), [c for c in CASES if c[0] in ("lstm", "gated", "parallel_cells")][:6]
                         + [c for c in CASES if c[0] == "layer_norm_gated_unit"])
def test_operators_gradients_pass_gradcheck(name, arguments):
    op = getattr(torch.ops.convrnn, name)
    inputs = [a for a in arguments if isinstance(a, torch.Tensor) and a.requires_grad and a.numel()]

    def run(*given):
        replaced = iter(given)
        full = [next(replaced) if isinstance(a, torch.Tensor) and a.requires_grad and a.numel() else a
                for a in arguments]
        out = op(*full)
        differentiable = {"lstm": 2, "gated": 1, "parallel_cells": 2, "layer_norm_gated_unit": 1}[name]
        return tuple(o for o in out[:differentiable] if o.numel())

    assert torch.autograd.gradcheck(run, inputs)


@needs_core
def test_operators_refuse_second_derivatives_clearly():
    xw, h0, c0, w, b = tensors((T, N, 4 * H), (N, H), (N, H), (4 * H, H), (4 * H,))
    h, c, _ = torch.ops.convrnn.lstm(xw, h0, c0, w, b, empty(), no_mask())
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(h.sum(), xw, create_graph=True)




def outputs_and_gradients(model, x, lengths):
    x = x.detach().requires_grad_()
    out, final = model(x, lengths)[:2]
    final = final if isinstance(final, tuple) else (final,)
    loss = out.pow(2).sum() + sum(f.sum() for f in final)
    grads = torch.autograd.grad(loss, [x, *model.parameters()])
    return [out, *final, *grads]


@needs_core
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_recurrent_layer_compiles_whole_and_equals_eager(name, with_lengths):
    torch.manual_seed(0)
    torch._dynamo.reset()
    model = LAYERS[name]().double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3]) if with_lengths else None
    expected = outputs_and_gradients(model, x, lengths)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    for got, want in zip(outputs_and_gradients(compiled, x, lengths), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@needs_core
def test_compiled_graph_holds_the_core_operator_not_a_loop():
    """The graph torch.compile captures calls the core's operator once per layer and direction,
    whatever T (a traced Python loop would hold T copies of the step)."""
    torch._dynamo.reset()
    graphs = []

    def backend(graph, inputs):
        graphs.append(graph)
        return graph.forward

    model = RNN("lstm", 3, 4, peephole=True, bidirectional=True)
    torch.compile(model, backend=backend, fullgraph=True)(torch.randn(2, 9, 3))
    calls = [n.target for g in graphs for n in g.graph.nodes if n.op == "call_function"]
    assert calls.count(torch.ops.convrnn.lstm) == 2   # dynamo records the operator's packet
    assert not any("sigmoid" in str(target) for target in calls)


@needs_core
def test_inductor_compiles_a_custom_cell_and_a_parallel_layer_equal_to_eager():
    torch.manual_seed(1)
    torch._dynamo.reset()
    model = torch.nn.ModuleList([RNN("mgu", 3, 4, layer_norm=True), MinGRU(4, 4)])

    def forward(x, lengths):
        return model[1](model[0](x, lengths)[0], lengths)[0]

    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 4])
    expected = forward(x, lengths)
    torch.testing.assert_close(torch.compile(forward)(x, lengths), expected, rtol=1e-5, atol=1e-6)


@needs_core
def test_compiled_core_and_python_engine_agree_under_compile():
    """Inside disabled() the compiled graph traces the engine's Python loop instead: same numbers."""
    torch.manual_seed(2)
    torch._dynamo.reset()
    model = RNN("gru", 3, 4).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    fast = torch.compile(model, backend="aot_eager", fullgraph=True)(x)[0]
    torch._dynamo.reset()
    with disabled():
        slow = torch.compile(model, backend="aot_eager", fullgraph=True)(x)[0]
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)


def test_operator_table_names_every_registered_operator():
    assert set(core_ops.OPERATORS) == {"lstm", "layer_norm_lstm", "gated", "layer_norm_elman", "layer_norm_gated",
                                       "elman", "gated_unit", "layer_norm_gated_unit", "gru_after", "jordan",
                                       "parallel_cells", "linear_scan"}
