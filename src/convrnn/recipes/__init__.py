"""One file per seed task — data + model + training settings, nothing else — and a registry.

A recipe is one instance of a task kind (:mod:`convrnn.tasks`: ``ImageRecipe``,
``LanguageModelRecipe``, …), whose ``kind`` names it in ``convrnn train --list``.
``get_recipe(name)`` returns the recipe object of ``convrnn/recipes/<name>.py`` (dashes in the
name become underscores in the file name). The registry is the directory itself: a new recipe is
a new file with a module-level ``RECIPE``; ``RECIPE_NAMES`` lists the seed tasks first, in the
order the README's table shows them, then any other recipe file alphabetically.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

_SEED_ORDER = ("mnist", "lenet5", "fashion-mnist", "fashion-mnist-vgg", "fashion-mnist-googlenet", "digits",
               "keyword", "keyword-causal", "spoken-digits", "japanese-vowels", "sunspots", "rotten-tomatoes",
               "brown-pos", "shakespeare", "ptb-word", "word2vec", "mnist-ocr", "mnist-segment", "mnist-detect", "g2p")


def _discover() -> tuple[str, ...]:
    found = {info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}
    ordered = [name for name in _SEED_ORDER if name in found]
    return (*ordered, *sorted(found - set(ordered)))


RECIPE_NAMES: tuple[str, ...] = _discover()


def get_recipe(name: str) -> Any:
    """The ``RECIPE`` object of the recipe called ``name``."""
    if name not in RECIPE_NAMES:
        raise KeyError(f"unknown recipe {name!r}; expected one of {list(RECIPE_NAMES)}")
    module = importlib.import_module(f"convrnn.recipes.{name.replace('-', '_')}")
    return module.RECIPE


__all__ = ["RECIPE_NAMES", "get_recipe"]
