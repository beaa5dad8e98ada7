"""The protocol of a task kind: what a recipe of that kind builds, and what its trained run offers.

A task kind (image classification, language modelling, tagging, …) is a frozen dataclass that
subclasses :class:`Task`; its fields are what a recipe sets (data, model options, training
defaults), and a recipe file is one instance of it. The kind writes only what is particular to it:

- ``kind``: its name in ``convrnn train --list`` (``"image"``, ``"language-model"``, …);
- ``fit(run, **options)``: build data, model, loss and metrics, train (usually through
  :func:`convrnn.tasks.fitting.fit_model`), score the test split, and return
  ``run.finish(scores, settings)``;
- ``rebuild(config)`` (a classmethod): the untrained model a saved config describes;
- ``evaluate(run, split, device)``, ``predict(run, inputs, top)``: what a trained run offers;
- ``summary_model()``: the untrained model and an input shape for ``convrnn summary RECIPE``;
- ``export_signature(model, config)`` where it declares ``export``: how predict calls the model.

Everything else is written once, here and in :mod:`convrnn.tasks.runs`: :meth:`Task.train` turns
the command line's overrides into checked :class:`Settings` (:meth:`Task.run_settings`, the device
included), seeds every generator and starts the run's clock before calling ``fit``;
:meth:`Task.load_model` loads a trained run back. A kind whose data suit ``convrnn inspect`` and
``report`` also offers them: ``examples(batch_size)`` (a batch of inputs and labels) or
``validation_text()``.

Optional capabilities are declared, not guessed: ``capabilities`` names those the kind offers
(:data:`CAPABILITIES`: ``sample``, ``embed``, ``stream``, ``export``), each a method of the same
name, and :meth:`Task.require` refuses the others in one line. ``train_options`` names the extra
``train`` options the command line may pass (``--cell`` for language models, ``--architecture`` and
``--objective`` for word vectors) with their values.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from convrnn.tasks.runs import Run, load_saved_model
from convrnn.tasks.settings import Settings, resolve_device, resolve_settings
from convrnn.training.checkpoint import read_config, recover_interrupted_save
from convrnn.training.distributed import (
    DEFAULT_TIMEOUT_S,
    is_distributed,
    is_main_process,
    launch,
    process_group,
    world_size,
)
from convrnn.training.files import check_writable
from convrnn.training.run_lock import RunLock
from convrnn.training.seeding import seed_everything

# What each optional capability lets a trained run do (a method of the same name on the task).
CAPABILITIES: dict[str, str] = {
    "sample": "generate text (convrnn sample)",
    "embed": "look up word vectors (convrnn embed)",
    "stream": "run on a live signal chunk by chunk",
    "export": "be written for use outside PyTorch",
}


class ExportSignature(NamedTuple):
    """What a task kind's ``predict`` passes its model: ``args`` example positional inputs; for each
    input (by ``names``, in order) its ``dynamic`` axes (a name such as "N" or "T" per dimension, None
    where fixed); ``output_names``; ``module`` the module to export where predict calls a wrapper
    of the model (default the model); ``attributes`` the model's plain attributes predict reads
    (sample rate, height), kept in the contract; ``minimums`` the least size of a dynamic axis
    where the model needs one (a spectrogram's window, a reader's pooling); ``refused`` the formats
    the model cannot be written in, each with the reason."""

    args: tuple[Any, ...]
    dynamic: dict[str, list[str | None]]
    names: list[str]
    output_names: list[str] | None = None
    module: nn.Module | None = None
    attributes: Mapping[str, Any] = {}
    minimums: Mapping[str, int] = {}
    refused: Mapping[str, str] = {}   # format → why this kind's model cannot be written in it


class Task(ABC):
    """The base class of every task kind (see the module docstring for what a kind writes).

    Every recipe of every kind has ``name``, ``description`` and ``target`` (the score it aims at)."""

    kind: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # False for a kind that trains in one process however it is launched (``parallelism`` says why)
    data_parallel: ClassVar[bool] = True
    parallelism: ClassVar[str] = "DistributedDataParallel over the processes of a torchrun launch"
    train_options: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    limit_unit: ClassVar[str] = ""  # what ``--limit`` counts, when not examples (e.g. "tokens")
    min_limit: ClassVar[int] = 1
    kinds: ClassVar[dict[str, type[Task]]] = {}  # every task kind by its ``kind``

    name: str
    description: str
    target: str

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise TypeError(f"{cls.__name__}: capabilities expected names in {sorted(CAPABILITIES)}, "
                            f"got {sorted(unknown)}")
        if "kind" in cls.__dict__:  # a kind of its own, not a variant of one (a test's subclass)
            Task.kinds[cls.kind] = cls

    # ------------------------------------------------------------------ training

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
              **options: Any) -> dict[str, Any]:
        """Train this recipe into the run directory ``out`` and return its scores (also written to
        ``out/scores.json``).

        ``epochs``, ``batch_size`` and ``lr`` override the recipe's defaults; ``seed`` seeds every
        generator; ``device`` is a torch device this machine has; ``resume=True`` continues from
        ``out/checkpoints/last`` bit for bit; a second run into the same ``out`` while one trains is
        refused (``RunLockedError``: ``out/.lock``, which a dead process never holds); ``limit`` trains
        on the first ``limit`` examples only (smoke runs); ``progress`` shows a progress bar. ``options``
        are the kind's own (see its ``fit``).

        Under torchrun (``torchrun --nproc_per_node=P -m convrnn train …``, or a script calling this
        in every process) the processes train one run together: each joins the process group (gloo
        on ``"cpu"``, NCCL on ``"cuda"``, where it takes ``cuda:LOCAL_RANK``) for this call, trains
        DDP on its share of every global batch of ``batch_size`` (which P must divide), and rank 0
        alone fetches data first and writes ``out``. ``timeout_s`` bounds how long a rank waits for
        the others in one collective. A kind with ``data_parallel = False`` trains on rank 0 alone
        (the others return ``{}`` at once). Every rank returns the scores.
        """
        device = resolve_device(device)
        check_writable(out, kind="directory", where="train", argument="out")
        launched = launch()
        if launched is not None and launched.world_size > 1 and not self.data_parallel:
            if launched.rank != 0:
                return {}
            print(f"convrnn: {self.name} ({self.kind}) trains in one process: {self.parallelism}; rank 0 "
                  f"trains it alone and the other {launched.world_size - 1} process(es) have nothing to do",
                  file=sys.stderr)
            group: Any = nullcontext(torch.device(device))
        else:
            group = process_group(device, timeout_s=timeout_s)
        with group as rank_device:
            main = is_main_process()
            settings = self.run_settings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                         device=str(rank_device) if is_distributed() else device, resume=resume,
                                         progress=progress and main, limit=limit)
            settings = replace(settings, world_size=world_size(),
                               backend=torch.distributed.get_backend() if is_distributed() else None)
            if settings.batch_size % settings.world_size:
                raise ValueError(f"train: the batch size {settings.batch_size} is the global batch, split over the "
                                 f"{settings.world_size} processes; expected a multiple of {settings.world_size}")
            with RunLock(out, where="train") if main else nullcontext():   # rank 0 alone writes out
                if main:   # a save killed between its two renames: the last complete checkpoint goes back first
                    for previous in Path(out).glob("*/.*.previous"):
                        recover_interrupted_save(previous.parent / previous.name[1:-len(".previous")])
                if settings.resume and main:
                    _note_resumed_launch(Path(out), settings)
                seed_everything(settings.seed)
                given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "limit": limit}
                return self.fit(Run(self.name, Path(out), settings, given), **options)

    def run_settings(self, **overrides: Any) -> Settings:
        """The run's settings: the recipe's ``epochs``, ``batch_size`` and ``lr`` where the command line
        gave none, every value checked (see :func:`convrnn.tasks.settings.resolve_settings`)."""
        overrides = dict(overrides)
        return resolve_settings(self, overrides.pop("epochs"), overrides.pop("batch_size"), overrides.pop("lr"),
                                min_limit=self.min_limit, limit_unit=self.limit_unit, **overrides)

    @abstractmethod
    def fit(self, run: Run, **options: Any) -> dict[str, Any]:
        """Build data, model, loss and metrics; train into ``run.out``; return ``run.finish(…)``."""

    # ------------------------------------------------------------------ a trained run

    @classmethod
    @abstractmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The untrained model a saved config describes (ValueError if the config is not this kind's)."""

    @classmethod
    def load_model(cls, run: str | os.PathLike[str], name: str = "model") -> tuple[nn.Module, dict[str, Any]]:
        """Model ``name`` of a run or model directory (weights loaded, eval mode) and its config."""
        return load_saved_model(run, cls.rebuild, name=name)

    @abstractmethod
    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Scores of the trained model in ``run`` on ``split``."""

    @abstractmethod
    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per input (a file or a text, as the kind reads them)."""

    @abstractmethod
    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model and its input shape without the batch (for ``convrnn summary RECIPE``)."""

    def examples(self, batch_size: int) -> tuple[Tensor, Tensor] | None:
        """A validation batch ``(inputs, labels)`` as the model sees it, for ``convrnn inspect`` and
        ``report``; None where the kind's data are not such pairs."""
        return None

    def validation_text(self) -> str | None:
        """The start of the validation text, for inspecting a model that reads text; None where the
        kind's data are not text."""
        return None

    # ------------------------------------------------------------------ export

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """How ``predict`` calls the trained ``model``: example inputs, their dynamic axes and names
        (kinds that declare the ``export`` capability)."""
        raise NotImplementedError(f"{type(self).__name__} declares no export signature")

    def stream_chunk(self, model: nn.Module, chunk_ms: float | None) -> tuple[Any, Tensor, dict[str, Any]]:
        """What ``export --stream`` exports (kinds that stream): the layers to stream, an example chunk of
        about ``chunk_ms`` (a whole number of output steps) and the contract's attributes."""
        raise ValueError(f"export: the {self.name} model's stream cannot be exported as a chunk model (its "
                         f"stream steps through a look-ahead buffer that fills, a branch on the signal)")

    def export(self, run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
               format: str = "onnx", *, stream: bool = False, chunk_ms: float | None = None) -> Path:
        """Write the trained model of ``run`` as an ONNX model or a ``torch.export`` program (``format``
        "onnx" or "pt2"; default file ``RUN/model.<format>``) with its contract beside it (the task,
        the recipe and the model's saved config: classes, vocabulary, normalisation), so that
        ``convrnn predict FILE …`` runs it and gives the run's own predictions. Returns the file.

        ``stream=True`` writes the stream's chunk step instead (default file ``RUN/stream.<format>``):
        ``chunk_ms`` of input at a time, the state passed in and out (:func:`convrnn.stream.export_stream`),
        which ``convrnn listen FILE`` runs."""
        from convrnn.export import FORMATS, export_model

        self.require("stream" if stream else "export", run)
        if format not in FORMATS:
            raise ValueError(f"export: argument 'format' expected one of {list(FORMATS)}, got {format!r}")
        if chunk_ms is not None and not stream:
            raise ValueError("export: argument '--chunk-ms' is the chunk of a stream: give it with --stream")
        model, config = self.load_model(run)
        path = Path(out) if out is not None else Path(run) / f"{'stream' if stream else 'model'}.{format}"
        check_writable(path, kind="file", where="export", argument="out")
        if stream:
            return self._export_stream(model, config, path, format, chunk_ms)
        signature = self.export_signature(model, config)
        if format in signature.refused:
            raise ValueError(f"export: the {self.name} model cannot be written as {format}: "
                             f"{signature.refused[format]}; use --format "
                             f"{' or '.join(f for f in FORMATS if f not in signature.refused)}")
        try:
            export_model(signature.module or model, signature.args, path, dynamic=signature.dynamic,
                         names=signature.names, output_names=signature.output_names, format=format,
                         minimums=signature.minimums,
                         extra={"task": self.kind, "recipe": self.name, "config": config,
                                "attributes": dict(signature.attributes)})
        except Exception as error:   # the exporters' own errors are pages long; the first line says what
            first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
            raise ValueError(f"export: the {self.name} model could not be exported as {format} "
                             f"({type(error).__name__}: {first})") from error
        return path

    def _export_stream(self, model: nn.Module, config: dict[str, Any], path: Path, format: str,
                       chunk_ms: float | None) -> Path:
        from convrnn.stream import export_stream

        if not isinstance(model, nn.Module):
            raise ValueError(f"export: '{path}' would be exported from an exported model; export the run "
                             f"directory it came from")
        layers, chunk, attributes = self.stream_chunk(model, chunk_ms)
        try:
            export_stream(layers, chunk, path, format=format,
                          extra={"task": self.kind, "recipe": self.name, "config": config, "attributes": attributes})
        except ValueError:
            raise
        except Exception as error:   # the exporters' own errors are pages long; the first line says what
            first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
            raise ValueError(f"export: the {self.name} model's stream could not be exported as {format} "
                             f"({type(error).__name__}: {first})") from error
        return path

    # ------------------------------------------------------------------ capabilities

    def can(self, capability: str) -> bool:
        """Whether this task kind declares ``capability`` (one of :data:`CAPABILITIES`)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"can: argument 'capability' expected one of {sorted(CAPABILITIES)}, got {capability!r}")
        return capability in self.capabilities

    def require(self, capability: str, run: str | os.PathLike[str] | None = None) -> None:
        """Raise a one-line ValueError unless this task kind declares ``capability``, naming the kinds
        that do."""
        if self.can(capability):
            return
        able = sorted(kind for kind, cls in Task.kinds.items() if capability in cls.capabilities)
        held = f"'{run}' holds a {self.name} model" if run is not None else f"the recipe {self.name} is"
        what = CAPABILITIES[capability].split(" (")[0]
        raise ValueError(f"{capability}: {held} of the {self.kind} task kind, which cannot {what}; "
                         f"{'task kinds that can: ' + ', '.join(able) if able else 'no task kind can yet'}")


def _note_resumed_launch(out: Path, settings: Settings) -> None:
    """Say on stderr what carries over when a run resumes on another number of processes."""
    last = out / "checkpoints" / "last"
    if not (last / "config.json").is_file():
        return
    before = read_config(last).get("launch", {}).get("world_size", 1)
    if before != settings.world_size:
        print(f"convrnn: resuming a run trained on {before} process(es) with {settings.world_size}: the global "
              f"batch ({settings.batch_size}), the data order, the optimizer and schedule carry over exactly; "
              "the weights follow the uninterrupted run up to float rounding, not bit for bit",
              file=sys.stderr)


__all__ = ["CAPABILITIES", "ExportSignature", "Task"]
