"""word2vec's hierarchical softmax: the Huffman tree against a heapq-built reference, one training
step against a float64 hand computation, and training to convergence on planted topics."""

from __future__ import annotations

import heapq
import itertools
import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrnn.models.word2vec import (
    HuffmanTree,
    Word2Vec,
    Word2VecSettings,
    WordVectors,
    WordVocabulary,
    train_word2vec,
)
from convrnn.models.word2vec import compiled as compiled_kernel
from convrnn.models.word2vec.training import tabulated_sigmoid

needs_compiler = pytest.mark.skipif(compiled_kernel.load() is None, reason="no C++ toolchain for the kernel")


def heapq_huffman(counts: list[int]) -> tuple[list[list[int]], list[list[int]]]:
    """An independent Huffman build, gensim's way: a heap of (count, node) items, the two smallest
    merged into inner node V + k at merge k; the first popped is branch 0. Codes and points root first."""
    size = len(counts)
    heap = [(c, i, i) for i, c in enumerate(counts)]  # (count, tie-break, node)
    heapq.heapify(heap)
    children: dict[int, tuple[int, int]] = {}
    tie = itertools.count(size)
    for k in range(size - 1):
        first, second = heapq.heappop(heap), heapq.heappop(heap)
        children[size + k] = (first[2], second[2])
        heapq.heappush(heap, (first[0] + second[0], next(tie), size + k))
    codes: list[list[int]] = [[] for _ in range(size)]
    points: list[list[int]] = [[] for _ in range(size)]
    stack = [(heap[0][2], [], [])]
    while stack:
        node, code, point = stack.pop()
        if node < size:
            codes[node], points[node] = code, point
        else:
            for branch, child in enumerate(children[node]):
                stack.append((child, [*code, branch], [*point, node - size]))
    return codes, points


def test_tree_equals_the_heap_build_when_no_counts_tie():
    rng = random.Random(3)
    counts = rng.sample(range(1, 10**9), 60)  # distinct, and ties among sums are as unlikely (checked below)
    tree = HuffmanTree.build(counts)
    codes, points = heapq_huffman(counts)
    for word in range(len(counts)):
        assert tree.code(word) == (codes[word], points[word]), word


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_tree_is_an_optimal_prefix_code_over_full_binary_tree(counts):
    tree = HuffmanTree.build(counts)
    size = len(counts)
    reference_codes, _ = heapq_huffman(counts)
    lengths = tree.lengths.tolist()
    # optimal: the expected code length equals the heap-built Huffman code's (lengths may differ on ties)
    assert sum(c * n for c, n in zip(counts, lengths)) == sum(c * len(r) for c, r in zip(counts, reference_codes))
    # a full binary tree: Kraft's sum is exactly 1, every code distinct and none a prefix of another
    assert sum(2.0 ** -n for n in lengths) == 1.0
    words = [tuple(tree.code(w)[0]) for w in range(size)]
    assert len(set(words)) == size
    assert not any(a != b and b[:len(a)] == a for a in words for b in words)
    # one inner node per distinct prefix: the same path prefix always passes the same nodes, root V − 2 first
    node_of: dict[tuple[int, ...], int] = {}
    for word in range(size):
        code, point = tree.code(word)
        for depth, node in enumerate(point):
            assert node_of.setdefault(tuple(code[:depth]), node) == node
    assert sorted(node_of.values()) == list(range(size - 1))
    assert size == 1 or node_of[()] == size - 2
    # frequent words never get longer codes than rarer ones
    assert all(lengths[a] <= lengths[b] for a in range(size) for b in range(size) if counts[a] > counts[b])


def test_lengths_of_doubling_counts_and_one_word():
    assert HuffmanTree.build([16, 8, 4, 2, 1]).lengths.tolist() == [1, 2, 3, 4, 4]
    assert HuffmanTree.build([1, 2, 4, 8, 16]).lengths.tolist() == [4, 4, 3, 2, 1]  # any order of counts
    one = HuffmanTree.build([7])
    assert one.lengths.tolist() == [0] and one.log_probabilities(torch.ones(2, 3), torch.zeros(0, 3)).tolist() == [
        [0.0], [0.0]]


def test_path_probabilities_sum_to_one():
    generator = torch.Generator().manual_seed(0)
    tree = HuffmanTree.build([50, 20, 20, 9, 5, 3, 1, 1])
    hidden = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    inner = torch.randn(7, 6, generator=generator, dtype=torch.float64)
    log_p = tree.log_probabilities(hidden, inner)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(4, dtype=torch.float64))
    code, point = tree.code(5)  # one word by hand: Π σ((1 − 2b) h·I[n])
    by_hand = math.prod(1 / (1 + math.exp(-(1 - 2 * b) * float(hidden[2] @ inner[n]))) for b, n in zip(code, point))
    assert math.isclose(log_p[2, 5].exp().item(), by_hand, rel_tol=1e-12)


def test_bad_counts_and_shapes_are_named():
    with pytest.raises(ValueError, match="'counts' expected counts ≥ 1, got 0"):
        HuffmanTree.build([3, 0])
    with pytest.raises(ValueError, match="'counts' expected a non-empty"):
        HuffmanTree.build([])
    with pytest.raises(ValueError, match=r"inner \(2, E\)"):
        HuffmanTree.build([1, 2, 3]).log_probabilities(torch.zeros(1, 4), torch.zeros(3, 4))
    with pytest.raises(IndexError, match="'word' expected an id in"):
        HuffmanTree.build([1, 2, 3]).code(3)


# ----------------------------------------------------------------------------- training steps


def table_sigmoid(x: float) -> float:
    """word2vec.c's tabulated σ (1000 entries on (−6, 6)) read at entry ⌊(x + 6) · 83⌋, as word2vec.c
    and gensim read it: their index scale EXP_TABLE_SIZE / MAX_EXP / 2 is C integer division. The
    index is computed in float32, as the kernel computes it."""
    index = min(int((np.float32(x) + np.float32(6.0)) * np.float32(1000 // 6 // 2)), 999)
    return 1.0 / (1.0 + math.exp(-(2.0 * index / 1000 - 1.0) * 6.0))


def test_tabulated_sigmoid_reads_the_table_as_word2vec_c_does():
    x = torch.linspace(-5.999, 5.999, 20_001)
    expected = torch.tensor([table_sigmoid(float(v)) for v in x])
    torch.testing.assert_close(tabulated_sigmoid(x), expected, rtol=0, atol=1e-6)
    # off centre: σ̃(0) is entry 498 = σ(−0.024), not σ(0) = 1/2
    assert float(tabulated_sigmoid(torch.zeros(1))) == pytest.approx(1 / (1 + math.exp(0.024)), abs=1e-7)
    with pytest.raises(TypeError, match="tabulated_sigmoid: argument 'x' expected a floating-point tensor"):
        tabulated_sigmoid(torch.zeros(3, dtype=torch.int64))


def reference_hs_epoch(sentence: list[int], input_: np.ndarray, inner: np.ndarray, tree: HuffmanTree, cbow: bool,
                       alpha: float, sigmoid) -> None:
    """word2vec.c's loop in float64, window 1, no subsampling: hierarchical softmax alone, in place."""

    def step(h: np.ndarray, word: int) -> np.ndarray:
        error = np.zeros_like(h)
        for b, n in zip(*tree.code(word)):
            f = float(h @ inner[n])
            if abs(f) >= 6:
                continue
            g = (1 - b - sigmoid(f)) * alpha
            error += g * inner[n]
            inner[n] += g * h
        return error

    for i, word in enumerate(sentence):
        context = [c for c in (i - 1, i + 1) if 0 <= c < len(sentence)]
        if cbow:
            error = step(np.mean([input_[sentence[c]] for c in context], 0), word)
            for c in context:
                input_[sentence[c]] += error
        else:
            for c in context:
                input_[sentence[c]] += step(input_[sentence[c]].copy(), word)


@pytest.mark.parametrize("engine, architecture", [
    pytest.param("compiled", "cbow", marks=needs_compiler), pytest.param("compiled", "skipgram", marks=needs_compiler),
    ("torch", "cbow")])
def test_one_hierarchical_softmax_pass_equals_a_float64_hand_computation(engine, architecture):
    vocabulary = WordVocabulary(["a", "b", "c", "d", "e", "f"], [40, 21, 13, 8, 5, 3])
    sentence = ["c", "a", "f", "b", "e", "d"]
    model = Word2Vec(6, 8, seed=0, hierarchical=True)
    generator = torch.Generator().manual_seed(1)
    model.inner.data = torch.randn(5, 8, generator=generator)
    model.input.data = torch.randn(6, 8, generator=generator) * 1.5  # some |h·I[n]| ≥ 6: skipped
    input_, inner = model.input.double().numpy().copy(), model.inner.double().numpy().copy()
    initial = inner.copy()
    run = Word2VecSettings(architecture=architecture, engine=engine, hs=True, negative=0, window=1, sample=0,
                           epochs=1, alpha=0.1, min_alpha=0.1, workers=1, batch_words=1, min_count=1, vector_size=8)
    train_word2vec(model, vocabulary, [sentence], run)
    # (α constant; the torch engine steps one position at a time with batch_words=1)
    reference_hs_epoch(vocabulary.encode(sentence), input_, inner, HuffmanTree.build(vocabulary.counts),
                       architecture == "cbow", 0.1, table_sigmoid)
    assert np.abs(inner - initial).max() > 0.05  # the pass did move the inner vectors
    np.testing.assert_allclose(model.inner.numpy(), inner, rtol=0, atol=2e-5)
    np.testing.assert_allclose(model.input.numpy(), input_, rtol=0, atol=2e-5)
    np.testing.assert_array_equal(model.output.numpy(), 0)  # negative=0: syn1neg untouched


# ----------------------------------------------------------------------------- training


def topic_corpus(sentences: int = 1500, seed: int = 0) -> tuple[list[list[str]], list[str], list[str]]:
    rng = random.Random(seed)
    animals, tools = [f"animal{i}" for i in range(8)], [f"tool{i}" for i in range(8)]
    corpus = [[rng.choice(t) for _ in range(8)] for t in (rng.choice((animals, tools)) for _ in range(sentences))]
    return corpus, animals, tools


def cbow_loss(model: Word2Vec, tree: HuffmanTree, vocabulary: WordVocabulary, corpus: list[list[str]]) -> float:
    """Mean −log p(w_t | mean of its ±2 neighbours) under the hierarchical softmax, in nats."""
    hidden, targets = [], []
    for sentence in corpus[:300]:
        ids = vocabulary.encode(sentence)
        for i, word in enumerate(ids):
            context = [ids[c] for c in range(max(0, i - 2), min(len(ids), i + 3)) if c != i]
            hidden.append(model.input[context].mean(0))
            targets.append(word)
    log_p = tree.log_probabilities(torch.stack(hidden), model.inner)
    return -float(log_p[torch.arange(len(targets)), torch.tensor(targets)].mean())


@pytest.mark.parametrize("engine, architecture, negative", [
    pytest.param("compiled", architecture, negative, marks=needs_compiler)
    for architecture in ("cbow", "skipgram") for negative in (0, 5)] + [("torch", "cbow", 0), ("torch", "skipgram", 5)])
def test_hierarchical_softmax_learns_planted_topics(engine, architecture, negative):
    # 16 words in two topics of 8: before training every word costs its code length (log 16 = 2.77 nats
    # here, all codes 4 long); a model that knows the topic costs log 8 = 2.08. One worker: deterministic.
    corpus, animals, tools = topic_corpus()
    vocabulary = WordVocabulary.build(corpus, min_count=1)
    tree = HuffmanTree.build(vocabulary.counts)
    model = Word2Vec(len(vocabulary), 16, seed=0, hierarchical=True)
    before = cbow_loss(model, tree, vocabulary, corpus)
    run = Word2VecSettings(architecture=architecture, engine=engine, hs=True, negative=negative, vector_size=16,
                           window=3, sample=0, epochs=5, alpha=0.05, batch_words=256, chunk_words=2000, workers=1)
    report = train_word2vec(model, vocabulary, corpus, run)
    assert report.engine == engine
    assert before == pytest.approx(4 * math.log(2))
    assert cbow_loss(model, tree, vocabulary, corpus) < 2.25
    vectors = WordVectors(vocabulary.words, model.input)
    for topic in (animals, tools):
        for word in topic:
            assert all(neighbour in topic for neighbour, _ in vectors.most_similar(word, 5)), word


def test_settings_and_model_must_agree_on_hierarchical_softmax():
    with pytest.raises(ValueError, match="leave nothing to train"):
        Word2VecSettings(negative=0)
    with pytest.raises(ValueError, match="'hs' expected a bool"):
        Word2VecSettings(hs=2)
    with pytest.raises(ValueError, match="'negative' expected an int ≥ 0"):
        Word2VecSettings(negative=-1)
    assert Word2VecSettings(hs=1, negative=0).hs is True
    vocabulary = WordVocabulary(["a", "b"], [3, 2])
    with pytest.raises(ValueError, match=r"Word2Vec\(\.\.\., hierarchical=True\)"):
        train_word2vec(Word2Vec(2, 4), vocabulary, [["a", "b"]], Word2VecSettings(hs=True, engine="torch"))
    with pytest.raises(TypeError, match="'hierarchical' expected a bool"):
        Word2Vec(2, 4, hierarchical=1)  # type: ignore[arg-type]
