"""External state: a stream's chunk step as a module with its state passed in and returned, exported
(torch.export, ONNX in onnxruntime) and run chunk by chunk on a signal, equal to offline."""

import pytest
import torch
from torch import nn

import convrnn
from convrnn.layers import RNN, Conv1d
from convrnn.models.keyword_spotter import KeywordSpotter

SMALL = {"sample_rate": 8000, "n_fft": 128, "hop_length": 40, "n_mels": 8, "channels": (4, 4, 4, 4)}


def test_external_state_steps_equal_the_stateful_stream():
    model = nn.Sequential(Conv1d(3, 4, 3, padding=[(2, 0)]), nn.ReLU()).double()
    stream = convrnn.stream(model)
    x = torch.randn(2, 3, 12, dtype=torch.float64)
    state = stream.initial_state(x[..., :4])
    assert state._fields == ("s0_buffer",)
    outputs = []
    for start in range(0, 12, 4):
        y, state = stream.step(x[..., start:start + 4], state)
        outputs.append(y)
    torch.testing.assert_close(torch.cat(outputs, -1), model(x), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"Stream.step: argument 'state' expected 1 tensors \(s0_buffer\), got 0"):
        stream.step(x, ())


@pytest.mark.slow   # 30 s: torch.export traces the LSTM's scan
def test_chunk_model_of_a_conv_lstm_stack_exports_and_runs_a_stream():
    model = nn.Sequential(Conv1d(3, 6, 3, padding=[(2, 0)]), nn.ReLU()).eval()
    rnn = RNN("lstm", 6, 5, num_layers=2).eval()
    stack = [model, lambda x: x.transpose(1, 2), rnn]
    stream = convrnn.stream(stack)
    chunk_model = stream.chunk_model()
    x = torch.randn(2, 3, 40)
    state = stream.initial_state(x[..., :8])
    program = torch.export.export(chunk_model, (x[..., :8], *state)).module()
    outputs = []
    for start in range(0, 40, 8):
        y, *state = program(x[..., start:start + 8], *state)
        outputs.append(y)
    expected = rnn(model(x).transpose(1, 2))[0]
    torch.testing.assert_close(torch.cat(outputs, 1), expected, rtol=1e-5, atol=1e-5)
    assert chunk_model.output_names()[1:] == [f"next_{name}" for name in stream.State._fields]


def test_causal_keyword_spotter_runs_in_onnxruntime_chunk_by_chunk_equal_to_offline(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = KeywordSpotter(causal=True, **SMALL).eval()
    stream = convrnn.stream(model)
    chunk_model = stream.chunk_model()
    wave = torch.randn(1, 1, 1200)
    state = stream.initial_state(wave[..., :80])
    torch.onnx.export(chunk_model, (wave[..., :80], *state), tmp_path / "chunk.onnx", dynamo=True,
                      input_names=chunk_model.input_names(), output_names=chunk_model.output_names())
    session = ort.InferenceSession(tmp_path / "chunk.onnx")
    values = [tensor.numpy() for tensor in state]
    for start in range(0, 1200, 80):
        outputs, *values = session.run(None, {"chunk": wave[..., start:start + 80].numpy(),
                                              **dict(zip(stream.State._fields, values, strict=True))})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(outputs[:, -1]), model(wave), rtol=1e-4, atol=1e-5)


def test_a_stream_whose_step_branches_on_its_state_refuses_to_export_naming_the_layer():
    rnn = RNN("gru", 3, 3, bidirectional=True, lookahead=2).eval()
    with pytest.raises(ValueError, match=r"chunk_model: the stream cannot be exported: GRU|chunk_model: .*buffers grow"):
        convrnn.stream(rnn).chunk_model()
