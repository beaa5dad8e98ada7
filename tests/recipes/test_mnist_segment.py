"""The mnist-segment recipe end to end on small canvases of fake digits: a tiny FCN learns to tell
digit strokes from background, the run directory holds the model, scores and the picture grid,
eval and predict work from the CLI, and the full recipe reaches its target (slow)."""

import json
import subprocess
import sys
from dataclasses import replace
from functools import partial

import numpy as np
import pytest
import torch

from convrnn.data.digit_canvas import BACKGROUND, SEGMENT_CLASSES, DigitCanvases
from convrnn.data.image_files import write_png
from convrnn.recipes import get_recipe
from convrnn.tasks.segmentation import SegmentRecipe, predict_labels
from convrnn.training.metrics_segmentation import confusion_matrix, intersection_over_union


def fake_digits(count: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28×28 "digits": random strokes of bright ink in the central 20×20, class i mod 10."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):
        ink = rng.random((20, 20)) < 0.3
        images[i, 4:24, 4:24] = np.where(ink, rng.integers(60, 256, (20, 20)), 0)
    return images, np.arange(count) % 10


IMAGES, CLASSES = fake_digits()
TINY = SegmentRecipe(
    name="mnist-segment", description="tiny", classes=SEGMENT_CLASSES, input_shape=(1, 32, 32),
    dataset=partial(DigitCanvases, images=IMAGES, classes=CLASSES, canvas_size=32, digits=(1, 2)),
    sizes={"train": 48, "validation": 16, "test": 16}, model_options={"channels": (8, 16)},
    epochs=20, batch_size=8, lr=2e-2, scheduler="none", target="learns stroke vs background",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("segment")
    yield out, TINY.train(out, progress=False)
    torch.set_num_threads(threads)   # later modules run with the usual count


def test_a_tiny_fcn_learns_to_separate_digits_from_background(run_dir):
    out, _ = run_dir
    test = TINY.data("test")
    images, labels = test[list(range(len(test)))]
    with torch.no_grad():
        background = TINY.load(out)(images).softmax(1)[:, BACKGROUND]
    # the fake digits' classes are random blobs, so only "some digit" vs background is learnable:
    # a pixel is called a stroke where the background is less likely than all digits together
    iou = intersection_over_union(confusion_matrix((background < 0.5).long(), (labels != BACKGROUND).long(), 2))
    assert iou[1] > 0.9 and iou[0] > 0.97  # stroke, background


def test_the_run_directory_holds_model_scores_log_and_grid(run_dir):
    out, scores = run_dir
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/best", "log.csv", "scores.json",
                 "segmentation-test.png"]:
        assert (out / path).exists(), path
    saved = json.loads((out / "scores.json").read_text())
    assert saved["test_mean_iou"] == scores["test_mean_iou"] and saved["test_canvases"] == 16
    assert {f"test_iou_{name}" for name in SEGMENT_CLASSES} <= set(saved)
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 20


def test_evaluate_scores_the_split_and_writes_its_grid(run_dir):
    out, scores = run_dir
    result = TINY.evaluate(out, "validation")
    assert set(result) >= {"loss", "mean_iou", "pixel_accuracy", "iou_background"}
    assert all(isinstance(value, float) for value in result.values())
    assert (out / "segmentation-validation.png").read_bytes().startswith(b"\x89PNG")
    assert TINY.evaluate(out, "test")["mean_iou"] == pytest.approx(scores["test_mean_iou"])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True, timeout=120)


def test_cli_predict_prints_pixel_counts_and_writes_the_label_map(run_dir, tmp_path):
    out, _ = run_dir
    image, labels = TINY.data("test")[0]
    write_png(tmp_path / "canvas.png", (image[0].numpy() * 255).round().astype(np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "canvas.png"))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    target = out / "predictions" / "canvas.labels.png"
    assert line.startswith(f"{tmp_path / 'canvas.png'}: 32×32, digits ") and line.endswith(f"label map → {target}")
    counts = torch.bincount(predict_labels(TINY.load(out), image[None])[0].reshape(-1), minlength=11)
    assert f"background {int(counts[BACKGROUND])} px" in line
    assert target.read_bytes().startswith(b"\x89PNG")


def test_cli_predict_refuses_a_colour_image_with_two_channels(run_dir, tmp_path):
    out, _ = run_dir
    np.save(tmp_path / "two.npy", np.zeros((2, 32, 32), dtype=np.float32))
    result = run_cli("predict", str(out), str(tmp_path / "two.npy"))
    assert result.returncode != 0
    assert "expected a grey image (1 channel), got 2 channels" in result.stderr


def test_train_arguments_are_checked_by_name(tmp_path):
    with pytest.raises(ValueError, match="argument 'limit' expected an int ≥ 1, got 0"):
        TINY.train(tmp_path, limit=0, progress=False)
    with pytest.raises(ValueError, match="argument 'epochs' expected an int ≥ 1, got 0"):
        TINY.train(tmp_path, epochs=0, progress=False)


def test_the_registered_recipe_offers_the_protocol_and_a_full_size_fcn():
    recipe = get_recipe("mnist-segment")
    assert recipe.name == "mnist-segment" and recipe.target and recipe.description
    model, shape = recipe.summary_model()
    assert shape == (1, 64, 64)
    assert model.eval()(torch.rand(2, *shape)).shape == (2, 11, 64, 64)


@pytest.mark.slow
def test_the_full_recipe_reaches_its_target(tmp_path):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scores = get_recipe("mnist-segment").train(tmp_path, device=device, progress=False)
    assert scores["test_mean_iou"] >= 0.85 and scores["test_canvases"] == 2000


def test_limit_caps_the_training_canvases(tmp_path):
    scores = replace(TINY, epochs=1).train(tmp_path, limit=8, progress=False)
    assert scores["settings"]["train_canvases"] == 8


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    recipe = replace(TINY, epochs=3, sizes={"train": 16, "validation": 8, "test": 8})
    recipe.train(tmp_path / "straight", progress=False)
    recipe.train(tmp_path / "resumed", epochs=2, progress=False)
    recipe.train(tmp_path / "resumed", resume=True, progress=False)  # the running confusion matrix is restored too
    straight = load_file(tmp_path / "straight" / "checkpoints" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "checkpoints" / "last" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)
    assert len((tmp_path / "resumed" / "log.csv").read_text().splitlines()) == 1 + 3


def test_the_report_of_a_run_shows_its_input_truth_prediction_grid(run_dir):
    from convrnn.tasks.report import build_report

    out, _ = run_dir
    page = build_report(out)
    assert 'id="pictures"' in page and "segmentation-test.png" in page
