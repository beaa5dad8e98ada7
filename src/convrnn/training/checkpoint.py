"""Checkpoints as directories of safetensors + JSON, written atomically, verified by SHA-256.

A checkpoint directory holds::

    manifest.json            SHA-256 and size of every other file (written last)
    config.json              {"config": ..., "metadata": ..., "convrnn_version": ...}
    model.safetensors        the model's state dict
    optimizer.json/.safetensors, scheduler.json/.safetensors, rng.json/.safetensors,
    training.json/.safetensors      (each only when saved; see convrnn.training.state_tree)

Nothing is pickled, so loading a checkpoint never runs code. A save writes into a temporary
directory beside the target and renames it into place, so a run killed mid-save leaves the
previous checkpoint whole; a file that was truncated or changed after saving fails its hash and
is refused by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
from safetensors.torch import load as tensors_from_bytes  # safetensors bytes → dict of tensors, no pickle
from torch import Tensor, nn
from torch.optim import Optimizer

from convrnn import __version__
from convrnn.training.distributed import unwrap_model
from convrnn.training.seeding import get_rng_state, set_rng_state
from convrnn.training.state_tree import flatten, unflatten

__all__ = [
    "CheckpointError",
    "LoadedCheckpoint",
    "load_checkpoint",
    "load_model_weights",
    "read_config",
    "recover_interrupted_save",
    "save_checkpoint",
    "save_model",
]

MANIFEST = "manifest.json"
_FORMAT = "convrnn.checkpoint"
_FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory is incomplete, truncated, modified or does not match the model."""


@dataclass
class LoadedCheckpoint:
    """What :func:`load_checkpoint` read besides the states it loaded into the given objects.

    ``config`` rebuilds the model (``{"recipe": name, "model": {...}}`` by convention);
    ``training`` is the loop's own state (epoch, step, history, callbacks) or ``None``.
    """

    directory: Path
    config: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    training: Any = None


# ----------------------------------------------------------------------------- writing


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    optimizer: Optimizer | None = None,
    scheduler: Any = None,
    *,
    config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    training: Any = None,
    rng: bool = True,
) -> Path:
    """Write a resumable checkpoint to ``directory`` atomically and return its path.

    ``model`` may be wrapped in DDP or ``torch.compile``; the inner module's state is saved.
    ``config`` and ``metadata`` must be JSON-serialisable; ``training`` may mix JSON values and
    tensors. With ``rng=True`` the states of Python's, NumPy's and torch's generators are saved,
    so a resumed run draws the same dropout masks and augmentations.
    """
    files = {
        "config.json": _config_bytes(config, metadata),
        "model.safetensors": _model_bytes(model),
    }
    if optimizer is not None:
        files.update(_tree_files("optimizer", optimizer.state_dict()))
    if scheduler is not None:
        files.update(_tree_files("scheduler", scheduler.state_dict()))
    if rng:
        scalars, tensors = get_rng_state()
        files.update(_tree_files("rng", {"scalars": scalars, "tensors": tensors}))
    if training is not None:
        files.update(_tree_files("training", training))
    return _write_directory_atomically(Path(directory), files)


def save_model(
    directory: str | os.PathLike[str],
    model: nn.Module,
    config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write only the weights and the config (a final model file, no optimizer or RNG state)."""
    files = {
        "config.json": _config_bytes(config, metadata),
        "model.safetensors": _model_bytes(model),
    }
    return _write_directory_atomically(Path(directory), files)


def _config_bytes(config: Any, metadata: Any) -> bytes:
    if not isinstance(config, dict):
        raise TypeError(f"checkpoint: argument 'config' expected a dict, got {type(config).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(
            f"checkpoint: argument 'metadata' expected a dict or None, got {type(metadata).__name__}"
        )
    document = {"config": config, "metadata": metadata or {}, "convrnn_version": __version__}
    try:
        return json.dumps(document, indent=2, sort_keys=True).encode()
    except TypeError as error:
        raise TypeError(f"checkpoint: 'config' and 'metadata' must be JSON-serialisable: {error}") \
            from error


def _model_bytes(model: nn.Module) -> bytes:
    if not isinstance(model, nn.Module):
        raise TypeError(f"checkpoint: argument 'model' expected an nn.Module, got {type(model).__name__}")
    state = unwrap_model(model).state_dict()
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise TypeError(
                f"checkpoint: model state '{key}' expected a tensor, got {type(value).__name__}"
            )
    _, tensors = flatten(dict(state), where="model")
    # flatten's keys carry a "model." prefix; store the state dict's own keys
    tensors = {key.removeprefix("model."): value for key, value in tensors.items()}
    return safetensors.torch.save(tensors, metadata={"format": "pt"})


def _tree_files(stem: str, tree: Any) -> dict[str, bytes]:
    json_tree, tensors = flatten(tree, where=stem)
    files = {f"{stem}.json": json.dumps(json_tree).encode()}
    if tensors:
        files[f"{stem}.safetensors"] = safetensors.torch.save(tensors)
    return files


def recover_interrupted_save(directory: str | os.PathLike[str]) -> Path:
    """Put back the last complete checkpoint or model of ``directory`` if a save was killed between its two
    renames (``directory`` missing, ``.NAME.previous`` beside it holding the old one); returns ``directory``.
    A save does this first anyway; call it before asking whether a checkpoint exists (``--resume``)."""
    target = Path(directory).absolute()
    previous = target.parent / f".{target.name}.previous"
    if previous.is_dir() and not target.exists():
        with contextlib.suppress(OSError):   # read-only: loading still finds it (load_checkpoint warns)
            os.replace(previous, target)
    return Path(directory)


def _write_directory_atomically(target: Path, files: dict[str, bytes]) -> Path:
    target = target.absolute()
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    previous = parent / f".{target.name}.previous"
    recover_interrupted_save(target)  # an earlier save died between its two renames: the last good one first
    for stale in parent.glob(f".{target.name}.partial-*"):  # left by a save that was killed
        shutil.rmtree(stale, ignore_errors=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))
    try:
        manifest = {"format": _FORMAT, "version": _FORMAT_VERSION, "files": {}}
        for name, data in files.items():
            _write_file(temporary / name, data)
            manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                       "bytes": len(data)}
        # the manifest goes last: a directory without one was never finished
        _write_file(temporary / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        _fsync_directory(temporary)
        if target.exists():
            if previous.exists():
                shutil.rmtree(previous)
            os.replace(target, previous)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if previous.exists() and not target.exists():  # the old one was moved aside, the new one never came
            os.replace(previous, target)
        raise
    shutil.rmtree(previous, ignore_errors=True)
    _fsync_directory(parent)  # after the commit: a failure here leaves the new checkpoint, complete
    return target


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ----------------------------------------------------------------------------- reading


def load_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module | None = None,
    optimizer: Optimizer | None = None,
    scheduler: Any = None,
    *,
    restore_rng: bool = False,
    strict: bool = True,
) -> LoadedCheckpoint:
    """Verify ``directory`` against its manifest, load the states into the objects given, and
    return the config, metadata and training state.

    Raises :class:`CheckpointError` if the manifest is missing, a file is missing, truncated or
    modified, or an optimizer/scheduler/RNG state is asked for that the checkpoint lacks.
    With ``strict=True`` the model's keys must match exactly (as in ``load_state_dict``).
    """
    path, files = _read_verified(directory)
    # refuse before loading anything, so a failed load never leaves objects half-restored
    for stem, wanted in (("optimizer", optimizer), ("scheduler", scheduler), ("rng", restore_rng)):
        if wanted is not None and wanted is not False and f"{stem}.json" not in files:
            raise CheckpointError(
                f"checkpoint '{path}' holds no {stem} state ({stem}.json is absent); "
                "is it a final model rather than a training checkpoint?"
            )
    document = _config_document(path, files)
    loaded = LoadedCheckpoint(path, document["config"], document.get("metadata", {}))
    # every file parsed and the model's weights matched before anything is set; the states then go in
    # with a way back (torch's loaders replace their objects' states, they do not write into them)
    weights = _model_tensors(path, files, model, strict) if model is not None else None
    trees = {stem: _read_tree(path, files, stem) for stem, wanted in
             (("optimizer", optimizer), ("scheduler", scheduler), ("rng", restore_rng)) if wanted not in (None, False)}
    if "training.json" in files:
        loaded.training = _read_tree(path, files, "training")
    undo: list[Any] = []
    try:
        with _naming_the_state(path, "optimizer"):
            if optimizer is not None:
                undo.append((optimizer.load_state_dict, optimizer.state_dict()))
                optimizer.load_state_dict(trees["optimizer"])
        with _naming_the_state(path, "scheduler"):
            if scheduler is not None:
                undo.append((scheduler.load_state_dict, dict(scheduler.state_dict())))
                scheduler.load_state_dict(trees["scheduler"])
        with _naming_the_state(path, "rng"):
            if restore_rng:
                set_rng_state(trees["rng"]["scalars"], trees["rng"]["tensors"])   # all or nothing itself
    except BaseException:
        for restore, previous in reversed(undo):
            restore(previous)
        raise
    if model is not None:
        _load_model(path, model, weights, strict)
    return loaded


def load_model_weights(
    directory: str | os.PathLike[str], model: nn.Module, *, strict: bool = True
) -> dict[str, Any]:
    """Load the weights of a :func:`save_model` or :func:`save_checkpoint` directory into
    ``model`` and return its config."""
    path, files = _read_verified(directory)
    _load_model(path, model, _model_tensors(path, files, model, strict), strict)
    return _config_document(path, files)["config"]


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The config saved with a checkpoint or model (verified), to rebuild the model before
    loading its weights."""
    path, files = _read_verified(directory)
    return _config_document(path, files)["config"]


def _tensors(path: Path, name: str, data: bytes) -> dict[str, Tensor]:
    """The tensors of safetensors file ``name``; a ``CheckpointError`` naming it if they cannot be parsed (a
    file whose manifest was forged to match, since a changed file without that fails its hash first)."""
    try:
        return tensors_from_bytes(data)
    except Exception as error:  # safetensors raises its own SafetensorError, and others for bad headers
        raise CheckpointError(f"checkpoint '{path}': file '{name}' is not valid safetensors "
                              f"({_one_line(str(error))})") from None


def _config_document(path: Path, files: dict[str, bytes]) -> dict[str, Any]:
    document = _json(path, files, "config.json")
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict) \
            or not isinstance(document.get("metadata", {}), dict):
        raise CheckpointError(f"checkpoint '{path}': config.json is not a convrnn config (expected an object with "
                              f"a 'config' object)")
    return document


@contextlib.contextmanager
def _naming_the_state(path: Path, stem: str) -> Iterator[None]:
    """A state that parses but does not fit its object (a forged or foreign file) becomes a CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError, AttributeError, OverflowError) as error:
        raise CheckpointError(f"checkpoint '{path}': its {stem} state cannot be restored "
                              f"({_one_line(str(error))})") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _json(path: Path, files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name])
    except ValueError as error:
        raise CheckpointError(f"checkpoint '{path}': file '{name}' is not valid JSON ({error})") from None


def _model_tensors(path: Path, files: dict[str, bytes], model: nn.Module, strict: bool) -> dict[str, Tensor]:
    """The checkpoint's weights, checked against ``model``'s names and shapes (what ``load_state_dict`` would
    refuse after copying the tensors that did fit)."""
    tensors = _tensors(path, "model.safetensors", files["model.safetensors"])
    own = unwrap_model(model).state_dict()
    problems = [f"{name}: {tuple(tensors[name].shape)} in the checkpoint, {tuple(value.shape)} in the model"
                for name, value in own.items() if name in tensors and tensors[name].shape != value.shape]
    if strict:
        problems += [f"missing {name}" for name in own if name not in tensors]
        problems += [f"unexpected {name}" for name in tensors if name not in own]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise CheckpointError(f"checkpoint '{path}': the model does not match its weights: {shown}")
    return tensors


def _load_model(path: Path, model: nn.Module, tensors: dict[str, Tensor], strict: bool) -> None:
    try:
        unwrap_model(model).load_state_dict(tensors, strict=strict)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint '{path}': the model does not match its weights: "
                              f"{' '.join(str(error).split())}") from error


def _read_tree(path: Path, files: dict[str, bytes], stem: str) -> Any:
    if f"{stem}.json" not in files:
        raise CheckpointError(f"checkpoint '{path}' holds no {stem} state ({stem}.json is absent)")
    tensor_file = files.get(f"{stem}.safetensors")
    tensors = _tensors(path, f"{stem}.safetensors", tensor_file) if tensor_file is not None else {}
    try:
        return unflatten(_json(path, files, f"{stem}.json"), tensors)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint '{path}': the {stem} state does not match its tensors "
                              f"({_one_line(str(error))})") from None


def _read_verified(directory: str | os.PathLike[str]) -> tuple[Path, dict[str, bytes]]:
    """Read every file the manifest lists, checking size and SHA-256 of the bytes actually read."""
    path = Path(directory).absolute()
    if not path.is_dir():
        previous = path.parent / f".{path.name}.previous"
        if previous.is_dir():
            warnings.warn(f"checkpoint '{path}' is missing because a save was interrupted; "
                          f"loading the previous one from '{previous}'", stacklevel=3)
            path = previous
        else:
            raise FileNotFoundError(f"checkpoint directory '{path}' does not exist")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CheckpointError(
            f"checkpoint '{path}' has no {MANIFEST}: it is incomplete or was not written by "
            "convrnn; refusing to load it"
        )
    try:
        manifest = json.loads(manifest_path.read_bytes())
        listed = manifest["files"]
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
        if not isinstance(listed, dict) or not all(
                isinstance(name, str) and isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("bytes"), int) for name, entry in listed.items()):
            raise ValueError("'files' is not a map of file names to their sha256 and bytes")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"checkpoint '{path}': {MANIFEST} is unreadable ({error})") from error
    files: dict[str, bytes] = {}
    for name, expected in listed.items():
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise CheckpointError(f"checkpoint '{path}': file '{name}' listed in {MANIFEST} is missing")
        data = file.read_bytes()
        if len(data) != expected["bytes"]:
            raise CheckpointError(
                f"checkpoint '{path}': file '{name}' is truncated or altered: expected "
                f"{expected['bytes']} bytes, found {len(data)}"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected["sha256"]:
            raise CheckpointError(
                f"checkpoint '{path}': file '{name}' was modified after saving: SHA-256 "
                f"{digest} does not match the manifest's {expected['sha256']}"
            )
        files[name] = data
    for required in ("config.json", "model.safetensors"):
        if required not in files:
            raise CheckpointError(f"checkpoint '{path}': {MANIFEST} does not list '{required}'")
    return path, files
