"""word2vec (Mikolov et al., 2013): the model — two or three embedding matrices — and its training
loop, CBOW or skip-gram with negative sampling, hierarchical softmax or both, subsampling, a dynamic
window and a linearly decaying learning rate, with the settings and names of gensim and the
original word2vec.c.

Letters: V vocabulary size, E vector size (``vector_size``), W window, K negatives per target,
N words in a batch, C = 2W context slots. Matrices: U = ``input`` (V, E), the word vectors
(word2vec.c's ``syn0``), O = ``output`` (V, E), the output vectors (``syn1neg``), and for
hierarchical softmax I = ``inner`` (V − 1, E), the vectors of the Huffman tree's inner nodes
(``syn1``; :class:`convrnn.models.word2vec.huffman.HuffmanTree`).

For a position with word w_t and context words c_1 … c_m (those within a window whose radius is
drawn uniformly from 1 … W, of the same sentence, after subsampling):

- CBOW (the seeds' "embed and sum the tokens near the mask"): h = (1/m) Σ_j U[c_j], the target
  w_t; skip-gram: one example per context word, h = U[c_j], the target w_t.
- Negative sampling replaces the softmax over V (the seeds' "attention over the vocabulary"):
  for the target y_0 = w_t (label 1) and K words y_1 … y_K drawn from P_n (label 0; a draw equal to
  w_t is skipped), g_k = α (label_k − σ(h · O[y_k])), or 0 where |h · O[y_k]| ≥ 6 (gensim's
  rule); then O[y_k] += g_k h and the input rows receive e = Σ_k g_k O[y_k] (each context row in
  CBOW, the one row in skip-gram). This is SGD on the loss −log σ(h·O[w_t]) − Σ_k log σ(−h·O[y_k]) with step α.
- Hierarchical softmax (``hs=True``) replaces the softmax over V by the L binary decisions on the
  path of w_t in the Huffman tree, inner nodes n_1 … n_L, branches b_1 … b_L:
  p(w_t | h) = Π_d σ((1 − 2 b_d) h·I[n_d]). Its SGD step on −log p(w_t | h), for d = 1 … L:
  g_d = α (1 − b_d − σ(h·I[n_d])), or 0 where |h·I[n_d]| ≥ 6; I[n_d] += g_d h, and the input
  rows receive e = Σ_d g_d I[n_d]. With both (``hs=True``, ``negative`` > 0) the two steps use
  the same h and their e add up, as in word2vec.c (gensim applies the hierarchical-softmax step to
  the input rows before it computes h for negative sampling); ``negative=0`` is hierarchical
  softmax alone (gensim's ``hs=1, negative=0``).
- σ in both steps is word2vec.c's and gensim's table lookup σ̃ (:func:`tabulated_sigmoid`), so that
  an update is theirs to float rounding.
- α falls linearly from ``alpha`` to ``min_alpha`` over all epochs' words.
- Randomness (subsampling, window radii, negatives): the compiled loop draws from word2vec.c's
  linear congruential generator, one stream per sentence, seeded by a hash of (seed, chunk,
  sentence); the torch engine from a ``torch.Generator`` seeded with ``seed``.

Two engines do the same arithmetic. ``"compiled"`` (``kernel.cpp``) runs word2vec.c's loop over a
chunk of sentences in ``workers`` threads without locks (Hogwild), each thread one contiguous stretch
of about 1/``workers`` of the chunk's words, as word2vec.c splits its file (with threads taking
neighbouring sentences in turn, so training one paragraph's rows at once, skip-gram with hierarchical
softmax scored 0.6 points of SimLex ρ lower: 4 seeds, paired). ``"torch"`` runs N positions at
once with gathers and ``index_add_``; since one batch sums the updates of a word that occurs many
times in it (frequent words, negatives) where sequential SGD would apply them one after another to
a changing vector, each row's summed update is divided by max(1, n_row / ``duplicate_scale``) with
n_row its number of updates in the batch. It runs on any device (a GPU).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from queue import Full, Queue
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from convrnn.functional._checks import check_choice
from convrnn.models.word2vec import compiled
from convrnn.models.word2vec.huffman import HuffmanTree
from convrnn.models.word2vec.vocabulary import WordVocabulary, cumulative_table, draw_negatives, keep_probabilities

ARCHITECTURES = ("cbow", "skipgram")
ENGINES = ("auto", "compiled", "torch")
MAX_SENTENCE_LENGTH = 10_000  # word2vec.c's MAX_SENTENCE_LENGTH, gensim's MAX_WORDS_IN_BATCH
SATURATION = 6.0  # |h·O[y]| ≥ 6: σ is taken as saturated and the pair gives no update (gensim's MAX_EXP)
SIGMOID_TABLE_SIZE = 1000  # word2vec.c's and gensim's EXP_TABLE_SIZE
SIGMOID_TABLE_SCALE = SIGMOID_TABLE_SIZE // int(SATURATION) // 2  # 83: their index scale, an integer quotient


def tabulated_sigmoid(x: Tensor) -> Tensor:
    """σ as word2vec.c and gensim read it from their table of 1000 values, elementwise (x: any shape):

        σ̃(x) = σ(12 k / 1000 − 6),  k = ⌊(x + 6) · 83⌋  (|x| < 6; beyond, no update is made),

    where 83 is their integer quotient 1000 / 6 / 2 rather than 83.3: the table is read slightly off
    centre, σ̃(x) ≈ σ(0.996 x − 0.03), σ̃(0) = 0.494. Both engines use σ̃ in every update, so that
    an update is theirs to float rounding."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"tabulated_sigmoid: argument 'x' expected a floating-point tensor, got "
                        f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}")
    index = ((x + SATURATION) * float(SIGMOID_TABLE_SCALE)).floor().clamp(0, SIGMOID_TABLE_SIZE - 1)
    return torch.sigmoid(index * (2 * SATURATION / SIGMOID_TABLE_SIZE) - SATURATION)


class Word2Vec(nn.Module):
    """The matrices of word2vec: ``input`` U (V, E), the word vectors, initialised uniformly in
    [−1/E, 1/E) as gensim 4 does (word2vec.c: [−0.5/E, 0.5/E)), ``output`` O (V, E), zeros, and
    with ``hierarchical=True`` (for ``hs=True`` training) ``inner`` I (V − 1, E), zeros, the
    vectors of the Huffman tree's inner nodes.

    They are trained by the explicit SGD of :func:`train_word2vec` (not autograd), so neither
    requires a gradient. ``forward`` is CBOW's prediction of a masked word over the whole
    vocabulary: context ids (N, C) with −1 for an empty slot → logits (N, V) = mean_j U[c_j] · Oᵀ.
    """

    def __init__(self, vocabulary_size: int, vector_size: int = 100, *, seed: int = 0,
                 hierarchical: bool = False) -> None:
        super().__init__()
        for name, value in (("vocabulary_size", vocabulary_size), ("vector_size", vector_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Word2Vec: argument '{name}' expected an int ≥ 1, got {value!r}")
        generator = torch.Generator().manual_seed(seed)
        initial = (torch.rand(vocabulary_size, vector_size, generator=generator) * 2 - 1) / vector_size
        self.input = nn.Parameter(initial, requires_grad=False)
        self.output = nn.Parameter(torch.zeros(vocabulary_size, vector_size), requires_grad=False)
        if not isinstance(hierarchical, bool):
            raise TypeError(f"Word2Vec: argument 'hierarchical' expected a bool, got {hierarchical!r}")
        self.hierarchical = hierarchical
        if hierarchical:
            self.inner = nn.Parameter(torch.zeros(vocabulary_size - 1, vector_size), requires_grad=False)

    @property
    def vectors(self) -> Tensor:
        """The word vectors U: (V, E)."""
        return self.input

    def forward(self, context: Tensor) -> Tensor:
        if context.dim() != 2 or context.is_floating_point():
            raise ValueError(f"Word2Vec.forward: argument 'context' expected (N, C) integer ids, "
                             f"got shape {tuple(context.shape)} dtype {context.dtype}")
        present = (context >= 0).unsqueeze(-1)
        summed = (self.input[context.clamp(min=0)] * present).sum(1)
        hidden = summed / present.sum(1).clamp(min=1)
        return hidden @ self.output.T


@dataclass(frozen=True)
class Word2VecSettings:
    """Training settings; the names and defaults are gensim's (``architecture="cbow"`` is
    gensim's ``sg=0``; ``hs`` takes a bool or gensim's 0/1, and ``negative=0`` turns negative
    sampling off, which needs ``hs``). ``chunk_words``: words per call of the compiled loop (per alpha
    update); ``batch_words``: positions per vectorised step of the torch engine."""

    architecture: str = "cbow"
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    max_vocab_size: int | None = None
    sample: float = 1e-3
    negative: int = 5
    hs: bool = False
    ns_exponent: float = 0.75
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 5
    workers: int = 2
    seed: int = 1
    engine: str = "auto"
    chunk_words: int = 100_000
    batch_words: int = 1024
    duplicate_scale: float = 16.0

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, ARCHITECTURES, where="Word2VecSettings")
        check_choice("engine", self.engine, ENGINES, where="Word2VecSettings")
        for name in ("vector_size", "window", "min_count", "epochs", "workers", "chunk_words", "batch_words"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Word2VecSettings: argument '{name}' expected an int ≥ 1, got {value!r}")
        if self.hs not in (0, 1) or not isinstance(self.hs, int):  # bool is an int
            raise ValueError(f"Word2VecSettings: argument 'hs' expected a bool (or 0/1), got {self.hs!r}")
        object.__setattr__(self, "hs", bool(self.hs))
        if isinstance(self.negative, bool) or not isinstance(self.negative, int) or self.negative < 0:
            raise ValueError(f"Word2VecSettings: argument 'negative' expected an int ≥ 0, got {self.negative!r}")
        if self.negative == 0 and not self.hs:
            raise ValueError("Word2VecSettings: negative=0 and hs=False leave nothing to train; expected "
                             "negative ≥ 1 (negative sampling), hs=True (hierarchical softmax) or both")
        for name in ("sample", "min_alpha", "ns_exponent"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Word2VecSettings: argument '{name}' expected a number ≥ 0, "
                                 f"got {getattr(self, name)!r}")
        if not self.alpha > 0 or not self.duplicate_scale > 0:
            raise ValueError(f"Word2VecSettings: arguments 'alpha' and 'duplicate_scale' expected positive numbers, "
                             f"got {self.alpha!r} and {self.duplicate_scale!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingReport:
    """What a training run did: raw words read (all epochs), words kept after subsampling, seconds
    of training (vocabulary building excluded), and the engine used."""

    words: int
    effective_words: int
    seconds: float
    engine: str

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else math.inf


Sentences = Iterable[Sequence[str]]


def chunks_of(sentences: Sentences, vocabulary: WordVocabulary, chunk_words: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Encode ``sentences`` into chunks of about ``chunk_words`` tokens:
    ``(ids (L,) int32, offsets (S+1,) int64)``, sentence s being ids[offsets[s]:offsets[s+1]].
    Words outside the vocabulary are dropped (before windows are formed, as word2vec does);
    longer sentences are cut at :data:`MAX_SENTENCE_LENGTH` words."""
    batch: list[Sequence[str]] = []
    size = 0
    for sentence in sentences:
        if isinstance(sentence, str):
            raise TypeError("word2vec: argument 'sentences' expected token lists, got a str among them "
                            "(tokenize the text first)")
        for start in range(0, len(sentence), MAX_SENTENCE_LENGTH):
            batch.append(sentence[start:start + MAX_SENTENCE_LENGTH])
        size += len(sentence)
        if size >= chunk_words:
            yield _encode(batch, vocabulary)
            batch, size = [], 0
    if size:
        yield _encode(batch, vocabulary)


def _encode(batch: list[Sequence[str]], vocabulary: WordVocabulary) -> tuple[Tensor, Tensor]:
    # One pass of dict lookups over all tokens (−1 outside the vocabulary), the rest in numpy.
    ids = np.fromiter(map(vocabulary.index.get, itertools.chain.from_iterable(batch), itertools.repeat(-1)),
                      dtype=np.int32)
    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
    inside = ids >= 0
    sentence = np.repeat(np.arange(len(batch)), lengths)
    kept_lengths = np.bincount(sentence[inside], minlength=len(batch))
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(kept_lengths, out=offsets[1:])
    return torch.from_numpy(ids[inside]), torch.from_numpy(offsets)


def train_word2vec(model: Word2Vec, vocabulary: WordVocabulary, sentences: Sentences | Callable[[], Sentences],
                   settings: Word2VecSettings | None = None, *, progress: bool = False) -> TrainingReport:
    """Train ``model`` in place on ``sentences`` for ``settings.epochs`` epochs (see the module
    docstring for the math) and return a :class:`TrainingReport`.

    ``sentences``: token lists, re-iterable (a list, a :class:`convrnn.data.text_stream.TextStream`)
    or a function returning a fresh iterable per epoch; only one chunk is in memory at a time.
    The engine is ``settings.engine``; ``"auto"`` takes the compiled loop for a CPU model when it
    can be built, else the torch engine (on the model's device).
    """
    settings = settings or Word2VecSettings()
    if model.input.shape[0] != len(vocabulary):
        raise ValueError(f"train_word2vec: the model has {model.input.shape[0]} rows, the vocabulary "
                         f"{len(vocabulary)} words")
    if isinstance(sentences, Iterator) and settings.epochs > 1:
        raise TypeError("train_word2vec: argument 'sentences' is a one-shot iterator but "
                        f"{settings.epochs} epochs need it re-iterable (pass a list or a function returning one)")
    epoch_sentences = sentences if callable(sentences) else (lambda: sentences)
    if settings.hs != model.hierarchical:
        raise ValueError(f"train_word2vec: settings.hs is {settings.hs} but the model was built with "
                         f"hierarchical={model.hierarchical}; expected Word2Vec(..., hierarchical={settings.hs})")
    engine = _choose_engine(settings.engine, model.input.device)
    device = model.input.device
    tree = HuffmanTree.build(vocabulary.counts) if settings.hs else None
    paths = tree.padded(device) if tree is not None and engine == "torch" and len(tree) > 1 else None
    inner = model.inner.data if settings.hs else torch.empty(0, model.input.shape[1])
    codes, points, code_offsets = ((tree.codes, tree.points, tree.offsets) if tree is not None else
                                   (torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.int32),
                                    torch.zeros(1, dtype=torch.int64)))
    table = cumulative_table(vocabulary.counts, settings.ns_exponent).to(device)
    keep = keep_probabilities(vocabulary.counts, settings.sample).to(device)
    total = vocabulary.total * settings.epochs
    done = kept = 0
    bar = _progress_bar(total, progress)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    started = time.perf_counter()
    chunk_index = 0
    for _ in range(settings.epochs):
        for ids, offsets in _prefetched(chunks_of(epoch_sentences(), vocabulary, settings.chunk_words)):
            words = int(offsets[-1])
            alpha_start = _alpha(settings, done, total)
            alpha_end = _alpha(settings, done + words, total)
            if engine == "compiled":
                chunk_kept, _ = compiled.load().train_chunk(
                    model.input.data, model.output.data, inner, ids, offsets, keep, table, codes, points,
                    code_offsets, settings.architecture == "cbow", settings.window, settings.negative,
                    settings.hs, alpha_start, alpha_end, settings.seed * 1_000_003 + chunk_index, settings.workers)
            else:
                chunk_kept = _train_chunk_torch(model, ids.to(device), offsets.to(device), keep, table, paths,
                                                settings, alpha_start, alpha_end, generator)
                if not bool(torch.isfinite(model.input.sum() + model.output.sum())):
                    raise RuntimeError(f"train_word2vec: the torch engine diverged (non-finite vectors) with "
                                       f"batch_words={settings.batch_words}, alpha={settings.alpha}; lower one of "
                                       f"them or duplicate_scale={settings.duplicate_scale}")
            done += words
            kept += chunk_kept
            chunk_index += 1
            if bar is not None:
                bar.update(words)
                bar.set_postfix_str(f"{done / (time.perf_counter() - started):,.0f} words/s α {alpha_end:.4f}")
    if bar is not None:
        bar.close()
    if done == 0:
        raise ValueError("train_word2vec: argument 'sentences' held no word of the vocabulary (empty corpus?)")
    return TrainingReport(done, kept, time.perf_counter() - started, engine)


def _prefetched(chunks: Iterator[tuple[Tensor, Tensor]], depth: int = 2) -> Iterator[tuple[Tensor, Tensor]]:
    """``chunks``, encoded one or two ahead in a thread: the compiled loop releases the GIL, so
    reading and encoding the next chunk overlaps training on this one (as gensim's job producer)."""
    queue: Queue[Any] = Queue(maxsize=depth)
    finished = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        queue.put(chunk, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(finished)
        except BaseException as error:  # handed to the consumer, which raises it
            queue.put(error)

    producer = threading.Thread(target=produce, name="word2vec-reader", daemon=True)
    producer.start()
    try:
        while (item := queue.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join()


def _choose_engine(engine: str, device: torch.device) -> str:
    if engine == "compiled":
        if device.type != "cpu":
            raise ValueError(f"train_word2vec: engine 'compiled' runs on the CPU, the model is on {device}")
        if compiled.load() is None:
            raise RuntimeError("train_word2vec: engine 'compiled' asked for, but the C++ kernel cannot be built "
                               "(no compiler/ninja, or CONVRNN_NO_COMPILE=1); use engine='torch'")
        return engine
    if engine == "auto":
        return "compiled" if device.type == "cpu" and compiled.load() is not None else "torch"
    return engine


def _alpha(settings: Word2VecSettings, done: int, total: int) -> float:
    """α after ``done`` of ``total`` words: linear from alpha to min_alpha (never below it)."""
    return max(settings.min_alpha, settings.alpha - (settings.alpha - settings.min_alpha) * done / max(total, 1))


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=" words", unit_scale=True, desc="word2vec", dynamic_ncols=True)


# ----------------------------------------------------------------------------- the torch engine


def context_windows(ids: Tensor, offsets: Tensor, window: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """For each of the L positions of a chunk, the positions of its context: (L, 2W) int64 indices
    into ``ids`` and an (L, 2W) bool mask of the slots in use — same sentence, |offset| ≤ the
    position's window radius r drawn uniformly from 1 … W."""
    length = ids.numel()
    device = ids.device
    position = torch.arange(length, device=device)
    sentence = torch.searchsorted(offsets, position, right=True) - 1
    radius = window - torch.randint(0, window, (length,), generator=generator, device=device)
    shifts = torch.cat([torch.arange(-window, 0, device=device), torch.arange(1, window + 1, device=device)])
    context = position[:, None] + shifts[None, :]
    inside = (context >= 0) & (context < length)
    context = context.clamp(0, max(length - 1, 0))
    mask = inside & (sentence[context] == sentence[:, None]) & (shifts.abs()[None, :] <= radius[:, None])
    return context, mask


def _subsample(ids: Tensor, offsets: Tensor, keep: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    kept = torch.rand(ids.shape, generator=generator, device=ids.device) < keep[ids.long()]
    sentence = torch.searchsorted(offsets, torch.arange(ids.numel(), device=ids.device), right=True) - 1
    counts = torch.bincount(sentence[kept], minlength=offsets.numel() - 1)
    new_offsets = torch.zeros_like(offsets)
    new_offsets[1:] = torch.cumsum(counts, 0)
    return ids[kept].long(), new_offsets


def _train_chunk_torch(model: Word2Vec, ids: Tensor, offsets: Tensor, keep: Tensor, table: Tensor,
                       paths: tuple[Tensor, Tensor, Tensor] | None, settings: Word2VecSettings, alpha_start: float,
                       alpha_end: float, generator: torch.Generator) -> int:
    ids, offsets = _subsample(ids, offsets, keep, generator)
    length = ids.numel()
    if length == 0:
        return 0
    context, mask = context_windows(ids, offsets, settings.window, generator)
    step = settings.batch_words
    for start in range(0, length, step):
        stop = min(start + step, length)
        alpha = alpha_start + (alpha_end - alpha_start) * start / length
        targets = ids[start:stop]
        slots = context[start:stop]
        used = mask[start:stop]
        if settings.architecture == "cbow":
            _cbow_step(model, targets, ids[slots], used, table, paths, settings, alpha, generator)
        else:
            rows, columns = used.nonzero(as_tuple=True)
            _skipgram_step(model, targets[rows], ids[slots[rows, columns]], table, paths, settings, alpha,
                           generator)
    return length


def _scaled_index_add(matrix: Tensor, rows: Tensor, updates: Tensor, duplicate_scale: float) -> None:
    """matrix[r] += Σ updates of r / max(1, n_r / duplicate_scale): rows (M,), updates (M, E)."""
    distinct, inverse, counts = torch.unique(rows, return_inverse=True, return_counts=True)
    summed = torch.zeros(distinct.numel(), updates.shape[1], dtype=updates.dtype, device=updates.device)
    summed.index_add_(0, inverse, updates)
    matrix.index_add_(0, distinct, summed / (counts.to(updates.dtype) / duplicate_scale).clamp(min=1.0)[:, None])


def _negative_sampling(model: Word2Vec, hidden: Tensor, targets: Tensor, table: Tensor,
                       settings: Word2VecSettings, alpha: float, generator: torch.Generator) -> Tensor:
    """One negative-sampling SGD step for N inputs h (N, E) and their targets (N,); updates O and
    returns e (N, E), the step for the inputs."""
    n = targets.numel()
    negatives = draw_negatives(table, (n, settings.negative), generator)
    words = torch.cat([targets[:, None], negatives], 1)  # (N, 1 + K)
    labels = torch.zeros(words.shape, device=hidden.device)
    labels[:, 0] = 1.0
    rows = model.output[words]  # (N, 1 + K, E)
    dots = torch.einsum("ne,nke->nk", hidden, rows)
    g = (labels - tabulated_sigmoid(dots)) * alpha * (dots.abs() < SATURATION)
    g[:, 1:] *= negatives != targets[:, None]  # word2vec skips a negative equal to the target
    error = torch.einsum("nk,nke->ne", g, rows)
    updates = (g[..., None] * hidden[:, None, :]).reshape(-1, hidden.shape[1])
    _scaled_index_add(model.output.data, words.reshape(-1), updates, settings.duplicate_scale)
    return error


def _hierarchical_softmax(model: Word2Vec, hidden: Tensor, targets: Tensor, paths: tuple[Tensor, Tensor, Tensor],
                          settings: Word2VecSettings, alpha: float) -> Tensor:
    """One hierarchical-softmax SGD step for N inputs h (N, E) and their targets (N,), along paths
    padded to L (see :meth:`HuffmanTree.padded`); updates I and returns e (N, E)."""
    codes, points, mask = (part[targets] for part in paths)  # (N, L) each
    rows = model.inner[points]  # (N, L, E)
    dots = torch.einsum("ne,nle->nl", hidden, rows)
    g = (1 - codes - tabulated_sigmoid(dots)) * alpha * ((dots.abs() < SATURATION) & mask)
    error = torch.einsum("nl,nle->ne", g, rows)
    used = mask.nonzero(as_tuple=True)
    updates = g[used][:, None] * hidden[used[0]]
    _scaled_index_add(model.inner.data, points[used], updates, settings.duplicate_scale)
    return error


def _objective_step(model: Word2Vec, hidden: Tensor, targets: Tensor, table: Tensor,
                    paths: tuple[Tensor, Tensor, Tensor] | None, settings: Word2VecSettings, alpha: float,
                    generator: torch.Generator) -> Tensor:
    """Hierarchical softmax and/or negative sampling from the same h (N, E): their e (N, E) summed."""
    error = torch.zeros_like(hidden)
    if paths is not None:
        error += _hierarchical_softmax(model, hidden, targets, paths, settings, alpha)
    if settings.negative > 0:
        error += _negative_sampling(model, hidden, targets, table, settings, alpha, generator)
    return error


def _cbow_step(model: Word2Vec, targets: Tensor, context: Tensor, used: Tensor, table: Tensor,
               paths: tuple[Tensor, Tensor, Tensor] | None, settings: Word2VecSettings, alpha: float,
               generator: torch.Generator) -> None:
    count = used.sum(1)
    have = count > 0
    targets, context, used, count = targets[have], context[have], used[have], count[have]
    hidden = (model.input[context] * used[..., None]).sum(1) / count[:, None]
    error = _objective_step(model, hidden, targets, table, paths, settings, alpha, generator)
    rows, columns = used.nonzero(as_tuple=True)
    _scaled_index_add(model.input.data, context[rows, columns], error[rows], settings.duplicate_scale)


def _skipgram_step(model: Word2Vec, targets: Tensor, inputs: Tensor, table: Tensor,
                   paths: tuple[Tensor, Tensor, Tensor] | None, settings: Word2VecSettings, alpha: float,
                   generator: torch.Generator) -> None:
    if targets.numel() == 0:
        return
    error = _objective_step(model, model.input[inputs], targets, table, paths, settings, alpha, generator)
    _scaled_index_add(model.input.data, inputs, error, settings.duplicate_scale)
