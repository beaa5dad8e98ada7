"""Keyword spotting: clips in, "keyword present?" out (``keyword``, ``keyword-causal``).

Besides the test accuracy on held-out voices, :func:`shift_accuracies` moves the keyword of every
positive test clip to several offsets and measures detection at each — the seeds'
shift-invariance question. A trained detector also listens to a live signal (the ``stream``
capability, ``convrnn listen RUN file.wav``): :func:`detections` streams the frame scores chunk by
chunk (:func:`convrnn.stream`) and reports each time the keyword's probability rises past a threshold.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrnn.export import ExportedModel
from convrnn.models import build_model
from convrnn.tasks.fitting import fit_model
from convrnn.tasks.image import classification_scores, generated_examples, registry_model
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run
from convrnn.training.metrics import Accuracy

SHIFT_POSITIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # keyword start as a fraction of the free room


@dataclass(frozen=True)
class KeywordRecipe(Task):
    """A keyword-spotting task: ``dataset(split, size=…)`` yields ``(waveform (1, T), label)`` and,
    for shift tests, offers ``render(index, keyword_start=…)``, ``keyword_starts`` and ``labels``."""

    kind = "keyword"
    capabilities = frozenset({"export", "stream"})

    name: str
    description: str
    dataset: Callable[..., Dataset]
    model: str = "keyword-spotter"
    model_options: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 4000, "validation": 500, "test": 1000})
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "onecycle"
    target: str = ""

    def fit(self, run: Run) -> dict[str, Any]:
        """Train into ``run.out``; ``limit`` caps the number of training clips."""
        settings = run.settings
        train_size = self.sizes["train"] if settings.limit is None else min(settings.limit, self.sizes["train"])
        train = self.dataset("train", size=train_size, progress=settings.progress)
        val = self.dataset("validation", size=self.sizes["validation"], progress=settings.progress)
        model, input_shape = build_model(self.model, **self.model_options)
        config = {"recipe": self.name, "model": self.model, "model_options": self.model_options,
                  "input_shape": list(input_shape), "classes": ["other", "keyword"],
                  "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                               "seed": settings.seed, "train_clips": train_size}}
        fit_model(self, run, model, train, val, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()},
                  monitor="val_accuracy", config=config)
        test = self.dataset("test", size=self.sizes["test"], progress=settings.progress)
        scores = classification_scores(model, test, device=settings.device, batch_size=128)
        shifted = shift_accuracies(model, test, device=settings.device)
        return run.finish({"test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
                           "test_shift_min_accuracy": min(shifted.values()),
                           "shift_accuracies": {f"{k:.2f}": v for k, v in shifted.items()}}, config["settings"])

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The keyword spotter a saved config describes."""
        return registry_model(config)

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Accuracy, loss and the lowest detection rate over keyword positions on ``split``."""
        model = self.load(run)
        data = self.dataset(split, size=self.sizes[split])
        scores = classification_scores(model, data, device=device, batch_size=128)
        shifted = shift_accuracies(model, data, device=device)
        return {**scores, "shift_min_accuracy": min(shifted.values())}

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 2) -> list[str]:
        """For each WAV file: the keyword probability and where in the clip the detector fires."""
        from convrnn.data.speech import read_wav

        model = self.load(run)
        detect = model if isinstance(model, ExportedModel) else Detections(model)
        lines = []
        for path in inputs:
            samples, rate = read_wav(path)
            if rate != model.sample_rate:
                raise ValueError(f"predict: '{path}' is sampled at {rate} Hz, expected {model.sample_rate} Hz")
            waveform = torch.from_numpy(np.asarray(samples, dtype=np.float32)).reshape(1, 1, -1)
            with torch.no_grad():
                logits, frame_scores = detect(waveform)
            probability = torch.softmax(logits, dim=-1)[0, 1].item()
            frame = frame_scores[0, 1].argmax().item()
            seconds = frame * model.hop_length / model.sample_rate
            lines.append(f"{path}: keyword {probability:.1%} (strongest at {seconds:.2f} s)")
        return lines

    def stream(self, run: str | os.PathLike[str], source: str | os.PathLike[str] | BinaryIO, *,
               chunk_ms: float = 20.0, threshold: float = 0.5, hold_ms: float = 500.0,
               approximate: bool = False, backend: str = "python") -> Iterator[str]:
        """Listen to ``source`` (a WAV file, ``"-"``: raw 16-bit mono PCM on standard input at the model's
        rate) ``chunk_ms`` at a time; one line per detection as it happens (at most one per ``hold_ms``,
        see :func:`detections`), then one for the end.

        A detector trained offline (per-clip normalisation, centred frames) is not causal: it refuses,
        naming its causal variant (recipe ``keyword-causal``), unless ``approximate`` (running statistics
        stand in for the clip's; detections then differ from offline). ``backend="native"`` runs each chunk
        step in one compiled call (:class:`~convrnn.stream.NativeStream`: the causal detector lowers whole)."""
        from convrnn.data.pcm import pcm_chunks
        from convrnn.stream import BACKENDS

        if not 0 < chunk_ms < math.inf:
            raise ValueError(f"listen: argument '--chunk-ms' expected a finite duration > 0, got {chunk_ms!r}")
        if not 0 < threshold < 1:
            raise ValueError(f"listen: argument '--threshold' expected a probability in (0, 1), got {threshold!r}")
        if not 0 <= hold_ms < math.inf:
            raise ValueError(f"listen: argument '--hold-ms' expected a finite duration ≥ 0, got {hold_ms!r}")
        if backend not in BACKENDS:
            raise ValueError(f"listen: argument '--backend' expected one of {list(BACKENDS)}, got {backend!r}")
        exported = _exported_stream(run)
        if exported is not None and backend != "python":
            raise ValueError(f"listen: argument '--backend' is for a run: {run} is an exported chunk model, which "
                             f"runs in onnxruntime")
        model = exported.model if exported is not None else self.load(run)
        rate = model.sample_rate
        chunk = max(1, round(chunk_ms * rate / 1000))
        samples = pcm_chunks(source, chunk, sample_rate=rate, where="listen")
        found, end = 0, 0.0
        for event in detections(model, samples, threshold=threshold, hold=hold_ms / 1000, approximate=approximate,
                                frames=exported, backend=backend):
            if event.kind == "start":
                yield (f"listening: {chunk} samples ({1000 * chunk / rate:g} ms) a chunk, look-ahead "
                       f"{1000 * event.time:.1f} ms{' (approximate: ' + event.note + ')' if event.note else ''}")
            elif event.kind == "keyword":
                found += 1
                yield f"{event.time:8.2f} s  keyword  {event.probability:.1%}"
            else:
                end = event.time
        yield f"end of signal at {end:.2f} s: {found} detection{'s' if found != 1 else ''}"

    def stream_chunk(self, model: nn.Module, chunk_ms: float | None) -> tuple[Any, Tensor, dict[str, Any]]:
        """The detector's frame scores streamed (``stream_layers(pooled=False)``), a chunk of ``chunk_ms``
        (default 20) rounded to whole hops (at least one), and the rate and hop for ``listen``."""
        chunk_ms = 20.0 if chunk_ms is None else chunk_ms
        if not 0 < chunk_ms < math.inf:
            raise ValueError(f"export: argument '--chunk-ms' expected a finite duration > 0, got {chunk_ms!r}")
        hops = max(1, round(chunk_ms * model.sample_rate / 1000 / model.hop_length))
        chunk = torch.zeros(1, 1, hops * model.hop_length)
        return (model.stream_layers(pooled=False), chunk,
                {"sample_rate": model.sample_rate, "hop_length": model.hop_length})

    def load(self, run: str | os.PathLike[str]) -> nn.Module:
        """The trained detector of a run or model directory (or exported file), in eval mode."""
        return self.load_model(run)[0]

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Waveforms ``(N, 1, T)`` at the model's sample rate in; clip logits ``(N, classes)`` and frame
        scores ``(N, classes, frames)`` out (:class:`Detections`); N and T dynamic."""
        waveform = torch.zeros(2, 1, 2 * model.n_fft)
        return ExportSignature((waveform,), {"waveform": ["N", None, "T"]}, ["waveform"], ["logits", "frame_scores"],
                               module=Detections(model),
                               attributes={"sample_rate": model.sample_rate, "hop_length": model.hop_length},
                               minimums={"T": _least_samples(model)})

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained detector and its input shape (one clip)."""
        return build_model(self.model, **self.model_options)

    def examples(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """``batch_size`` generated validation clips and their labels."""
        return generated_examples(self.dataset, batch_size)


def _least_samples(model: nn.Module) -> int:
    """The shortest clip an exported detector takes: more than n_fft/2 samples (centred frames
    reflect that much), or for the causal variant more frames than its running normalisation steps
    through one by one (a branch on the frame count that an export fixes)."""
    if getattr(model, "causal", False):
        from convrnn.layers.time_norm import _STEPWISE

        return _STEPWISE * model.hop_length + 1   # 1 + (T − 1) // hop > _STEPWISE frames
    return model.n_fft // 2 + 1


class Detections(nn.Module):
    """A keyword detector's clip logits ``(N, classes)`` and frame scores ``(N, classes, frames)``
    in one pass over ``waveform (N, 1, T)`` (the frame scores max-pooled over time are the logits):
    what predict reads, and what ``convrnn export`` writes."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, waveform: Tensor) -> tuple[Tensor, Tensor]:
        frame_scores = self.detector.frame_scores(waveform)
        return self.detector.pool(frame_scores), frame_scores


def shift_accuracies(model: nn.Module, clips: Any, *, positions: Sequence[float] = SHIFT_POSITIONS,
                     device: str = "cpu", batch_size: int = 64) -> dict[float, float]:
    """Detection rate of the positive clips with the keyword moved to each relative position.

    Position ``q`` starts the keyword at ``q · (T − keyword length)`` samples, so 0 is the very
    start of the clip and 1 the very end. The keyword is rendered alone in the clip's noise: moved
    among the filler words it would overlap them, which speech never does, and the test would
    measure robustness to two words spoken at once instead of to position.
    Returns ``{q: fraction of positives detected}``.
    """
    positives = [i for i, label in enumerate(clips.labels.tolist()) if label == 1]
    if not positives:
        raise ValueError("shift_accuracies: the clips hold no positive example")
    model = model.to(device).eval()
    result = {}
    for q in positions:
        hits = 0
        for start in range(0, len(positives), batch_size):
            chunk = positives[start:start + batch_size]
            waves = []
            for index in chunk:
                room = clips.length - clips.keyword_length(index)
                waves.append(clips.render(index, keyword_start=round(q * room), fillers=False))
            batch = torch.from_numpy(np.stack(waves)).unsqueeze(1).to(device)
            with torch.no_grad():
                hits += int((model(batch).argmax(-1) == 1).sum())
        result[float(q)] = hits / len(positives)
    return result


@dataclass(frozen=True)
class Detection:
    """An event of :func:`detections`: ``kind`` ``"start"`` (``time``: the stream's look-ahead in
    seconds; ``note``: what it approximates), ``"keyword"`` (``time``: the end of the frame where the
    probability rose past the threshold, in seconds of signal; ``probability``) or ``"end"``
    (``time``: the signal's length)."""

    kind: str
    time: float
    probability: float = 0.0
    note: str = ""


def _exported_stream(run: str | os.PathLike[str]) -> Any:
    """The :class:`~convrnn.stream.ExportedStream` of an exported chunk model file, None for a run; a
    whole-clip export is refused (it cannot run chunk by chunk)."""
    from convrnn.export import is_exported
    from convrnn.stream import ExportedStream

    if not is_exported(run):
        return None
    return ExportedStream(run, threads=1)   # a live stream: one thread, the steadiest latency


def detections(model: nn.Module, chunks: Iterable[np.ndarray | Tensor], *, threshold: float = 0.5,
               hold: float = 0.5, approximate: bool = False, frames: Any = None,
               backend: str = "python") -> Iterator[Detection]:
    """The keyword detections of ``model`` (a :class:`~convrnn.models.KeywordSpotter`) on a signal
    given chunk by chunk (samples ``(T_chunk,)``), as they become final.

    Frame t's keyword probability p_t = softmax(scores[:, t])[keyword] (the scores before the global
    max; trained through the max, they flicker within a word); a detection is reported where
    p_t ≥ ``threshold`` after p_{t−1} < ``threshold`` and more than ``hold`` seconds after the previous
    detection (one word: the frame scores of one utterance rise several times), at the time
    of the last sample its score reads (t·hop plus the stream's look-ahead: t·hop for the causal
    variant). The frames are those of offline :meth:`~KeywordSpotter.frame_scores`. ``frames``: the
    stream of frame scores to use instead of ``model``'s (an :class:`~convrnn.stream.ExportedStream`,
    whose model then only needs ``sample_rate`` and ``hop_length``); ``backend`` that of :func:`convrnn.stream`."""
    from convrnn.stream import stream

    if frames is None:
        model = model.eval()
        frames = stream(model.stream_layers(pooled=False), approximate=approximate, backend=backend)
    rate, hop = model.sample_rate, model.hop_length
    note = "; ".join(frames.approximations)
    yield Detection("start", frames.latency / rate, note=note)
    above, frame, samples, previous = False, 0, 0, -math.inf

    def scan(scores: Tensor) -> Iterator[Detection]:
        nonlocal above, frame, previous
        probabilities = torch.softmax(scores[0], dim=0)[1].tolist()
        for p in probabilities:
            # the last sample frame t's score reads: t·hop for causal framing, more with look-ahead
            at = min(frame * hop + frames.latency, samples - 1) / rate
            if p >= threshold and not above and at - previous > hold:
                previous = at
                yield Detection("keyword", at, p)
            above = p >= threshold
            frame += 1

    for piece in chunks:
        piece = torch.as_tensor(piece, dtype=torch.float32).reshape(1, 1, -1)
        samples += piece.shape[-1]
        yield from scan(frames.push(piece))
    tail = frames.flush()
    if tail is not None:
        yield from scan(tail)
    yield Detection("end", samples / rate)


__all__ = ["Detection", "Detections", "KeywordRecipe", "detections", "shift_accuracies"]
