"""A trained run's report and layer statistics: load its model, config and data through the task
floor, and hand them to :mod:`convrnn.inspect`, which knows no task.

What a run gets follows its saved config: a language model (a vocabulary and a tokenizer, no other
model named) is read over text; an image or signal classifier (``input_shape`` and a registry
``model``) is inspected on a batch of ``(inputs, labels)``; a word2vec run shows where its words
lie; any other run shows its recurrent layer's gradients through time and its first convolution's
filters, where it has them. The data come from the run's recipe where it is given (its
``examples`` batch or its ``validation_text``) or from the caller (``batch``, ``text``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from convrnn.generate import generate
from convrnn.inspect import images
from convrnn.inspect._plot import write_atomic
from convrnn.inspect.report import (
    Section,
    image_sections,
    image_tag,
    language_model_sections,
    recurrent_sections,
    render_report,
    run_sections,
    word_vector_sections,
)
from convrnn.inspect.stats import StatsTable, layer_stats
from convrnn.layers.recurrent.rnn import RNN
from convrnn.tasks.image import load_trained
from convrnn.tasks.language_model import load_language_model
from convrnn.tasks.protocol import Task
from convrnn.tasks.runs import run_config
from convrnn.tasks.sequence import load_sequence_model
from convrnn.training.files import check_writable


def is_language_model(config: dict[str, Any]) -> bool:
    """Whether a saved config is a language model's."""
    # Text classifiers save a vocabulary and a tokenizer too; only language models name no other model.
    named = config.get("model", "language-model")
    return "vocabulary" in config and "tokenizer" in config and named == "language-model"


def is_classifier(config: dict[str, Any]) -> bool:
    """Whether a saved config is that of a registry model with an input shape (image or signal)."""
    return "input_shape" in config and "model" in config


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"argument 'batch_size' (--batch-size) expected a positive int, got {batch_size!r}")


def _examples(recipe: Task | None, batch_size: int) -> tuple[Tensor, Tensor] | None:
    """The recipe's validation batch, or None without a recipe or where its data are not pairs."""
    return recipe.examples(batch_size) if recipe is not None else None


def _language_model_text(model: nn.Module, vocabulary: Any, tokenizer: Any, recipe: Task | None) -> str:
    """The start of the recipe's validation text, or where there is none, a sample of the model's own."""
    try:
        text = recipe.validation_text() if recipe is not None else None
    except (ImportError, KeyError, OSError, ValueError, RuntimeError):
        text = None
    if text is not None:
        return text
    ids = generate(model, [vocabulary.eos_index], 400, temperature=0.8, seed=1)
    return tokenizer.detokenize(vocabulary.decode(ids, skip_special=True))


def _rebuilt_model(run: Path) -> nn.Module | None:
    """A run's model rebuilt by the sequence kinds or from the model registry; None for a run this
    report does not know how to rebuild (it then shows config, scores, curves and pictures)."""
    for load in (load_sequence_model, load_trained):
        try:
            return load(run)[0]
        except (ValueError, KeyError, FileNotFoundError, TypeError):
            continue
    return None


def stats_of_run(run: str | os.PathLike[str], batch_size: int = 64, *, recipe: Task | None = None) -> StatsTable:
    """:func:`convrnn.inspect.layer_stats` of a run's model on the first ``batch_size`` validation
    examples of ``recipe`` (image and signal runs) or on next-token prediction over the start of the
    validation text (language-model runs; a sample of the model's own without the recipe)."""
    _check_batch_size(batch_size)
    config = run_config(run)
    if is_language_model(config):
        model, config, vocabulary, tokenizer = load_language_model(run)
        text = _language_model_text(model, vocabulary, tokenizer, recipe)
        ids = torch.tensor(vocabulary.encode(tokenizer.tokenize(text), unknown="map"))
        return layer_stats(model, (ids[None, :-1], ids[None, 1:]))
    if is_classifier(config):
        batch = _examples(recipe, batch_size)
        if batch is None:
            named = config.get("recipe", "?")
            raise ValueError(f"inspect: the run '{run}' (recipe {named!r}) has no validation batch of inputs and "
                             f"labels {'to read' if recipe is not None else 'without its recipe'}")
        model, _ = load_trained(run)
        return layer_stats(model, batch)
    raise ValueError(f"inspect: the run '{run}' (recipe {config.get('recipe', '?')!r}) is neither an image "
                     f"nor a language-model run; layer statistics need one of them")


def build_report(run: str | os.PathLike[str], *, recipe: Task | None = None, batch: tuple[Tensor, Tensor] | None = None,
                 text: str | None = None, batch_size: int = 64) -> str:
    """The HTML report of a run directory (see :mod:`convrnn.inspect.report`).

    Image runs use ``batch`` (images (N, C, H, W) normalised as in training, labels (N,)) or the
    first ``batch_size`` validation examples of ``recipe``; language-model runs read ``text`` or
    the start of the recipe's validation text (or, without one, a sample of the model's own).
    Other runs with a recurrent layer get its gradients through time.
    """
    _check_batch_size(batch_size)
    run = Path(run)
    config = run_config(run)
    sections: list[Section] = run_sections(run, config)
    if is_language_model(config):
        model, config, vocabulary, tokenizer = load_language_model(run)
        text = _language_model_text(model, vocabulary, tokenizer, recipe) if text is None else text
        sections += language_model_sections(
            model, text, lambda t: vocabulary.encode(tokenizer.tokenize(t), unknown="map"),
            lambda ids: vocabulary.decode(ids), words=tokenizer.kind == "words",
            prompt_ids=[vocabulary.eos_index])
    elif is_classifier(config) and (batch := batch if batch is not None else _examples(recipe, batch_size)):
        model, config = load_trained(run)
        sections += image_sections(model, batch, classes=config.get("classes"))
    elif (run / "vectors.bin").is_file():  # word vectors (word2vec): where the words lie
        sections += word_vector_sections(run / "vectors.bin")
    else:
        model = _rebuilt_model(run)
        rnn = next((m for m in model.modules() if isinstance(m, RNN)), None) if model is not None else None
        if rnn is not None:
            sections += recurrent_sections(rnn)
        convolutions = [(name, m) for name, m in model.named_modules() if images.is_convolution(m)] if model else []
        if convolutions:
            name, first = convolutions[0]
            sections.append(Section("filters", f"Filters of the first convolution ({name})",
                                    image_tag(images.png(images.filter_grid(first.weight)),
                                              f"{tuple(first.weight.shape)} weights, blue < 0 < red")))
    return render_report(f"convrnn report: {config.get('recipe', '?')}", sections)


def write_report(run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, **options: Any) -> Path:
    """Write :func:`build_report` of ``run`` to ``out`` (default ``RUN/report.html``) atomically."""
    path = Path(out) if out is not None else Path(run) / "report.html"
    check_writable(path, kind="file", where="report", argument="out")
    return write_atomic(path, build_report(run, **options))


__all__ = ["build_report", "is_classifier", "is_language_model", "stats_of_run", "write_report"]
