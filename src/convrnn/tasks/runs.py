"""Run directories, for every task kind: a run in progress (its directory, settings and clock, and
its ``scores.json`` at the end) and a trained run loaded back (its model, rebuilt from its config).

A run directory holds, whatever its task::

    OUT/checkpoints/{last,best}/   resumable checkpoints (safetensors + JSON, SHA-256 manifest)
    OUT/model/                     the final model: best weights + config (what eval/predict load)
    OUT/<other>/                   further models of some recipes (``cnn``, ``baseline``)
    OUT/log.csv                    one row per epoch (``<other>_log.csv`` for the others)
    OUT/scores.json                test scores, wall time, settings, launch (processes, per-process batch)
    OUT/.lock                      only while a run trains into OUT: its pid, host and start (a second run
                                   is refused; see convrnn.training.run_lock)

Under torchrun rank 0 alone writes it; every process reads the checkpoints back.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from convrnn.export import ExportedModel, is_exported, read_contract
from convrnn.tasks.settings import Settings
from convrnn.training.checkpoint import load_model_weights, read_config, recover_interrupted_save
from convrnn.training.distributed import is_main_process
from convrnn.training.files import write_json


def model_directory(path: str | os.PathLike[str]) -> Path:
    """The model directory inside a run directory, or ``path`` itself if it is one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run or model directory: '{path}'")
    for candidate in (path, path / "model", path / "checkpoints" / "best"):
        if (recover_interrupted_save(candidate) / "config.json").is_file():
            return candidate
    raise FileNotFoundError(f"'{path}' holds no model (no config.json in it, in model/ or in checkpoints/best/)")


def run_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The saved config of the (main) model of a run or model directory, or of an exported model
    file (``convrnn export``: its contract keeps it)."""
    if is_exported(path):
        return read_contract(path).get("config") or {}
    return read_config(model_directory(path))


def load_saved_model(run: str | os.PathLike[str], rebuild: Callable[[dict[str, Any]], nn.Module], *,
                     name: str = "model") -> tuple[nn.Module, dict[str, Any]]:
    """Model ``name`` of a run directory (``"model"``: the main one, which ``run`` may also be the
    directory of) rebuilt by ``rebuild(config)``, its weights loaded, in eval mode; and its config.
    ``run`` may also be an exported model file (``.onnx``/``.pt2``): its :class:`ExportedModel`, which
    predict calls like the model, and the config its contract keeps."""
    if is_exported(run) and name == "model":
        exported = ExportedModel(run)
        if "stream" in exported.contract:
            raise ValueError(f"'{run}' is a stream's chunk model (`convrnn export --stream`), which runs a signal "
                             f"chunk by chunk: `convrnn listen {run} …` runs it")
        return exported, exported.contract.get("config") or {}
    directory = model_directory(run) if name == "model" else Path(run) / name
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"'{run}' holds no '{name}' model (no {directory / 'config.json'})")
    config = read_config(directory)
    try:
        model = rebuild(config)
    except ValueError as error:
        raise ValueError(f"'{directory}': {error}") from None
    load_model_weights(directory, model)
    return model.eval(), config


def machine() -> str:
    """The processor (or machine type) a run's scores are recorded with."""
    return platform.processor() or platform.machine()


@dataclass
class Run:
    """One training run under way: the recipe's name, the run directory, the settings after the
    command line's overrides, those overrides as given (``given["epochs"]`` is None where the
    recipe's default holds), and the clock started when it began."""

    name: str
    out: Path
    settings: Settings
    given: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        """Wall time since the run began, to 0.1 s."""
        return round(time.perf_counter() - self.started, 1)

    def finish(self, scores: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """``{"recipe", **scores, "epochs", "wall_seconds", "threads", "device", "machine", "settings",
        "launch"}``, written to ``out/scores.json`` (atomically) and returned."""
        return self.write({"recipe": self.name, **scores, "epochs": self.settings.epochs,
                           "wall_seconds": self.seconds(), "threads": torch.get_num_threads(),
                           "device": self.settings.device, "machine": machine(), "settings": settings})

    def write(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` with ``"launch"`` (how many processes trained it: see
        :meth:`convrnn.tasks.settings.Settings.launch`), written to ``out/scores.json`` atomically
        by rank 0 alone, and returned."""
        result = {**result, "launch": result.get("launch", self.settings.launch())}
        if is_main_process():
            write_json(self.out / "scores.json", result)
        return result


__all__ = ["Run", "load_saved_model", "machine", "model_directory", "run_config"]
