"""The mnist-detect recipe end to end on small canvases of two fake shapes: a tiny YOLO learns to
find and tell them apart, the run directory holds the model, scores and the picture, evaluate and
predict work (predict from the CLI, drawing the boxes into a PNG), the exported network predicts
like the run, and the full recipe reaches its target (slow)."""

import json
import re
import subprocess
import sys
from dataclasses import replace
from functools import partial

import numpy as np
import pytest
import torch

from convrnn.data.digit_boxes import DigitBoxes
from convrnn.data.image_files import read_image, write_png
from convrnn.models.yolo import detect
from convrnn.recipes import get_recipe
from convrnn.tasks.detection import DetectRecipe
from exported_runs import assert_exported_predicts_like_the_run


def fake_shapes(count: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28×28 "digits" of two classes a tiny network tells apart: 0 a square ring, 1 a vertical bar."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):
        ink = int(rng.integers(150, 256))
        if i % 2 == 0:
            images[i, 6:22, 6:22] = ink
            images[i, 9:19, 9:19] = 0
        else:
            images[i, 4:24, 11:16] = ink
    return images, np.arange(count) % 2


IMAGES, CLASSES = fake_shapes()
TINY = DetectRecipe(
    name="mnist-detect", description="tiny", classes=("0", "1"), input_shape=(1, 32, 32),
    dataset=partial(DigitBoxes, images=IMAGES, classes=CLASSES, canvas_size=32, digits=(1, 2), heights=(8, 14)),
    sizes={"train": 96, "validation": 16, "test": 24},
    model_options={"channels": (8, 16, 32), "anchors": ((4.0, 11.0), (11.0, 11.0))},
    epochs=20, batch_size=8, lr=1e-2, target="finds rings and bars",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("detect")
    yield out, TINY.train(out, progress=False)
    torch.set_num_threads(threads)


def test_a_tiny_yolo_learns_to_find_and_tell_the_shapes(run_dir):
    _, scores = run_dir
    assert scores["test_map_50"] > 0.6 and scores["test_map"] > 0.3   # 0.81 and 0.45 here (240 steps)


def test_the_run_directory_holds_model_scores_log_and_picture(run_dir):
    out, scores = run_dir
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/best", "log.csv", "scores.json",
                 "detections-test.png"]:
        assert (out / path).exists(), path
    saved = json.loads((out / "scores.json").read_text())
    assert saved["test_map"] == scores["test_map"] and saved["test_canvases"] == 24
    assert {"test_map_50", "test_map_75", "test_ap_50_0", "test_ap_1"} <= set(saved)
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 20
    picture = read_image(out / "detections-test.png")
    assert picture.shape == (3, 2 * (4 * 32 + 4), 4 * (4 * 32 + 4))   # 8 canvases, 4 a row, enlarged 4 times


def test_evaluate_scores_the_split_again(run_dir):
    out, scores = run_dir
    result = TINY.evaluate(out, "test")
    assert result["map"] == pytest.approx(scores["test_map"]) and result["map_50"] == pytest.approx(
        scores["test_map_50"])
    assert (out / "detections-test.png").read_bytes().startswith(b"\x89PNG")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True, timeout=120)


def test_cli_predict_lists_the_boxes_and_draws_them_into_a_png(run_dir, tmp_path):
    out, _ = run_dir
    image, targets = TINY.data("test")[3]
    write_png(tmp_path / "canvas.png", (image[0].numpy() * 255).round().astype(np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "canvas.png"))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    target = out / "predictions" / "canvas.boxes.png"
    found = detect(TINY.load(out), read_image(tmp_path / "canvas.png")[None], score_threshold=0.5)[0]
    assert len(found.boxes) >= 1
    assert line.startswith(f"{tmp_path / 'canvas.png'}: 32×32, {len(found.boxes)} digit")
    assert line.endswith(f"boxes → {target}")
    listed = re.findall(r"(\d) \((\d\.\d\d)\) at \[([\d., ]+)\]", line)
    assert [(k, float(s)) for k, s, _ in listed] == [(str(int(k)), round(float(s), 2))
                                                    for k, s in zip(found.classes, found.scores)]
    boxes = torch.tensor([[float(v) for v in box.split(", ")] for _, _, box in listed])
    torch.testing.assert_close(boxes, found.boxes, atol=0.05, rtol=0)
    picture = read_image(target)
    assert picture.shape == (3, 128, 128)
    enlarged = np.repeat(np.repeat(read_image(tmp_path / "canvas.png")[0].numpy(), 4, 0), 4, 1)
    drawn = (picture.numpy() != np.round(enlarged * 255)[None] / 255).any(0)
    assert drawn.any()   # the outlines and captions are drawn over the enlarged canvas


def test_cli_predict_refuses_an_image_with_two_channels(run_dir, tmp_path):
    out, _ = run_dir
    np.save(tmp_path / "two.npy", np.zeros((2, 32, 32), dtype=np.float32))
    result = run_cli("predict", str(out), str(tmp_path / "two.npy"))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("expected a grey image (1 channel), got 2 channels")


def test_predict_on_an_empty_canvas_of_odd_size_finds_nothing(run_dir, tmp_path):
    out, _ = run_dir
    write_png(tmp_path / "empty.png", np.zeros((21, 35), dtype=np.uint8))
    (line,) = TINY.predict(out, [str(tmp_path / "empty.png")])
    assert line == f"{tmp_path / 'empty.png'}: 21×35, 0 digits; boxes → {out / 'predictions' / 'empty.boxes.png'}"
    assert read_image(out / "predictions" / "empty.boxes.png").shape == (3, 84, 140)


def test_exported_detector_predicts_like_the_run_at_any_canvas_size(run_dir, tmp_path):
    out, _ = run_dir
    image, _ = TINY.data("test")[0]
    write_png(tmp_path / "canvas.png", (image[0].numpy() * 255).round().astype(np.uint8))
    write_png(tmp_path / "odd.png", (image[0, :27, 3:].numpy() * 255).round().astype(np.uint8))
    assert_exported_predicts_like_the_run(TINY, out, [str(tmp_path / "canvas.png"), str(tmp_path / "odd.png")],
                                          out, formats=("onnx", "pt2"))   # beside the run: one predictions/


def test_limit_caps_the_training_canvases(tmp_path):
    scores = replace(TINY, epochs=1).train(tmp_path, limit=8, progress=False)
    assert scores["settings"]["train_canvases"] == 8


def test_the_registered_recipe_offers_the_protocol_and_a_full_size_detector():
    recipe = get_recipe("mnist-detect")
    assert recipe.name == "mnist-detect" and recipe.target and recipe.description and recipe.kind == "detection"
    model, shape = recipe.summary_model()
    assert shape == (1, 64, 64)
    assert model.eval()(torch.rand(2, *shape)).shape == (2, 3, 8, 8, 5 + 10)


@pytest.mark.slow
def test_the_full_recipe_reaches_its_target(tmp_path):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scores = get_recipe("mnist-detect").train(tmp_path, device=device, progress=False)
    assert scores["test_map_50"] >= 0.95 and scores["test_canvases"] == 2000
