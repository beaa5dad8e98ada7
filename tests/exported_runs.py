"""Shared check of the recipes' tests: a trained run, exported, predicts what the run predicts."""

from pathlib import Path

import pytest


def assert_exported_predicts_like_the_run(recipe, run, inputs, out: Path, formats=("onnx",), top=2):
    """``recipe.export(run)`` in each format, then ``recipe.predict`` from the file: the run's own lines."""
    pytest.importorskip("onnxruntime")
    expected = recipe.predict(run, inputs, top=top)
    for format in formats:
        path = recipe.export(run, out / f"model.{format}", format=format)
        assert path.is_file() and (out / f"model.{format}.json").is_file()
        assert recipe.predict(path, inputs, top=top) == expected, format
