"""The fused-kernel path of plain stacks equals the engine, and the dispatch rule picks it exactly
where it is documented to apply."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.layers.recurrent import RNN, LSTMCell
from convrnn.layers.recurrent.fused import available, disabled
from convrnn.layers.recurrent.native import native_mode

PLAIN = {
    "lstm": lambda F, H, **kw: RNN("lstm", F, H, **kw),
    "gru": lambda F, H, **kw: RNN("gru", F, H, reset="after", **kw),
    "rnn_tanh": lambda F, H, **kw: RNN("elman", F, H, **kw),
    "rnn_relu": lambda F, H, **kw: RNN("elman", F, H, nonlinearity="relu", **kw),
}


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_and_differentiate(rnn, x, lengths, state, out_weights, final_weights):
    """Outputs, final state and the gradients of a random linear loss wrt x, state and weights."""
    x = x.clone().requires_grad_()
    state = None if state is None else tuple(s.clone().requires_grad_() for s in state)
    rnn.zero_grad(set_to_none=True)
    passed = None if state is None else (state if len(state) > 1 else state[0])
    out, final = rnn(x, lengths, passed)
    loss = (out * out_weights).sum() + sum((f * w).sum()
                                           for f, w in zip(as_tuple(final), final_weights, strict=True))
    loss.backward()
    grads = [x.grad] + ([] if state is None else [s.grad for s in state])
    grads += [p.grad for p in rnn.parameters()]
    return out, as_tuple(final), grads


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(sorted(PLAIN)), num_layers=st.integers(1, 2), bidirectional=st.booleans(),
       with_lengths=st.booleans(), with_state=st.booleans(), batch_first=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fused_kernel_path_equals_engine_outputs_states_and_gradients(kind, num_layers, bidirectional,
                                                                       with_lengths, with_state,
                                                                       batch_first, seed):
    torch.manual_seed(seed)
    rnn = PLAIN[kind](3, 4, num_layers=num_layers, bidirectional=bidirectional,
                      batch_first=batch_first).double()
    assert native_mode(rnn, lengths=None, return_states=False) == kind
    N, T, D = 5, 6, 2 if bidirectional else 1
    x = torch.randn((N, T, 3) if batch_first else (T, N, 3), dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 1, 3]) if with_lengths else None
    state = None
    if with_state:
        state = tuple(torch.randn(num_layers * D, N, 4, dtype=torch.float64)
                      for _ in range(2 if kind == "lstm" else 1))
    out_weights = torch.randn((N, T, D * 4) if batch_first else (T, N, D * 4), dtype=torch.float64)
    final_weights = [torch.randn(num_layers * D, N, 4, dtype=torch.float64)
                     for _ in range(2 if kind == "lstm" else 1)]

    with disabled():     # so that lengths too take torch's (packed) kernels, not the compiled core
        fast = run_and_differentiate(rnn, x, lengths, state, out_weights, final_weights)
        rnn.use_native = False
        slow = run_and_differentiate(rnn, x, lengths, state, out_weights, final_weights)

    torch.testing.assert_close(fast[0], slow[0], rtol=0, atol=1e-10)
    for a, b in zip(fast[1], slow[1], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    for a, b in zip(fast[2], slow[2], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")
@pytest.mark.parametrize("kind", ["lstm", "rnn_tanh", "gru"])
def test_with_lengths_the_compiled_core_masks_instead_of_packing(kind):
    """On a CPU with the core, an LSTM, Elman or GRU (reset="after", torch.nn.GRU's cell) stack
    with lengths runs on the core (masking), and equals torch's packed kernels."""
    torch.manual_seed(3)
    rnn = PLAIN[kind](3, 4, num_layers=2, bidirectional=True).double()
    lengths = torch.tensor([6, 2, 5, 1, 3])
    assert native_mode(rnn, lengths=lengths, return_states=False) is None
    assert native_mode(rnn, lengths=None, return_states=False) == kind
    x = torch.randn(5, 6, 3, dtype=torch.float64)
    out_weights = torch.randn(5, 6, 8, dtype=torch.float64)
    final_weights = [torch.randn(4, 5, 4, dtype=torch.float64) for _ in range(2 if kind == "lstm" else 1)]
    masked = run_and_differentiate(rnn, x, lengths, None, out_weights, final_weights)
    with disabled():
        assert native_mode(rnn, lengths=lengths, return_states=False) == kind
        packed = run_and_differentiate(rnn, x, lengths, None, out_weights, final_weights)
    for a, b in zip([masked[0], *masked[1], *masked[2]], [packed[0], *packed[1], *packed[2]], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_padded_outputs_of_the_fused_path_are_zero():
    torch.manual_seed(0)
    rnn = RNN("lstm", 3, 4, bidirectional=True).double()
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 4])
    out, _ = rnn(x, lengths)
    for n, length in enumerate(lengths.tolist()):
        assert torch.all(out[n, length:] == 0)
        assert torch.all(out[n, :length] != 0)


@pytest.mark.parametrize(("build", "training", "return_states", "expected"), [
    (lambda: RNN("lstm", 3, 4, num_layers=2, dropout=0.3), True, False, "lstm"),
    (lambda: RNN("lstm", 3, 4), False, True, None),                        # every state wanted
    (lambda: RNN("lstm", 3, 4, peephole=True), False, False, None),
    (lambda: RNN("lstm", 3, 4, layer_norm=True), False, False, None),
    (lambda: RNN("gru", 3, 4), False, False, None),                        # seed GRU, reset before
    (lambda: RNN("gru", 3, 4, reset="after"), False, False, "gru"),
    (lambda: RNN("mgu", 3, 4), False, False, None),
    (lambda: RNN("jordan", 3, 4), False, False, None),
    (lambda: RNN("elman", 3, 4, nonlinearity="relu"), False, False, "rnn_relu"),
    (lambda: RNN("lstm", 3, 4, bidirectional=True, lookahead=2), False, False, None),
    (lambda: RNN("lstm", 3, 4, num_layers=2, residual=True), False, False, None),
    (lambda: RNN("lstm", 3, 4, num_layers=1, residual=True), False, False, "lstm"),
    (lambda: RNN("lstm", 3, 4, recurrent_dropout=0.2), True, False, None),
    (lambda: RNN("lstm", 3, 4, recurrent_dropout=0.2), False, False, "lstm"),  # no mask in evaluation
    (lambda: RNN("lstm", 3, 4, zoneout=0.2), False, False, None),          # zoneout changes evaluation
    (lambda: RNN(type("OwnStep", (LSTMCell,), {"step": lambda self, *a: LSTMCell.step(self, *a)})(3, 4)),
     False, False, None),
    (lambda: RNN(type("SameEquations", (LSTMCell,), {})(3, 4)), False, False, "lstm"),
    (lambda: RNN("lstm", 3, 4, proj_size=2), False, False, "lstm"),
    (lambda: RNN("lstm", 3, 4, bias=False), False, False, "lstm"),
])
def test_dispatch_rule_picks_fused_kernels_only_where_documented(build, training, return_states, expected):
    rnn = build().train(training)
    assert native_mode(rnn, lengths=None, return_states=return_states) == expected


def test_use_native_false_forces_the_engine():
    rnn = RNN("lstm", 3, 4)
    rnn.use_native = False
    assert native_mode(rnn, lengths=None, return_states=False) is None


def test_dropout_between_layers_of_the_fused_path_draws_in_training_only():
    torch.manual_seed(2)
    rnn = RNN("gru", 3, 8, num_layers=2, dropout=0.5, reset="after").double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    rnn.eval()
    evaluation = rnn(x)[0]
    rnn.use_native = False
    torch.testing.assert_close(rnn(x)[0], evaluation, rtol=0, atol=1e-12)
    rnn.use_native = True
    rnn.train()
    assert not torch.allclose(rnn(x)[0], evaluation)


@pytest.mark.skipif(not available(), reason="no C++ compiler/ninja: the core cannot be built here")
def test_under_torch_compile_a_plain_stack_on_a_cpu_is_one_graph_on_the_core_operator():
    """Compiled, a plain stack on a CPU leaves torch's fused kernel (inductor's CPU lowering of it
    fails) for the compiled core's operator: one graph, fullgraph, the same numbers."""
    torch.manual_seed(2)
    rnn = RNN("lstm", 3, 4, num_layers=2).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    graphs = []

    def backend(graph, inputs):
        graphs.append(graph)
        return graph.forward

    torch._dynamo.reset()
    out = torch.compile(rnn, backend=backend, fullgraph=True)(x)[0]
    calls = [node.target for graph in graphs for node in graph.graph.nodes if node.op == "call_function"]
    assert len(graphs) == 1 and calls.count(torch.ops.convrnn.lstm) == 2
    assert torch.lstm not in calls
    torch.testing.assert_close(out, rnn(x)[0], rtol=0, atol=1e-12)


def test_under_torch_compile_the_fused_kernel_runs_outside_the_graph_where_the_core_does_not():
    """Where the core does not run (here switched off; a GPU, bfloat16), torch.compile runs the
    fused kernel as it runs a torch.nn.LSTM, eagerly (dynamo's allow_rnn=False): inductor's CPU
    lowering of it fails ("expected Tensor() for op: mkldnn_rnn_layer"): the graph breaks around
    it, so no backend ever sees it. Same results."""
    rnn = RNN("lstm", 3, 4, num_layers=2)
    x = torch.randn(2, 5, 3)
    torch._dynamo.reset()
    graphs = []

    def backend(graph, inputs):
        graphs.append(graph)
        return graph.forward

    with disabled():
        torch.testing.assert_close(torch.compile(rnn, backend=backend)(x)[0], rnn(x)[0], rtol=0, atol=0)
    calls = [node.target for graph in graphs for node in graph.graph.nodes if node.op == "call_function"]
    assert graphs and torch.lstm not in calls
