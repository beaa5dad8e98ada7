"""Connectionist temporal classification (Graves et al., 2006): a head, its loss and two decoders.

A CTC model scores, at every step t of a sequence, K symbols: the blank ∅ and the classes. An
*alignment* π = (π_1 … π_T) picks one symbol per step; the collapse map B removes repeats first and
blanks second, B(a a ∅ a b b) = (a a b). The probability of a labelling ℓ is the sum over its
alignments (eq. 3 of the paper),

    p(ℓ | x) = Σ_{π ∈ B⁻¹(ℓ)} Π_t y_t(π_t),

the loss is −log p(ℓ | x), computed by ``torch.nn.CTCLoss`` with the forward–backward recursion.

Letters: N batch, T steps, F features, K = classes + 1 symbols, S the longest target.
Symbol ``blank`` (0 by default) is ∅; :class:`CTCHead` maps class c to symbol c + 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import check_choice, check_real, check_tensor, is_tracing

__all__ = ["CTCHead", "CTCLoss", "ctc_beam_decode", "ctc_beam_search", "ctc_best_path",
           "ctc_greedy_decode", "symbols_to_labels"]


class CTCHead(nn.Module):
    r"""Per-step log-probabilities of the blank and every class: ``log y_t = log_softmax(W h_t + b)``.

    Symbol 0 is the blank and class c (0 ≤ c < ``classes``) is symbol c + 1, so
    ``labels = symbols − 1`` after decoding.

    Shapes: ``x: (N, T, F)`` → ``log_probs: (N, T, K)`` with K = ``classes`` + 1.
    Parameters: ``W: (K, F)``, ``b: (K,)``.
    """

    blank = 0

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("classes", classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CTCHead: argument '{name}' expected an int ≥ 1, got {value!r}")
        self.in_features, self.classes = in_features, classes
        self.linear = nn.Linear(in_features, classes + 1)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, dims=3, floating=True, where="CTCHead")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"CTCHead: argument 'x' expected {self.in_features} features in the last "
                             f"dimension, got shape {tuple(x.shape)}")
        return F.log_softmax(self.linear(x), dim=-1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, classes={self.classes}, blank={self.blank}"


class CTCLoss(nn.Module):
    r"""``−log p(ℓ_n | x_n)`` of batch-first log-probabilities, checked, then ``torch.nn.CTCLoss``.

    Args:
        blank: the blank symbol's index.
        reduction: ``"mean"`` (each loss divided by its target length, then the batch mean — torch's
            convention), ``"sum"`` or ``"none"`` (one loss per sequence, ``(N,)``).
        zero_infinity: give 0 loss (and gradient) to a sequence too short for its target, instead
            of ∞ (a labelling with r repeated neighbours needs T ≥ L + r steps).

    Shapes:
        log_probs: (N, T, K), log-softmax over the last axis (e.g. from :class:`CTCHead`).
        input_lengths: (N,) integers in [1, T], the steps of each sequence.
        targets: (N, S) padded symbols (the padding is never read) or (Σ_n L_n,) concatenated;
            every symbol within a target length in [0, K) and not the blank.
        target_lengths: (N,) integers L_n in [0, S].
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__()
        check_choice("reduction", reduction, ("mean", "sum", "none"), where="CTCLoss")
        if isinstance(blank, bool) or not isinstance(blank, int) or blank < 0:
            raise ValueError(f"CTCLoss: argument 'blank' expected an int ≥ 0, got {blank!r}")
        self.blank, self.reduction, self.zero_infinity = blank, reduction, zero_infinity

    def forward(self, log_probs: Tensor, input_lengths: Tensor, targets: Tensor,
                target_lengths: Tensor) -> Tensor:
        if not is_tracing():
            _check_ctc_inputs(log_probs, input_lengths, targets, target_lengths, self.blank)
        return F.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths, target_lengths,
                          blank=self.blank, reduction=self.reduction, zero_infinity=self.zero_infinity)

    def extra_repr(self) -> str:
        return f"blank={self.blank}, reduction={self.reduction!r}, zero_infinity={self.zero_infinity}"


def _check_ctc_inputs(log_probs: Tensor, input_lengths: Tensor, targets: Tensor, target_lengths: Tensor,
                      blank: int) -> None:
    where = "CTCLoss"
    check_tensor("log_probs", log_probs, dims=3, floating=True, where=where)
    batch, steps, symbols = log_probs.shape
    if not 0 <= blank < symbols:
        raise ValueError(f"{where}: argument 'blank'={blank} expected an index into the {symbols} symbols "
                         f"of 'log_probs' {tuple(log_probs.shape)}")
    _check_lengths("input_lengths", input_lengths, batch, 1, steps, where)
    check_tensor("targets", targets, dims=(1, 2), where=where)
    if targets.device.type == "meta":
        raise ValueError(f"{where}: argument 'targets' expected a tensor with values, got one on the meta device")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"{where}: argument 'targets' expected integer symbols, got dtype {targets.dtype}")
    if targets.dim() == 2:
        if targets.shape[0] != batch:
            raise ValueError(f"{where}: argument 'targets' expected {batch} rows (one per sequence of "
                             f"'log_probs'), got shape {tuple(targets.shape)}")
        _check_lengths("target_lengths", target_lengths, batch, 0, targets.shape[1], where)
        within = torch.arange(targets.shape[1], device=targets.device) < target_lengths.unsqueeze(1)
    else:
        _check_lengths("target_lengths", target_lengths, batch, 0, targets.shape[0], where)
        total = int(target_lengths.sum())
        if total != targets.shape[0]:
            raise ValueError(f"{where}: argument 'targets' is 1-d, so expected sum(target_lengths) = "
                             f"{total} concatenated symbols, got {targets.shape[0]}")
        within = torch.ones_like(targets, dtype=torch.bool)
    bad = within & ((targets < 0) | (targets >= symbols) | (targets == blank))
    if bool(bad.any()):
        value = int(targets[bad][0])
        raise ValueError(f"{where}: argument 'targets' expected symbols in [0, {symbols}) other than the "
                         f"blank {blank}, got {value}")


def _check_lengths(name: str, lengths: Tensor, batch: int, low: int, high: int, where: str) -> None:
    check_tensor(name, lengths, dims=1, where=where)
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{where}: argument '{name}' expected integers, got dtype {lengths.dtype}")
    if lengths.device.type == "meta":
        raise ValueError(f"{where}: argument '{name}' expected a tensor with values, got one on the meta device")
    if lengths.shape[0] != batch:
        raise ValueError(f"{where}: argument '{name}' expected {batch} entries (one per sequence), "
                         f"got shape {tuple(lengths.shape)}")
    if batch and (int(lengths.min()) < low or int(lengths.max()) > high):
        raise ValueError(f"{where}: argument '{name}' expected values in [{low}, {high}], got "
                         f"min {int(lengths.min())}, max {int(lengths.max())}")


def _decoder_inputs(log_probs: Tensor, lengths: Tensor | None, blank: int, where: str) -> Tensor:
    """Check the decoders' arguments; return lengths (N,) on the log-probs' device."""
    check_tensor("log_probs", log_probs, dims=3, floating=True, where=where)
    batch, steps, symbols = log_probs.shape
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < symbols:
        raise ValueError(f"{where}: argument 'blank' expected an int in [0, {symbols}), got {blank!r}")
    if lengths is None:
        return torch.full((batch,), steps, dtype=torch.long, device=log_probs.device)
    _check_lengths("lengths", lengths, batch, 0, steps, where)
    return lengths.to(log_probs.device)


def ctc_best_path(log_probs: Tensor, lengths: Tensor | None = None, blank: int = 0) -> tuple[Tensor, Tensor]:
    r"""Best-path decoding on the device: ``B(argmax_k y_t(k) for t < length)``, as padded tensors.

    The most probable alignment π*_t = argmax_k log y_t(k) is collapsed by B: a step is kept when
    π*_t ≠ ∅ and (t = 0 or π*_t ≠ π*_{t−1}).

    Shapes: ``log_probs: (N, T, K)``, ``lengths: (N,)`` or None for all T →
    ``labels: (N, T)`` int64, the kept symbols left-aligned and −1 after them; ``counts: (N,)``.
    """
    lengths = _decoder_inputs(log_probs, lengths, blank, "ctc_best_path")
    batch, steps, _ = log_probs.shape
    path = log_probs.argmax(dim=-1)
    previous = torch.cat([path.new_full((batch, 1), -1), path[:, :-1]], dim=1)
    time = torch.arange(steps, device=path.device)
    keep = (path != blank) & (path != previous) & (time < lengths.unsqueeze(1))
    position = torch.where(keep, keep.cumsum(dim=1) - 1, steps)  # column T collects the dropped steps
    labels = path.new_full((batch, steps + 1), -1).scatter_(1, position, torch.where(keep, path, -1))
    return labels[:, :steps], keep.sum(dim=1)


def ctc_greedy_decode(log_probs: Tensor, lengths: Tensor | None = None, blank: int = 0) -> list[list[int]]:
    """Best-path decoding (see :func:`ctc_best_path`) as one list of symbols per sequence.

    Shapes: ``log_probs: (N, T, K)``, ``lengths: (N,)`` or None → N lists of symbols.
    """
    labels, counts = ctc_best_path(log_probs, lengths, blank)
    return [row[:count] for row, count in zip(labels.tolist(), counts.tolist(), strict=True)]


def ctc_beam_search(log_probs: Tensor | np.ndarray, *, beam_width: int = 8, blank: int = 0,
                    top: int = 1, min_log_prob: float = -math.inf) -> list[tuple[list[int], float]]:
    r"""Prefix beam search over one sequence: the ``top`` most probable labellings and their log p.

    Beams are labellings (prefixes), each with two log-probabilities: of the alignments of
    y_1 … y_t that collapse to it and end in a blank, log p_∅, or in a symbol, log p_s. With
    P = p_∅ + p_s, step t extends prefix ℓ (last symbol e) to

        ℓ      p_∅ += P · y_t(∅),   p_s += p_s · y_t(e)     (a repeat of e collapses)
        ℓ + c  p_s += P · y_t(c)    for c ≠ e,   p_s += p_∅ · y_t(e) for c = e

    all in log space (``logaddexp``), then keeps the ``beam_width`` prefixes with the largest P.
    Without pruning (``beam_width`` ≥ every prefix count) P(ℓ) = p(ℓ | x) exactly; with pruning a
    prefix's score can only be lower than its true probability. Symbols whose log y_t is below
    ``min_log_prob`` are not used to extend prefixes at step t (a speed-up; −∞ keeps all).

    Shapes: ``log_probs: (T, K)``. Returns up to ``top`` pairs ``(symbols, log P)``, best first.
    """
    where = "ctc_beam_search"
    for name, value in (("beam_width", beam_width), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: argument '{name}' expected an int ≥ 1, got {value!r}")
    check_real("min_log_prob", min_log_prob, maximum=0, finite=False, where=where)
    if isinstance(log_probs, Tensor) and log_probs.device.type == "meta":
        raise ValueError(f"{where}: argument 'log_probs' expected a tensor with values, got one on the meta device")
    scores = log_probs.detach().to("cpu", torch.float64).numpy() if isinstance(log_probs, Tensor) \
        else np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"{where}: argument 'log_probs' expected a 2-d (T, K) array, got shape {scores.shape}")
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < scores.shape[1]:
        raise ValueError(f"{where}: argument 'blank' expected an int in [0, {scores.shape[1]}), got {blank!r}")
    minus_inf = -math.inf
    add = np.logaddexp
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, minus_inf)}
    for y in scores:
        candidates = [int(c) for c in np.flatnonzero(y >= min_log_prob) if c != blank]
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_blank, p_symbol) in beams.items():
            total = add(p_blank, p_symbol)
            last = prefix[-1] if prefix else -1
            entry = grown.setdefault(prefix, [minus_inf, minus_inf])
            entry[0] = add(entry[0], total + y[blank])
            if last >= 0:
                entry[1] = add(entry[1], p_symbol + y[last])
            for c in candidates:
                extended = grown.setdefault((*prefix, c), [minus_inf, minus_inf])
                extended[1] = add(extended[1], (p_blank if c == last else total) + y[c])
        ranked = sorted(grown.items(), key=lambda item: (-add(item[1][0], item[1][1]), item[0]))
        beams = {prefix: (p[0], p[1]) for prefix, p in ranked[:beam_width]}
    ranked = sorted(((list(prefix), float(add(*p))) for prefix, p in beams.items()),
                    key=lambda item: (-item[1], item[0]))
    return ranked[:top]


def ctc_beam_decode(log_probs: Tensor, lengths: Tensor | None = None, *, beam_width: int = 8, blank: int = 0,
                    min_log_prob: float = -math.inf) -> list[list[int]]:
    """The best labelling of every sequence by :func:`ctc_beam_search` over its first ``length`` steps.

    With ``beam_width=1`` only the single best prefix survives each step; when every step's most
    probable symbol holds most of the mass (a trained model), that is the best path
    (:func:`ctc_greedy_decode`). Wider beams sum over alignments and can find a labelling whose
    probability is larger although none of its alignments is the single best one.

    Shapes: ``log_probs: (N, T, K)``, ``lengths: (N,)`` or None → N lists of symbols.
    """
    lengths = _decoder_inputs(log_probs, lengths, blank, "ctc_beam_decode")
    array = log_probs.detach().to("cpu", torch.float64).numpy()
    return [ctc_beam_search(array[n, :length], beam_width=beam_width, blank=blank, top=1,
                            min_log_prob=min_log_prob)[0][0]
            for n, length in enumerate(lengths.tolist())]


def symbols_to_labels(symbols: Sequence[int]) -> list[int]:
    """Undo :class:`CTCHead`'s shift past the blank: symbol s ≥ 1 ↦ class s − 1."""
    if isinstance(symbols, str | bytes) or not hasattr(symbols, "__iter__") or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in symbols):
        raise TypeError(f"symbols_to_labels: argument 'symbols' expected a sequence of ints, got {symbols!r}")
    if any(s < 1 for s in symbols):
        raise ValueError(f"symbols_to_labels: argument 'symbols' expected symbols ≥ 1 (no blank), got {list(symbols)}")
    return [s - 1 for s in symbols]
