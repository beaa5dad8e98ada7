"""Models stream through nn.Sequential and stream_layers(): the keyword spotter's causal variant and a
look-ahead tagger equal themselves offline, their latencies add up over the layers, the offline
definitions that are not causal refuse by name, and register() adds a layer."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convrnn
from convrnn.layers import RNN, Conv1d, Pool1d
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.models.tagger import Tagger
from convrnn.stream import NotCausalError, Stage

from .conftest import chunkings, run_stream

SMALL = {"sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16, "channels": (8, 8, 8, 8)}


def _spotter(**options):
    model = KeywordSpotter(causal=True, **SMALL, **options).double()
    for module in model.modules():   # trained-looking batch norm statistics
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return model.eval()


@pytest.mark.parametrize("sizes", [[80], [1, 333], [4000]])
def test_causal_keyword_spotter_streams_equal_to_itself_offline(sizes):
    model = _spotter()
    wave = torch.randn(2, 1, 4000, dtype=torch.float64)
    stream, y = run_stream(model, wave, sizes, -1)
    assert stream.latency == 0
    torch.testing.assert_close(y[:, -1], model(wave), rtol=0, atol=1e-10)


def test_frame_scores_stream_one_per_hop():
    model = _spotter()
    wave = torch.randn(1, 1, 4000, dtype=torch.float64)
    stream = convrnn.stream(model.stream_layers(pooled=False))
    scores = torch.cat([stream.push(wave[..., i:i + 160]) for i in range(0, 4000, 160)] + [stream.flush()], -1)
    torch.testing.assert_close(scores, model.frame_scores(wave), rtol=0, atol=1e-10)


def test_offline_keyword_spotter_is_not_causal_and_names_its_variant():
    with pytest.raises(NotCausalError, match=r"KeywordSpotter\(causal=True\)"):
        convrnn.stream(KeywordSpotter(**SMALL).eval())


def test_latencies_add_up_over_the_layers_times_their_step():
    model = nn.Sequential(Conv1d(2, 2, 5, padding="same"), Conv1d(2, 2, 2, stride=2),
                          Conv1d(2, 2, 3, padding="same"))
    stream = convrnn.stream(model)
    assert [row.steps for row in stream.latencies] == [2, 1, 2]
    assert stream.latency == 5
    assert "total" in stream.latency_table(100) and "(50.0 ms)" in stream.latency_table(100)


@pytest.mark.parametrize("lookahead", [0, 1, 2])
def test_lookahead_tagger_streams_words_with_characters(lookahead):
    tagger = Tagger(num_tags=5, vocab_size=30, alphabet_size=12, word_dim=6, char_dim=4, char_channels=5,
                    char_kernel=3, hidden_size=7, num_layers=2, cell="lstm", lookahead=lookahead).double().eval()
    words = torch.randint(2, 30, (1, 9))
    characters = torch.randint(1, 12, (1, 9, 4))
    stream = convrnn.stream(tagger)
    assert stream.latency == 2 * lookahead
    parts = [stream.push((words[:, t:t + 1], characters[:, t:t + 1])) for t in range(9)] + [stream.flush()]
    assert [part.shape[1] for part in parts[:-1]] == [0] * (2 * lookahead) + [1] * (9 - 2 * lookahead)
    torch.testing.assert_close(torch.cat(parts, 1), tagger(words, characters), rtol=0, atol=1e-10)


def test_full_sentence_tagger_refuses():
    tagger = Tagger(num_tags=3, vocab_size=10, alphabet_size=5, hidden_size=4, lookahead=None).eval()
    with pytest.raises(NotCausalError, match="lookahead=L"):
        convrnn.stream(tagger)


def test_an_unknown_layer_is_refused_naming_what_streams_and_register_adds_it():
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

    with pytest.raises(TypeError, match=r"stream: 1 \(Double\) has no streaming form.*register"):
        convrnn.stream(nn.Sequential(nn.Identity(), Double()))

    class DoubleStage(Stage):
        def step(self, x, state):
            return 2 * x, state

    convrnn.stream.register(Double, lambda module, name: DoubleStage(name))
    x = torch.randn(1, 2, 3)
    torch.testing.assert_close(convrnn.stream(Double()).push(x), 2 * x)
    with pytest.raises(TypeError, match="register: argument 'module_type' expected a class"):
        convrnn.stream.register("Double", DoubleStage)


def test_streaming_a_layer_in_training_mode_with_dropout_is_refused():
    with pytest.raises(ValueError, match=r"Dropout\) is in training mode.*model.eval\(\)"):
        convrnn.stream(nn.Sequential(RNN("gru", 2, 2), nn.Dropout(0.1)))


def _layer(kind, kernel, dilation, stride, padding):
    if kind == "conv":
        return Conv1d(3, 3, kernel, stride=stride, padding=[(padding, dilation * (kernel - 1) - padding)],
                      dilation=dilation)
    return Pool1d(kernel, stride, min(padding, kernel // 2), dilation, kind=kind)


@settings(max_examples=15)
@given(layers=st.lists(st.tuples(st.sampled_from(["conv", "max", "avg"]), st.integers(1, 4), st.integers(1, 2),
                                 st.integers(1, 2), st.integers(0, 3)), min_size=1, max_size=3),
       sizes=chunkings)
def test_random_stacks_stream_equal_to_offline_with_their_latencies_summed(layers, sizes):
    built = []
    for kind, kernel, dilation, stride, padding in layers:
        padding = min(padding, dilation * (kernel - 1))
        built += [_layer(kind, kernel, dilation, stride, padding), nn.Tanh()]
    model = nn.Sequential(*built).double()
    x = torch.randn(2, 3, 40, dtype=torch.float64)
    try:
        expected = model(x)
    except (ValueError, RuntimeError):   # the stack shrinks the signal below a kernel: nothing to compare
        return
    stream, y = run_stream(model, x, sizes, -1)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-10)
    # the declared look-ahead is the real one: output o is out as soon as input o·step + latency is in
    step, latency, total = stream.output_step, stream.latency, expected.shape[-1]
    out = 0
    for n in range(1, 41):
        out += stream.push(x[..., n - 1:n]).shape[-1]
        assert out == min(total, (n - 1 - latency) // step + 1 if n - 1 >= latency else 0)


@pytest.mark.parametrize("chunk,error,message", [
    (torch.randn(100), ValueError, r"KeywordSpotter: argument 'waveform' expected a 3-d tensor, got shape \(100,\)"),
    (torch.randint(0, 5, (1, 1, 100)), TypeError, "KeywordSpotter: argument 'waveform' expected a floating-point")])
def test_a_chunk_the_model_cannot_read_is_refused_naming_the_model(chunk, error, message):
    with pytest.raises(error, match=message):
        convrnn.stream(_spotter()).push(chunk)
