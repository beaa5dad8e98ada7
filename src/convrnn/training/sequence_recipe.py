"""Train, evaluate and use the sequence tasks: many → one classification (feature sequences and
texts), many → many tagging, and forecasting — the recipe protocol of ``convrnn train/eval/predict``.

A recipe file under ``convrnn/recipes/`` holds one of the four recipe classes below, filled with
its data loader and settings; this module does the work. A run directory holds::

    OUT/checkpoints/{last,best}/   resumable checkpoints of the main model (safetensors + JSON)
    OUT/model/                     the main model: best weights + config (vocabulary, classes, …)
    OUT/<other>/                   further models of the recipe (``cnn``, ``baseline``)
    OUT/log.csv                    one row per epoch (``<other>_log.csv`` for the others)
    OUT/scores.json                test scores, wall time, settings

Every model here takes ``lengths`` and masks by them, so a padded batch computes exactly what
each sequence gives alone.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from convrnn.data.batching import IGNORE_INDEX, LengthBucketSampler, SequenceCollate, pad_sequences
from convrnn.data.text import Vocabulary, WordTokenizer
from convrnn.models.forecaster import Forecaster, seasonal_naive, sliding_windows
from convrnn.models.sequence_classifier import BagOfWordsClassifier, ConvTextClassifier, RecurrentClassifier
from convrnn.models.tagger import Tagger
from convrnn.training.callbacks import Callback, Checkpoint
from convrnn.training.checkpoint import load_checkpoint, load_model_weights, read_config, save_model
from convrnn.training.evaluate import evaluate
from convrnn.training.files import write_json
from convrnn.training.fit import fit
from convrnn.training.fit_state import FitState, History
from convrnn.training.image_recipe import model_directory
from convrnn.training.loggers import CSVLogger
from convrnn.training.metrics import Accuracy, MeanAbsoluteError
from convrnn.training.seeding import seed_everything

MODEL_CLASSES: dict[str, Callable[..., nn.Module]] = {
    "recurrent-classifier": RecurrentClassifier, "conv-text-classifier": ConvTextClassifier,
    "bag-of-words": BagOfWordsClassifier, "tagger": Tagger, "forecaster": Forecaster,
}


# ----------------------------------------------------------------------------------------------
# Shared machinery: settings, atomic JSON, fitting one model into the run directory, reloading.
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """The training settings of one run after the command line's overrides."""

    epochs: int
    batch_size: int
    lr: float
    seed: int = 0
    device: str = "cpu"
    resume: bool = False
    progress: bool = True
    limit: int | None = None


def _settings(defaults: Any, epochs: int | None, batch_size: int | None, lr: float | None,
              **rest: Any) -> Settings:
    epochs = defaults.epochs if epochs is None else epochs
    batch_size = defaults.batch_size if batch_size is None else batch_size
    lr = defaults.lr if lr is None else lr
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train: argument '{name}' expected an int ≥ 1, got {value!r}")
    if not lr > 0:
        raise ValueError(f"train: argument 'lr' expected a positive number, got {lr!r}")
    limit = rest.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"train: argument 'limit' expected None or an int ≥ 1, got {limit!r}")
    return Settings(epochs, batch_size, lr, **rest)


class _BucketEpochs(Callback):
    """Tell a :class:`LengthBucketSampler` the epoch, so each epoch's batches differ (``fit``
    sets the epoch of ``loader.sampler``, not of a ``batch_sampler``)."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.sampler = loader.batch_sampler

    def on_epoch_start(self, state: FitState) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(state.epoch)


def sequence_loader(examples: Sequence[tuple[Any, Any]], batch_size: int, *, shuffle: bool, seed: int = 0,
                    collate: Callable[..., Any] | None = None) -> DataLoader[Any]:
    """Batches of ``(sequence, target)`` examples of similar length, padded, with lengths."""
    lengths = [len(sequence) for sequence, _ in examples]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(list(examples), batch_sampler=sampler, collate_fn=collate or SequenceCollate())


def fit_into_run(model: nn.Module, train: DataLoader[Any], val: DataLoader[Any], *, out: Path, name: str,
                 settings: Settings, loss: Callable[..., Tensor], metrics: dict[str, Any], monitor: str,
                 mode: str, config: dict[str, Any], weight_decay: float = 0.0,
                 clip_grad_norm: float | None = 5.0) -> History:
    """Train ``model`` with AdamW and a one-cycle learning rate, keep the best epoch by
    ``monitor``, and save it as ``out/name`` (the main model ``"model"`` logs to ``log.csv`` and
    checkpoints to ``checkpoints/``; another to ``<name>_log.csv`` and ``<name>_checkpoints/``)."""
    main = name == "model"
    checkpoints = Checkpoint(out / ("checkpoints" if main else f"{name}_checkpoints"), monitor=monitor, mode=mode)
    log = out / ("log.csv" if main else f"{name}_log.csv")
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, epochs=settings.epochs,
                                                    steps_per_epoch=max(len(train), 1))
    resume = checkpoints.last if settings.resume and checkpoints.last.exists() else None
    callbacks: list[Callback] = [checkpoints, CSVLogger(log)]
    if isinstance(train.batch_sampler, LengthBucketSampler):
        callbacks.append(_BucketEpochs(train))
    history = fit(model, train, val, loss=loss, optimizer=optimizer, epochs=settings.epochs,
                  scheduler=scheduler, clip_grad_norm=clip_grad_norm, metrics=metrics, callbacks=callbacks,
                  device=settings.device, seed=settings.seed, resume=resume, progress=settings.progress,
                  config=config)
    load_checkpoint(checkpoints.best_path, model)
    save_model(out / name, model, config, metadata={"history": history.records})
    return history


def build_sequence_model(config: dict[str, Any]) -> nn.Module:
    """The (untrained) model a saved config describes."""
    kind = config.get("model")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"a saved config expected 'model' in {sorted(MODEL_CLASSES)}, got {kind!r}")
    return MODEL_CLASSES[kind](**config.get("model_options", {}))


def load_sequence_model(run: str | os.PathLike[str], name: str = "model") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild model ``name`` of a run directory (``"model"``, ``"cnn"``, ``"baseline"``) with
    its weights, in eval mode, and its config."""
    directory = model_directory(run) if name == "model" else Path(run) / name
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"'{run}' holds no '{name}' model (no {directory / 'config.json'})")
    config = read_config(directory)
    model = build_sequence_model(config)
    load_model_weights(directory, model)
    return model.eval(), config


def _finish(out: Path, name: str, started: float, settings: Settings, scores: dict[str, Any]) -> dict[str, Any]:
    result = {"recipe": name, **scores, "epochs": settings.epochs,
              "wall_seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "settings": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                           "seed": settings.seed, "limit": settings.limit}}
    write_json(out / "scores.json", result)
    return result


def _ranked(probabilities: Tensor, classes: Sequence[str], top: int) -> str:
    best = torch.topk(probabilities, min(top, probabilities.numel()))
    return ", ".join(f"{classes[i]} {p:.1%}" for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True))


def _classification_scores(model: nn.Module, loader: DataLoader[Any], device: str) -> dict[str, float]:
    model.to(device)  # evaluate moves batches, not the model
    return evaluate(model, loader, loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()}, device=device)


# ----------------------------------------------------------------------------------------------
# Many → one over feature sequences (japanese-vowels).
# ----------------------------------------------------------------------------------------------

FeatureSplits = dict[str, tuple[list[np.ndarray], np.ndarray]]


def hold_out_per_class(labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): the last ``per_class`` examples of every class are held out."""
    labels = np.asarray(labels)
    held = np.concatenate([np.flatnonzero(labels == k)[-per_class:] for k in np.unique(labels)]) \
        if per_class > 0 else np.array([], dtype=int)
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return kept, np.sort(held)


@dataclass(frozen=True)
class FeatureSequenceRecipe:
    """Classify variable-length multichannel sequences ``(T_i, F)`` with a recurrent classifier.

    ``load()`` returns ``{"train": (series, labels), "test": (series, labels)}`` (a
    ``"validation"`` entry is optional; without one ``validation_per_class`` training examples
    of each class are held out). Channels are standardised with the training set's statistics
    over its real steps.
    """

    name: str
    description: str
    load: Callable[[], FeatureSplits]
    classes: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 60
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    validation_per_class: int = 3
    target: str = ""

    def _splits(self) -> tuple[FeatureSplits, np.ndarray, np.ndarray]:
        data = dict(self.load())
        if "validation" not in data:
            series, labels = data["train"]
            kept, held = hold_out_per_class(labels, self.validation_per_class)
            data["train"] = ([series[i] for i in kept], labels[kept])
            data["validation"] = ([series[i] for i in held], labels[held])
        steps = np.concatenate(data["train"][0])
        return data, steps.mean(0), steps.std(0) + 1e-8

    def _loader(self, series: list[np.ndarray], labels: np.ndarray, mean: Sequence[float], std: Sequence[float],
                batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader[Any]:
        mean_t, std_t = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        examples = [((torch.as_tensor(s, dtype=torch.float32) - mean_t) / std_t, int(y))
                    for s, y in zip(series, labels, strict=True)]
        return sequence_loader(examples, batch_size, shuffle=shuffle, seed=seed)

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None) -> dict[str, Any]:
        """Train into the run directory ``out`` and return the test scores."""
        settings = _settings(self, epochs, batch_size, lr, seed=seed, device=device, resume=resume,
                             progress=progress, limit=limit)
        out, started = Path(out), time.perf_counter()
        seed_everything(seed)
        data, mean, std = self._splits()
        series, labels = data["train"]
        if limit is not None:
            series, labels = series[:limit], labels[:limit]
        train = self._loader(series, labels, mean, std, settings.batch_size, shuffle=True, seed=seed)
        val = self._loader(*data["validation"], mean, std, 256, shuffle=False)
        options = {"num_classes": len(self.classes), "input_size": int(series[0].shape[1]), **self.model_options}
        model = RecurrentClassifier(**options)
        config = {"recipe": self.name, "model": "recurrent-classifier", "model_options": options,
                  "classes": list(self.classes), "normalize": {"mean": mean.tolist(), "std": std.tolist()}}
        fit_into_run(model, train, val, out=out, name="model", settings=settings, loss=nn.CrossEntropyLoss(),
                     metrics={"accuracy": Accuracy()}, monitor="val_loss", mode="min", config=config,
                     weight_decay=self.weight_decay)
        test = _classification_scores(model, self._loader(*data["test"], mean, std, 256, shuffle=False), device)
        return _finish(out, self.name, started, settings,
                       {"test_accuracy": test["accuracy"], "test_loss": test["loss"]})

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Accuracy and loss of the trained model on ``split``."""
        model, config = load_sequence_model(run)
        data, _, _ = self._splits()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        stats = config["normalize"]
        return _classification_scores(model, self._loader(*data[split], stats["mean"], stats["std"], 256,
                                                           shuffle=False), device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per file (``.npy``, or text with one row of F numbers per step): the ``top``
        most probable classes."""
        model, config = load_sequence_model(run)
        stats = config["normalize"]
        lines = []
        for path in inputs:
            series = read_sequence_file(path, features=len(stats["mean"]))
            mean, std = torch.tensor(stats["mean"]), torch.tensor(stats["std"])
            x = (torch.as_tensor(series, dtype=torch.float32) - mean) / std
            with torch.no_grad():
                probabilities = torch.softmax(model(x.unsqueeze(0).float()), dim=-1)[0]
            lines.append(f"{path}: {_ranked(probabilities, config['classes'], top)}")
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model and an input shape ``(T, F)`` for ``convrnn summary``."""
        features = int(self.model_options.get("input_size", 12))
        return RecurrentClassifier(len(self.classes), **{"input_size": features, **self.model_options}), (29, features)


def read_sequence_file(path: str, *, features: int) -> np.ndarray:
    """A sequence ``(T, F)`` from a ``.npy`` file or a text file of T rows of F numbers
    (separated by spaces or commas)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"predict: no such file: '{path}'")
    if file.suffix == ".npy":
        series = np.load(file, allow_pickle=False)
    else:
        try:
            series = np.loadtxt(file, delimiter="," if "," in file.read_text() else None, ndmin=2)
        except ValueError as error:
            raise ValueError(f"predict: '{path}' is not a table of numbers: {error}") from None
    if series.ndim != 2 or series.shape[1] != features or series.shape[0] < 1:
        raise ValueError(f"predict: '{path}' expected a sequence of shape (T, {features}), got {series.shape}")
    return series


# ----------------------------------------------------------------------------------------------
# Many → one over texts, with a CNN and a bag-of-words baseline (rotten-tomatoes).
# ----------------------------------------------------------------------------------------------

TextSplits = dict[str, list[tuple[str, int]]]


def fit_logistic_regression(model: BagOfWordsClassifier, inputs: Tensor, labels: Tensor, *, l2: float,
                            iterations: int = 200) -> BagOfWordsClassifier:
    """Minimise the mean cross-entropy + (l2 / 2)·‖W‖² (bias not penalised) with full-batch L-BFGS —
    the convex problem has one minimum, so this is the logistic regression."""
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=iterations, history_size=20,
                                  tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(model(inputs), labels) + 0.5 * l2 * model.weight.weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(objective)
    return model


def distinct_ids(sequences: Sequence[Sequence[int]]) -> Tensor:
    """(N, U) each row's distinct ids, padded with 0: the input of :class:`BagOfWordsClassifier`."""
    rows = [sorted(set(ids) - {0}) or [0] for ids in sequences]
    padded, _ = pad_sequences(rows)
    return padded


@dataclass(frozen=True)
class TextClassificationRecipe:
    """Classify short texts: embedding + bidirectional LSTM (``model``), Kim's CNN over words
    (``cnn``) and a bag-of-words logistic regression (``baseline``), on one split.

    ``load()`` returns ``{"train"|"validation"|"test": [(text, label), …]}``. Texts are
    tokenized by :class:`WordTokenizer` (lower case); the vocabulary holds the training words
    seen at least ``min_count`` times.
    """

    name: str
    description: str
    load: Callable[[], TextSplits]
    classes: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    cnn_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 8
    cnn_epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_count: int = 2
    baseline_l2: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    target: str = ""

    def _encode(self, vocabulary: Vocabulary, examples: list[tuple[str, int]]) -> list[tuple[Tensor, int]]:
        tokenizer = WordTokenizer(lowercase=True)
        # an empty text still needs one step: it reads as a single unknown word
        return [(torch.tensor(vocabulary.encode(tokenizer.tokenize(text)) or [vocabulary.unk_index]), int(label))
                for text, label in examples]

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None) -> dict[str, Any]:
        """Train the three models into ``out``; the recurrent one is ``out/model``."""
        settings = _settings(self, epochs, batch_size, lr, seed=seed, device=device, resume=resume,
                             progress=progress, limit=limit)
        out, started = Path(out), time.perf_counter()
        seed_everything(seed)
        data = self.load()
        train_examples = data["train"][:limit] if limit is not None else data["train"]
        tokenizer = WordTokenizer(lowercase=True)
        vocabulary = Vocabulary.build((tokenizer.tokenize(text) for text, _ in train_examples),
                                      min_count=self.min_count)
        encoded = {split: self._encode(vocabulary, examples)
                   for split, examples in (("train", train_examples), ("validation", data["validation"]),
                                           ("test", data["test"]))}
        common = {"recipe": self.name, "classes": list(self.classes), "tokenizer": tokenizer.to_json(),
                  "vocabulary": vocabulary.to_json()}
        scores: dict[str, Any] = {}
        for name, kind, options, model_epochs in (
                ("model", "recurrent-classifier", self.model_options, settings.epochs),
                ("cnn", "conv-text-classifier", self.cnn_options, self.cnn_epochs if epochs is None else epochs)):
            seed_everything(seed)
            options = {"num_classes": len(self.classes), "vocab_size": len(vocabulary), **options}
            model = MODEL_CLASSES[kind](**options)
            config = {**common, "model": kind, "model_options": options}
            train = sequence_loader(encoded["train"], settings.batch_size, shuffle=True, seed=seed)
            val = sequence_loader(encoded["validation"], 256, shuffle=False)
            model_settings = dataclasses.replace(settings, epochs=model_epochs)
            fit_into_run(model, train, val, out=out, name=name, settings=model_settings, loss=nn.CrossEntropyLoss(),
                         metrics={"accuracy": Accuracy()}, monitor="val_accuracy", mode="max", config=config,
                         weight_decay=self.weight_decay)
            test = _classification_scores(model, sequence_loader(encoded["test"], 256, shuffle=False), device)
            prefix = "test_" if name == "model" else f"test_{name}_"
            scores |= {f"{prefix}accuracy": test["accuracy"], f"{prefix}loss": test["loss"]}
        baseline, l2, validation_accuracy = self._fit_baseline(vocabulary, encoded)
        save_model(out / "baseline", baseline, {**common, "model": "bag-of-words",
                                                "model_options": {"num_classes": len(self.classes),
                                                                  "vocab_size": len(vocabulary)}, "l2": l2})
        scores["test_baseline_accuracy"] = self._bag_accuracy(baseline, encoded["test"])
        scores["baseline_l2"], scores["baseline_val_accuracy"] = l2, validation_accuracy
        return _finish(out, self.name, started, settings, scores)

    @staticmethod
    def _bag_accuracy(model: nn.Module, examples: list[tuple[Tensor, int]]) -> float:
        inputs = distinct_ids([ids.tolist() for ids, _ in examples])
        labels = torch.tensor([label for _, label in examples])
        with torch.no_grad():
            return float((model(inputs).argmax(1) == labels).double().mean())

    def _fit_baseline(self, vocabulary: Vocabulary, encoded: dict[str, list[tuple[Tensor, int]]]
                      ) -> tuple[BagOfWordsClassifier, float, float]:
        """The logistic regression whose L2 strength (from ``baseline_l2``) is best on validation."""
        inputs = distinct_ids([ids.tolist() for ids, _ in encoded["train"]])
        labels = torch.tensor([label for _, label in encoded["train"]])
        best: tuple[BagOfWordsClassifier, float, float] | None = None
        for l2 in self.baseline_l2:
            model = fit_logistic_regression(BagOfWordsClassifier(len(self.classes), vocab_size=len(vocabulary)),
                                            inputs, labels, l2=l2)
            accuracy = self._bag_accuracy(model, encoded["validation"])
            if best is None or accuracy > best[2]:
                best = (model, l2, accuracy)
        assert best is not None
        return best

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Accuracy of the recurrent model, the CNN and the baseline on ``split``."""
        data = self.load()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        scores: dict[str, float] = {}
        for name in ("model", "cnn", "baseline"):
            model, config = load_sequence_model(run, name)
            examples = self._encode(Vocabulary.from_json(config["vocabulary"]), data[split])
            key = "accuracy" if name == "model" else f"{name}_accuracy"
            if name == "baseline":
                scores[key] = self._bag_accuracy(model, examples)
            else:
                scores[key] = _classification_scores(model, sequence_loader(examples, 256, shuffle=False),
                                                     device)["accuracy"]
        return scores

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per text: the recurrent model's class probabilities, then the text."""
        model, config = load_sequence_model(run)
        vocabulary = Vocabulary.from_json(config["vocabulary"])
        lines = []
        for text in inputs:
            tokens = WordTokenizer(lowercase=True).tokenize(text)
            if not tokens:
                raise ValueError(f"predict: expected a text with at least one word, got {text!r}")
            with torch.no_grad():
                probabilities = torch.softmax(model(torch.tensor([vocabulary.encode(tokens)])), dim=-1)[0]
            lines.append(f"{_ranked(probabilities, config['classes'], top)}: {text}")
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained recurrent model (over a 20 000-word vocabulary) fed token ids ``(T,)``."""
        options = {"num_classes": len(self.classes), "vocab_size": 20_000, **self.model_options}
        return TokenInput(RecurrentClassifier(**options)), (40,)


class TokenInput(nn.Module):
    """Feeds a token model the integer ids that ``convrnn summary``'s all-zero float input stands
    for (id 0, padding): only so the summary can run a token model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.long())


# ----------------------------------------------------------------------------------------------
# Many → many: tagging (brown-pos).
# ----------------------------------------------------------------------------------------------

TaggedSplits = dict[str, list[list[tuple[str, str]]]]


class TaggingCollate:
    """Pads a batch of encoded sentences ``(word ids (T_i,), characters (T_i, W_i), tags (T_i,))``
    to ``{"words": (N, T), "characters": (N, T, W), "lengths": (N,), "targets": (N, T)}``;
    padded tags are ``IGNORE_INDEX``. With ``unknown_rate`` p > 0 (training) each word id becomes
    ``<unk>`` with probability p — its characters stay — so the model learns what to do with
    words it has never seen."""

    def __init__(self, unknown_rate: float = 0.0, unknown_index: int = 1) -> None:
        self.unknown_rate, self.unknown_index = unknown_rate, unknown_index

    def __call__(self, examples: Sequence[tuple[Tensor, Tensor, Tensor]]) -> dict[str, Tensor]:
        words, lengths = pad_sequences([w for w, _, _ in examples])
        tags, _ = pad_sequences([t for _, _, t in examples], padding_value=IGNORE_INDEX)
        width = max(c.shape[1] for _, c, _ in examples)
        characters = torch.zeros(len(examples), words.shape[1], width, dtype=torch.long)
        for row, (_, chars, _) in enumerate(examples):
            characters[row, :chars.shape[0], :chars.shape[1]] = chars
        if self.unknown_rate > 0:
            dropped = (torch.rand(words.shape) < self.unknown_rate) & (words != 0)
            words = words.masked_fill(dropped, self.unknown_index)
        return {"words": words, "characters": characters, "lengths": lengths, "targets": tags}


def tagging_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over the real words: logits (N, T, K), targets (N, T) with padding
    ``IGNORE_INDEX``."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


@dataclass(frozen=True)
class TaggingRecipe:
    """Tag every word of a sentence with a BiLSTM tagger (word embeddings + character CNN).

    ``load()`` returns ``{"train"|"validation"|"test": [[(word, tag), …], …]}`` with the tags
    already in ``tags``. Word embeddings are looked up lower-cased (training words seen at least
    ``min_count`` times); the character CNN sees the word as written (up to
    ``max_word_length`` characters).
    """

    name: str
    description: str
    load: Callable[[], TaggedSplits]
    tags: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    min_count: int = 2
    unknown_rate: float = 0.05
    max_word_length: int = 20
    target: str = ""

    def _encode(self, words: Vocabulary, alphabet: Vocabulary, sentence: list[tuple[str, str]] | list[str]
                ) -> tuple[Tensor, Tensor, Tensor]:
        tokens = [item if isinstance(item, str) else item[0] for item in sentence]
        tags = [self.tags.index(item[1]) if not isinstance(item, str) else 0 for item in sentence]
        characters, _ = pad_sequences([alphabet.encode(token[:self.max_word_length]) or [alphabet.unk_index]
                                       for token in tokens])
        return torch.tensor(words.encode(t.lower() for t in tokens)), characters, torch.tensor(tags)

    def _loader(self, words: Vocabulary, alphabet: Vocabulary, sentences: list[Any], batch_size: int, *,
                shuffle: bool, seed: int = 0, unknown_rate: float = 0.0) -> DataLoader[Any]:
        examples = [self._encode(words, alphabet, sentence) for sentence in sentences if sentence]
        lengths = [len(w) for w, _, _ in examples]
        sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(examples, batch_sampler=sampler, collate_fn=TaggingCollate(unknown_rate, words.unk_index))

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None, lookahead: int | str | None = "default",
              data: TaggedSplits | None = None) -> dict[str, Any]:
        """Train into ``out``; ``lookahead`` overrides the model's (``None`` = full sentence);
        ``data`` reuses already loaded splits (the look-ahead study trains five times)."""
        settings = _settings(self, epochs, batch_size, lr, seed=seed, device=device, resume=resume,
                             progress=progress, limit=limit)
        out, started = Path(out), time.perf_counter()
        seed_everything(seed)
        data = data or self.load()
        sentences = data["train"][:limit] if limit is not None else data["train"]
        words = Vocabulary.build(([w.lower() for w, _ in s] for s in sentences), min_count=self.min_count)
        alphabet = Vocabulary.build(list(w) for s in sentences for w, _ in s)
        options = {"num_tags": len(self.tags), "vocab_size": len(words), "alphabet_size": len(alphabet),
                   **self.model_options}
        if lookahead != "default":
            options["lookahead"] = lookahead
        model = Tagger(**options)
        config = {"recipe": self.name, "model": "tagger", "model_options": options, "tags": list(self.tags),
                  "vocabulary": words.to_json(), "alphabet": alphabet.to_json(),
                  "max_word_length": self.max_word_length}
        train = self._loader(words, alphabet, sentences, settings.batch_size, shuffle=True, seed=seed,
                             unknown_rate=self.unknown_rate)
        val = self._loader(words, alphabet, data["validation"], 256, shuffle=False)
        fit_into_run(model, train, val, out=out, name="model", settings=settings, loss=tagging_loss,
                     metrics={"accuracy": Accuracy(class_dim=-1, ignore_index=IGNORE_INDEX)},
                     monitor="val_accuracy", mode="max", config=config, weight_decay=self.weight_decay)
        test = self._scores(model, words, alphabet, data["test"], device)
        return _finish(out, self.name, started, settings,
                       {"test_accuracy": test["accuracy"], "test_unknown_word_accuracy": test["unknown_accuracy"],
                        "test_loss": test["loss"], "lookahead": options.get("lookahead")})

    def _scores(self, model: nn.Module, words: Vocabulary, alphabet: Vocabulary, sentences: list[Any],
                device: str) -> dict[str, float | None]:
        """Token accuracy, and accuracy on the words outside the training vocabulary."""
        loader = self._loader(words, alphabet, sentences, 256, shuffle=False)
        model.eval().to(device)
        correct = counted = unknown_correct = unknown = 0
        loss = 0.0
        with torch.no_grad():
            for batch in loader:
                batch = {key: value.to(device) for key, value in batch.items()}
                logits = model(batch["words"], batch["characters"], batch["lengths"])
                real = batch["targets"] != IGNORE_INDEX
                hits = (logits.argmax(-1) == batch["targets"]) & real
                unseen = real & (batch["words"] == words.unk_index)
                correct += int(hits.sum())
                counted += int(real.sum())
                unknown_correct += int((hits & unseen).sum())
                unknown += int(unseen.sum())
                loss += float(tagging_loss(logits, batch["targets"])) * int(real.sum())
        return {"accuracy": correct / counted, "loss": loss / counted,
                # None, not NaN, when no word is unknown: scores are written as strict JSON
                "unknown_accuracy": unknown_correct / unknown if unknown else None}

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Token accuracy (all words, and unknown words) of the trained tagger on ``split``."""
        model, config = load_sequence_model(run)
        data = self.load()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        return self._scores(model, Vocabulary.from_json(config["vocabulary"]),
                            Vocabulary.from_json(config["alphabet"]), data[split], device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per sentence: ``word/TAG`` for every word (words split on spaces and before
        punctuation)."""
        model, config = load_sequence_model(run)
        words, alphabet = Vocabulary.from_json(config["vocabulary"]), Vocabulary.from_json(config["alphabet"])
        tokenizer = WordTokenizer(lowercase=False)
        lines = []
        for text in inputs:
            tokens = tokenizer.tokenize(text)
            if not tokens:
                raise ValueError(f"predict: expected a sentence with at least one word, got {text!r}")
            word_ids, characters, _ = self._encode(words, alphabet, tokens)
            with torch.no_grad():
                logits = model(word_ids.unsqueeze(0), characters.unsqueeze(0))[0]
            tags = [config["tags"][i] for i in logits.argmax(-1).tolist()]
            lines.append(" ".join(f"{token}/{tag}" for token, tag in zip(tokens, tags, strict=True)))
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained tagger (20 000 words, 100 characters) on a 25-word sentence of zeros."""
        options = {"num_tags": len(self.tags), "vocab_size": 20_000, "alphabet_size": 100, **self.model_options}
        return _WordsOnly(Tagger(**options)), (25,)

    def lookahead_table(self, out: str | os.PathLike[str], lookaheads: Sequence[int | None] = (0, 1, 2, 4, None),
                        **options: Any) -> list[dict[str, Any]]:
        """Train one tagger per look-ahead into ``out/lookahead-<L>`` and write the table of test
        accuracies to ``out/lookahead.json`` (what a real-time tagger gives up)."""
        out, data = Path(out), self.load()
        rows = []
        for lookahead in lookaheads:
            label = "full" if lookahead is None else str(lookahead)
            scores = self.train(out / f"lookahead-{label}", lookahead=lookahead, data=data, **options)
            rows.append({"lookahead": label, "test_accuracy": scores["test_accuracy"],
                         "test_unknown_word_accuracy": scores["test_unknown_word_accuracy"],
                         "wall_seconds": scores["wall_seconds"]})
            write_json(out / "lookahead.json", {"recipe": self.name, "rows": rows, "options": options})
        return rows


class _WordsOnly(nn.Module):
    """Runs a tagger on word ids alone (each word one padding character) for ``convrnn summary``."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, x: Tensor) -> Tensor:
        words = x.long()
        return self.tagger(words, torch.ones(*words.shape, 1, dtype=torch.long, device=x.device))


# ----------------------------------------------------------------------------------------------
# Forecasting (sunspots).
# ----------------------------------------------------------------------------------------------

def arima_forecasts(series: np.ndarray, fit_until: int, origins: np.ndarray, horizon: int,
                    order: tuple[int, int, int]) -> np.ndarray | None:
    """statsmodels' ARIMA(``order``) fitted on ``series[:fit_until]``, then, with those
    parameters, the ``horizon`` forecasts from every origin t (using ``series[:t+1]``): (M, H).
    ``None`` if statsmodels is not installed (it is an optional dependency)."""
    try:
        from statsmodels.tsa.arima.model import ARIMA
    except ImportError:
        return None
    fitted = ARIMA(series[:fit_until], order=order).fit()
    return np.stack([fitted.apply(series[:origin + 1]).forecast(horizon) for origin in origins])


def forecast_errors(forecasts: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``{"mae_1": MAE of the one-step forecasts, "mae": MAE over all H steps}``; both (M, H)."""
    errors = np.abs(np.asarray(forecasts, dtype=np.float64) - np.asarray(targets, dtype=np.float64))
    return {"mae_1": float(errors[:, 0].mean()), "mae": float(errors.mean())}


@dataclass(frozen=True)
class ForecastingRecipe:
    """Forecast a univariate series H steps ahead from a window of W past values, split
    chronologically: targets before ``validation_from`` train, then validation, and from
    ``test_from`` on test (windows may reach back into earlier years, targets never do).

    Baselines on the same forecast origins: seasonal naive (``period``) and, if statsmodels is
    installed, ARIMA(``arima_order``) fitted on everything before ``test_from``.
    """

    name: str
    description: str
    load: Callable[[], np.ndarray]
    validation_from: int
    test_from: int
    width: int = 22
    horizon: int = 11
    period: int = 11
    model_options: dict[str, Any] = field(default_factory=dict)
    arima_order: tuple[int, int, int] = (9, 0, 0)
    epochs: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    target: str = ""

    def _split(self, series: np.ndarray, split: str) -> tuple[Tensor, Tensor, np.ndarray]:
        """Windows (M, W, 1), targets (M, H) and origins (M,) of ``split``."""
        bounds = {"train": (0, self.validation_from), "validation": (self.validation_from, self.test_from),
                  "test": (self.test_from, len(series))}
        if split not in bounds:
            raise ValueError(f"evaluate: argument 'split' expected one of {list(bounds)}, got {split!r}")
        start, end = bounds[split]
        windows, targets = sliding_windows(series[:end], self.width, self.horizon, targets_from=start)
        origins = np.arange(max(self.width, start), end - self.horizon + 1) - 1
        return windows, targets, origins

    def _network_forecasts(self, model: nn.Module, windows: Tensor, mean: float, std: float) -> np.ndarray:
        device = next(model.parameters()).device
        with torch.no_grad():
            return (model.eval()(((windows - mean) / std).to(device)) * std + mean).double().cpu().numpy()

    def _scores(self, model: nn.Module, series: np.ndarray, split: str, mean: float, std: float) -> dict[str, float]:
        windows, targets, origins = self._split(series, split)
        scores = {f"{key}": value for key, value in
                  forecast_errors(self._network_forecasts(model, windows, mean, std), targets.numpy()).items()}
        naive = forecast_errors(seasonal_naive(series, origins, self.horizon, self.period), targets.numpy())
        scores |= {f"seasonal_naive_{key}": value for key, value in naive.items()}
        arima = arima_forecasts(series, self.test_from, origins, self.horizon, self.arima_order)
        if arima is None:
            print(f"{self.name}: statsmodels is not installed, so the ARIMA baseline is skipped "
                  "(pip install statsmodels)", file=sys.stderr)
        else:
            scores |= {f"arima_{key}": value for key, value in forecast_errors(arima, targets.numpy()).items()}
        return scores

    def train(self, out: str | os.PathLike[str], *, epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int = 0, device: str = "cpu", resume: bool = False,
              progress: bool = True, limit: int | None = None) -> dict[str, Any]:
        """Train into ``out``; scores are mean absolute errors in the series' own units."""
        settings = _settings(self, epochs, batch_size, lr, seed=seed, device=device, resume=resume,
                             progress=progress, limit=limit)
        out, started = Path(out), time.perf_counter()
        seed_everything(seed)
        series = np.asarray(self.load(), dtype=np.float64)
        mean, std = float(series[:self.validation_from].mean()), float(series[:self.validation_from].std())
        windows, targets, _ = self._split(series, "train")
        if limit is not None:
            windows, targets = windows[:limit], targets[:limit]
        val_windows, val_targets, _ = self._split(series, "validation")
        train = TensorDataset((windows - mean) / std, (targets - mean) / std)
        val = TensorDataset((val_windows - mean) / std, (val_targets - mean) / std)
        options = {"input_size": 1, "horizon": self.horizon, **self.model_options}
        model = Forecaster(**options)
        config = {"recipe": self.name, "model": "forecaster", "model_options": options,
                  "normalize": {"mean": mean, "std": std}, "width": self.width, "horizon": self.horizon}
        loader = DataLoader(train, batch_size=settings.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        fit_into_run(model, loader, DataLoader(val, batch_size=256), out=out, name="model", settings=settings,
                     loss=nn.MSELoss(), metrics={"mae": MeanAbsoluteError()}, monitor="val_mae", mode="min",
                     config=config, weight_decay=self.weight_decay)
        scores = self._scores(model, series, "test", mean, std)
        return _finish(out, self.name, started, settings, {f"test_{key}": value for key, value in scores.items()})

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """MAE (one-step and over the horizon) of the network and the baselines on ``split``."""
        model, config = load_sequence_model(run)
        series = np.asarray(self.load(), dtype=np.float64)
        return self._scores(model, series, split, config["normalize"]["mean"], config["normalize"]["std"])

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """For each input — past values separated by commas or spaces, oldest first — the next
        H forecasts."""
        model, config = load_sequence_model(run)
        stats = config["normalize"]
        lines = []
        for text in inputs:
            try:
                values = [float(v) for v in text.replace(",", " ").split()]
            except ValueError:
                raise ValueError(f"predict: expected numbers separated by commas or spaces, got {text!r}") from None
            if not values:
                raise ValueError(f"predict: expected at least one past value, got {text!r}")
            window = torch.tensor(values, dtype=torch.float32).view(1, -1, 1)
            forecast = self._network_forecasts(model, window, stats["mean"], stats["std"])[0]
            lines.append(f"next {len(forecast)}: " + ", ".join(f"{v:.1f}" for v in forecast))
        return lines

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained forecaster and its window shape ``(W, 1)``."""
        return Forecaster(**{"input_size": 1, "horizon": self.horizon, **self.model_options}), (self.width, 1)


__all__ = [
    "FeatureSequenceRecipe",
    "ForecastingRecipe",
    "TaggingCollate",
    "TaggingRecipe",
    "TextClassificationRecipe",
    "arima_forecasts",
    "build_sequence_model",
    "distinct_ids",
    "fit_into_run",
    "fit_logistic_regression",
    "forecast_errors",
    "hold_out_per_class",
    "load_sequence_model",
    "read_sequence_file",
    "sequence_loader",
    "tagging_loss",
]
