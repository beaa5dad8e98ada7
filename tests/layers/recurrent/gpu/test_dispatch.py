"""Which backend a layer runs on (gpu/dispatch.py), and whole layers on the GPU kernels against the
Python engine: directions, look-ahead, lengths, several layers, state in/out, every step's state,
gradients; the operator under torch.compile and opcheck. Without CUDA the kernels run on CPU
tensors through Triton's interpreter (inside ``kernels_everywhere``)."""

import pytest
import torch

pytest.importorskip("triton", reason="Triton is not installed (pip install 'convrnn[gpu]'): the GPU kernels' "
                                     "tests need it (on a CPU, through its interpreter)")

from convrnn.layers.recurrent import RNN, LSTMCell
from convrnn.layers.recurrent.fused import available, disabled
from convrnn.layers.recurrent.gpu import dispatch
from convrnn.layers.recurrent.gpu.cells.spec import as_tuple, parameters_of, spec_of
from convrnn.layers.recurrent.gpu.dispatch import backend, force_strategy, kernels_everywhere


def layer(cell, **options):
    torch.manual_seed(3)
    rnn = RNN(cell, 3, 5, **options).double()
    with torch.no_grad():
        for p in rnn.parameters():
            p.uniform_(-0.8, 0.8)
    return rnn


def everything(rnn, x, lengths, state):
    """Outputs, final state and every state, and the gradients of a random linear loss of all of
    them with respect to x, the initial state and every parameter."""
    outputs, final, states = rnn(x, lengths, state, return_states=True)
    pieces = [outputs, *(final if isinstance(final, tuple) else (final,)),
              *(states if isinstance(states, tuple) else (states,))]
    generator = torch.Generator().manual_seed(11)
    loss = sum((p * torch.randn(p.shape, dtype=p.dtype, generator=generator)).sum() for p in pieces)
    wanted = [x, *state, *rnn.parameters()]
    return pieces, torch.autograd.grad(loss, wanted)


@pytest.mark.parametrize(("cell", "options", "strategy"), [
    ("lstm", {"peephole": True, "layer_norm": True, "num_layers": 2, "bidirectional": True, "lookahead": 1,
              "zoneout": 0.25}, "persistent"),
    ("jordan", {"output_size": 4, "decision": "softmax", "bidirectional": True, "residual": False}, "stepwise"),
])
def test_layer_on_the_kernels_matches_the_python_engine(cell, options, strategy):
    rnn = layer(cell, **options).eval()
    x = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4])
    directions = 2 if rnn.bidirectional else 1
    state = tuple(torch.randn(rnn.num_layers * directions, 3, s, dtype=torch.float64, requires_grad=True)
                  for s in rnn.state_sizes)
    given = state if len(state) > 1 else state[0]
    with kernels_everywhere(), force_strategy(strategy):
        assert backend(rnn, x, lengths, return_states=True)[0] == "gpu kernels"
        ours, our_grads = everything(rnn, x, lengths, given)
    with disabled():
        expected, expected_grads = everything(rnn, x, lengths, given)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(our_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_training_draws_repeat_under_manual_seed_and_zoneout_changes_the_result():
    rnn = layer("gru", reset="after", zoneout=0.5, recurrent_dropout=0.3).train()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    with kernels_everywhere():
        torch.manual_seed(1)
        first = rnn(x)[0]
        torch.manual_seed(1)
        again = rnn(x)[0]
        torch.manual_seed(2)
        other = rnn(x)[0]
        evaluated = rnn.eval()(x)[0]
    assert torch.equal(first, again)
    assert not torch.equal(first, other) and not torch.equal(first, evaluated)


def test_backend_says_which_and_why():
    rnn = layer("mgu")
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    name, reason = backend(rnn, x)
    assert name == ("compiled core" if available() else "python engine") and "not CUDA" in reason
    with kernels_everywhere():
        name, reason = backend(rnn, x)
        assert name == "gpu kernels" and "mgu" in reason and "strategy" in reason
        with disabled():
            name, reason = backend(rnn, x)
            assert name == "python engine" and "disabled()" in reason
    plain = RNN("lstm", 3, 5)
    assert backend(plain, torch.randn(2, 4, 3))[0] == "torch native"


def test_subclassed_cell_and_missing_triton_fall_back_to_the_engine(monkeypatch):
    class Custom(LSTMCell):
        pass

    rnn = layer(Custom(3, 5))
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    with kernels_everywhere():
        name, reason = backend(rnn, x, return_states=True)
        assert name == "python engine" and "Custom" in reason
        monkeypatch.setitem(dispatch._settings, "triton", False)
        name, reason = backend(layer("lstm", peephole=True), x, return_states=True)
        assert name == "python engine" and "Triton is not installed" in reason
        ours = rnn(x)[0]
    with disabled():
        torch.testing.assert_close(ours, rnn(x)[0], rtol=0, atol=0)


def test_backend_refuses_what_is_not_a_layer_or_an_input():
    with pytest.raises(TypeError, match="backend: argument 'rnn' expected a convrnn RNN or ParallelRNN layer, got LSTM"):
        backend(torch.nn.LSTM(3, 5), torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="backend: argument 'x'"):
        backend(layer("mgu"), torch.randn(4, 3))


def test_force_strategy_refuses_an_unknown_name():
    with pytest.raises(ValueError, match=r"force_strategy: argument 'strategy'.*'fastest'"), force_strategy("fastest"):
        pass


def test_compiled_layer_keeps_one_operator_per_direction():
    rnn = layer("gru", reset="before", bidirectional=True)
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    graphs = []

    def record(graph, example_inputs):
        graphs.append(graph)
        return graph.forward

    torch._dynamo.reset()
    with kernels_everywhere():
        compiled = torch.compile(rnn, backend=record, fullgraph=True)
        outputs = compiled(x, lengths)[0]
        expected = rnn(x, lengths)[0]
    torch._dynamo.reset()
    operators = [n for n in graphs[0].graph.nodes if "convrnn_gpu.cell" in str(n.target)]
    assert len(operators) == 2
    torch.testing.assert_close(outputs, expected, rtol=0, atol=0)


def test_operator_passes_opcheck():
    rnn = layer("elman", layer_norm=True)
    cell = rnn.cells[0]
    spec = spec_of(cell)
    xw = cell.project(torch.randn(3, 2, 3, dtype=torch.float64)).detach().requires_grad_()
    state = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    empty = state.new_empty(0)
    arguments = (xw, state, empty, *parameters_of(cell, spec), torch.tensor([3, 1]), empty,
                 [int(v) for v in as_tuple(spec)], 0.0, False, 0, 1e-5, True, -1, "persistent", "ieee")
    results = torch.library.opcheck(torch.ops.convrnn_gpu.cell.default, arguments)
    assert set(results.values()) == {"SUCCESS"}
