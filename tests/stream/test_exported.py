"""A stream's chunk step written as a file (``export_stream``) and run back as a stream (``ExportedStream``):
any chunking, a partial last chunk, equal to offline; bad chunk sizes and streams that branch on the
signal refused by name."""

import pytest
import torch

import convrnn
from convrnn.export import export_model
from convrnn.layers import Conv1d
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.stream import ExportedStream, export_stream

SMALL = {"sample_rate": 8000, "n_fft": 128, "hop_length": 40, "n_mels": 8, "channels": (4, 4, 4, 4)}


@pytest.fixture(scope="module")
def spotter_file(tmp_path_factory):
    torch.manual_seed(0)
    model = KeywordSpotter(causal=True, **SMALL).eval()
    path = tmp_path_factory.mktemp("stream") / "stream.pt2"
    contract = export_stream(model.stream_layers(pooled=False), torch.zeros(1, 1, 80), path,
                             extra={"attributes": {"sample_rate": 8000}})
    return model, path, contract


def _streamed(stream, signal, piece):
    outputs = [stream.push(part) for part in torch.split(signal, piece, dim=-1)]
    return torch.cat([*outputs, stream.flush()], dim=-1)


@pytest.mark.parametrize("samples,piece", [(30, 7), (80, 80), (81, 1), (1000, 33), (1037, 400), (1037, 80)])
def test_an_exported_stream_equals_offline_for_any_chunking_and_a_partial_last_chunk(spotter_file, samples, piece):
    model, path, _ = spotter_file
    signal = torch.randn(1, 1, samples, generator=torch.Generator().manual_seed(samples))
    stream = ExportedStream(path)
    with torch.no_grad():
        expected = model.frame_scores(signal)
    got = _streamed(stream, signal, piece)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_streamed(stream, signal, piece), got, rtol=0, atol=0)   # flush started over


def test_the_contract_records_the_chunk_the_state_and_what_a_partial_chunk_gives(spotter_file):
    model, path, contract = spotter_file
    spec = contract["stream"]
    assert spec["chunk"] == 80 and spec["output_step"] == 40 and spec["latency"] == 0 and spec["time_axis"] == 2
    # causal frames end at t·hop: one more step completes a frame at once, 41 more steps the next
    assert spec["first"][0] == 1 and spec["first"][40] == 2 and spec["later"] == spec["first"]
    stream = convrnn.stream(model.stream_layers(pooled=False))
    state = stream.initial_state(torch.zeros(1, 1, 80))
    assert [entry["name"] for entry in spec["state"]] == list(state._fields)
    exported = ExportedStream(path)
    for entry, tensor in zip(exported._initial, state, strict=True):
        torch.testing.assert_close(entry, tensor, rtol=0, atol=0)
    assert exported.model.sample_rate == 8000


def test_a_chunk_that_is_not_a_whole_number_of_output_steps_is_refused_before_export(tmp_path):
    layers = KeywordSpotter(causal=True, **SMALL).eval().stream_layers(pooled=False)
    with pytest.raises(ValueError, match=r"export_stream: argument 'chunk' expected a number of steps \(axis 2\) "
                                         r"that is a positive multiple of the stream's output step 40, got 70 "
                                         r"\(e.g. 40 or 80\)"):
        export_stream(layers, torch.zeros(1, 1, 70), tmp_path / "x.pt2")
    assert not any(tmp_path.iterdir())


def test_a_stream_that_branches_on_the_signal_is_refused_by_name(tmp_path):
    model = torch.nn.Sequential(Conv1d(2, 3, 3, padding="same", boundary="reflect")).eval()
    with pytest.raises(ValueError, match=r"chunk_model: the stream cannot be exported: 0: its boundary 'reflect'"):
        export_stream(model, torch.zeros(1, 2, 4), tmp_path / "x.pt2")


def test_a_whole_input_export_is_not_a_stream_and_pushes_of_another_shape_are_refused(spotter_file, tmp_path):
    model = torch.nn.Sequential(Conv1d(2, 3, 3, padding=[(2, 0)])).eval()
    export_model(model, (torch.zeros(2, 2, 5),), tmp_path / "whole.pt2", dynamic={"x": ["N", None, "T"]}, names=["x"])
    with pytest.raises(ValueError, match="is an exported model of whole inputs, not a stream's chunk step"):
        ExportedStream(tmp_path / "whole.pt2")
    stream = ExportedStream(spotter_file[1])
    with pytest.raises(ValueError, match=r"ExportedStream.push: argument 'chunk' expected shape \[1, 1, 'T'\] "
                                         r"\(any T\), got \(2, 1, 80\)"):
        stream.push(torch.zeros(2, 1, 80))


def test_a_stream_of_a_conv_stack_exports_with_its_state_and_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(1)
    model = torch.nn.Sequential(Conv1d(2, 3, 3, padding=[(4, 0)], dilation=2), torch.nn.ReLU(),
                                Conv1d(3, 2, 2, padding=[(1, 0)])).eval()
    export_stream(model, torch.zeros(1, 2, 6), tmp_path / "s.onnx")
    signal = torch.randn(1, 2, 41)
    with torch.no_grad():
        expected = model(signal)
    torch.testing.assert_close(_streamed(ExportedStream(tmp_path / "s.onnx"), signal, 5), expected,
                               rtol=1e-5, atol=1e-5)
