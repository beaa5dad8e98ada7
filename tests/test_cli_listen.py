"""`convrnn listen`: a keyword run streamed over a WAV file or raw PCM on standard input prints its
detections as they happen (the same frames offline scores); a look-ahead tagger tags text word by word,
each tag once final; runs that cannot stream say so in one line."""

import io
import wave

import numpy as np
import pytest
import torch

from convrnn.cli import main
from convrnn.data.pcm import pcm_chunks
from convrnn.data.text import Vocabulary
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.models.tagger import Tagger
from convrnn.tasks.keyword import detections
from convrnn.training.checkpoint import save_model

OPTIONS = {"sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 16, "channels": (8, 8, 8, 8)}


def _spotter_run(path, causal):
    options = {**OPTIONS, "causal": causal}
    torch.manual_seed(0)   # a module fixture: set up before the per-test seed, so seeded here
    model = KeywordSpotter(**options)
    with torch.no_grad():
        model.scores.bias.copy_(torch.tensor([0.0, 0.2]))
    save_model(path / "model", model, {"recipe": "keyword", "model": "keyword-spotter", "model_options": options,
                                       "input_shape": [1, 8000], "classes": ["other", "keyword"]})
    return model.eval()


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("listen")
    pcm = (np.random.default_rng(0).standard_normal(12_000) * 3000).astype("<i2")
    pcm[4000:7000] = (np.sin(np.arange(3000) * 0.3) * 20_000).astype("<i2")
    with wave.open(str(folder / "clip.wav"), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(pcm.tobytes())
    causal = _spotter_run(folder / "causal", True)
    _spotter_run(folder / "offline", False)
    return folder, pcm, causal


def _probabilities(model, samples):
    with torch.no_grad():
        return torch.softmax(model.frame_scores(torch.from_numpy(samples).view(1, 1, -1)), dim=1)[0, 1]


def _offline_onsets(model, samples, threshold):
    above = (_probabilities(model, samples) >= threshold).tolist()
    return [t for t, now in enumerate(above) if now and (t == 0 or not above[t - 1])]


@pytest.mark.parametrize("chunk", [37, 333])
def test_detections_are_the_offline_frames_rising_past_the_threshold(audio, chunk):
    _, pcm, model = audio
    samples = pcm.astype(np.float32) / 32768
    threshold = float(_probabilities(model, samples).median())   # a threshold the probability crosses often
    def found(hold):
        events = list(detections(model, (samples[i:i + chunk] for i in range(0, len(samples), chunk)),
                                 threshold=threshold, hold=hold))
        return events, [round(event.time * 8000 / 80) for event in events if event.kind == "keyword"]

    events, onsets = found(0.0)
    offline = _offline_onsets(model, samples, threshold)
    assert onsets == offline and len(offline) > 2
    held = [offline[0]]
    for t in offline[1:]:
        if (t - held[-1]) * 80 / 8000 > 0.2:
            held.append(t)
    assert found(0.2)[1] == held and len(held) < len(offline)
    assert events[0].kind == "start" and events[0].time == 0 and events[-1].kind == "end"
    assert events[-1].time == pytest.approx(1.5)


def test_listen_prints_detections_from_a_wav_file_and_from_standard_input(audio, capsys, monkeypatch):
    folder, pcm, _ = audio
    assert main(["listen", str(folder / "causal"), str(folder / "clip.wav"), "--threshold", "0.55"]) == 0
    from_file = capsys.readouterr().out.splitlines()
    assert from_file[0] == "listening: 160 samples (20 ms) a chunk, look-ahead 0.0 ms"
    assert from_file[-1].startswith("end of signal at 1.50 s: ")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(pcm.tobytes())))
    assert main(["listen", str(folder / "causal"), "-", "--chunk-ms", "10", "--threshold", "0.55"]) == 0
    from_stdin = capsys.readouterr().out.splitlines()
    assert from_stdin[0] == "listening: 80 samples (10 ms) a chunk, look-ahead 0.0 ms"
    assert from_stdin[1:] == from_file[1:]


def test_an_offline_detector_refuses_to_listen_unless_asked_to_approximate(audio, capsys):
    folder, _, _ = audio
    assert main(["listen", str(folder / "offline"), str(folder / "clip.wav")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("convrnn: error: stream: ") and "not causal" in error and "keyword-causal" in error
    assert len(error.splitlines()) == 1
    assert main(["listen", str(folder / "offline"), str(folder / "clip.wav"), "--approximate"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "look-ahead 315.9 ms" in first and "approximated by running statistics" in first


def test_the_native_backend_listens_like_the_python_backend(audio, capsys):
    from convrnn.stream.native import load

    if load() is None:
        pytest.skip("no C++ compiler/ninja: the stream kernel cannot be built here")
    folder, _, _ = audio
    printed = []
    for backend in ([], ["--backend", "native"]):
        assert main(["listen", str(folder / "causal"), str(folder / "clip.wav"), "--threshold", "0.55",
                     "--chunk-ms", "10", *backend]) == 0
        printed.append(capsys.readouterr().out.splitlines())
    assert printed[1] == printed[0] and len(printed[0]) > 2


@pytest.mark.parametrize("run,arguments,message", [
    ("offline", ["--approximate"], "stream: backend 'native' has no lowering for LogMelSpectrogram (LogMelSpectrogram centred"),
    ("causal", ["--backend", "cuda"], "listen: argument '--backend' expected one of ['python', 'native'], got 'cuda'")])
def test_a_backend_that_cannot_run_the_detector_says_why_in_one_line(audio, capsys, run, arguments, message):
    folder, _, _ = audio
    backend = [] if "--backend" in arguments else ["--backend", "native"]
    assert main(["listen", str(folder / run), str(folder / "clip.wav"), *arguments, *backend]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1


def test_an_exported_stream_listens_like_its_run(audio, capsys, tmp_path):
    folder, _, _ = audio
    out = tmp_path / "stream.onnx"
    assert main(["export", str(folder / "causal"), "--stream", "--chunk-ms", "20", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (f"keyword: wrote {out} and its contract stream.onnx.json (the "
                                               f"stream's chunk step: 160 input steps = 20 ms a chunk, state in "
                                               f"and out)")
    pytest.importorskip("onnxruntime")
    assert main(["listen", str(folder / "causal"), str(folder / "clip.wav"), "--threshold", "0.55"]) == 0
    from_run = capsys.readouterr().out.splitlines()
    assert main(["listen", str(out), str(folder / "clip.wav"), "--threshold", "0.55", "--chunk-ms", "7"]) == 0
    from_file = capsys.readouterr().out.splitlines()
    assert from_file[0] == "listening: 56 samples (7 ms) a chunk, look-ahead 0.0 ms"
    assert from_file[1:] == from_run[1:] and len(from_run) > 2
    assert main(["listen", str(out), str(folder / "clip.wav"), "--backend", "native"]) == 2
    assert "'--backend' is for a run" in capsys.readouterr().err
    assert main(["predict", str(out), str(folder / "clip.wav")]) == 2
    assert "is a stream's chunk model (`convrnn export --stream`)" in capsys.readouterr().err


@pytest.mark.parametrize("run,arguments,message", [
    ("offline", ["--stream"], "stream: ClipNorm (ClipNorm) divides every step by the statistics"),
    ("causal", ["--chunk-ms", "20"], "export: argument '--chunk-ms' is the chunk of a stream: give it with --stream"),
    ("causal", ["--stream", "--chunk-ms", "inf"], "export: argument '--chunk-ms' expected a finite duration > 0, "
                                                "got inf")])
def test_a_stream_that_cannot_be_exported_says_why_in_one_line(audio, capsys, tmp_path, run, arguments, message):
    folder, _, _ = audio
    assert main(["export", str(folder / run), *arguments, "--out", str(tmp_path / "s.onnx")]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("arguments,message", [
    (["missing.wav"], "listen: no such WAV file"),
    (["clip.wav", "--chunk-ms", "0"], "listen: argument '--chunk-ms' expected a finite duration > 0"),
    (["clip.wav", "--threshold", "1.5"], "listen: argument '--threshold' expected a probability in (0, 1)")])
def test_bad_listen_arguments_are_one_line(audio, capsys, arguments, message):
    folder, _, _ = audio
    source, *rest = arguments
    assert main(["listen", str(folder / "causal"), str(folder / source), *rest]) == 2
    assert capsys.readouterr().err.startswith(f"convrnn: error: {message}")


def test_a_wav_at_another_rate_is_refused(tmp_path):
    with wave.open(str(tmp_path / "x.wav"), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(b"\0\0" * 100)
    with pytest.raises(ValueError, match="sampled at 16000 Hz, expected 8000 Hz"):
        pcm_chunks(tmp_path / "x.wav", 10, sample_rate=8000)


def test_raw_pcm_keeps_an_odd_byte_for_the_next_read():
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def read(self, size=-1):
            piece, self.data = self.data[:3], self.data[3:]
            return piece

    pcm = np.arange(-5, 6, dtype="<i2")
    joined = np.concatenate(list(pcm_chunks(Trickle(pcm.tobytes()), 4, sample_rate=8000)))
    np.testing.assert_array_equal(joined * 32768, pcm.astype(np.float32))


@pytest.fixture(scope="module")
def tagger_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagger")
    words = Vocabulary.build([["the", "dog", "barked", "."]])
    alphabet = Vocabulary.build([list("TheDogbarked.")])
    for lookahead in (1, None):
        options = {"num_tags": 3, "vocab_size": len(words), "alphabet_size": len(alphabet), "word_dim": 4,
                   "char_dim": 3, "char_channels": 4, "char_kernel": 3, "hidden_size": 5, "num_layers": 2,
                   "cell": "lstm", "lookahead": lookahead, "dropout": 0.0}
        save_model(folder / str(lookahead) / "model", Tagger(**options),
                   {"recipe": "brown-pos", "model": "tagger", "model_options": options, "tags": ["A", "B", "C"],
                    "vocabulary": words.to_json(), "alphabet": alphabet.to_json(), "max_word_length": 20})
    return folder


def test_a_lookahead_tagger_tags_word_by_word_with_its_delay(tagger_runs, capsys):
    run = str(tagger_runs / "1")
    assert main(["predict", run, "The dog barked .", "--top", "1"]) == 0
    offline = capsys.readouterr().out.split()
    assert main(["predict", run, "The dog barked .", "--stream"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tagging word by word: each tag is final 2 words later (look-ahead 1 × 2 layers)"
    assert [line.split()[0] for line in lines[1:]] == offline
    assert lines[1].endswith("(after 'barked')") and lines[2].endswith("(after '.')")
    assert lines[3].endswith("(end of sentence)") and lines[4].endswith("(end of sentence)")


def test_listen_reads_text_from_standard_input_for_a_tagger(tagger_runs, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("The dog barked .\nThe dog .\n"))
    assert main(["listen", str(tagger_runs / "1"), "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 4 + 3
    assert main(["listen", str(tagger_runs / "1"), "-", "--chunk-ms", "10"]) == 2
    assert "--chunk-ms apply to audio" in capsys.readouterr().err


def test_a_tagger_listens_through_the_native_backend_with_the_same_tags(tagger_runs, capsys, monkeypatch):
    text = "The dog barked .\nThe dog .\n"
    outputs = []
    for backend in ("python", "native"):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        assert main(["listen", str(tagger_runs / "1"), "-", "--backend", backend]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and len(outputs[1].splitlines()) == 1 + 4 + 3
    assert main(["listen", str(tagger_runs / "1"), "-", "--backend", "cuda"]) == 2
    assert "argument 'backend' expected one of ['python', 'native'], got 'cuda'" in capsys.readouterr().err


def test_a_full_sentence_tagger_refuses_to_stream(tagger_runs, capsys):
    assert main(["predict", str(tagger_runs / "None"), "The dog .", "--stream"]) == 2
    assert "bidirectional" in capsys.readouterr().err
