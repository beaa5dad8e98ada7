"""The small VGG and GoogLeNet recipes (fashion-mnist-vgg, fashion-mnist-googlenet): each recipe, with
its own model and settings, learns a generated 28×28 task end to end; their full-data scores under
-m slow."""

from dataclasses import replace

import pytest
import torch

from convrnn.data.image_dataset import ImageDataset
from convrnn.recipes import get_recipe
from convrnn.tasks.image import train_recipe

NAMES = ("fashion-mnist-vgg", "fashion-mnist-googlenet")


def bars(split: str, *, normalize: bool = False, random_shift: int = 0) -> ImageDataset:
    """Ten 28×28 classes: class k lights rows 2k + 4 and 2k + 5, plus noise."""
    count = {"train": 320, "validation": 100, "test": 100}[split]
    generator = torch.Generator().manual_seed({"train": 0, "validation": 1, "test": 2}[split])
    labels = torch.arange(count) % 10
    images = 0.2 * torch.rand(count, 1, 28, 28, generator=generator)
    for i, k in enumerate(labels.tolist()):
        images[i, 0, 2 * k + 4: 2 * k + 6, 3:25] += 0.7
    mean, std = (0.2, 0.3) if normalize else (None, None)
    return ImageDataset(images.clamp(0, 1), labels, classes=[str(i) for i in range(10)], mean=mean, std=std,
                        random_shift=random_shift)


@pytest.mark.parametrize("name", NAMES)
def test_recipe_network_learns_a_generated_task_with_the_recipes_settings(name, tmp_path):
    recipe = get_recipe(name)
    assert recipe.model in ("vgg-small", "inception-small") and recipe.optimizer == "adamw"
    scores = train_recipe(replace(recipe, dataset=bars, random_shift=1), tmp_path, epochs=4, batch_size=32,
                          progress=False)
    assert scores["test_accuracy"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_recipe_beats_90_percent_on_the_full_test_set(name, tmp_path):
    """A floor below the ResNet's 92 % target: the defaults (12 epochs) have not been run to the end
    yet; 2 epochs of fashion-mnist-vgg reached 89.2 %."""
    scores = train_recipe(get_recipe(name), tmp_path, progress=False)
    assert scores["test_accuracy"] >= 0.90
