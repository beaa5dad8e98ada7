"""mnist-ocr end to end on synthetic glyphs: training reads strings, the run directory is complete,
eval repeats the test score, ``convrnn predict`` prints the digits; edit distance and the metric."""

import functools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.digit_strings import DigitStrings, collate_digit_strings
from convrnn.data.image_files import write_png
from convrnn.layers.ctc import ctc_greedy_decode
from convrnn.recipes import get_recipe
from convrnn.tasks.ocr import OCRRecipe, StringAccuracy, edit_distance, load_reader

GLYPHS = (np.random.default_rng(0).random((10, 28, 28)) > 0.6).astype(np.uint8) * 255  # one per digit


class GlyphOCR(OCRRecipe):
    """The mnist-ocr recipe on one fixed random glyph per digit (no MNIST, seconds to train)."""

    def strings(self, split, count=None):
        return DigitStrings(split, self.sizes[split] if count is None else count, seed=self.data_seed,
                            source=(GLYPHS, np.arange(10)), **self.data)


TINY = GlyphOCR(
    name="mnist-ocr", description="glyph strings", target="reads them",
    data={"height": 16, "digits": (1, 4), "scale": (0.5, 0.55), "gap": (0, 2), "margin": (0, 2)},
    sizes={"train": 192, "validation": 16, "test": 32},
    model_options={"height": 16, "channels": (8, 16), "hidden": 32, "layers": 1, "dropout": 0.0},
    epochs=16, batch_size=12, lr=1e-2, optimizer="adam", weight_decay=0.0, scheduler="none", beam_width=4,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ocr")
    torch.manual_seed(0)
    return out, TINY.train(out, progress=False)


def test_training_reads_strings_and_writes_a_complete_run_directory(run_dir):
    out, scores = run_dir
    assert scores["test_string_accuracy"] >= 0.8  # chance is 0: 1–4 digits out of 10
    assert scores["test_character_error_rate"] <= 0.1
    assert scores["test_beam_string_accuracy"] >= 0.8
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/last", "checkpoints/best",
                 "log.csv", "scores.json"]:
        assert (out / path).exists(), path
    assert len((out / "log.csv").read_text().splitlines()) == 1 + TINY.epochs
    saved = json.loads((out / "scores.json").read_text())
    assert saved["test_string_accuracy"] == scores["test_string_accuracy"] and saved["wall_seconds"] > 0


def test_evaluate_repeats_the_test_scores_of_training(run_dir):
    out, scores = run_dir
    again = TINY.evaluate(out, "test")
    for key in ("string_accuracy", "character_error_rate", "beam_string_accuracy"):
        assert again[key] == pytest.approx(scores[f"test_{key}"])


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    short = replace(TINY, epochs=3, sizes={"train": 36, "validation": 8, "test": 8})
    short.train(tmp_path / "straight", progress=False)
    short.train(tmp_path / "resumed", epochs=2, progress=False)
    short.train(tmp_path / "resumed", resume=True, progress=False)
    straight = load_file(tmp_path / "straight" / "checkpoints" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "checkpoints" / "last" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True, timeout=120)


def test_cli_predict_prints_the_digits_of_an_image(run_dir, tmp_path):
    out, _ = run_dir
    strings = TINY.strings("test")
    model, _ = load_reader(out)
    for index in range(len(strings)):  # an image the model reads right (most of them)
        with torch.no_grad():
            log_probs, _ = model(strings[index][0].unsqueeze(0))
        if [s - 1 for s in ctc_greedy_decode(log_probs)[0]] == strings.labels(index):
            break
    text = "".join(map(str, strings.labels(index)))
    write_png(tmp_path / "line.png", (strings.render(index) * 255).round().astype(np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "line.png"), "--top", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'line.png'}: {text}  ({text} ")
    # dark ink on white paper reads the same
    write_png(tmp_path / "paper.png", 255 - (strings.render(index) * 255).round().astype(np.uint8))
    assert get_recipe("mnist-ocr").predict(out, [str(tmp_path / "paper.png")], top=1)[0].split()[1] == text


def test_predict_refuses_an_image_of_another_height_in_one_line(run_dir, tmp_path):
    out, _ = run_dir
    write_png(tmp_path / "tall.png", np.zeros((28, 60), dtype=np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "tall.png"))
    assert result.returncode != 0
    assert "argument 'image' expected a grayscale image 16 pixels high" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_recipe_offers_the_protocol_and_its_model_summarises():
    recipe = get_recipe("mnist-ocr")
    assert recipe.name == "mnist-ocr" and recipe.description and "97 %" in recipe.target
    model, shape = recipe.summary_model()
    log_probs, lengths = model.eval()(torch.zeros(1, *shape))
    assert log_probs.shape == (1, shape[-1] // 4, 11) and lengths.tolist() == [shape[-1] // 4]
    result = run_cli("summary", "mnist-ocr")
    assert result.returncode == 0, result.stderr


@functools.cache
def reference_distance(a, b):
    """The recursive definition of the Levenshtein distance."""
    if not a or not b:
        return len(a) + len(b)
    return min(reference_distance(a[1:], b) + 1, reference_distance(a, b[1:]) + 1,
               reference_distance(a[1:], b[1:]) + (a[0] != b[0]))


@given(st.lists(st.integers(0, 3), max_size=7), st.lists(st.integers(0, 3), max_size=7))
def test_edit_distance_matches_the_recursive_definition(a, b):
    assert edit_distance(a, b) == reference_distance(tuple(a), tuple(b))


def test_string_accuracy_counts_exact_greedy_readings():
    strings = DigitStrings("test", 6, seed=1, height=16, scale=(0.5, 0.55), source=(GLYPHS, np.arange(10)))
    batch = collate_digit_strings([strings[i] for i in range(6)])
    targets, lengths = batch["targets"], batch["target_lengths"]
    steps = 2 * int(lengths.max()) + 1
    log_probs = torch.full((6, steps, 11), -10.0)
    log_probs[:, :, 0] = 0.0  # blank everywhere, then spell the truth with blanks between
    for row in range(6):
        for k, digit in enumerate(targets[row, :lengths[row]].tolist()):
            log_probs[row, 2 * k + 1] = -10.0
            log_probs[row, 2 * k + 1, digit + 1] = 0.0
    log_probs[[1, 4], 1] = torch.tensor([0.0] + [-10.0] * 10)  # these two lose their first digit
    metric = StringAccuracy()
    metric.update((log_probs, torch.full((6,), steps)), (targets, lengths))
    assert metric.compute() == pytest.approx(4 / 6)


@pytest.mark.slow
def test_full_recipe_reaches_its_target(tmp_path):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scores = get_recipe("mnist-ocr").train(tmp_path, device=device, progress=False)
    assert scores["test_string_accuracy"] >= 0.97


def test_the_report_of_a_run_renders(run_dir):
    from convrnn.tasks.report import build_report

    out, _ = run_dir
    page = build_report(out)
    assert 'id="run"' in page and 'id="curves"' in page
