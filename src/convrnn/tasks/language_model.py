"""Language modelling: a recurrent language model over one token stream (``shakespeare``,
``ptb-word``), trained by truncated BPTT, scored per token, and able to ``sample``.

Training reads the training text as one stream (:mod:`convrnn.training.streams`): cut into N
rows read k steps at a time, each row's state carried from one window to the next, detached;
each pass can be split into several fit "epochs" (``evaluations_per_pass``) so that long passes
are validated and checkpointed along the way.

The score is the mean negative log-likelihood of the held-out stream, in nats per token:
reported as nats and bits per character for character models and as perplexity exp(nats) for
word models. The model's config holds the vocabulary and the tokenizer. Resuming
(``resume=True``) restores weights, optimizer and position exactly; the carried state is not
saved, so the rows restart from a zero state at the resumed window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import IGNORE_INDEX
from convrnn.data.lm_stream import LanguageModelStream
from convrnn.data.text import EOS, CharTokenizer, Tokenizer, Vocabulary, WordTokenizer, tokenizer_from_json
from convrnn.functional._checks import check_choice
from convrnn.generate import generate
from convrnn.models.language_model import CELL_NAMES, LanguageModel
from convrnn.tasks.protocol import ExportSignature, Task
from convrnn.tasks.runs import Run, machine
from convrnn.tasks.sequence import TokenInput
from convrnn.training.callbacks import TimeLimit
from convrnn.training.checkpoint import read_config
from convrnn.training.run import fit_to_best
from convrnn.training.streams import CarriedStateStep, PassPartSampler, stream_loss

SPLITS = ("train", "validation", "test")
SCHEDULES = ("cosine", "plateau", "zaremba", "none")


@dataclass(frozen=True)
class LanguageModelRecipe(Task):
    """Everything that defines one language-modelling task, and nothing else.

    ``corpus(split)`` returns the documents (strings) of ``"train"``, ``"validation"`` or
    ``"test"``; each document is tokenized and followed by ``<eos>``, and the documents are
    concatenated into one stream. ``tokenizer`` is ``"chars"`` or ``"words"``. The vocabulary is
    the training split's tokens seen ``min_count`` times (at most ``max_vocab`` ids). A prompt
    token outside the vocabulary is an error with ``unknown="error"`` and ``<unk>`` with
    ``"map"``.

    Training: ``optimizer`` "adam" or "sgd" (plain, as Zaremba et al.), gradient norm clipped to
    ``clip_grad_norm``; ``schedule`` "cosine" (to zero over the run, per step), "plateau"
    (halve when the validation loss stops falling), "zaremba" (lr · decay^max(0, pass + 1 −
    decay_start), per pass) or "none". ``time_limit`` (minutes) stops after the evaluation that
    would otherwise overrun it.
    """

    name: str
    description: str
    corpus: Callable[[str], list[str]]
    tokenizer: str = "chars"
    lowercase: bool = False
    word_split: str = "words"
    min_count: int = 1
    max_vocab: int | None = None
    unknown: str = "error"
    embedding_size: int = 64
    hidden_size: int = 512
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.0
    tie_weights: bool = False
    init_range: float | None = None
    epochs: int = 1
    batch_size: int = 64
    steps: int = 100
    lr: float = 2e-3
    optimizer: str = "adam"
    schedule: str = "cosine"
    decay_start: int = 4
    decay: float = 0.5
    clip_grad_norm: float = 5.0
    evaluations_per_pass: int = 1
    time_limit: float | None = None
    eval_batch_size: int = 10
    target: str = ""

    kind = "language-model"
    capabilities = frozenset({"sample", "export"})
    train_options: ClassVar[Mapping[str, tuple[str, ...]]] = {"cell": CELL_NAMES}
    limit_unit, min_limit = "tokens", 2

    # ----------------------------------------------------------------- the task protocol

    def fit(self, run: Run, cell: str | None = None) -> dict[str, Any]:
        """See :func:`fit_language_model` (``cell``: the recurrent layer, one of ``CELL_NAMES``)."""
        return fit_language_model(self, run, cell)

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> nn.Module:
        """The language model a saved config describes (its vocabulary gives the size)."""
        for key in ("vocabulary", "tokenizer", "model_options"):
            if key not in config:
                raise ValueError(f"its config has no '{key}', so it is not a language model")
        return LanguageModel(len(Vocabulary.from_json(config["vocabulary"])), **config["model_options"])

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Nats (and bits) per token, or perplexity, of the trained model on ``split``."""
        model, config, vocabulary, tokenizer = load_language_model(run)
        check_choice("split", split, SPLITS, where=f"{self.name}.evaluate")
        stream = evaluation_stream(encode_documents(self.corpus(split), tokenizer, vocabulary), self)
        return scores_of(stream_loss(model, stream, device), config["unit"])

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per text: its nats per token under the model and the ``top`` likeliest next tokens."""
        model, config, vocabulary, tokenizer = load_language_model(run)
        lines = []
        for text in inputs:
            ids = vocabulary.encode(tokenizer.tokenize(text), unknown="map")
            if not ids:
                raise ValueError(f"predict: expected a non-empty text, got {text!r}")
            tokens = torch.tensor([[vocabulary.eos_index, *ids]])  # <eos>: "a document starts here"
            with torch.no_grad():
                logits, _ = model(tokens)
            log_probabilities = torch.log_softmax(logits[0].double(), dim=-1)
            nats = -log_probabilities[:-1].gather(1, tokens[0, 1:, None]).mean().item()
            best = torch.topk(log_probabilities[-1].exp(), min(top, len(vocabulary)))
            following = ", ".join(f"{_show(vocabulary.decode([i])[0])} {p:.1%}"
                                  for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True))
            lines.append(f"{text!r}: {nats:.3f} nats/{config['unit']}; next: {following}")
        return lines

    def sample(self, run: str | os.PathLike[str], prompt: str, length: int, *, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
               seed: int | None = None, callback: Callable[[str], object] | None = None) -> str:
        """Continue ``prompt`` by ``length`` tokens; ``callback(piece)`` receives the text as it is
        generated. An empty prompt starts a new document (after ``<eos>``)."""
        model, config, vocabulary, tokenizer = load_language_model(run)
        tokens = tokenizer.tokenize(prompt)
        try:
            ids = vocabulary.encode(tokens, unknown=config.get("unknown", "error"))
        except ValueError as error:
            raise ValueError(f"--prompt: {error}") from None
        if not ids:
            if not config.get("document_separator", True):
                raise ValueError("--prompt: this model was trained on one unbroken stream (no document "
                                 "boundaries), so it needs a non-empty prompt to start from")
            ids = [vocabulary.eos_index]
        pieces, words = [], tokenizer.kind == "words"
        at_line_start = not tokens

        def emit(token: int) -> None:
            nonlocal at_line_start
            text = "\n" if token == vocabulary.eos_index else vocabulary.decode([token])[0]
            if words and text != "\n" and not at_line_start:
                text = " " + text
            at_line_start = text == "\n"
            pieces.append(text)
            if callback is not None:
                callback(text)

        # Padding, unknown and begin tokens are never text: never drawn (end of document is).
        forbid = (vocabulary.pad_index, vocabulary.unk_index, vocabulary.bos_index)
        for token in generate(model, ids, length, temperature=temperature, top_k=top_k, top_p=top_p,
                              greedy=greedy, seed=seed, forbid=forbid):
            emit(token)
        return "".join(pieces)

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Token ids ``(N, T)`` in, next-token logits ``(N, T, V)`` and the final recurrent state out;
        N and T dynamic."""
        return ExportSignature((torch.ones(2, 9, dtype=torch.long),), {"tokens": ["N", "T"]}, ["tokens"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained model (for a vocabulary of 100 tokens) fed token ids ``(T,)``."""
        return TokenInput(build_language_model(self, 100)), (self.steps,)

    def validation_text(self) -> str:
        """The first 1,500 characters of the first validation document (for ``convrnn inspect``/``report``)."""
        return self.corpus("validation")[0][:1500]

    def make_tokenizer(self) -> Tokenizer:
        check_choice("tokenizer", self.tokenizer, ("chars", "words"), where=self.name)
        if self.tokenizer == "chars":
            return CharTokenizer()
        return WordTokenizer(lowercase=self.lowercase, split=self.word_split)


# --------------------------------------------------------------------------- data and model


def encode_documents(documents: list[str], tokenizer: Tokenizer, vocabulary: Vocabulary) -> Tensor:
    """The stream: every document's ids followed by ``<eos>``, concatenated; (L,) int64."""
    ids: list[int] = []
    for document in documents:
        ids.extend(vocabulary.encode(tokenizer.tokenize(document), add_eos=True))
    return torch.tensor(ids, dtype=torch.long)


def evaluation_stream(ids: Tensor, recipe: LanguageModelRecipe) -> LanguageModelStream:
    """``eval_batch_size`` rows (fewer for a tiny text): each row starts from a zero state, so
    few long rows score nearly as a single pass over the text would."""
    return LanguageModelStream(ids, max(1, min(recipe.eval_batch_size, ids.numel() - 1)), recipe.steps)


def model_options(recipe: LanguageModelRecipe) -> dict[str, Any]:
    return {"embedding_size": recipe.embedding_size, "hidden_size": recipe.hidden_size,
            "num_layers": recipe.num_layers, "cell": recipe.cell, "dropout": recipe.dropout,
            "tie_weights": recipe.tie_weights, "init_range": recipe.init_range}


def build_language_model(recipe: LanguageModelRecipe, vocab_size: int) -> LanguageModel:
    return LanguageModel(vocab_size, **model_options(recipe))


def load_language_model(path: str | os.PathLike[str]) -> tuple[LanguageModel, dict[str, Any], Vocabulary, Tokenizer]:
    """Rebuild a trained language model (in eval mode) with its vocabulary and tokenizer."""
    model, config = LanguageModelRecipe.load_model(path)
    return model, config, Vocabulary.from_json(config["vocabulary"]), tokenizer_from_json(config["tokenizer"])


# --------------------------------------------------------------------------- scores and schedules


def scores_of(nats: float, unit: str) -> dict[str, float]:
    """Named scores for a mean loss of ``nats`` per token: per character or per word."""
    if unit == "char":
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2), "loss": nats}
    return {"perplexity": math.exp(nats), "nats_per_word": nats, "loss": nats}


def _optimizer(recipe: LanguageModelRecipe, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    check_choice("optimizer", recipe.optimizer, ("adam", "sgd"), where=recipe.name)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    return torch.optim.SGD(model.parameters(), lr=lr)


def _scheduler(recipe: LanguageModelRecipe, optimizer: torch.optim.Optimizer, fit_epochs: int,
               steps_per_epoch: int, parts: int) -> tuple[Any, str]:
    """The scheduler and whether it steps per optimizer "step" or per fit "epoch"."""
    check_choice("schedule", recipe.schedule, SCHEDULES, where=recipe.name)
    if recipe.schedule == "cosine":
        total = max(1, fit_epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total), "step"
    if recipe.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0), "epoch"
    if recipe.schedule == "zaremba":
        start, decay = recipe.decay_start, recipe.decay
        # stepped once per fit epoch; the factor depends on the pass, as in Zaremba et al.'s code
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: decay ** max(0, epoch // parts + 1 - start)), "epoch"
    return None, "epoch"


# --------------------------------------------------------------------------- the run


def train_language_model(recipe: LanguageModelRecipe, out: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """``recipe.train(out, **options)``: see :func:`fit_language_model` for what is particular here."""
    return recipe.train(out, **options)


def fit_language_model(recipe: LanguageModelRecipe, run: Run, cell: str | None = None) -> dict[str, Any]:
    """Train ``recipe`` into ``run.out`` and return its scores.

    ``epochs`` are passes over the training stream, ``batch_size`` its rows N; ``cell`` (the
    recurrent layer, one of ``CELL_NAMES``: e.g. "lstm", "mingru", "qrnn") overrides the recipe's;
    the run's config records them, so evaluation and sampling rebuild the same model, and a
    resumed run keeps its cell. ``limit`` keeps the first ``limit`` tokens of the training and the
    validation streams (smoke runs and equal-budget comparisons; the test score always covers the
    whole test split).
    """
    out, settings = run.out, run.settings
    if cell is not None:
        if not isinstance(cell, str):
            raise TypeError(f"train: argument 'cell' expected a name in {list(CELL_NAMES)}, got {cell!r}")
        cell = check_choice("cell", cell.lower(), CELL_NAMES, where="train")
    last = out / "checkpoints" / "last"
    if settings.resume and (last / "config.json").is_file():  # a resumed run keeps the cell it was trained with
        trained = read_config(last).get("model_options", {}).get("cell", recipe.cell)
        if cell is not None and cell != trained:
            raise ValueError(f"train: argument 'cell' is {cell!r}, but the run in '{out}' was trained with "
                             f"cell {trained!r}; resume it with that cell or train into another directory")
        cell = trained
    if cell is not None:
        recipe = replace(recipe, cell=cell)
    limit = settings.limit

    tokenizer = recipe.make_tokenizer()
    train_documents = recipe.corpus("train")
    vocabulary = Vocabulary.build((tokenizer.tokenize(d) for d in train_documents),
                                  min_count=recipe.min_count, max_size=recipe.max_vocab)
    train_ids = encode_documents(train_documents, tokenizer, vocabulary)
    val_ids = encode_documents(recipe.corpus("validation"), tokenizer, vocabulary)
    if limit is not None:
        train_ids, val_ids = train_ids[:limit], val_ids[:limit]
    batch_size = min(settings.batch_size, train_ids.numel() - 1)
    train_stream = LanguageModelStream(train_ids, batch_size, recipe.steps)
    val_stream = evaluation_stream(val_ids, recipe)
    parts = max(1, min(recipe.evaluations_per_pass, len(train_stream)))
    train_loader = DataLoader(train_stream, batch_size=None, sampler=PassPartSampler(len(train_stream), parts))
    val_loader = DataLoader(val_stream, batch_size=None)

    model = build_language_model(recipe, len(vocabulary))
    optimizer = _optimizer(recipe, model, settings.lr)
    fit_epochs = settings.epochs * parts
    scheduler, interval = _scheduler(recipe, optimizer, fit_epochs, math.ceil(len(train_stream) / parts), parts)
    unit = "char" if recipe.tokenizer == "chars" else "word"
    config = {
        "recipe": recipe.name, "model": "language-model", "model_options": model_options(recipe),
        "vocabulary": vocabulary.to_json(), "tokenizer": tokenizer.to_json(), "unit": unit,
        "unknown": recipe.unknown, "document_separator": True, "end_of_document": EOS,
        "settings": {"epochs": settings.epochs, "batch_size": batch_size, "steps": recipe.steps, "lr": settings.lr,
                     "seed": settings.seed, "optimizer": recipe.optimizer, "schedule": recipe.schedule,
                     "clip_grad_norm": recipe.clip_grad_norm, "limit": limit,
                     "evaluations_per_pass": parts, "time_limit_minutes": recipe.time_limit},
        "launch": settings.launch(),
    }
    history = fit_to_best(
        model, train_loader, val_loader, out=out, config=config, monitor="val_loss", mode="min",
        resume=settings.resume, callbacks=[TimeLimit(recipe.time_limit)] if recipe.time_limit is not None else [],
        loss=nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX), optimizer=optimizer, epochs=fit_epochs,
        scheduler=scheduler, scheduler_interval=interval, clip_grad_norm=recipe.clip_grad_norm,
        device=settings.device, seed=settings.seed, step_fn=CarriedStateStep(), progress=settings.progress,
    )
    train_seconds = run.seconds()

    test_stream = evaluation_stream(encode_documents(recipe.corpus("test"), tokenizer, vocabulary), recipe)
    test = scores_of(stream_loss(model, test_stream, settings.device), unit)
    best_val = min(record["val_loss"] for record in history.records)
    return run.write({
        "recipe": recipe.name, **{f"test_{key}": value for key, value in test.items()},
        **{f"best_val_{key}": value for key, value in scores_of(best_val, unit).items() if key != "loss"},
        "first_train_loss": history.records[0]["train_loss"], "last_train_loss": history.records[-1]["train_loss"],
        "vocabulary_size": len(vocabulary), "parameters": sum(p.numel() for p in model.parameters()),
        "train_tokens": train_stream.token_count,
        "test_tokens": test_stream.token_count, "evaluations": len(history.records),
        "train_seconds": train_seconds, "wall_seconds": run.seconds(),
        "threads": torch.get_num_threads(), "machine": machine(),
        "device": settings.device, "settings": config["settings"], "model_options": config["model_options"],
    })


def _show(token: str) -> str:
    return repr(token) if len(token) == 1 or token.isspace() else token


__all__ = [
    "LanguageModelRecipe",
    "encode_documents",
    "evaluation_stream",
    "fit_language_model",
    "load_language_model",
    "scores_of",
    "train_language_model",
]
