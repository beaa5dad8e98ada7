"""Run directories: a run writes its scores once, in one shape, atomically; a trained run's model
directory is found in the run."""

import json

import pytest
import torch

from convrnn.tasks.runs import Run, model_directory, run_config
from convrnn.tasks.settings import Settings
from convrnn.training.checkpoint import save_model


def test_finish_writes_the_scores_with_the_run_facts(tmp_path):
    run = Run("probe", tmp_path / "out", Settings(3, 8, 0.1, device="cpu"))
    result = run.finish({"test_accuracy": 0.5}, {"epochs": 3})
    assert list(result) == ["recipe", "test_accuracy", "epochs", "wall_seconds", "threads", "device", "machine",
                            "settings", "launch"]
    assert result["launch"] == {"world_size": 1, "per_rank_batch": 8, "backend": None}
    assert result["recipe"] == "probe" and result["epochs"] == 3 and result["device"] == "cpu"
    assert result["threads"] == torch.get_num_threads() and result["wall_seconds"] >= 0
    assert json.loads((tmp_path / "out" / "scores.json").read_text()) == result


def test_the_model_directory_of_a_run_is_found_in_it(tmp_path):
    save_model(tmp_path / "run" / "model", torch.nn.Linear(1, 1), {"recipe": "probe"})
    assert model_directory(tmp_path / "run") == tmp_path / "run" / "model"
    assert model_directory(tmp_path / "run" / "model") == tmp_path / "run" / "model"
    assert run_config(tmp_path / "run") == {"recipe": "probe"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no model"):
        model_directory(tmp_path / "empty")
