"""Attention: weights are a softmax over the real positions only, padding never matters, the dot
kind equals torch's scaled_dot_product_attention, both kinds have correct gradients."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convrnn.layers.attention import Attention


def _inputs(batch=3, steps=6, query=5, key=5, value=4, dtype=torch.float32):
    return (torch.randn(batch, query, dtype=dtype), torch.randn(batch, steps, key, dtype=dtype),
            torch.randn(batch, steps, value, dtype=dtype))


@pytest.mark.parametrize("kind", ["dot", "additive"])
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), queries=st.sampled_from([None, 3]))
def test_weights_sum_to_one_over_real_positions_and_are_zero_on_padding(kind, lengths, queries):
    torch.manual_seed(0)
    attention = Attention(kind, query_size=5, key_size=7)
    batch = len(lengths)
    query = torch.randn(batch, 5) if queries is None else torch.randn(batch, queries, 5)
    keys, values = torch.randn(batch, 6, 7), torch.randn(batch, 6, 2)
    context, weights = attention(query, keys, values, lengths=torch.tensor(lengths))
    weights = weights if queries is None else weights.transpose(0, 1)  # rows of one query at a time
    for i, length in enumerate(lengths):
        row = weights[..., i, :]
        torch.testing.assert_close(row[..., :length].sum(-1), torch.ones(row.shape[:-1]))
        assert torch.all(row[..., length:] == 0)
    assert context.shape == ((batch, 2) if queries is None else (batch, queries, 2))


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_padding_never_changes_the_context(kind):
    attention = Attention(kind, query_size=4, key_size=4)
    query, keys, values = _inputs(batch=2, steps=5, query=4, key=4)
    lengths = torch.tensor([3, 5])
    context, weights = attention(query, keys, values, lengths=lengths)
    # different garbage (even huge numbers) at the padded positions, and more padding
    noisy_keys = torch.cat([keys, torch.randn(2, 4, 4)], 1)
    noisy_values = torch.cat([values, torch.randn(2, 4, 4)], 1)
    noisy_keys[0, 3:], noisy_values[0, 3:] = 1e4, -1e4
    noisy, _ = attention(query, noisy_keys, noisy_values, lengths=lengths)
    torch.testing.assert_close(noisy, context, rtol=1e-6, atol=1e-6)
    for i, length in enumerate(lengths.tolist()):  # each sequence alone, unpadded
        alone, alone_weights = attention(query[i:i + 1], keys[i:i + 1, :length], values[i:i + 1, :length])
        torch.testing.assert_close(alone[0], context[i], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(alone_weights[0], weights[i, :length])


def test_lengths_and_mask_agree():
    attention = Attention("additive", query_size=5, key_size=5, hidden_size=3)
    query, keys, values = _inputs()
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6) < lengths.unsqueeze(1)
    by_lengths = attention(query, keys, values, lengths=lengths)
    by_mask = attention(query, keys, values, mask=mask)
    for a, b in zip(by_lengths, by_mask):
        torch.testing.assert_close(a, b)


def test_dot_attention_equals_torch_scaled_dot_product_attention():
    attention = Attention("dot", query_size=8, key_size=8)
    query, keys, values = _inputs(batch=4, steps=7, query=8, key=8, value=3)
    lengths = torch.tensor([7, 1, 4, 6])
    mask = torch.arange(7) < lengths.unsqueeze(1)
    context, _ = attention(query, keys, values, lengths=lengths)
    expected = F.scaled_dot_product_attention(query.unsqueeze(1), keys, values, attn_mask=mask.unsqueeze(1),
                                              scale=1 / math.sqrt(8)).squeeze(1)
    torch.testing.assert_close(context, expected, rtol=1e-5, atol=1e-6)
    unscaled, _ = Attention("dot", query_size=8, key_size=8, scale=False)(query, keys, values, lengths=lengths)
    expected = F.scaled_dot_product_attention(query.unsqueeze(1), keys, values, attn_mask=mask.unsqueeze(1),
                                              scale=1.0).squeeze(1)
    torch.testing.assert_close(unscaled, expected, rtol=1e-5, atol=1e-6)


def test_additive_scores_match_a_naive_loop():
    torch.manual_seed(1)
    attention = Attention("additive", query_size=3, key_size=4, hidden_size=5)
    query, keys, values = _inputs(batch=2, steps=3, query=3, key=4, value=2)
    context, weights = attention(query, keys, values, lengths=torch.tensor([3, 2]))
    W_q, W_k = attention.query_projection.weight, attention.key_projection.weight
    b, v = attention.key_projection.bias, attention.score_vector
    for i, length in enumerate([3, 2]):
        scores = torch.stack([v @ torch.tanh(W_q @ query[i] + W_k @ keys[i, j] + b) for j in range(length)])
        alpha = torch.exp(scores) / torch.exp(scores).sum()
        torch.testing.assert_close(weights[i, :length], alpha)
        torch.testing.assert_close(context[i], sum(alpha[j] * values[i, j] for j in range(length)))


def test_dot_with_different_sizes_uses_the_general_score():
    attention = Attention("dot", query_size=3, key_size=4)
    query, keys, values = _inputs(batch=2, steps=3, query=3, key=4, value=2)
    _, weights = attention(query, keys, values)
    projected = query @ attention.query_projection.weight.T
    expected = torch.softmax(torch.einsum("nk,nsk->ns", projected, keys) / 2.0, dim=-1)
    torch.testing.assert_close(weights, expected)


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_gradcheck_in_float64(kind):
    attention = Attention(kind, query_size=3, key_size=4, hidden_size=3).double()
    query, keys, values = (t.requires_grad_() for t in _inputs(batch=2, steps=4, query=3, key=4, value=2,
                                                               dtype=torch.float64))
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda q, k, v: attention(q, k, v, lengths=lengths), (query, keys, values))


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(lengths=torch.tensor([0, 2])), "'lengths' expected values in \\[1, S=4\\]"),
    (dict(lengths=torch.tensor([5, 2])), "'lengths' expected values"),
    (dict(lengths=torch.tensor([2])), "'lengths' expected an integer tensor of shape \\(N=2,\\)"),
    (dict(mask=torch.zeros(2, 4, dtype=torch.bool)), "'mask' expected at least one True"),
    (dict(mask=torch.ones(2, 4)), "'mask' expected a bool tensor"),
    (dict(lengths=torch.tensor([1, 1]), mask=torch.ones(2, 4, dtype=torch.bool)), "not both"),
])
def test_bad_lengths_or_masks_name_the_argument(arguments, message):
    attention = Attention("dot", query_size=3, key_size=3)
    with pytest.raises(ValueError, match=message):
        attention(torch.randn(2, 3), torch.randn(2, 4, 3), **arguments)


def test_bad_shapes_and_options_name_the_argument():
    attention = Attention("dot", query_size=3, key_size=3)
    with pytest.raises(ValueError, match="'query' expected shape"):
        attention(torch.randn(2, 5), torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="'keys' expected shape"):
        attention(torch.randn(2, 3), torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="'values' expected shape"):
        attention(torch.randn(2, 3), torch.randn(2, 4, 3), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="'kind' expected one of"):
        Attention("cosine", query_size=3, key_size=3)
    with pytest.raises(ValueError, match="'key_size' expected a positive int"):
        Attention("dot", query_size=3, key_size=0)
