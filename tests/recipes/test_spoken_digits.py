"""spoken-digits end to end on tone "words" (no espeak-ng, seconds to train): training recognises
strings, the run directory is complete, eval repeats the test scores at every noise level,
``convrnn predict`` prints the digits of a WAV file, the export predicts like the run; the word
error rate against the recursive definition of the edit distance."""

import copy
import functools
import json
import subprocess
import sys
import wave

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.spoken_digits import WORDS
from convrnn.recipes import get_recipe
from convrnn.tasks.speech import SpeechRecipe, WordErrorRate, recognize, word_error_rate
from exported_runs import assert_exported_predicts_like_the_run

RATE = 8000
TONES = 250 * 13 ** (np.arange(len(WORDS)) / (len(WORDS) - 1))   # 250 Hz … 3,250 Hz, one per word


class ToneDigits(torch.utils.data.Dataset):
    """Utterances of 1–4 "words", word k a 0.12 s tone at TONES[k], 40–80 ms apart, white noise
    at 10–40 dB SNR or none (a quarter of them; or ``at_snr``'s), peak 0.9 — :class:`SpokenDigits`'s
    interface."""

    def __init__(self, split, size):
        rng = np.random.default_rng({"train": 0, "validation": 1, "test": 2}[split])
        self.words = [rng.integers(0, len(WORDS), int(rng.integers(1, 5))) for _ in range(size)]
        self.gaps = [rng.integers(int(0.04 * RATE), int(0.08 * RATE), len(w) + 1) for w in self.words]
        self.snrs = [None if rng.random() < 0.25 else rng.uniform(10, 40) for _ in range(size)]
        self.lengths = torch.tensor([len(w) * int(0.12 * RATE) + int(g.sum()) for w, g in zip(self.words, self.gaps)])

    def render(self, index):
        piece = int(0.12 * RATE)
        speech = []
        for word, gap in zip(self.words[index], self.gaps[index][:-1]):
            speech += [np.zeros(gap), np.sin(2 * np.pi * TONES[word] * np.arange(piece) / RATE)]
        speech = np.concatenate([*speech, np.zeros(self.gaps[index][-1])])
        noise = np.random.default_rng(index).standard_normal(len(speech))
        if self.snrs[index] is not None:
            speech = speech + noise * np.sqrt(np.mean(speech ** 2) / 10 ** (self.snrs[index] / 10))
        return (0.9 * speech / np.abs(speech).max()).astype(np.float32)

    def at_snr(self, snr):
        other = copy.copy(self)
        other.snrs = [snr] * len(self.words)
        return other

    def __len__(self):
        return len(self.words)

    def __getitem__(self, index):
        return torch.from_numpy(self.render(index)).unsqueeze(0), torch.as_tensor(self.words[index])


class ToneRecipe(SpeechRecipe):
    def utterances(self, split, count=None, *, progress=False):
        return ToneDigits(split, self.sizes[split] if count is None else count)


TINY = ToneRecipe(
    name="spoken-digits", description="tone words", target="recognises them",
    sizes={"train": 240, "validation": 24, "test": 40},
    model_options={"sample_rate": RATE, "n_fft": 256, "hop_length": 80, "n_mels": 16, "channels": (8, 16),
                   "hidden": 32, "layers": 1, "dropout": 0.0},
    epochs=12, batch_size=16, lr=1e-2, optimizer="adam", weight_decay=0.0, scheduler="none", beam_width=4,
    test_snrs=(None, 20.0),
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("speech")
    torch.manual_seed(0)
    return out, TINY.train(out, progress=False)


def write_wav(path, samples, rate=RATE):
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(np.round(np.asarray(samples) * 32767).astype("<i2").tobytes())


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True)


def test_training_recognises_strings_and_writes_a_complete_run_directory(run_dir):
    out, scores = run_dir
    for snr in ("clean", "20db"):
        assert scores[f"test_{snr}_word_error_rate"] <= 0.1      # chance: 10 of 11 words wrong
        assert scores[f"test_{snr}_string_accuracy"] >= 0.8
        assert scores[f"test_{snr}_beam_word_error_rate"] <= 0.1
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/last", "log.csv", "scores.json"]:
        assert (out / path).exists(), path
    assert len((out / "log.csv").read_text().splitlines()) == 1 + TINY.epochs
    saved = json.loads((out / "scores.json").read_text())
    assert saved["test_20db_word_error_rate"] == scores["test_20db_word_error_rate"] and saved["wall_seconds"] > 0


def test_evaluate_repeats_the_test_scores_at_every_noise_level(run_dir):
    out, scores = run_dir
    again = TINY.evaluate(out, "test")
    assert set(again) == {f"{snr}_{prefix}{key}" for snr in ("clean", "20db") for prefix in ("", "beam_")
                          for key in ("word_error_rate", "string_accuracy")}
    for key, value in again.items():
        assert value == pytest.approx(scores[f"test_{key}"])


def test_an_utterance_is_recognised_the_same_alone_and_in_a_padded_batch(run_dir):
    out, _ = run_dir
    model, _ = TINY.load_model(out)
    data = TINY.utterances("test", 6)
    waves = [data[i][0] for i in range(6)]
    batch = torch.zeros(6, 1, max(w.shape[-1] for w in waves))
    for n, w in enumerate(waves):
        batch[n, :, :w.shape[-1]] = w
    with torch.no_grad():
        together, steps = model(batch, torch.tensor([w.shape[-1] for w in waves]))
        for n, w in enumerate(waves):
            alone, alone_steps = model(w.unsqueeze(0))
            assert steps[n] == alone_steps[0]
            torch.testing.assert_close(together[n, :steps[n]], alone[0], rtol=1e-4, atol=1e-4)


def test_predict_prints_the_digits_of_a_wav_file(run_dir, tmp_path):
    out, _ = run_dir
    data = TINY.utterances("test")
    model, _ = TINY.load_model(out)
    index = next(i for i in range(len(data)) if recognize(model, data.render(i))[0][0]
                 == [WORDS[w] for w in data.words[i]])
    write_wav(tmp_path / "utterance.wav", data.render(index))
    result = run_cli("predict", str(out), str(tmp_path / "utterance.wav"), "--top", "2")
    assert result.returncode == 0, result.stderr
    digits = "".join("01234567890"[w] for w in data.words[index])
    words = " ".join(WORDS[w] for w in data.words[index])
    assert result.stdout.startswith(f"{tmp_path / 'utterance.wav'}: {digits}  ({words} ")


def test_predict_refuses_another_sample_rate_and_a_too_short_file_in_one_line(run_dir, tmp_path):
    out, _ = run_dir
    write_wav(tmp_path / "fast.wav", np.zeros(4000), rate=16000)
    result = run_cli("predict", str(out), str(tmp_path / "fast.wav"))
    assert result.returncode == 2 and "sampled at 16000 Hz, expected 8000 Hz" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    write_wav(tmp_path / "short.wav", np.zeros(100))
    result = run_cli("predict", str(out), str(tmp_path / "short.wav"))
    assert result.returncode == 2 and "expected at least 241 samples (30 ms), got 100" in result.stderr


def test_exported_recognizer_predicts_like_the_run_and_pt2_is_refused_in_one_line(run_dir, tmp_path):
    out, _ = run_dir
    data = TINY.utterances("test")
    for n in range(2):
        write_wav(tmp_path / f"u{n}.wav", data.render(n))
    assert_exported_predicts_like_the_run(TINY, out, [str(tmp_path / "u0.wav"), str(tmp_path / "u1.wav")], tmp_path)
    with pytest.raises(ValueError, match=r"cannot be written as pt2: torch\.export.s program keeps a guard"):
        TINY.export(out, tmp_path / "model.pt2", format="pt2")


@functools.cache
def reference_distance(a, b):
    """The recursive definition of the Levenshtein distance."""
    if not a or not b:
        return len(a) + len(b)
    return min(reference_distance(a[1:], b) + 1, reference_distance(a, b[1:]) + 1,
               reference_distance(a[1:], b[1:]) + (a[0] != b[0]))


words = st.lists(st.sampled_from(WORDS[:4]), max_size=6)


@given(st.lists(st.tuples(words, words.filter(bool)), min_size=1, max_size=4))
def test_word_error_rate_is_the_summed_recursive_distance_over_the_summed_reference_words(pairs):
    hypotheses, references = zip(*pairs)
    expected = sum(reference_distance(tuple(h), tuple(r)) for h, r in pairs) / sum(map(len, references))
    assert word_error_rate(hypotheses, references) == pytest.approx(expected)


def test_word_error_rate_by_hand_and_bad_input():
    # one substitution, one deletion, one insertion over 3 + 2 reference words
    assert word_error_rate([["one", "two", "three"], ["four"], ["oh", "six"]],
                           [["one", "five", "three"], ["four", "nine"], ["six"]]) == pytest.approx(3 / 6)
    assert word_error_rate([["oh"] * 5], [["one"]]) == 5.0      # insertions can push it past 1
    with pytest.raises(ValueError, match="word_error_rate: expected as many hypotheses as references, got 1 and 2"):
        word_error_rate([["one"]], [["one"], ["two"]])
    with pytest.raises(ValueError, match="at least one word in all"):
        word_error_rate([[]], [[]])


def test_word_error_rate_metric_decodes_best_paths():
    targets = torch.tensor([[1, 2, -1], [3, 3, 4]])
    lengths = torch.tensor([2, 3])
    log_probs = torch.full((2, 7, 12), -10.0)
    log_probs[:, :, 0] = 0.0   # blanks, then spell: row 0 "1 2" right; row 1 "3 4" (one 3 lost)
    for row, symbols in enumerate([[1, 2], [3, 3, 4]]):
        for k, s in enumerate(symbols):
            log_probs[row, 2 * k + 1, 0], log_probs[row, 2 * k + 1, s + 1] = -10.0, 0.0
    log_probs[1, 2, 0], log_probs[1, 2, 4] = -10.0, 0.0   # no blank between the two 3s: they merge
    metric = WordErrorRate()
    metric.update((log_probs, torch.tensor([7, 7])), (targets, lengths))
    assert metric.compute() == pytest.approx(1 / 5)


def test_recipe_is_registered_and_summarised():
    recipe = get_recipe("spoken-digits")
    assert recipe.kind == "speech" and recipe.can("export")
    model, shape = recipe.summary_model()
    log_probs, steps = model.eval()(torch.zeros(1, *shape))
    assert log_probs.shape == (1, steps.item(), len(WORDS) + 1) and steps.item() == (1 + 22049 // 220) // 4
    result = run_cli("summary", "spoken-digits")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_full_recipe_reaches_its_target(tmp_path):
    scores = get_recipe("spoken-digits").train(tmp_path, progress=False)
    assert scores["test_20db_word_error_rate"] <= 0.05
