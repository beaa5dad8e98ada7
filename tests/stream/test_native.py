"""backend="native" runs a causal stream's chunk step in one compiled call and gives the Python stream's
outputs (the reference) for any chunking — chunks of one sample, shorter than a hop, of zero steps — and
batch: float64 to 1e−10; float32 to 3e−5 (the largest difference measured on the full-size keyword spotter,
outputs up to 4.4, over 4 seeds, signal scales 0.01–10 and chunkings 1–1000 samples, was 5.5e−6: the FFT's,
the sums' and the folded batch norm's rounding; LSTM layers with drawn weights: 5.7e−6 over 6 seeds, 3e−7 on the
full-size 2×256 tagger). Stages without a lowering refuse by name; per-step stages before a recurrent layer run in
PyTorch before the plan (a hybrid plan) unless they lower: a tagger's word features do."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import convrnn
from convrnn.data.audio import LogMelSpectrogram
from convrnn.layers import RNN, Conv1d, GlobalPool, Pool1d, RunningNorm
from convrnn.models.keyword_spotter import KeywordSpotter, first_channel
from convrnn.stream import NativeStream, NoLoweringError
from convrnn.stream import native as native_module

from .conftest import cut

pytestmark = pytest.mark.skipif(native_module.load() is None, reason="no C++ compiler/ninja: cannot build the kernel")

SMALL = {"sample_rate": 8000, "n_fft": 64, "hop_length": 20, "n_mels": 8, "channels": (6, 5, 7, 4)}
FLOAT32_TOLERANCE = 3e-5
sizes_in_samples = st.lists(st.integers(0, 70), min_size=1, max_size=4).filter(any)


def both(model, x: torch.Tensor, sizes, axis: int = -1, backends=("python", "native")
         ) -> tuple[torch.Tensor, torch.Tensor, NativeStream]:
    """The Python and the native stream's outputs, joined, for ``x`` pushed in chunks of ``sizes`` then flushed."""
    joined = [None] * (2 - len(backends))
    for backend in backends:
        stream = convrnn.stream(model, backend=backend)
        outputs = [stream.push(x.narrow(axis, start, size)) for start, size in cut(x.shape[axis], sizes)]
        outputs.append(stream.flush())
        joined.append(torch.cat(outputs, dim=stream.time_axis))
    return joined[0], joined[1], stream


def trained_looking(model: nn.Module) -> nn.Module:
    """Random batch-norm statistics and affine parameters (a fresh model's are 0, 1: folding them is a no-op)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


def spotter(dtype=torch.float64) -> KeywordSpotter:
    return trained_looking(KeywordSpotter(causal=True, **SMALL).to(dtype))


# ------------------------------------------------------------------ equality with the Python stream

@settings(max_examples=12)
@given(sizes=sizes_in_samples, batch=st.integers(1, 2), pooled=st.booleans())
def test_keyword_spotter_native_equals_python_stream_for_any_chunking(sizes, batch, pooled):
    # the reference: the Python stream given the whole signal at once (it equals itself for every chunking,
    # tests/stream/test_compose.py; chunk by chunk it costs a second per example here)
    model = spotter()
    wave = torch.randn(batch, 1, 400, dtype=torch.float64)
    layers = model if pooled else model.stream_layers(pooled=False)
    expected, _, _ = both(layers, wave, [wave.shape[-1]])
    _, got, stream = both(layers, wave, sizes, backends=("native",))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    if pooled:   # and the last step is the offline output
        torch.testing.assert_close(got[:, -1], model(wave), rtol=0, atol=1e-10)


@pytest.mark.parametrize("sizes", [[1], [7, 0, 19], [45, 3]])
def test_every_push_gives_what_the_python_streams_push_gives(sizes):
    # the frame scores: the pooled running max of a short signal is reached in its first frames, which running
    # normalisation makes nearly independent of the signal (±1 after two frames)
    layers = spotter().stream_layers(pooled=False)
    wave = torch.randn(2, 1, 160, dtype=torch.float64)
    reference, stream = convrnn.stream(layers), convrnn.stream(layers, backend="native")
    for start, size in cut(wave.shape[-1], sizes):
        expected, got = reference.push(wave[..., start:start + size]), stream.push(wave[..., start:start + size])
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(stream.flush(), reference.flush(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("sizes", [[1], [19], [220], [0, 441, 3]])
def test_full_size_keyword_spotter_in_float32_equals_python_stream_to_tolerance(sizes):
    model = trained_looking(KeywordSpotter(causal=True))
    wave = torch.randn(1, 1, 2205 if sizes != [1] else 700)
    expected, got, _ = both(model.stream_layers(pooled=False), wave, sizes)
    torch.testing.assert_close(got, expected, rtol=0, atol=FLOAT32_TOLERANCE)


@settings(max_examples=25)
@given(kernel=st.integers(1, 4), dilation=st.integers(1, 3), stride=st.integers(1, 2), low=st.integers(0, 6),
       high=st.integers(0, 3), boundary=st.sampled_from(["zeros", "constant"]), bias=st.booleans(),
       flip=st.booleans(), torch_conv=st.booleans(), sizes=st.lists(st.integers(0, 9), min_size=1, max_size=4)
       .filter(any), batch=st.integers(1, 3), length=st.integers(1, 30))
def test_conv_stack_native_equals_python_stream(kernel, dilation, stride, low, high, boundary, bias, flip,
                                                torch_conv, sizes, batch, length):
    if torch_conv:
        first = nn.Conv1d(3, 5, kernel, dilation=dilation, bias=bias)
        first.padding = (low,)   # torch's symmetric int padding, set per case (low = high)
        high = low
    else:
        first = Conv1d(3, 5, kernel, stride=stride, padding=[(low, high)], dilation=dilation, bias=bias,
                       boundary=boundary, value=0.7, flip=flip)
    model = trained_looking(nn.Sequential(first, nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.3),
                                          Conv1d(5, 2, 2, padding=[(1, 0)]), nn.ReLU(), nn.BatchNorm1d(2)).double())
    x = torch.randn(batch, 3, length, dtype=torch.float64)
    expected, got, stream = both(model, x, sizes)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    assert stream.latency == convrnn.stream(model).latency


@settings(max_examples=30)
@given(dilation=st.sampled_from([2, 3, 4, 8]), kernel=st.integers(2, 5), width=st.integers(1, 20),
       low=st.integers(0, 40), high=st.integers(0, 3), sizes=st.lists(st.integers(0, 12), min_size=1, max_size=5)
       .filter(any), batch=st.integers(1, 3), length=st.integers(1, 70), double=st.booleans())
def test_dilated_convolutions_summing_their_past_taps_ahead_equal_python_stream(dilation, kernel, width, low, high,
                                                                                 sizes, batch, length, double):
    # dilation ≥ 2: each output's sum over its taps before the last is made d windows at a time, ahead of the
    # output (native_plan.cpp's Conv): chunks of one step use those sums, longer chunks use some and sum the rest
    # whole, a partly used batch moves forward, the tail after flush (high padding) uses them too; up to 20
    # outputs make several tiles a block in float64 (4 lanes), which sum tap by tap
    low = min(low, dilation * (kernel - 1))
    model = trained_looking(nn.Sequential(
        Conv1d(3, width, kernel, padding=[(low, high)], dilation=dilation), nn.BatchNorm1d(width), nn.ReLU(),
        Conv1d(width, 6, 2, padding=[(2 * dilation, 0)], dilation=2 * dilation)))
    model = model.double() if double else model
    x = torch.randn(batch, 3, length, dtype=torch.float64 if double else torch.float32)
    expected, got, _ = both(model, x, sizes)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10 if double else FLOAT32_TOLERANCE)


@pytest.mark.parametrize("sizes", [[3], [1, 0, 70]])
def test_a_long_signal_streams_equal_past_the_window_buffers_compaction(sizes):
    # the buffers drop consumed cells only every ≥ 64 steps: a signal of hundreds of steps crosses that many times
    model = trained_looking(nn.Sequential(Conv1d(3, 4, 3, padding=[(6, 0)], dilation=3), nn.BatchNorm1d(4), nn.ReLU(),
                                          Conv1d(4, 2, 2, stride=2, padding=[(1, 0)])).double())
    x = torch.randn(2, 3, 400, dtype=torch.float64)
    expected, got, _ = both(model, x, sizes)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(got, model(x), rtol=0, atol=1e-10)


@settings(max_examples=20)
@given(kind=st.sampled_from(["max", "min", "sum", "avg"]), keepdim=st.booleans(),
       tau=st.sampled_from([None, 3.0, float("inf")]), sizes=st.lists(st.integers(0, 7), min_size=1, max_size=4)
       .filter(any), batch=st.integers(1, 2), length=st.integers(1, 25))
def test_norm_pool_and_linear_native_equal_python_stream(kind, keepdim, tau, sizes, batch, length):
    model = trained_looking(nn.Sequential(RunningNorm(tau, min_std=0.05), Conv1d(4, 3, 1), GlobalPool(kind, keepdim=keepdim),
                                          *([] if keepdim else [nn.Linear(3, 2), nn.ReLU()])).double())
    x = torch.randn(batch, 4, length, dtype=torch.float64) * 3 + 1
    expected, got, _ = both(model, x, sizes)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@settings(max_examples=15)
@given(n_fft=st.sampled_from([2, 4, 8, 16, 32, 12, 10]), hop=st.integers(1, 8), sizes=sizes_in_samples,
       batch=st.integers(1, 2))
def test_log_mel_front_end_native_equals_python_stream_for_fft_and_dft_sizes(n_fft, hop, sizes, batch):
    front = LogMelSpectrogram(1000, n_fft=n_fft, hop_length=min(hop, n_fft), n_mels=3, f_min=0.0, framing="causal")
    wave = torch.randn(batch, 90, dtype=torch.float64)
    expected, got, _ = both([front, RunningNorm(None), nn.BatchNorm1d(3).double().eval(), nn.ReLU()], wave, sizes)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_a_silent_signal_normalises_as_the_python_stream_without_fused_rounding():
    # silence: every frame log(ε), variance 0, so RunningNorm divides its mean's rounding error by min_std = 1e-3;
    # the native step rounds each product and sum as PyTorch's operators do (no fused multiply-add), so the
    # normalised features agree (a fused m·(1 − w) + w·x differs by ≈ 1e-4 here)
    model = KeywordSpotter(causal=True).eval()
    layers = [first_channel, model.frontend, model.normalise]
    silence = torch.zeros(2, 1, 4410)
    expected, got, _ = both(layers, silence, [220])
    assert expected.abs().max() > 1e-4      # the Python stream's own rounding, amplified: not all zeros
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ stream semantics

def test_flush_reset_and_a_second_signal_behave_as_the_python_stream():
    layers = spotter().stream_layers(pooled=False)
    wave = torch.randn(2, 1, 300, dtype=torch.float64)
    reference, stream = convrnn.stream(layers), convrnn.stream(layers, backend="native")
    assert stream.flush() is None and reference.flush() is None      # nothing pushed
    stream.push(wave[..., :123])
    stream.reset()                                                    # forget it: the next chunk starts anew
    for s in (reference, stream):
        s.push(wave[..., :200])
    torch.testing.assert_close(stream.flush(), reference.flush(), rtol=0, atol=1e-10)
    assert stream.flush() is None                                     # flush ended the signal
    again = torch.cat([stream.push(wave[:1, :, :150]), stream.flush()], dim=-1)   # new batch size after flush
    torch.testing.assert_close(again, torch.cat([reference.push(wave[:1, :, :150]), reference.flush()], dim=-1),
                               rtol=0, atol=1e-10)


def test_same_padding_tail_comes_with_flush():
    model = nn.Sequential(Conv1d(2, 2, 5, padding="same"), nn.ReLU()).double()
    x = torch.randn(1, 2, 11, dtype=torch.float64)
    stream = convrnn.stream(model, backend="native")
    head = stream.push(x)
    assert stream.latency == 2 and head.shape[-1] == 9
    torch.testing.assert_close(torch.cat([head, stream.flush()], -1), model(x), rtol=0, atol=1e-10)


def test_outputs_have_the_python_streams_shapes_for_empty_chunks():
    model = spotter()
    for layers in (model, model.stream_layers(pooled=False)):
        expected = convrnn.stream(layers).push(torch.zeros(3, 1, 0, dtype=torch.float64))
        got = convrnn.stream(layers, backend="native").push(torch.zeros(3, 1, 0, dtype=torch.float64))
        assert got.shape == expected.shape and got.dtype == expected.dtype


def test_a_batch_of_none_streams_to_empty_outputs_in_both_backends():
    # The Python stream's log-mel stage failed inside MKL's FFT on a batch of 0 while the native stream
    # returned an empty result: both now give (0, steps, classes), as the offline model gives (0, classes).
    model = spotter()
    x = torch.zeros(0, 1, 400, dtype=torch.float64)
    assert model(x).shape == (0, 2)
    for layers in (model, model.stream_layers(pooled=False)):
        python, native = convrnn.stream(layers), convrnn.stream(layers, backend="native")
        expected, got = python.push(x), native.push(x)
        assert expected.shape == got.shape and expected.shape[0] == 0 and expected.shape[1] > 0
        assert python.flush().shape[0] == native.flush().shape[0] == 0


def test_external_state_and_latency_table_are_the_python_stages():
    model = spotter()
    stream = convrnn.stream(model, backend="native")
    assert stream.latency_table(8000) == convrnn.stream(model).latency_table(8000)
    assert stream.state is None and "native" in repr(stream)
    chunk = torch.randn(1, 1, 40, dtype=torch.float64)
    y, _ = stream.step(chunk, stream.initial_state(chunk))   # the external-state path still runs in PyTorch
    torch.testing.assert_close(y, convrnn.stream(model).push(chunk), rtol=0, atol=0)


# ------------------------------------------------------------------ recurrent layers, hybrid plans

def drawn(model: nn.Module) -> nn.Module:
    """Every parameter drawn (a fresh RNN's biases are 0, under which a window step read past the end hides)."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    return model.eval()


@settings(max_examples=20, deadline=None)
@given(layers=st.integers(1, 3), lookahead=st.sampled_from([None, 0, 1, 2, 3]), residual=st.booleans(),
       batch=st.integers(1, 2), length=st.integers(1, 12), sizes=st.lists(st.integers(0, 5), min_size=1,
                                                                          max_size=4).filter(any))
def test_lstm_layers_native_equal_python_stream(layers, lookahead, residual, batch, length, sizes):
    rnn = drawn(RNN("lstm", 6, 3, num_layers=layers, bidirectional=lookahead is not None, lookahead=lookahead,
                    residual=residual, batch_first=True).double())
    x = torch.randn(batch, length, 6, dtype=torch.float64)
    python, native, stream = both(rnn, x, sizes, axis=1)
    assert stream.program.prefix == 0 and len(stream.program.ops) == layers
    torch.testing.assert_close(native, python, rtol=0, atol=1e-10)
    torch.testing.assert_close(native, rnn(x)[0], rtol=0, atol=1e-10)


def tagger(dtype=torch.float64, hidden=7):
    from convrnn.models.tagger import Tagger

    model = Tagger(num_tags=5, vocab_size=30, alphabet_size=12, word_dim=6, char_dim=4, char_channels=5,
                   char_kernel=3, hidden_size=hidden, num_layers=2, cell="lstm", lookahead=1)
    return drawn(model.to(dtype))


def tagged(model, words, characters, sizes, backend):
    stream = convrnn.stream(model, backend=backend)
    parts = [stream.push((words[:, start:start + size], characters[:, start:start + size]))
             for start, size in cut(words.shape[1], sizes)]
    parts.append(stream.flush())
    return torch.cat(parts, 1), stream


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(0, 4), min_size=1, max_size=4).filter(any), batch=st.integers(1, 2))
def test_tagger_lowers_whole_word_features_included(sizes, batch):
    model = tagger()
    words, characters = torch.randint(1, 30, (batch, 11)), torch.randint(0, 12, (batch, 11, 5))  # 0: padding
    characters[0, 3] = 0                                                                           # a word without any
    native, stream = tagged(model, words, characters, sizes, "native")
    python, _ = tagged(model, words, characters, sizes, "python")
    assert stream.program.front is not None and stream.program.input == 4 and stream.program.prefix == 0
    torch.testing.assert_close(native, python, rtol=0, atol=1e-10)
    torch.testing.assert_close(native, model(words, characters), rtol=0, atol=1e-10)


def test_tagger_without_characters_streams_words_alone():
    from convrnn.models.tagger import Tagger

    model = drawn(Tagger(num_tags=4, vocab_size=20, alphabet_size=5, word_dim=5, char_channels=0, hidden_size=6,
                         lookahead=2).double())
    words = torch.randint(1, 20, (2, 9))
    stream = convrnn.stream(model, backend="native")
    native = torch.cat([*(stream.push(words[:, i:i + 2]) for i in range(0, 9, 2)), stream.flush()], 1)
    torch.testing.assert_close(native, model(words), rtol=0, atol=1e-10)


@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(0, 4), min_size=1, max_size=4).filter(any))
def test_hybrid_plan_runs_leading_per_step_stages_in_pytorch(sizes):
    model = drawn(nn.Sequential(nn.Tanh(), nn.Linear(6, 5), RNN("lstm", 5, 4, num_layers=2, bidirectional=True,
                                                                 lookahead=1, batch_first=True), nn.Linear(8, 3)).double())
    x = torch.randn(2, 10, 6, dtype=torch.float64)
    python, native, stream = both(model, x, sizes, axis=1)
    assert stream.program.prefix == 2 and stream.program.input == 3     # Tanh, Linear; then (N, T, C)
    torch.testing.assert_close(native, python, rtol=0, atol=1e-10)


def test_tagger_in_float32_equals_python_stream_to_tolerance():
    torch.manual_seed(0)
    model = tagger(torch.float32, hidden=64)
    words, characters = torch.randint(1, 30, (2, 40)), torch.randint(0, 12, (2, 40, 5))
    native, _ = tagged(model, words, characters, [1, 3], "native")
    python, _ = tagged(model, words, characters, [1, 3], "python")
    torch.testing.assert_close(native, python, rtol=0, atol=FLOAT32_TOLERANCE)   # measured 5.7e-6 over 6 seeds


def test_tagger_bad_chunks_refuse_in_one_line():
    stream = convrnn.stream(tagger(), backend="native")
    with pytest.raises(ValueError, match=r"Tagger\.forward: argument 'characters'"):
        stream.push((torch.ones(1, 2, dtype=torch.long), torch.ones(1, 3, 5, dtype=torch.long)))
    with pytest.raises(TypeError, match=r"argument 'words' expected int64"):
        stream.push((torch.ones(1, 2), torch.ones(1, 2, 5, dtype=torch.long)))
    stream.push((torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, 5, dtype=torch.long)))
    with pytest.raises(ValueError, match="expected 2 sequences"):
        stream.push((torch.ones(1, 2, dtype=torch.long), torch.ones(1, 2, 5, dtype=torch.long)))
    # an id outside the table: IndexError, as the Python stream's embedding raises, naming the id and the range
    with pytest.raises(IndexError, match=r"word id 30 outside the vocabulary \(0 … 29\)"):
        stream.push((torch.full((2, 1), 30), torch.ones(2, 1, 5, dtype=torch.long)))
    with pytest.raises(IndexError, match=r"character id 12 outside the alphabet \(0 … 11\)"):
        stream.push((torch.ones(2, 1, dtype=torch.long), torch.full((2, 1, 5), 12)))
    with pytest.raises(IndexError):
        convrnn.stream(tagger()).push((torch.full((2, 1), 30), torch.ones(2, 1, 5, dtype=torch.long)))


@pytest.mark.parametrize(("model", "named"), [
    (RNN("gru", 3, 4, batch_first=True), "cell GRUCell"),
    (RNN("lstm", 3, 4, batch_first=True, layer_norm=True), "with layer norm"),
    (RNN("lstm", 3, 4, batch_first=True, zoneout=0.1), "zoneout=0.1"),
    (RNN("lstm", 3, 4, batch_first=False), "batch_first=False"),
    (nn.Sequential(Conv1d(2, 3, 3, padding=[(2, 0)]), RNN("lstm", 3, 4, batch_first=True)), "not \\(N, T, C\\)"),
])
def test_a_recurrent_layer_without_a_lowering_refuses_by_name(model, named):
    with pytest.raises(NoLoweringError, match=named):
        convrnn.stream(model.eval(), backend="native")


# ------------------------------------------------------------------ refusals and bad arguments

@pytest.mark.parametrize(("model", "named"), [
    (nn.Sequential(Conv1d(2, 3, 3, padding=[(2, 0)]), RNN("lstm", 3, 4)), r"1 \(RNN"),
    (nn.Sequential(Conv1d(2, 2, 3), Pool1d(2)), r"1 \(Pool1d"),
    (nn.Sequential(Conv1d(2, 4, 3, groups=2)), "groups=2"),
    (nn.Sequential(Conv1d(2, 2, 3, padding=[(2, 0)], boundary="reflect")), "boundary 'reflect'"),
    (nn.Sequential(Conv1d(2, 2, 2, stride=3)), "stride 3 skips cells between its windows of 2"),
    (nn.Sequential(Conv1d(2, 2, 1), nn.Linear(5, 5)), "Linear acts on the last axis"),
    (nn.Sequential(Conv1d(2, 2, 1), nn.Tanh()), r"1 \(Tanh\)"),
    ([LogMelSpectrogram(8000, n_fft=64, framing="centred")], "centred framing"),
    (nn.Sequential(nn.ReLU()), "stage over time"),
])
def test_a_stage_without_a_lowering_refuses_by_name(model, named):
    with pytest.raises(NoLoweringError, match=named):
        convrnn.stream(model, backend="native")


def test_the_refusal_names_the_first_stage_without_a_lowering():
    model = nn.Sequential(Conv1d(2, 3, 1), nn.Tanh(), Pool1d(2))
    with pytest.raises(NoLoweringError, match=r"no lowering for 1 \(Tanh\).*backend='python'"):
        convrnn.stream(model, backend="native")


def test_bad_backend_and_bad_chunks_raise_one_line_errors():
    with pytest.raises(ValueError, match=r"stream: argument 'backend' expected one of \['python', 'native'\], "
                                         r"got 'cuda'"):
        convrnn.stream(spotter(), backend="cuda")
    stream = convrnn.stream(spotter(), backend="native")
    with pytest.raises(TypeError, match=r"'chunk' expected a torch\.Tensor, got list"):
        stream.push([0.0])
    with pytest.raises(ValueError, match=r"'chunk' expected shape \(N, C, T\), got shape \(5,\)"):
        stream.push(torch.zeros(5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"expected the model's dtype torch\.float64, got torch\.float32"):
        stream.push(torch.zeros(1, 1, 5))
    with pytest.raises(TypeError, match=r"expected dtype float32 or float64, got torch\.int64"):
        stream.push(torch.zeros(1, 1, 5, dtype=torch.long))
    stream.push(torch.zeros(2, 1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expected the shape of the first chunk \(2, 1, 5\)"):
        stream.push(torch.zeros(1, 1, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"model's dtype torch\.float64, got torch\.float32"):   # after the first chunk
        stream.push(torch.zeros(2, 1, 5))
    with pytest.raises(ValueError, match=r"expected the shape of the first chunk \(2, 1, 5\)"):
        stream.push(torch.zeros(2, 3, 5, dtype=torch.float64))       # channel 0 is taken, but the count is fixed
    with pytest.raises(TypeError, match=r"'chunk' expected a torch\.Tensor, got list"):
        stream.push([0.0])
    conv = convrnn.stream(nn.Sequential(Conv1d(3, 2, 2)).double(), backend="native")
    with pytest.raises(ValueError, match=r"stream: 0: argument 'x' expected 3 channels, got 4"):
        conv.push(torch.zeros(1, 4, 5, dtype=torch.float64))


def test_a_refused_chunk_changes_nothing():
    # the plan checks a chunk whole before it does anything: after refusals the stream goes on as if none came
    layers = spotter().stream_layers(pooled=False)
    wave = torch.randn(2, 1, 200, dtype=torch.float64)
    stream = convrnn.stream(layers, backend="native")
    outputs = [stream.push(wave[..., :70])]
    for bad in (wave[:1, :, 70:90], wave[..., 70:90].float(), torch.cat([wave, wave], 1)[..., 70:90],
                wave[..., 70:90].unsqueeze(0), "wave"):
        with pytest.raises((TypeError, ValueError)):
            stream.push(bad)
    outputs += [stream.push(wave[..., 70:].transpose(0, 2).contiguous().transpose(0, 2)), stream.flush()]
    _, expected, _ = both(layers, wave, [200], backends=("python",))
    torch.testing.assert_close(torch.cat(outputs, -1), expected, rtol=0, atol=1e-10)


def test_without_the_compiled_kernel_native_says_so(monkeypatch):
    monkeypatch.setattr(native_module, "load", lambda: None)
    with pytest.raises(RuntimeError, match=r"backend 'native' needs the C\+\+ stream kernel.*backend='python'"):
        convrnn.stream(spotter(), backend="native")
