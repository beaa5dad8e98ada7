"""CTC head, loss and decoders against torch's CTCLoss and brute-force sums over every alignment."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.layers.ctc import (
    CTCHead,
    CTCLoss,
    ctc_beam_decode,
    ctc_beam_search,
    ctc_best_path,
    ctc_greedy_decode,
    symbols_to_labels,
)


def collapse(path, blank=0):
    """B: merge repeats, then drop blanks (written out as the paper states it)."""
    merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    return tuple(s for s in merged if s != blank)


def labelling_log_probs(log_probs, blank=0):
    """log p(ℓ | x) of every labelling ℓ reachable in T steps, by enumerating all K^T alignments."""
    steps, symbols = log_probs.shape
    totals = {}
    for path in itertools.product(range(symbols), repeat=steps):
        score = sum(float(log_probs[t, s]) for t, s in enumerate(path))
        label = collapse(list(path), blank)
        totals[label] = np.logaddexp(totals.get(label, -math.inf), score)
    return totals


def random_log_probs(*shape, generator=None, scale=1.0):
    return torch.log_softmax(scale * torch.randn(*shape, generator=generator, dtype=torch.float64), dim=-1)


# ----------------------------------------------------------------------------- head and loss


def test_head_gives_log_probabilities_of_blank_and_every_class():
    head = CTCHead(6, classes=4)
    log_probs = head(torch.randn(3, 5, 6))
    assert log_probs.shape == (3, 5, 5)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 5))
    x = torch.ones(1, 1, 6)
    logits = x @ head.linear.weight.T + head.linear.bias
    torch.testing.assert_close(head(x), logits - logits.exp().sum(-1, keepdim=True).log())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_equals_torch_ctc_loss_on_the_same_inputs(reduction):
    generator = torch.Generator().manual_seed(1)
    log_probs = random_log_probs(4, 12, 6, generator=generator).float()
    input_lengths = torch.tensor([12, 9, 7, 12])
    targets = torch.randint(1, 6, (4, 5), generator=generator)
    target_lengths = torch.tensor([5, 3, 1, 4])
    ours = CTCLoss(reduction=reduction)(log_probs, input_lengths, targets, target_lengths)
    theirs = torch.nn.CTCLoss(reduction=reduction)(log_probs.transpose(0, 1), targets, input_lengths,
                                                   target_lengths)
    torch.testing.assert_close(ours, theirs)
    concatenated = torch.cat([row[:n] for row, n in zip(targets, target_lengths, strict=True)])
    torch.testing.assert_close(CTCLoss(reduction=reduction)(log_probs, input_lengths, concatenated,
                                                            target_lengths), theirs)


def test_loss_is_minus_log_of_the_sum_over_every_alignment():
    generator = torch.Generator().manual_seed(2)
    log_probs = random_log_probs(3, 5, 3, generator=generator)
    targets = torch.tensor([[1, 2], [1, 1], [2, 0]])
    target_lengths = torch.tensor([2, 2, 1])
    input_lengths = torch.tensor([5, 4, 3])
    losses = CTCLoss(reduction="none")(log_probs, input_lengths, targets, target_lengths)
    for n in range(3):
        table = labelling_log_probs(log_probs[n, :input_lengths[n]])
        label = tuple(targets[n, :target_lengths[n]].tolist())
        assert losses[n].item() == pytest.approx(-table[label], rel=1e-9)


def test_loss_gradient_matches_finite_differences_in_float64():
    log_probs = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    targets, input_lengths, target_lengths = torch.tensor([[1, 3, 3], [2, 0, 0]]), torch.tensor([6, 5]), \
        torch.tensor([3, 1])

    def loss(logits):
        return CTCLoss()(torch.log_softmax(logits, -1), input_lengths, targets, target_lengths)

    assert torch.autograd.gradcheck(loss, (log_probs,))


def _loss_inputs():
    return (torch.randn(2, 5, 4).log_softmax(-1), torch.tensor([5, 4]), torch.tensor([[1, 2], [3, 0]]),
            torch.tensor([2, 1]))


@pytest.mark.parametrize(("position", "value", "message"), [
    (0, torch.randn(5, 4), "argument 'log_probs' expected a 3-d tensor"),
    (1, torch.tensor([6, 4]), "argument 'input_lengths' expected values in [1, 5], got min 4, max 6"),
    (1, torch.tensor([5]), "argument 'input_lengths' expected 2 entries"),
    (1, torch.tensor([5.0, 4.0]), "argument 'input_lengths' expected integers"),
    (2, torch.tensor([[1, 0], [3, 0]]), "argument 'targets' expected symbols in [0, 4) other than the blank 0, got 0"),
    (2, torch.tensor([[1, 4], [3, 0]]), "argument 'targets' expected symbols in [0, 4) other than the blank 0, got 4"),
    (2, torch.tensor([[1.0, 2.0], [3.0, 0.0]]), "argument 'targets' expected integer symbols"),
    (3, torch.tensor([3, 1]), "argument 'target_lengths' expected values in [0, 2], got min 1, max 3"),
])
def test_bad_loss_input_names_the_argument(position, value, message):
    arguments = list(_loss_inputs())
    arguments[position] = value
    with pytest.raises((ValueError, TypeError)) as error:
        CTCLoss()(*arguments)
    assert message in str(error.value)


# ----------------------------------------------------------------------------- greedy decoding


def one_hot_log_probs(paths, symbols):
    """log-probs whose best path is ``paths[n]`` (probability 0.9 on it)."""
    steps = max(map(len, paths))
    probs = torch.full((len(paths), steps, symbols), 0.1 / (symbols - 1))
    for n, path in enumerate(paths):
        for t, s in enumerate(path):
            probs[n, t, s] = 0.9
    return probs.log()


def test_greedy_decoding_collapses_repeats_then_removes_blanks():
    a, b, blank = 1, 2, 0
    paths = [[a, a, blank, a, b, b, blank], [blank, blank, blank, blank, blank, blank, blank],
             [b, blank, b, b, a, blank, a]]
    assert ctc_greedy_decode(one_hot_log_probs(paths, 3)) == [[a, a, b], [], [b, b, a, a]]


def test_greedy_decoding_reads_only_each_sequences_steps():
    paths = [[1, 0, 2, 2, 1], [1, 2, 2, 1, 1]]
    assert ctc_greedy_decode(one_hot_log_probs(paths, 3), torch.tensor([3, 2])) == [[1, 2], [1, 2]]


def test_greedy_decoding_with_another_blank_index():
    paths = [[2, 2, 0, 2, 1, 0]]
    assert ctc_greedy_decode(one_hot_log_probs(paths, 3), blank=2) == [[0, 1, 0]]


@given(st.integers(1, 4), st.integers(1, 9), st.integers(2, 5), st.integers(0, 2**16))
def test_best_path_matches_a_loop_over_the_argmax(batch, steps, symbols, seed):
    generator = torch.Generator().manual_seed(seed)
    log_probs = random_log_probs(batch, steps, symbols, generator=generator)
    lengths = torch.randint(0, steps + 1, (batch,), generator=generator)
    labels, counts = ctc_best_path(log_probs, lengths)
    for n in range(batch):
        expected = collapse(log_probs[n, :lengths[n]].argmax(-1).tolist())
        assert labels[n, :counts[n]].tolist() == list(expected)
        assert (labels[n, counts[n]:] == -1).all()


# ----------------------------------------------------------------------------- beam search


@pytest.mark.parametrize("seed", range(20))
def test_beam_of_one_equals_greedy_when_each_step_is_confident(seed):
    generator = torch.Generator().manual_seed(seed)
    batch, steps, symbols = 6, 20, 5
    best = torch.randint(0, symbols, (batch, steps), generator=generator)
    logits = torch.randn(batch, steps, symbols, generator=generator)
    logits.scatter_(2, best.unsqueeze(-1), 8.0)  # the best symbol holds > 99 % of each step
    log_probs = torch.log_softmax(logits, -1)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    assert ctc_beam_decode(log_probs, lengths, beam_width=1) == ctc_greedy_decode(log_probs, lengths)


@pytest.mark.parametrize("seed", range(30))
def test_wide_beam_finds_the_most_probable_labelling_of_brute_force_enumeration(seed):
    generator = torch.Generator().manual_seed(seed)
    steps, symbols = int(torch.randint(1, 6, (1,), generator=generator)), int(torch.randint(2, 4, (1,),
                                                                                            generator=generator))
    log_probs = random_log_probs(steps, symbols, generator=generator, scale=2.0)
    table = labelling_log_probs(log_probs)
    ranked = sorted(table.items(), key=lambda item: -item[1])
    found = ctc_beam_search(log_probs, beam_width=64, top=3)
    for (labels, score), (truth, true_score) in zip(found, ranked, strict=False):
        assert tuple(labels) == truth
        assert score == pytest.approx(true_score, rel=1e-9, abs=1e-12)
    assert ctc_beam_decode(log_probs.unsqueeze(0), beam_width=64) == [list(ranked[0][0])]


@pytest.mark.parametrize("seed", range(10))
def test_narrow_beam_never_overstates_a_probability(seed):
    generator = torch.Generator().manual_seed(100 + seed)
    log_probs = random_log_probs(5, 3, generator=generator)
    table = labelling_log_probs(log_probs)
    for labels, score in ctc_beam_search(log_probs, beam_width=2, top=2):
        assert score <= table[tuple(labels)] + 1e-12


def test_beam_search_can_beat_the_best_path():
    # two alignments of "1" (1 ∅, ∅ 1, 1 1) together outweigh the single best path ∅ ∅
    probs = torch.tensor([[0.6, 0.4], [0.6, 0.4]])  # (T=2, K=2): y(∅) = 0.6, y(1) = 0.4 at both steps
    log_probs = probs.log()
    assert ctc_greedy_decode(log_probs.unsqueeze(0)) == [[]]
    assert ctc_beam_decode(log_probs.unsqueeze(0), beam_width=4) == [[1]]  # p(1) = 0.64 > p(∅) = 0.36


def test_pruning_improbable_symbols_keeps_the_answer_of_a_confident_model():
    best = torch.tensor([[1, 1, 0, 2, 0, 2, 2, 3]])
    logits = torch.zeros(1, 8, 4).scatter_(2, best.unsqueeze(-1), 12.0)
    log_probs = torch.log_softmax(logits, -1)
    assert ctc_beam_decode(log_probs, min_log_prob=math.log(1e-3)) == ctc_beam_decode(log_probs) == [[1, 2, 2, 3]]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ctc_beam_decode(torch.zeros(2, 3, 4), torch.tensor([4, 1])), "argument 'lengths' expected values in [0, 3]"),
    (lambda: ctc_beam_decode(torch.zeros(3, 4)), "argument 'log_probs' expected a 3-d tensor"),
    (lambda: ctc_beam_decode(torch.zeros(1, 3, 4), blank=4), "argument 'blank' expected an int in [0, 4)"),
    (lambda: ctc_beam_search(torch.zeros(3, 4), beam_width=0), "argument 'beam_width' expected an int ≥ 1, got 0"),
    (lambda: ctc_greedy_decode(torch.zeros(2, 3, 4), torch.tensor([1])), "argument 'lengths' expected 2 entries"),
    (lambda: symbols_to_labels([1, 0]), "argument 'symbols' expected symbols ≥ 1"),
])
def test_bad_decoder_input_names_the_argument(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


def test_symbols_to_labels_undoes_the_heads_shift():
    assert symbols_to_labels([1, 10, 3]) == [0, 9, 2]
