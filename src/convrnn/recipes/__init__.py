"""One file per seed task — data + model + training settings, nothing else — and a registry.

``get_recipe(name)`` returns the recipe object of ``convrnn/recipes/<name>.py`` (dashes in the
name become underscores in the file name).
"""

from __future__ import annotations

import importlib
from typing import Any

RECIPE_NAMES = ("mnist", "lenet5", "fashion-mnist", "digits", "keyword",
                "japanese-vowels", "sunspots", "rotten-tomatoes", "brown-pos", "shakespeare", "ptb-word")


def get_recipe(name: str) -> Any:
    """The ``RECIPE`` object of the recipe called ``name``."""
    if name not in RECIPE_NAMES:
        raise KeyError(f"unknown recipe {name!r}; expected one of {list(RECIPE_NAMES)}")
    module = importlib.import_module(f"convrnn.recipes.{name.replace('-', '_')}")
    return module.RECIPE


__all__ = ["RECIPE_NAMES", "get_recipe"]
