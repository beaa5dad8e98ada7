"""Write a model as a ``torch.export`` program (``.pt2``) or an ONNX model (``.onnx``), with its
contract beside it, and run either back as a drop-in for the model.

The contract (``<file>.json``) is what a program on the other side needs to call the model
without convrnn's source: the inputs' names, dtypes and shapes (dynamic axes by name, e.g.
``["N", "T", 12]``), the outputs', the nesting of both (a pytree spec: an LSTM's ``(h, c)`` state),
the SHA-256 of the model file, the versions that wrote it, and whatever the caller adds (the
task's pre- and post-processing: its config, labels, vocabulary). The pair is written atomically: an
export stopped at any point (a full disk, ``kill -9``) leaves the previous pair, which the next export or
load puts back in place; a model file whose hash is not its contract's is refused when loaded.

Recurrent layers export with batch and time dynamic: every loop over time is one ``scan``
(``convrnn.layers.recurrent.export_scan``), an ONNX ``Scan``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.export import Dim
from torch.utils import _pytree as pytree

import convrnn
from convrnn.data.cache import atomic_path

FORMATS = ("onnx", "pt2")
CONTRACT_VERSION = 1


def contract_path(path: str | os.PathLike[str]) -> Path:
    """The contract file of an exported model: ``model.onnx`` → ``model.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def export_model(model: nn.Module, args: tuple[Any, ...], path: str | os.PathLike[str], *,
                 dynamic: Mapping[str, Sequence[str | None]], names: Sequence[str],
                 output_names: Sequence[str] | None = None, minimums: Mapping[str, int] | None = None,
                 extra: Mapping[str, Any] | None = None, format: str | None = None) -> dict[str, Any]:
    """Export ``model`` called on ``args`` to ``path`` and write its contract; returns the contract.

    Args:
        model: the module to export (put in eval mode here).
        args: example positional inputs, tensors or tuples of tensors (pytrees).
        path: the file to write; ``format`` defaults to its suffix (``.onnx`` or ``.pt2``).
        dynamic: for each input leaf's name (``names``), one entry per dimension, the name of a
            dynamic axis (``"N"``, ``"T"``; equal names are one axis) or None for a fixed size.
        names: one name per tensor leaf of ``args``, in order.
        output_names: names of the output leaves (default ``output0``, …).
        minimums: the least size of a dynamic axis, by name, where the model needs one (default 1;
            e.g. a spectrogram's window); kept in the contract and checked when the file runs.
        extra: more fields for the contract (the task's pre/post-processing).
    """
    path = Path(path)
    format = format or path.suffix.lstrip(".")
    if format not in FORMATS:
        raise ValueError(f"export_model: argument 'format' expected one of {list(FORMATS)} (or a path ending "
                         f".onnx/.pt2), got {format!r}")
    leaves, input_spec = pytree.tree_flatten(args)
    if len(leaves) != len(names):
        raise ValueError(f"export_model: argument 'names' expected {len(leaves)} names (one per input tensor), "
                         f"got {len(names)}")
    missing = [name for name in names if name not in dynamic]
    if missing:
        raise ValueError(f"export_model: argument 'dynamic' expected an entry for every input, missing {missing}")
    minimums = dict(minimums or {})
    unknown = sorted(set(minimums) - {axis for entry in dynamic.values() for axis in entry if axis is not None})
    if unknown:
        raise ValueError(f"export_model: argument 'minimums' expected names of dynamic axes, got {unknown}")
    axes: dict[str, Dim] = {name: Dim(name, min=least) for name, least in minimums.items()}
    shapes_per_leaf = [_dims(dynamic[name], leaf, axes) for name, leaf in zip(names, leaves, strict=True)]
    # all fixed (a stream's chunk step): no dynamic shapes at all (their tree would have to follow *args)
    dynamic_shapes = (None if all(dims is None for dims in shapes_per_leaf)
                      else tuple(pytree.tree_unflatten(shapes_per_leaf, input_spec)))
    model = model.eval()
    with torch.no_grad():
        outputs = model(*args)
    output_leaves, output_spec = pytree.tree_flatten(outputs)
    output_names = list(output_names or [f"output{k}" for k in range(len(output_leaves))])
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)   # "torchvision is not installed. Skipping …", twice per export
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = _program_bytes(model, args, format, dynamic_shapes, list(names), output_names)
        finally:
            registration.setLevel(level)
    contract = {
        "contract": CONTRACT_VERSION,
        "format": format,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "convrnn": convrnn.__version__,
        "torch": torch.__version__,
        "inputs": [_describe(name, leaf, dynamic[name]) for name, leaf in zip(names, leaves, strict=True)],
        "outputs": [_describe(name, leaf, None) for name, leaf in zip(output_names, output_leaves, strict=True)],
        "minimums": minimums,
        "input_tree": pytree.treespec_dumps(input_spec),
        "output_tree": pytree.treespec_dumps(output_spec),
        **dict(extra or {}),
    }
    _write_pair(path, data, (json.dumps(contract, indent=2, allow_nan=False) + "\n").encode())
    return contract


def _previous(path: Path) -> tuple[Path, Path]:
    """Where an export puts the previous model file and contract while it renames the new ones in."""
    return path.parent / f".{path.name}.previous", path.parent / f".{contract_path(path).name}.previous"


def _write_pair(path: Path, data: bytes, contract: bytes) -> None:
    """Write the model file and its contract so that a reader sees the previous pair or the new one, whatever
    stops the write. Both new files are written to temporaries beside them; the previous pair is moved aside
    (``.NAME.previous``, ``.NAME.json.previous``); then each temporary is fsynced and renamed in, the model file
    first and the contract last: its rename is the commit. A failure before it puts the previous pair back; a kill
    before it leaves what :func:`_recover_interrupted_export` (run by the next export and by every reader) puts
    back."""
    contract_file = contract_path(path)
    previous, previous_contract = _previous(path)
    _recover_interrupted_export(path)
    try:
        # the contract's rename comes last (the outer block's exit): it is the commit
        with atomic_path(contract_file) as contract_temporary, atomic_path(path) as temporary:
            temporary.write_bytes(data)
            contract_temporary.write_bytes(contract)
            if path.is_file() and contract_file.is_file():
                os.replace(path, previous)
                os.replace(contract_file, previous_contract)
    except BaseException:
        _recover_interrupted_export(path)
        raise
    for leftover in (previous_contract, previous):
        leftover.unlink(missing_ok=True)


def _recover_interrupted_export(path: str | os.PathLike[str]) -> None:
    """Put back the previous model file and contract of ``path`` if an export was stopped before its commit (the
    contract moved aside and no new one in its place, or the model file moved aside and none in its place); remove
    what a committed export left aside. A read-only directory is left as it is (loading then refuses the pair)."""
    path = Path(path)
    contract_file = contract_path(path)
    previous, previous_contract = _previous(path)
    if not previous.exists() and not previous_contract.exists():
        return
    with contextlib.suppress(OSError):
        if previous_contract.is_file() and not contract_file.exists():   # stopped between the moves and the commit
            if previous.is_file():
                os.replace(previous, path)
            os.replace(previous_contract, contract_file)
        elif previous.is_file() and not path.exists():   # stopped after moving the model file aside
            os.replace(previous, path)
        previous.unlink(missing_ok=True)
        previous_contract.unlink(missing_ok=True)


def _program_bytes(model: nn.Module, args: tuple[Any, ...], format: str, dynamic_shapes: tuple[Any, ...] | None,
                   names: list[str],
                   output_names: list[str]) -> bytes:
    buffer = io.BytesIO()
    if format == "pt2":
        program = torch.export.export(model, tuple(args), dynamic_shapes=dynamic_shapes,
                                      prefer_deferred_runtime_asserts_over_guards=True)
        torch.export.save(program, buffer)
    else:
        onnx_program = torch.onnx.export(model, tuple(args), dynamo=True, dynamic_shapes=dynamic_shapes,
                                         input_names=names, output_names=output_names, verbose=False)
        onnx_program.save(buffer)
    return buffer.getvalue()


def _dims(names: Sequence[str | None], leaf: Tensor, axes: dict[str, Dim]) -> dict[int, Dim] | None:
    if len(names) != leaf.dim():
        raise ValueError(f"export_model: argument 'dynamic' expected {leaf.dim()} entries for an input of shape "
                         f"{tuple(leaf.shape)}, got {list(names)}")
    dims = {axis: axes.setdefault(name, Dim(name)) for axis, name in enumerate(names) if name is not None}
    return dims or None


def _describe(name: str, leaf: Tensor, dynamic: Sequence[str | None] | None) -> dict[str, Any]:
    shape = [size if dynamic is None or dynamic[axis] is None else dynamic[axis]
             for axis, size in enumerate(leaf.shape)]
    return {"name": name, "dtype": str(leaf.dtype).removeprefix("torch."), "shape": shape}


def read_contract(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contract of an exported model file (ValueError if missing or not one)."""
    _recover_interrupted_export(path)
    contract_file = contract_path(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such exported model: '{path}'")
    if not contract_file.is_file():
        raise ValueError(f"'{path}' has no contract beside it ('{contract_file.name}'): export it with "
                         f"`convrnn export` or convrnn.export.export_model")
    try:
        contract = json.loads(contract_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"'{contract_file}' is not a valid contract ({error})") from None
    required = {"format", "sha256", "inputs", "outputs", "input_tree", "output_tree"}
    if not isinstance(contract, dict) or not required <= set(contract) or contract["format"] not in FORMATS:
        raise ValueError(f"'{contract_file}' is not a convrnn export contract (expected the fields "
                         f"{sorted(required)} and a format in {list(FORMATS)})")
    return contract


def is_exported(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an exported model file (``.onnx``/``.pt2``) rather than a run."""
    path = Path(path)
    if path.suffix not in (".onnx", ".pt2"):
        return False
    _recover_interrupted_export(path)
    return path.is_file()


class ExportedModel:
    """An exported model loaded back, called like the module it was exported from: the same
    positional inputs (tensors or tuples of them), the same nesting of outputs, as torch tensors.

    ONNX files run in onnxruntime (``pip install 'convrnn[onnx]'``), ``.pt2`` files in
    ``torch.export.load``'s program. ``.eval()``, ``.train(False)``, ``.training`` and ``.to("cpu")``
    are accepted (no-ops), so code written for the module runs unchanged. ``threads``: onnxruntime's
    threads (default: its own, every core); a ``.pt2`` program runs on torch's (``torch.set_num_threads``)."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.contract = read_contract(self.path)
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.contract["sha256"]:
            raise ValueError(f"'{self.path}': its SHA-256 is not the one its contract records (the file changed "
                             f"after export, an export was interrupted, or the contract belongs to another file); "
                             f"export it again")
        self._input_spec = pytree.treespec_loads(self.contract["input_tree"])
        self._output_spec = pytree.treespec_loads(self.contract["output_tree"])
        self.input_names = [entry["name"] for entry in self.contract["inputs"]]
        if self.contract["format"] == "onnx":
            try:
                import onnxruntime
            except ImportError:
                raise ValueError(f"'{self.path}' is an ONNX model, and running it needs onnxruntime: "
                                 f"pip install 'convrnn[onnx]'") from None
            options = onnxruntime.SessionOptions()
            if threads is not None:   # onnxruntime's own default: every core
                options.intra_op_num_threads = options.inter_op_num_threads = threads
            self._session = onnxruntime.InferenceSession(data, options)
            self._program = None
        else:
            self._session = None
            self._program = torch.export.load(io.BytesIO(data)).module()

    def __getattr__(self, name: str) -> Any:
        attributes = self.__dict__.get("contract", {}).get("attributes") or {}
        if name in attributes:   # the model's plain attributes its task reads (a sample rate, a height)
            return attributes[name]
        raise AttributeError(f"{type(self).__name__} of '{self.__dict__.get('path')}' has no attribute {name!r}")

    training = False   # an exported model only infers; code that saves and restores the mode runs unchanged

    def eval(self) -> ExportedModel:
        return self

    def train(self, mode: bool = True) -> ExportedModel:
        if mode:
            raise ValueError(f"{self.path.name}: an exported model only runs inference; train the run directory's "
                             f"model instead")
        return self

    def to(self, device: Any = "cpu", *args: Any, **kwargs: Any) -> ExportedModel:
        if torch.device(device).type != "cpu":
            raise ValueError(f"{self.path.name}: an exported model runs on the CPU here, got device {device}")
        return self

    def _check_sizes(self, leaves: list[Any]) -> None:
        minimums = self.contract.get("minimums") or {}
        for entry, leaf in zip(self.contract["inputs"], leaves, strict=True):
            shape = entry["shape"]
            if not isinstance(leaf, Tensor) or leaf.dim() != len(shape):
                raise ValueError(f"{self.path.name}: input '{entry['name']}' expected a tensor of shape {shape}, "
                                 f"got {tuple(leaf.shape) if isinstance(leaf, Tensor) else type(leaf).__name__}")
            for axis, (want, size) in enumerate(zip(shape, leaf.shape, strict=True)):
                if isinstance(want, int) and size != want:
                    raise ValueError(f"{self.path.name}: input '{entry['name']}' expected shape {shape}, got "
                                     f"{tuple(leaf.shape)} (axis {axis} is fixed at {want})")
                if isinstance(want, str) and size < minimums.get(want, 1):
                    raise ValueError(f"{self.path.name}: input '{entry['name']}' expected {want} ≥ "
                                     f"{minimums.get(want, 1)} along axis {axis}, got {size}")

    def __call__(self, *args: Any) -> Any:
        leaves, spec = pytree.tree_flatten(args)
        if spec != self._input_spec:
            raise ValueError(f"{self.path.name}: expected inputs {self.input_names} structured as at export, "
                             f"got {len(leaves)} tensors structured otherwise")
        self._check_sizes(leaves)
        if self._program is not None:
            with torch.no_grad():
                return self._program(*args)
        for entry, leaf in zip(self.contract["inputs"], leaves, strict=True):
            expected = getattr(torch, entry["dtype"])
            if leaf.dtype != expected:
                raise ValueError(f"{self.path.name}: input '{entry['name']}' expected dtype {entry['dtype']}, "
                                 f"got {str(leaf.dtype).removeprefix('torch.')}")
        feeds = {name: leaf.detach().cpu().numpy() for name, leaf in zip(self.input_names, leaves, strict=True)}
        results = self._session.run(None, feeds)
        return pytree.tree_unflatten([torch.from_numpy(r) for r in results], self._output_spec)


__all__ = ["FORMATS", "ExportedModel", "contract_path", "export_model", "is_exported", "read_contract"]
