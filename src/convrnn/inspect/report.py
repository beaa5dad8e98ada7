"""One self-contained HTML report of a trained run: config, scores, summary, curves, layer
statistics, filters and feature maps for image models; gradients through time, cells over text,
samples and embeddings for sequence models.

Everything is inline — images as base64 PNG ``data:`` URIs, styles and the one script in the
page — so the file opens offline and can be mailed. The script is a self-check: after the page
loads it writes ``<div id="report-status" data-ok="yes|no">`` saying whether every expected
section is present, every image decoded (``complete && naturalWidth > 0``) and no script error
or ``console.error`` happened; a headless browser reads it with ``--dump-dom``.

The parts take models and data directly (:func:`image_sections`, :func:`recurrent_sections`,
:func:`language_model_sections`, :func:`word_vector_sections`) and know no task;
:func:`convrnn.tasks.report.build_report` loads a trained run's model, config and data and hands
them to these.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.inspect import cells, curves, embeddings, images, through_time
from convrnn.inspect._plot import VIZ_HINT, has_matplotlib
from convrnn.inspect.stats import layer_stats
from convrnn.inspect.summary import summary
from convrnn.layers.recurrent.rnn import RNN

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 12px; }
pre.cell-text { white-space: pre-wrap; font-size: 13px; line-height: 1.5; background: #fff; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
figure { display: inline-block; margin: 0.4em 1em 0.4em 0; vertical-align: top; }
figcaption { font-size: 12px; color: #555; } img { image-rendering: pixelated; max-width: 100%; }
.note { color: #8a5a00; } #report-status { font-size: 11px; color: #999; margin-top: 3em; }
"""

# Runs before anything else, so errors of later scripts and failed loads are counted too.
SELF_CHECK_HEAD = """
window.__reportErrors = 0;
window.addEventListener("error", function () { window.__reportErrors += 1; }, true);
(function () { var original = console.error;
  console.error = function () { window.__reportErrors += 1; return original.apply(console, arguments); }; })();
"""

SELF_CHECK_BODY = """
window.addEventListener("load", function () {
  var expected = JSON.parse(document.getElementById("expected-sections").textContent);
  var missing = expected.filter(function (id) { return !document.getElementById(id); });
  var pictures = Array.prototype.slice.call(document.images);
  var broken = pictures.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  var status = document.getElementById("report-status");
  status.textContent = "self-check: sections " + (expected.length - missing.length) + "/" + expected.length +
    ", images " + (pictures.length - broken.length) + "/" + pictures.length + ", errors " + window.__reportErrors +
    (missing.length ? ", missing " + missing.join(" ") : "");
  var ok = missing.length === 0 && broken.length === 0 && window.__reportErrors === 0;
  status.setAttribute("data-ok", ok ? "yes" : "no");
});
"""


@dataclass
class Section:
    """One ``<section id=key>`` of the report: a title and its HTML body."""

    key: str
    title: str
    body: str


def image_tag(data: bytes, caption: str = "", alt: str = "") -> str:
    """A ``<figure>`` holding PNG bytes as a base64 ``data:`` URI."""
    encoded = base64.b64encode(data).decode("ascii")
    text = html.escape(caption)
    return (f'<figure><img alt="{html.escape(alt or caption)}" src="data:image/png;base64,{encoded}">'
            f"{f'<figcaption>{text}</figcaption>' if caption else ''}</figure>")


def _plot_or_note(draw: Callable[[], bytes], caption: str) -> str:
    if not has_matplotlib():
        return f'<p class="note">{html.escape(caption)}: plots need matplotlib — {html.escape(VIZ_HINT)}</p>'
    return image_tag(draw(), caption)


def _table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def run_sections(run: str | os.PathLike[str], config: dict[str, Any]) -> list[Section]:
    """Config and scores of a run directory, and its training curves (from ``log.csv``)."""
    run = Path(run)
    shown = {key: value for key, value in config.items() if key not in ("vocabulary", "classes")}
    if "classes" in config:
        shown["classes"] = f"{len(config['classes'])} classes: {', '.join(map(str, config['classes'][:20]))}"
    body = "<h3>config</h3>" + _pre(json.dumps(shown, indent=2, default=str))
    scores_path = run / "scores.json"
    if scores_path.is_file():
        scores = json.loads(scores_path.read_text())
        flat = [(key, f"{value:.6g}" if isinstance(value, float) else json.dumps(value, default=str))
                for key, value in scores.items()]
        body += "<h3>scores</h3>" + _table(flat, ("score", "value"))
    sections = [Section("run", f"Run {run.name}", body)]
    if (run / "log.csv").is_file():
        log = curves.read_log(run / "log.csv")
        sections.append(Section("curves", "Training curves",
                                _plot_or_note(lambda: curves.plot_curves(log), "training curves")))
    pictures = sorted(run.glob("*.png")) + sorted(run.glob("alignments/*.png"))
    if pictures:
        sections.append(Section("pictures", "Pictures the recipe drew", "".join(
            image_tag(path.read_bytes(), str(path.relative_to(run)), alt=path.stem) for path in pictures)))
    return sections


def image_sections(model: nn.Module, batch: tuple[Tensor, Tensor], *,
                   classes: Sequence[str] | None = None) -> list[Section]:
    """Summary, layer statistics, first-layer filters, feature maps and the per-layer panel of an
    image or signal classifier on a batch (inputs (N, C, H, W) or (N, C, L), labels (N,)); for a
    model with a 1-d convolution also the matched-filter view of its strongest filter."""
    x, labels = batch
    check_tensor("batch[0]", x, dims=(3, 4), floating=True, where="image_sections")
    sections = [Section("summary", "Summary", _pre(str(summary(model, tuple(x.shape[1:])))))]
    table = layer_stats(model, (x, labels))
    sections.append(Section("layer-statistics", f"Layer statistics (batch of {x.shape[0]}, cross-entropy)",
                            _pre(str(table))))
    modules = dict(model.named_modules())
    convolutions = [name for name, m in modules.items() if images.is_convolution(m)]
    if convolutions:
        first = modules[convolutions[0]]
        sections.append(Section("filters", f"Filters of the first layer ({convolutions[0]})",
                                image_tag(images.png(images.filter_grid(first.weight)),
                                          f"{tuple(first.weight.shape)} weights, blue < 0 < red")))
        if labels[0].dim() == 0:
            label = int(labels[0])
            name = classes[label] if classes and 0 <= label < len(classes) else str(label)
            caption = f"input (label {name})"
        else:
            caption = "input"  # a label map (segmentation): drawn by the recipe's own pictures
        body = image_tag(images.png(images.tile(images.as_maps(x[0]))), caption)
        for layer, maps in images.feature_maps(model, x).items():
            body += image_tag(images.png(images.tile(images.as_maps(maps))), f"{layer}: {tuple(maps.shape)}")
        sections.append(Section("feature-maps", "Feature maps of the first validation image", body))
    strongest = images.strongest_filter(model, x)
    if strongest is not None:
        caption = (f"{strongest['layer']}: filter {strongest['filter']} (the strongest response to the first "
                   f"example), its input channel {strongest['channel']} in red over that channel; below, "
                   "the filter's response over all channels")
        sections.append(Section("matched-filter", "Matched filter", _plot_or_note(
            lambda: images.plot_matched_filter(strongest["signal"], strongest["template"], strongest["response"]),
            caption)))
    panels = ""
    for row in table.rows:
        module = modules.get(row.name)
        if module is None or not (images.is_convolution(module) or row.dead_fraction is not None):
            continue
        gradient = "—" if row.gradient_max is None else f"{row.gradient_max:.5g}, min {row.gradient_min:.5g}"
        stats = (f"max activation {row.activation_max:.5g}, min {row.activation_min:.5g}; max gradient {gradient}"
                 + (f"; parameters {row.formula} = {row.params}" if row.params else ""))
        figures = "".join(image_tag(images.png(picture), caption)
                          for caption, picture in images.layer_panel(row, module).items())
        panels += f"<h3>{html.escape(row.name)} ({html.escape(row.kind)}) {'×'.join(map(str, row.output_shape))}</h3>"
        panels += f"<p>{html.escape(stats)}</p>{figures}"
    if panels:
        sections.append(Section("layers", "Layers: activations, gradients, weights (first example)", panels))
    return sections


def recurrent_sections(rnn: RNN, x: Tensor | None = None) -> list[Section]:
    """Gradient through time of the first layer's cell on inputs x (N, T, F) (random if None),
    its recurrent eigenvalues beside those of a freshly initialised cell, and an untrained
    vanilla RNN beside an LSTM."""
    cell = rnn.cells[0]
    if x is None:
        x = torch.randn(4, 60, cell.input_size, generator=torch.Generator().manual_seed(0))
    trained = through_time.gradient_through_time(cell, x.detach())
    fresh = cell.like(cell.input_size)
    norms = {f"trained {type(cell).__name__}": trained,
             "same cell at initialisation": through_time.gradient_through_time(fresh, x.detach())}
    body = _plot_or_note(lambda: through_time.plot_gradient_norms(norms, "‖∂L/∂h_t‖, loss at the last step"),
                         "gradient norm through time")
    if hasattr(cell, "weight_hh"):
        eigen = {"at initialisation": through_time.recurrent_eigenvalues(fresh),
                 "after training": through_time.recurrent_eigenvalues(cell)}
        body += _plot_or_note(lambda: through_time.plot_eigenvalues(eigen, "eigenvalues of the recurrent matrix U "
                                                                           "(all gate blocks) and |λ| = 1"),
                              "eigenvalues")
    side = through_time.rnn_versus_lstm(steps=min(x.shape[1], 60), hidden_size=cell.hidden_size,
                                        input_size=cell.input_size)
    body += _plot_or_note(lambda: through_time.plot_gradient_norms(side, "untrained vanilla RNN vs LSTM"),
                          "vanilla RNN vs LSTM")
    return [Section("gradients-through-time", "Gradients through time", body)]


def _per_character(tokens: Sequence[str], values: np.ndarray, words: bool) -> tuple[str, np.ndarray]:
    """Spread one value per token over the token's characters (a word's and the space after it;
    a special token's such as ``<eos>``), so text and values line up character by character."""
    text, spread = "", []
    for token, value in zip(tokens, values, strict=True):
        piece = token + " " if words and token != "\n" else token
        text += piece
        spread.extend([value] * len(piece))
    return text, np.asarray(spread)


def language_model_sections(model: nn.Module, text: str, encode: Callable[[str], list[int]],
                            decode: Callable[[list[int]], list[str]], *, words: bool = False,
                            prompt_ids: Sequence[int] = (), sample_length: int = 300,
                            embedding_tokens: Sequence[int] | None = None, top: int = 3) -> list[Section]:
    """Sections for a language model (``embedding`` + ``rnn`` + output, like
    :class:`convrnn.models.LanguageModel`) read over ``text``: summary, layer statistics on
    next-token prediction, gradients through time, cells over text (the top ``top`` cells per
    feature, each coloured), a sample, and a 2-D projection of the embeddings of
    ``embedding_tokens`` (default: up to 80 ids after the specials).

    ``encode(text) -> ids``; ``decode(ids) -> tokens``; ``words`` joins tokens with spaces.
    """
    ids = torch.tensor(encode(text), dtype=torch.long)
    if ids.numel() < 3:
        raise ValueError(f"language_model_sections: argument 'text' expected at least 3 tokens, got {ids.numel()}")
    tokens = decode(ids.tolist())
    model.eval()
    sections = [Section("summary", "Summary", _pre(str(summary(model, example=ids[None, :64]))))]
    table = layer_stats(model, (ids[None, :-1], ids[None, 1:]))
    sections.append(Section("layer-statistics",
                            f"Layer statistics ({ids.numel() - 1} next-token predictions, cross-entropy)",
                            _pre(str(table))))
    with torch.no_grad():
        embedded = model.embedding(ids[None, :100])
    sections += recurrent_sections(model.rnn, embedded)

    values = cells.cell_states(model, ids).numpy()
    per_token = np.tanh(values)
    shown_text, _ = _per_character(tokens, per_token[:, 0], words)
    expanded = np.stack([_per_character(tokens, per_token[:, u], words)[1] for u in range(values.shape[1])], 1)
    # A feature that never changes in this text (no parentheses in it) correlates with nothing.
    varying = [name for name, phi in cells.text_features(shown_text).items() if phi.min() < phi.max()]
    found = cells.find_cells(expanded, shown_text, top=top, features=varying) if varying else {}
    hidden = model.rnn.cells[0].hidden_size * model.rnn.directions
    rows = [(feature, ", ".join(f"layer {m.unit // hidden} cell {m.unit % hidden}: r = {m.correlation:+.3f}"
                                for m in matches)) for feature, matches in found.items()]
    shown_state = "c" if "c" in model.rnn.cells[0].state_names else "h"
    body = f"<p>Each character coloured by tanh({shown_state}) of one cell (red > 0, blue < 0).</p>"
    body += _table(rows, ("feature", f"top {top} cells by |r|"))
    absent = [name for name in cells.TEXT_FEATURES if name not in varying]
    if absent:
        body += f'<p class="note">Constant in this text, so not searched: {html.escape(", ".join(absent))}.</p>'
    for feature, matches in found.items():
        best = matches[0]
        body += (f"<h3>{html.escape(feature)}: layer {best.unit // hidden} cell {best.unit % hidden}, "
                 f"r = {best.correlation:+.3f}</h3>" + cells.color_text(shown_text, expanded[:, best.unit], scale=1.0))
    sections.append(Section("cells-over-text", "Cells over text", body))

    from convrnn.generate import generate

    prompt = list(prompt_ids) or ids[:1].tolist()
    drawn = list(generate(model, prompt, sample_length, temperature=0.8, seed=0))
    sample = (" " if words else "").join(decode(prompt + drawn))
    sections.append(Section("samples", "Sample (temperature 0.8, seed 0)", _pre(sample)))

    table_weights = model.embedding.weight.detach()
    chosen = list(embedding_tokens) if embedding_tokens is not None else list(range(4, min(84, table_weights.shape[0])))
    if len(chosen) >= 2:
        points, method = embeddings.project_2d(table_weights[chosen])
        labels = [repr(t)[1:-1] for t in decode(chosen)]
        sections.append(Section("embeddings", f"Embeddings ({method.upper()})",
                                _plot_or_note(lambda: embeddings.plot_embeddings(points, labels, f"{method} of E"),
                                              "embeddings")))
    return sections


def word_vector_sections(path: str | os.PathLike[str], words: int = 60) -> list[Section]:
    """A 2-D projection (PCA, or t-SNE with scikit-learn) of the ``words`` most frequent words of a
    word2vec binary file, after the 20 most frequent (mostly function words)."""
    from convrnn.models.word2vec import load_word2vec_format

    vectors = load_word2vec_format(path, binary=True, limit=20 + words)
    chosen = vectors.words[20:]
    points, method = embeddings.project_2d(vectors.vectors[20:20 + len(chosen)])
    return [Section("embeddings", f"Word vectors: {method} of {len(chosen)} frequent words", _plot_or_note(
        lambda: embeddings.plot_embeddings(points, chosen, f"{method} of the word vectors"), "word vectors"))]


def render_report(title: str, sections: Sequence[Section]) -> str:
    """The whole page: styles, sections in order, the self-check script and its status element."""
    expected = json.dumps([section.key for section in sections])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>",
        f"<script>{SELF_CHECK_HEAD}</script></head><body>", f"<h1>{html.escape(title)}</h1>",
        "<nav>" + " · ".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>{section.body}</section>')
    parts += [f'<script type="application/json" id="expected-sections">{expected}</script>',
              '<div id="report-status" data-ok="pending">self-check: pending</div>',
              f"<script>{SELF_CHECK_BODY}</script>", "</body></html>"]
    return "\n".join(parts)


__all__ = ["Section", "image_sections", "image_tag", "language_model_sections", "recurrent_sections",
           "render_report", "run_sections", "word_vector_sections"]
