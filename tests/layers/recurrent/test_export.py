"""Recurrent layers leave PyTorch with the time axis dynamic: ``torch.export`` keeps every loop as
one ``scan`` (``export_scan.py``), so an exported program — and its ONNX model in onnxruntime — runs
at batch sizes and lengths never seen at export, with and without initial states as inputs,
equal to eager, and its size does not grow with T."""

import io
import warnings

import pytest
import torch
from torch.export import Dim

from convrnn.layers.recurrent import QRNN, RNN, MinGRU, MinLSTM

ort = pytest.importorskip("onnxruntime")

LAYERS = {
    "lstm_stack": lambda: RNN("lstm", 3, 4, num_layers=2, bidirectional=True),
    "lstm_peephole": lambda: RNN("lstm", 3, 4, peephole=True),
    "lstm_layer_norm": lambda: RNN("lstm", 3, 4, layer_norm=True, peephole=True),
    "gru_before": lambda: RNN("gru", 3, 4, bidirectional=True),
    "gru_after": lambda: RNN("gru", 3, 4, reset="after"),
    "gru_layer_norm": lambda: RNN("gru", 3, 4, layer_norm=True),
    "mgu": lambda: RNN("mgu", 3, 4),
    "mgu_layer_norm": lambda: RNN("mgu", 3, 4, layer_norm=True),
    "elman_relu": lambda: RNN("elman", 3, 4, nonlinearity="relu"),
    "elman_layer_norm": lambda: RNN("elman", 3, 4, layer_norm=True),
    "jordan_softmax": lambda: RNN("jordan", 3, 4, decision="softmax", output_size=3),
    "lookahead": lambda: RNN("gru", 3, 4, bidirectional=True, lookahead=2),
    "zoneout_eval": lambda: RNN("lstm", 3, 4, zoneout=0.3),
    "mingru": lambda: MinGRU(3, 4, bidirectional=True),
    "minlstm": lambda: MinLSTM(3, 4),
    "qrnn_window": lambda: QRNN(3, 4, pooling="ifo", window=2),
}
# lengths never seen at export, 1 included; batch sizes too. (Exported programs are compared in
# float64, ONNX models in float32 with float32's tolerance: a layer norm over 4 units amplifies
# the last bits over 33 steps.)
SHAPES = [(2, 20), (3, 33), (1, 7), (4, 1)]


class WithLengths(torch.nn.Module):
    """A layer as a deployment calls it: padded batch and lengths in, outputs and final state out."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths):
        out, final = self.layer(x, lengths)[:2]
        return (out, *final) if isinstance(final, tuple) else (out, final)


class WithState(torch.nn.Module):
    """Initial states as flat inputs (h0, c0 for an LSTM), as a streaming deployment passes them."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, *state):
        out, final = self.layer(x, None, state if len(state) > 1 else state[0])[:2]
        return (out, *final) if isinstance(final, tuple) else (out, final)


def exported(module, args, dynamic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module, args, dynamic_shapes=dynamic)


def state_of(layer, batch):
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    sizes = layer.state_sizes if isinstance(layer, RNN) else (layer.hidden_size,)
    return tuple(torch.randn(rows, batch, size) for size in sizes)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_exported_program_runs_at_unseen_batch_sizes_and_lengths(name):
    torch.manual_seed(0)
    model = WithLengths(LAYERS[name]().eval().double())   # float64: equal to the last bits that matter
    program = exported(model, (torch.randn(2, 20, 3, dtype=torch.float64), torch.tensor([20, 11])),
                       ({0: Dim("N"), 1: Dim("T")}, {0: Dim("N")}))
    calls = [n.target for n in program.graph.nodes if n.op == "call_function"]
    assert torch.ops.higher_order.scan in calls                    # one loop, not T unrolled steps
    for batch, steps in SHAPES:
        x = torch.randn(batch, steps, 3, dtype=torch.float64)
        lengths = torch.randint(1, steps + 1, (batch,))
        with torch.no_grad():
            for got, want in zip(program.module()(x, lengths), model(x, lengths), strict=True):
                torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def onnx_bytes(module, args, names, dynamic):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, args, dynamo=True, dynamic_shapes=dynamic, input_names=names,
                                    verbose=False)
    program.save(buffer)
    return buffer.getvalue()


# An ONNX export takes 10–40 s here: two layers in CI, every layer under -m slow.
ONNX_IN_CI = {"lstm_layer_norm", "mingru"}


def onnx_cases(in_ci):
    return [name if name in in_ci else pytest.param(name, marks=pytest.mark.slow) for name in sorted(LAYERS)]


@pytest.mark.parametrize("name", onnx_cases(ONNX_IN_CI))
def test_onnx_model_equals_eager_at_unseen_lengths_and_its_size_does_not_grow_with_time(name):
    torch.manual_seed(1)
    model = WithLengths(LAYERS[name]().eval())
    dynamic = ({0: Dim("N"), 1: Dim("T")}, {0: Dim("N")})
    model_bytes = onnx_bytes(model, (torch.randn(2, 9, 3), torch.tensor([9, 4])), ["x", "lengths"], dynamic)
    session = ort.InferenceSession(model_bytes)
    for batch, steps in SHAPES:
        x = torch.randn(batch, steps, 3)
        lengths = torch.randint(1, steps + 1, (batch,))
        got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            for g, want in zip(got, model(x, lengths), strict=True):
                torch.testing.assert_close(torch.from_numpy(g), want, rtol=1e-4, atol=1e-4)
    longer = onnx_bytes(model, (torch.randn(2, 31, 3), torch.tensor([31, 4])), ["x", "lengths"], dynamic)
    assert abs(len(longer) - len(model_bytes)) < 1024


@pytest.mark.parametrize("name", onnx_cases({"lstm_peephole"}))
def test_onnx_model_with_initial_states_as_inputs_runs_at_any_length(name):
    """torch.nn.LSTM's own ONNX export fails at other lengths with h0, c0 as inputs (a Reshape);
    the scan path has no such node."""
    torch.manual_seed(2)
    layer = LAYERS[name]().eval()
    model = WithState(layer)
    start = state_of(layer, 2)
    names = ["x"] + [f"state{k}" for k in range(len(start))]
    batch, steps = Dim("N"), Dim("T")
    dynamic = ({0: batch, 1: steps}, tuple({1: batch} for _ in start))   # *state arrives as one tuple
    session = ort.InferenceSession(onnx_bytes(model, (torch.randn(2, 9, 3), *start), names, dynamic))
    for batch, steps in SHAPES:
        x, state = torch.randn(batch, steps, 3), state_of(layer, batch)
        got = session.run(None, {"x": x.numpy(), **{f"state{k}": s.numpy() for k, s in enumerate(state)}})
        with torch.no_grad():
            for g, want in zip(got, model(x, *state), strict=True):
                torch.testing.assert_close(torch.from_numpy(g), want, rtol=1e-4, atol=1e-4)


def test_torchscript_is_refused_with_a_pointer_to_torch_export():
    for layer in (RNN("lstm", 3, 4), MinGRU(3, 4), torch.nn.Sequential(RNN("gru", 3, 4))):
        with pytest.raises(TypeError, match=r"torch\.export\.export"):
            torch.jit.script(layer)
