"""Faults at every write point (SQLite-style): for each place convrnn writes a file, every low-level
operation of the write (create, write, flush, close, fsync, rename, mkdir) is made to fail in turn with
ENOSPC, with EIO, and with a SIGKILL of the writing process. After each, the reader sees the previous
good state or the complete new one (never a half-written file taken as valid), a failed write leaves no
debris, and writing again succeeds. The table of write points × faults is printed at the end of the
session (``pytest -s``, or in the terminal summary)."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import tarfile
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from faults import TABLES, Injected, Injector, count_operations, kill_at, listing, raise_at

ABSENT = "absent"


@dataclass(frozen=True)
class WritePoint:
    """``setup(root)`` makes the previous good state (may be nothing); ``write(root)`` writes the new one;
    ``read(root)`` is what a later command sees: a fingerprint, or :data:`ABSENT` when there is nothing
    (and the next command makes it afresh)."""

    name: str
    setup: Callable[[Path], None]
    write: Callable[[Path], Any]
    read: Callable[[Path], Any]
    # an append-only log: ``partial(seen, old, new)`` says whether ``seen`` is the old state followed by whole
    # records of the new (what a write that failed or was killed part-way legitimately leaves)
    partial: Callable[[Any, Any, Any], bool] | None = None


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(3, 2)


def _weights(model: nn.Module) -> str:
    return hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())).hexdigest()


# ----------------------------------------------------------------------------- the write points


def _checkpoint_point() -> WritePoint:
    from convrnn.training.checkpoint import load_checkpoint, save_checkpoint

    def save(root: Path, seed: int) -> None:
        model = _model(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        save_checkpoint(root / "checkpoints" / "last", model, optimizer, config={"seed": seed},
                        training={"step": seed})

    def read(root: Path) -> Any:
        model = _model(0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_checkpoint(root / "checkpoints" / "last", model, optimizer, restore_rng=True)
        return loaded.config["seed"], loaded.training["step"], _weights(model)

    return WritePoint("training checkpoint (save_checkpoint: last/)", lambda r: save(r, 1), lambda r: save(r, 2), read)


def _model_point() -> WritePoint:
    from convrnn.training.checkpoint import load_model_weights, save_model

    def read(root: Path) -> Any:
        model = _model(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = load_model_weights(root / "model", model)
        return config["seed"], _weights(model)

    return WritePoint("final model (save_model: RUN/model/)",
                      lambda r: save_model(r / "model", _model(1), {"seed": 1}),
                      lambda r: save_model(r / "model", _model(2), {"seed": 2}), read)


class _Doubler(nn.Module):
    def __init__(self, offset: int) -> None:
        super().__init__()
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x + self.offset


_EXPORTED: dict[int, bytes] = {}


def _export_point(monkeypatch: pytest.MonkeyPatch) -> WritePoint:
    from convrnn.export import ExportedModel, export_model, is_exported, program

    # torch.export's tracing is not the write under test: it runs once per model, then its bytes are reused
    real = program._program_bytes

    def remembered(model: nn.Module, *args: Any) -> bytes:
        if model.offset not in _EXPORTED:
            _EXPORTED[model.offset] = real(model, *args)
        return _EXPORTED[model.offset]

    monkeypatch.setattr(program, "_program_bytes", remembered)

    def export(root: Path, offset: int) -> None:
        model = _Doubler(offset)
        export_model(model, (torch.ones(2, 3),), root / "model.pt2", dynamic={"x": ["N", None]}, names=["x"],
                     extra={"offset": offset})

    def read(root: Path) -> Any:
        if not is_exported(root / "model.pt2") and not (root / "model.pt2.json").exists():
            return ABSENT
        exported = ExportedModel(root / "model.pt2")   # never refused: an interrupted export's pair is put back
        return exported.contract["offset"], exported.contract["sha256"]

    return WritePoint("exported model + contract (export_model: FILE, FILE.json)",
                      lambda r: export(r, 1), lambda r: export(r, 2), read)


def _json_point() -> WritePoint:
    from convrnn.training.files import write_json

    def read(root: Path) -> Any:
        return json.loads((root / "scores.json").read_text())

    return WritePoint("run scores / config JSON (training.files.write_json)",
                      lambda r: write_json(r / "scores.json", {"accuracy": 0.5}),
                      lambda r: write_json(r / "scores.json", {"accuracy": 0.75, "loss": 1.0}), read)


def _csv_point() -> WritePoint:
    from convrnn.training.loggers import CSVLogger

    def log(root: Path, epochs: int) -> None:
        records = [{"epoch": e, "loss": 1.0 / (e + 1)} for e in range(epochs)]
        history = types.SimpleNamespace(records=records, keys=lambda: ["epoch", "loss"])
        state = types.SimpleNamespace(is_main_process=True, history=history)
        CSVLogger(root / "log.csv").on_epoch_end(state, records[-1])

    return WritePoint("training log (CSVLogger: log.csv)", lambda r: log(r, 1), lambda r: log(r, 2),
                      lambda r: (r / "log.csv").read_text())


def _tensorboard_point(monkeypatch: pytest.MonkeyPatch) -> WritePoint:
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from convrnn.training import event_file
    from convrnn.training.loggers import TensorBoardLogger

    logging.getLogger("tensorboard").setLevel(logging.ERROR)   # its note on each purge
    # the n-th event file of a directory, so that the reference run and each faulted one name theirs alike
    made = [0]
    monkeypatch.setattr(event_file, "event_file_name", lambda: f"events.out.tfevents.{made[0]:010d}.test")

    def log(root: Path, resumed_at: int) -> None:
        """A run from optimizer step ``resumed_at``: logs every 2 steps, 2 epochs of 4 steps."""
        made[0] = len(list((root / "tb").glob("events.*")))
        logger = TensorBoardLogger(root / "tb")
        state = types.SimpleNamespace(is_main_process=True, global_step=resumed_at, epoch=resumed_at // 4)
        logger.on_fit_start(state)
        try:
            for step in range(resumed_at + 1, resumed_at + 9):
                state.global_step = step
                if step % 2 == 0:
                    logger.on_log(state, {"loss": 1 / step, "accuracy": step / 100})
                if step % 4 == 0:
                    logger.on_epoch_end(state, {"epoch": step // 4, "train_loss": 2 / step})
                    state.epoch += 1
        finally:
            logger.close()

    def read(root: Path) -> Any:
        """What TensorBoard shows: every scalar series (step, value), after its purges."""
        if not (root / "tb").is_dir():
            return ABSENT
        accumulator = EventAccumulator(str(root / "tb"))
        accumulator.Reload()
        return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
                for tag in sorted(accumulator.Tags()["scalars"])}

    def partial(seen: Any, old: Any, new: Any) -> bool:
        return isinstance(seen, dict) and all(seen.get(tag, [])[:len(series)] == series for tag, series in old.items()) \
            and all(series == new[tag][:len(series)] for tag, series in seen.items() if tag in new) and set(seen) <= set(new)

    return WritePoint("TensorBoard events (TensorBoardLogger: resumed run)", lambda r: log(r, 0), lambda r: log(r, 8),
                      read, partial)


def _run_lock_point() -> WritePoint:
    from convrnn.training.files import write_json
    from convrnn.training.run_lock import RunLock, RunLockedError

    def train(root: Path, accuracy: float) -> None:
        """A run into ``root/run`` (existing: a resumed one) under its lock: takes it, writes, releases it."""
        with RunLock(root / "run"):
            write_json(root / "run" / "scores.json", {"accuracy": accuracy})

    def read(root: Path) -> Any:
        """The run's scores, and whether the next run may take the lock (it must: no live process holds it)."""
        try:
            with RunLock(root / "run"):
                free = "free"
        except RunLockedError as error:
            free = f"held: {error}"
        return json.loads((root / "run" / "scores.json").read_text()), free

    def setup(root: Path) -> None:
        (root / "run").mkdir()
        write_json(root / "run" / "scores.json", {"accuracy": 0.5})

    return WritePoint("run lock (RunLock: OUT/.lock) + a write under it", setup,
                      lambda r: train(r, 0.75), read)


def _report_point() -> WritePoint:
    from convrnn.inspect._plot import write_atomic

    return WritePoint("report HTML / plots (inspect._plot.write_atomic)",
                      lambda r: write_atomic(r / "report.html", "<html>old</html>"),
                      lambda r: write_atomic(r / "report.html", "<html>" + "new " * 5000 + "</html>"),
                      lambda r: (r / "report.html").read_text())


def _png_point() -> WritePoint:
    from convrnn.data.image_files import read_image, write_png

    def read(root: Path) -> Any:
        return read_image(root / "digit.png").numpy().tobytes()

    return WritePoint("PNG image (data.image_files.write_png)",
                      lambda r: write_png(r / "digit.png", np.zeros((4, 5), np.uint8)),
                      lambda r: write_png(r / "digit.png", np.full((6, 7), 200, np.uint8)), read)


def _word_vectors_point(binary: bool) -> WritePoint:
    from convrnn.models.word2vec.formats import load_word2vec_format, save_word2vec_format

    def save(root: Path, words: list[str]) -> None:
        vectors = torch.arange(len(words) * 3, dtype=torch.float32).reshape(len(words), 3)
        save_word2vec_format(root / "vectors.txt", words, vectors, binary=binary)

    def read(root: Path) -> Any:
        vectors = load_word2vec_format(root / "vectors.txt", binary=binary)
        return list(vectors.words), np.asarray(vectors.vectors).tobytes()

    kind = "binary" if binary else "text"
    return WritePoint(f"word vectors, {kind} (save_word2vec_format)", lambda r: save(r, ["a", "b"]),
                      lambda r: save(r, ["cat", "dog", "emu"]), read)


def _fetch_point() -> WritePoint:
    from convrnn.data.catalog import DataSource
    from convrnn.data.fetch import MANIFEST, fetch

    def archive(root: Path, version: int) -> tuple[Path, DataSource]:
        path = root.parent / f"{root.name}-fake-{version}.tar.gz"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in ("train.txt", "test.txt"):
                data = f"{name} version {version}\n".encode() * (100 * version)
                info = tarfile.TarInfo(f"fake/data/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))   # the same bytes, so the same pinned hash
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        source = DataSource("fake", "pypi", "fake", str(version), path.name, digest, path.stat().st_size,
                            "fake/data/", ("*.txt",), "MIT", "a fake data set")
        return path, source

    def get(root: Path, version: int) -> None:
        path, source = archive(root, version)
        fetch(source, cache=root / "cache", progress=False, archive=path, force=version > 1)

    def read(root: Path) -> Any:
        target = root / "cache" / "fake"
        if not target.exists():
            return ABSENT
        manifest = json.loads((target / MANIFEST).read_text())
        files = {name: (target / name).read_bytes() for name in manifest["files"]}
        return manifest["sha256"][:8], sorted(files), hashlib.sha256(b"".join(files.values())).hexdigest()

    return WritePoint("data cache: fetch + archive extraction (data.fetch)", lambda r: get(r, 1),
                      lambda r: get(r, 2), read)


def _arrays_point(monkeypatch: pytest.MonkeyPatch) -> WritePoint:
    from convrnn.data import arrays

    monkeypatch.setattr(arrays, "ensure_fetched", lambda name, cache=None, download=True: Path(cache))
    monkeypatch.setattr(arrays, "in_rank_order", lambda action, what: action())
    keys = ("train-images", "train-labels", "test-images")
    built: list[int] = []

    def build(directory: Path) -> dict[str, np.ndarray]:
        built.append(1)
        return {key: np.full((50, 4), k, np.float32) for k, key in enumerate(keys)}

    def prepare(root: Path) -> dict[str, np.ndarray]:
        return arrays.prepared_arrays("fake", keys, build, cache=root)

    def read(root: Path) -> Any:
        if not all((root / "arrays" / f"{key}.npy").is_file() for key in keys):
            return ABSENT   # the next call builds them again
        got = prepare(root)
        return [got[key].tobytes() for key in keys]

    return WritePoint("prepared arrays cache (data.arrays: .npy per key)", lambda r: r.mkdir(exist_ok=True),
                      prepare, read)


def _extension_point(monkeypatch: pytest.MonkeyPatch) -> WritePoint:
    from torch.utils import cpp_extension

    from convrnn import _extensions

    def fake_load(name: str, sources: list[str], build_directory: str, **_: Any) -> Any:
        library = Path(build_directory) / f"{name}.so"
        with open(library, "wb") as file:
            for _ in range(4):
                file.write(b"\x7fELF" + b"x" * 4096)
        return types.SimpleNamespace(__file__=str(library))

    monkeypatch.setattr(cpp_extension, "load", fake_load)

    def build(root: Path) -> None:
        directory = root / "extensions" / "torch-x-abc"
        directory.mkdir(parents=True, exist_ok=True)
        _extensions._build("tiny_abc", [root / "tiny.cpp"], directory, [])

    def read(root: Path) -> Any:
        found = sorted((root / "extensions" / "torch-x-abc").glob("tiny_abc*.so"))
        return hashlib.sha256(found[0].read_bytes()).hexdigest() if found else ABSENT

    return WritePoint("compiled-extension cache (_extensions._build)", lambda r: r.mkdir(exist_ok=True), build, read)


def _speech_point(monkeypatch: pytest.MonkeyPatch) -> WritePoint:
    from convrnn.data import speech

    monkeypatch.setattr(speech, "espeak_executable", lambda: "true")
    monkeypatch.setattr(speech, "in_rank_order", lambda action, what: action())

    def fake_synthesize(word: str, voice: Any, *, rate: int, pitch: int, executable: str) -> np.ndarray:
        return np.full(len(word) * 10 + rate % 7, 0.25, np.float32)

    monkeypatch.setattr(speech, "synthesize", fake_synthesize)
    voices = [speech.Voice("en-us", "m3")]

    def bank(root: Path) -> Any:
        return speech.WordBank(["yes", "no"], voices, rates=(140, 175), pitches=(50,), cache=root, workers=1,
                                 progress=False)

    def read(root: Path) -> Any:
        indexes = list(root.glob("speech/*/index.json"))
        if not indexes:
            return ABSENT
        made = bank(root)
        return made.pcm.tobytes(), [u.length for u in made.utterances]

    return WritePoint("synthesized speech bank cache (data.speech.WordBank)", lambda r: r.mkdir(exist_ok=True),
                      bank, read)


def _points(monkeypatch: pytest.MonkeyPatch) -> list[WritePoint]:
    return [_checkpoint_point(), _model_point(), _export_point(monkeypatch), _json_point(), _csv_point(),
            _tensorboard_point(monkeypatch), _run_lock_point(), _report_point(), _png_point(), _word_vectors_point(False), _word_vectors_point(True), _fetch_point(),
            _arrays_point(monkeypatch), _extension_point(monkeypatch), _speech_point(monkeypatch)]


POINT_COUNT = 15
FAULTS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO, "kill -9": None}
TABLE: list[tuple[str, int, int, dict[str, str], int]] = []


def _outcome(point: WritePoint, root: Path, old: Any, new: Any) -> str:
    seen = point.read(root)
    if seen == old:
        return "old"
    if seen == new:
        return "new"
    if seen == ABSENT:
        return seen
    if point.partial is not None and point.partial(seen, old, new):
        return "partial"
    raise AssertionError(f"{point.name}: after the fault the reader saw neither the old nor the new state: {seen!r}")


def _injection_points(operations: list[str], every: bool) -> list[int]:
    """1-based operations to fault: all of them (the slow sweep), or in CI every rename and mkdir (the commit
    points), the first of each other kind (create, write, flush, fsync, close), and the last operation."""
    if every:
        return list(range(1, len(operations) + 1))
    chosen, kinds = [], set()
    for k, operation in enumerate(operations, start=1):
        kind = operation.split()[0]
        if kind in ("rename", "mkdir") or kind not in kinds or k == len(operations):
            chosen.append(k)
        kinds.add(kind)
    return chosen


@pytest.mark.parametrize("index", range(POINT_COUNT))
def test_every_fault_at_every_write_keeps_the_last_good_state(index, tmp_path, monkeypatch):
    _check_write_point(index, tmp_path, monkeypatch, every=False)


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.parametrize("index", range(POINT_COUNT))
def test_every_fault_at_every_single_operation(index, tmp_path, monkeypatch):
    _check_write_point(index, tmp_path, monkeypatch, every=True)


def _check_write_point(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: bool) -> None:
    point = _points(monkeypatch)[index]
    reference = tmp_path / "reference"
    reference.mkdir()
    point.setup(reference)
    old = point.read(reference)
    before = listing(reference)
    operations = count_operations(tmp_path, lambda: point.write(reference))
    new = point.read(reference)
    after = listing(reference)
    assert new != old and new != ABSENT, f"{point.name}: the write changed nothing visible"
    assert operations, f"{point.name}: no operation was counted"
    outcomes: dict[str, set[str]] = {fault: set() for fault in FAULTS}
    debris: set[str] = set()
    chosen = _injection_points(operations, every)
    for k in chosen:
        for fault, error in FAULTS.items():
            root = tmp_path / f"{k}-{fault.replace(' ', '')}"
            root.mkdir()
            point.setup(root)
            if error is not None:
                raised = raise_at(root, lambda root=root: point.write(root), k, error)
                assert isinstance(raised, OSError) and raised.errno == error, (
                    f"{point.name}: {fault} at operation {k} ({operations[k - 1]}) was not reported as that "
                    f"OSError but as {raised!r}")
                assert listing(root) <= before | after, (
                    f"{point.name}: {fault} at operation {k} ({operations[k - 1]}) left debris: "
                    f"{sorted(listing(root) - before - after)}")
            else:
                status = kill_at(root, lambda root=root: point.write(root), k)
                assert status == -9, f"{point.name}: the child was not killed at operation {k} (status {status})"
            outcome = _outcome(point, root, old, new)
            if error is not None and outcome not in ("old", "partial"):
                # a write that failed before its commit must leave the previous state; after it, the new one
                # (an append-only log commits with its last fsync: a failure after it leaves the new state)
                synced = [i for i, operation in enumerate(operations, start=1) if operation == "fsync"]
                assert "rename" in " ".join(operations[:k - 1]) or "fsync" in operations[k - 1] or (
                    point.partial is not None and outcome == "new" and k > max(synced, default=k)), (
                    f"{point.name}: {fault} at operation {k} ({operations[k - 1]}) lost the previous state "
                    f"({outcome})")
            outcomes[fault].add(outcome)
            point.write(root)   # the next command: it writes again, and succeeds
            assert point.read(root) == new, f"{point.name}: writing again after {fault} at {k} did not give the new state"
            if error is None:
                debris |= listing(root) - after
    TABLE.append((point.name, len(operations), len(chosen), {fault: "/".join(sorted(seen)) for fault, seen in outcomes.items()},
                  len(debris)))


def test_a_failed_save_that_moved_the_old_checkpoint_aside_puts_it_back(tmp_path, monkeypatch):
    from convrnn.training.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "last", _model(1), config={"seed": 1})
    real = __import__("os").replace
    calls = []

    def fail_second(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise Injected(errno.EIO, "injected")
        real(source, target)

    monkeypatch.setattr("os.replace", fail_second)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "last", _model(2), config={"seed": 2})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_checkpoint(tmp_path / "last").config == {"seed": 1}


def _table() -> list[str]:
    """Write points × faults: what the reader saw after each fault (the old state, the new one, none: the next
    command makes it afresh, or, for an append-only log, the old records and whole records of the new: partial),
    and the files that kills left behind which the next write did not remove (never read as valid)."""
    lines = [f"{'write point':60} {'ops':>4} {'faulted':>7} {'ENOSPC':>8} {'EIO':>8} {'kill -9':>18} {'debris':>6}"]
    for name, count, faulted, seen, debris in sorted(TABLE):
        lines.append(f"{name:60} {count:4d} {faulted:7d} {seen['ENOSPC']:>8} {seen['EIO']:>8} {seen['kill -9']:>18} "
                     f"{debris:6d}")
    points = sum(faulted for _, _, faulted, _, _ in TABLE)
    lines.append(f"{len(TABLE)} write points, {sum(count for _, count, _, _, _ in TABLE)} operations, {points} "
                 f"faulted, {3 * points} injected faults (ENOSPC, EIO, kill -9 at each)")
    return lines


TABLES["faults at every write point"] = _table


def test_a_full_disk_while_training_is_one_line_and_resume_finishes_the_run(tmp_path, monkeypatch, capsys):
    from convrnn.cli import main
    from convrnn.training import checkpoint

    real, saves = checkpoint._write_directory_atomically, []

    def full_on_the_second_save_of_last(target: Path, files: dict) -> Path:
        saves.append(target.name)
        if saves.count("last") == 2:
            raise Injected(errno.ENOSPC, "No space left on device")
        return real(target, files)

    monkeypatch.setattr(checkpoint, "_write_directory_atomically", full_on_the_second_save_of_last)
    out = tmp_path / "run"
    arguments = ["train", "digits", "--epochs", "3", "--limit", "60", "--out", str(out), "--no-progress"]
    torch.manual_seed(0)
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("convrnn train: error: could not write: No space left on "
                                                       "device; the files written before are intact"), error
    assert error.rstrip().endswith("then run the command again with --resume"), error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checkpoint.load_checkpoint(out / "checkpoints" / "last").training["history"].__len__() == 1  # epoch 1
    monkeypatch.undo()
    assert main([*arguments, "--resume"]) == 0
    assert (out / "model" / "manifest.json").is_file() and len((out / "log.csv").read_text().splitlines()) == 4


@pytest.mark.parametrize("moved", ["model", "pair", "pair, new model in"])
def test_an_export_killed_between_its_renames_is_put_back_when_it_is_loaded(moved, tmp_path, monkeypatch):
    """Where a kill between the renames of an export leaves the files: the previous model file moved aside, or both,
    or both and the new model file renamed in; loading (or checking) the path puts the previous pair back."""
    import os

    from convrnn.export import ExportedModel, is_exported

    point = _export_point(monkeypatch)
    point.setup(tmp_path)
    old = point.read(tmp_path)
    model, contract = tmp_path / "model.pt2", tmp_path / "model.pt2.json"
    os.replace(model, tmp_path / ".model.pt2.previous")
    if moved != "model":
        os.replace(contract, tmp_path / ".model.pt2.json.previous")
    if moved == "pair, new model in":
        model.write_bytes(b"the new export's model file")
    assert is_exported(model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2", "model.pt2.json"]
    assert point.read(tmp_path) == old and ExportedModel(model).contract["offset"] == 1


def test_a_save_killed_between_its_renames_is_put_back_before_resume_looks_for_it(tmp_path):
    import os

    from convrnn.training.checkpoint import load_checkpoint, recover_interrupted_save, save_checkpoint

    save_checkpoint(tmp_path / "last", _model(1), config={"seed": 1})
    os.replace(tmp_path / "last", tmp_path / ".last.previous")   # where a kill between the renames leaves it
    assert recover_interrupted_save(tmp_path / "last") == tmp_path / "last"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert load_checkpoint(tmp_path / "last").config == {"seed": 1}
    assert recover_interrupted_save(tmp_path / "absent") == tmp_path / "absent"   # nothing to put back: nothing done
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_a_full_disk_while_taking_the_run_lock_is_one_line_and_leaves_nothing_that_blocks_the_next_run(
        tmp_path, capsys):
    """ENOSPC (or EIO) at each operation of taking the lock of a new run directory: one line naming the lock
    file, no directory, no lock file, no descriptor holding the flock (the same process takes the lock next)."""
    from convrnn.cli import main
    from convrnn.training.run_lock import RunLock

    out = tmp_path / "run"

    def take() -> None:
        with RunLock(out):
            pass

    operations = count_operations(tmp_path, take)
    assert operations == ["mkdir run", "create .lock", "truncate .lock", "write .lock", "fsync"], operations
    for k in range(1, len(operations) + 1):
        with Injector(tmp_path, k, errno.ENOSPC if k % 2 else errno.EIO).active():
            status = main(["train", "digits", "--epochs", "1", "--limit", "50", "--out", str(out), "--no-progress"])
        error = capsys.readouterr().err
        assert status == 1 and error.count("\n") == 1, (operations[k - 1], error)
        assert error.startswith("convrnn train: error: could not write"), error
        assert f"'{out / '.lock'}'" in error if k > 1 else f"'{out}'" in error, error
        assert not out.exists(), operations[k - 1]
        take()
        assert not out.exists()
