"""Sampling: the distribution (vs a numpy reference), seeds, greedy, top-k/top-p, state carried."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrnn.generate import generate, next_token_probabilities, sample
from convrnn.models.language_model import LanguageModel

VOCAB = 17


def reference_probabilities(logits: np.ndarray, temperature: float, top_k, top_p) -> np.ndarray:
    """Temperature, then top-k, then the nucleus, written out with a sort and a loop."""
    z = logits / temperature
    keep = np.ones_like(z, dtype=bool)
    if top_k is not None:
        order = np.argsort(-z, kind="stable")
        keep[:] = False
        keep[order[:top_k]] = True
        keep |= z >= z[order[min(top_k, len(z)) - 1]]  # ties with the k-th are kept
    p = np.where(keep, np.exp(z - z.max()), 0.0)
    p /= p.sum()
    if top_p is not None:
        order = np.argsort(-p, kind="stable")
        nucleus, mass = np.zeros_like(keep), 0.0
        for i in order:
            if mass >= top_p:
                break
            nucleus[i], mass = True, mass + p[i]
        p = np.where(nucleus, p, 0.0)
        p /= p.sum()
    return p


@given(st.integers(0, 10_000), st.floats(0.2, 3.0), st.one_of(st.none(), st.integers(1, 12)),
       st.one_of(st.none(), st.floats(0.05, 1.0)))
def test_distribution_matches_reference(seed, temperature, top_k, top_p):
    logits = torch.randn(12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    got = next_token_probabilities(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    expected = reference_probabilities(logits.numpy(), temperature, top_k, top_p)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_draws_follow_the_weighted_die():
    model = FixedLogits(torch.tensor([2.0, 1.0, 0.0, -1.0]))
    draws = [sample(model, [0], 1, seed=s)[0] for s in range(2000)]
    counts = np.bincount(draws, minlength=4) / 2000
    np.testing.assert_allclose(counts, torch.softmax(model.logits, 0).detach().numpy(), atol=0.03)


class FixedLogits(torch.nn.Module):
    """A 'model' whose next-token logits never change: the die itself."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, tokens, state=None):
        return self.logits.expand(*tokens.shape, -1), state


@pytest.fixture
def model():
    torch.manual_seed(1)
    return LanguageModel(VOCAB, 8, 16, 2, dropout=0.3)


def test_same_seed_same_text_other_seed_other_text(model):
    first = sample(model, [1, 2, 3], 20, seed=7)
    assert sample(model, [1, 2, 3], 20, seed=7) == first
    assert sample(model, [1, 2, 3], 20, seed=8) != first
    assert len(first) == 20 and all(0 <= t < VOCAB for t in first)


def test_greedy_is_deterministic_and_equals_recomputing_the_prefix(model):
    tokens = sample(model, [4, 5], 15, greedy=True, seed=1)
    assert sample(model, [4, 5], 15, greedy=True, seed=2) == tokens
    model.eval()
    prefix = [4, 5]
    with torch.no_grad():
        for _ in range(15):  # the slow, obviously right way: the whole prefix each time
            logits, _ = model(torch.tensor([prefix]))
            prefix.append(int(logits[0, -1].argmax()))
    assert tokens == prefix[2:]


def test_low_temperature_approaches_greedy(model):
    with torch.no_grad():
        model.output.weight.mul_(100)  # an untrained model's logits are nearly tied; spread them
    greedy = sample(model, [3], 20, greedy=True)
    for seed in range(3):
        assert sample(model, [3], 20, temperature=1e-3, seed=seed) == greedy
    logits = torch.randn(VOCAB)
    cold = next_token_probabilities(logits, temperature=1e-3)
    assert cold[logits.argmax()] > 0.999


def test_top_k_never_emits_a_token_outside_the_k_most_probable(model):
    prompt = [1, 2]
    tokens = sample(model, prompt, 40, top_k=3, temperature=2.0, seed=0)
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([prompt + tokens]))
    for step, token in enumerate(tokens):
        allowed = torch.topk(logits[0, len(prompt) - 1 + step], 3).indices.tolist()
        assert token in allowed


def test_state_is_carried_not_recomputed(model):
    calls = []
    model.register_forward_hook(lambda module, args, kwargs, out: calls.append(tuple(args[0].shape)),
                                with_kwargs=True)
    sample(model, [1, 2, 3, 4], 10, seed=0)
    assert calls == [(1, 4)] + [(1, 1)] * 9


def test_generator_streams_and_stop_ends_early(model):
    stream = generate(model, [1], 1000, greedy=True)
    first = next(stream)
    assert torch.is_grad_enabled() and not model.training  # the caller keeps grad mode between tokens
    stream.close()
    assert model.training  # mode restored
    greedy = sample(model, [1], 50, greedy=True)
    assert greedy[0] == first
    cut = sample(model, [1], 50, greedy=True, stop=greedy[5])
    assert cut == greedy[: greedy.index(greedy[5])]


def test_callback_sees_each_token_as_it_is_drawn(model):
    seen = []
    tokens = sample(model, [1], 12, seed=3, callback=seen.append)
    assert seen == tokens


def test_bad_arguments_are_named(model):
    with pytest.raises(ValueError, match="'prompt' expected at least one token"):
        sample(model, [], 5)
    with pytest.raises(TypeError, match="'prompt' expected token ids, got a str"):
        sample(model, "ROMEO", 5)
    with pytest.raises(ValueError, match="'temperature' expected a finite number > 0, got 0"):
        sample(model, [1], 5, temperature=0)
    with pytest.raises(ValueError, match="'top_k' expected None or an int ≥ 1, got 0"):
        sample(model, [1], 5, top_k=0)
    with pytest.raises(ValueError, match=r"'top_p' expected None or a number in \(0, 1\], got 1.5"):
        sample(model, [1], 5, top_p=1.5)
    with pytest.raises(ValueError, match="'length' expected an int ≥ 0, got -1"):
        sample(model, [1], -1)
    assert sample(model, [1], 0) == []


def test_forbidden_tokens_are_never_drawn_even_when_most_probable():
    logits = torch.tensor([5.0, 4.0, 0.0, 1.0, -1.0])      # tokens 0 and 1 dominate
    die = FixedLogits(logits)
    assert set(sample(die, [2], 300, seed=0)) >= {0, 1}      # without forbid they are drawn
    drawn = sample(die, [2], 300, seed=0, forbid=[0, 1])
    assert set(drawn) <= {2, 3, 4} and 3 in drawn
    assert sample(die, [2], 5, greedy=True, forbid={0, 1}) == [3] * 5
    with pytest.raises(ValueError, match="'forbid' expected token ids in"):
        sample(die, [2], 1, forbid=[7])
    with pytest.raises(ValueError, match="no token to draw"):
        sample(die, [2], 1, forbid=range(5))
    with pytest.raises(TypeError, match="'forbid'"):
        sample(die, [2], 1, forbid=["a"])
