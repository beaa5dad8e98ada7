"""Image recipes end to end on generated data: training lowers the loss, the run directory is
complete, resume continues, eval/predict/summary work from the CLI, bad input gives one line."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from convrnn.data.image_dataset import ImageDataset
from convrnn.data.image_files import read_image, write_png
from convrnn.recipes import RECIPE_NAMES, get_recipe
from convrnn.tasks.image import ImageRecipe, load_trained, predict_images, train_recipe
from exported_runs import assert_exported_predicts_like_the_run


def synthetic_digits(split: str, *, normalize: bool = False, random_shift: int = 0) -> ImageDataset:
    """Ten 8×8 classes: class k lights row k mod 8 (and column k // 8 + 1 for k ≥ 8), plus noise."""
    count = {"train": 400, "validation": 100, "test": 100}[split]
    generator = torch.Generator().manual_seed({"train": 0, "validation": 1, "test": 2}[split])
    labels = torch.arange(count) % 10
    images = 0.1 * torch.rand(count, 1, 8, 8, generator=generator)
    for i, k in enumerate(labels.tolist()):
        images[i, 0, k % 8, :] += 0.8
        if k >= 8:
            images[i, 0, :, k - 6] += 0.8
    images = images.clamp(0, 1)
    mean, std = (0.2, 0.3) if normalize else (None, None)
    return ImageDataset(images, labels, classes=[str(i) for i in range(10)], mean=mean, std=std,
                        random_shift=random_shift)


RECIPE = ImageRecipe(name="digits", description="synthetic", dataset=synthetic_digits, model="digits-cnn",
                     epochs=3, batch_size=32, lr=3e-3)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    scores = train_recipe(RECIPE, out, progress=False)
    return out, scores


def test_training_learns_and_writes_a_complete_run_directory(run_dir):
    out, scores = run_dir
    assert scores["test_accuracy"] > 0.9
    for path in ["model/model.safetensors", "model/config.json", "checkpoints/last", "checkpoints/best",
                 "log.csv", "scores.json"]:
        assert (out / path).exists(), path
    rows = (out / "log.csv").read_text().splitlines()
    assert len(rows) == 1 + 3
    assert json.loads((out / "scores.json").read_text())["test_accuracy"] == scores["test_accuracy"]


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    recipe = replace(RECIPE, scheduler="none", random_shift=1)
    train_recipe(recipe, tmp_path / "straight", epochs=3, progress=False)
    train_recipe(recipe, tmp_path / "resumed", epochs=2, progress=False)
    train_recipe(recipe, tmp_path / "resumed", epochs=3, resume=True, progress=False)
    assert len((tmp_path / "resumed" / "log.csv").read_text().splitlines()) == 1 + 3
    straight = load_file(tmp_path / "straight" / "checkpoints" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "checkpoints" / "last" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def test_resume_with_other_epochs_of_a_one_cycle_run_is_refused(run_dir):
    out, _ = run_dir
    with pytest.raises(ValueError, match=r"one-cycle schedule over epochs=3; resume it with the same epochs, got 5"):
        train_recipe(RECIPE, out, epochs=5, resume=True, progress=False)


def test_loaded_model_predicts_like_the_trained_one(run_dir):
    out, _ = run_dir
    model, config = load_trained(out)
    test = synthetic_digits("test")
    probabilities = predict_images(model, config, test.images[:20])
    assert torch.allclose(probabilities.sum(1), torch.ones(20))
    assert (probabilities.argmax(1) == test.labels[:20]).float().mean() > 0.9


def test_png_and_npy_images_round_trip(tmp_path):
    pixels = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    write_png(tmp_path / "a.png", pixels)
    np.save(tmp_path / "a.npy", pixels)
    for name in ("a.png", "a.npy"):
        image = read_image(tmp_path / name)
        assert image.shape == (1, 8, 8)
        np.testing.assert_allclose(image[0].numpy(), pixels / 255.0, atol=1e-6)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "convrnn", *args], capture_output=True, text=True, timeout=120)


def test_cli_predict_prints_classes_for_an_image(run_dir, tmp_path):
    out, _ = run_dir
    image = synthetic_digits("test").images[3, 0].numpy()
    write_png(tmp_path / "three.png", (image * 255).astype(np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "three.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'three.png'}: 3 ")


def test_cli_summary_of_a_run_directory(run_dir):
    out, _ = run_dir
    result = run_cli("summary", str(out))
    assert result.returncode == 0, result.stderr
    assert "16×3×3×1 + 16 = 160" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "imagenet"], "unknown recipe 'imagenet'"),
        (["eval", "/no/such/run"], "no such run or model directory"),
        (["predict", "/no/such/run", "x.png"], "no such run or model directory"),
        (["summary", "vgg"], "unknown model 'vgg'"),
        (["train", "digits", "--epochs", "0"], "'epochs' expected an int ≥ 1, got 0"),
    ],
)
def test_cli_bad_input_is_one_line_without_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_predict_wrong_image_size_is_one_line(run_dir, tmp_path):
    out, _ = run_dir
    write_png(tmp_path / "big.png", np.zeros((28, 28), dtype=np.uint8))
    result = run_cli("predict", str(out), str(tmp_path / "big.png"))
    assert result.returncode == 2
    assert "expected images of shape (1, 8, 8) (C, H, W), got (1, 28, 28)" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_recipe_offers_the_protocol_the_cli_uses():
    from convrnn.models import MODELS

    for name in RECIPE_NAMES:
        recipe = get_recipe(name)
        assert recipe.name == name and recipe.description and recipe.target
        for method in ("train", "evaluate", "predict", "summary_model"):
            assert callable(getattr(recipe, method)), (name, method)
        if isinstance(recipe, ImageRecipe):
            assert recipe.model in MODELS and callable(recipe.dataset)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "threshold"), [("mnist", 0.992), ("lenet5", 0.989), ("fashion-mnist", 0.92),
                                                 ("digits", 0.92)])
def test_recipe_reaches_its_target_on_the_full_test_set(name, threshold, tmp_path):
    scores = train_recipe(get_recipe(name), tmp_path, progress=False)
    assert scores["test_accuracy"] >= threshold


def test_exported_model_predicts_like_the_run_from_the_cli(run_dir, tmp_path):
    """`convrnn export RUN` (ONNX) and `--format pt2 --out FILE`; `convrnn predict FILE` prints the run's lines."""
    pytest.importorskip("onnxruntime")
    out, _ = run_dir
    image = synthetic_digits("test")[3][0][0].numpy()
    write_png(tmp_path / "three.png", (image * 255).astype(np.uint8))
    from_run = run_cli("predict", str(out), str(tmp_path / "three.png"))
    exported = run_cli("export", str(out), "--out", str(tmp_path / "digits.onnx"))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"digits: wrote {tmp_path / 'digits.onnx'} and its contract digits.onnx.json\n"
    assert exported.stderr == ""
    assert run_cli("predict", str(tmp_path / "digits.onnx"), str(tmp_path / "three.png")).stdout == from_run.stdout
    assert_exported_predicts_like_the_run(RECIPE, out, [str(tmp_path / "three.png")], tmp_path, formats=("pt2",))


def test_export_refusals_are_one_line(run_dir, tmp_path):
    out, _ = run_dir
    result = run_cli("export", str(out), "--out", str(tmp_path))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "argument 'out' expected a file to write, got" in result.stderr
    result = run_cli("export", str(tmp_path / "missing"))
    assert result.returncode == 2 and result.stderr.startswith("convrnn: error: ")
