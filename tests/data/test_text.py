"""Tokenizers and the vocabulary: round trips, normalisation, special tokens, JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convrnn.data.text import (
    SPECIALS,
    CharTokenizer,
    Vocabulary,
    WordTokenizer,
    tokenizer_from_json,
)


@given(st.text(max_size=200))
def test_char_tokenizer_round_trips_every_string(text):
    tokenizer = CharTokenizer()
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == text
    assert len(tokenizer.tokenize(text)) == len(text)


@given(st.text(max_size=200), st.booleans(), st.sampled_from(["words", "whitespace"]))
def test_word_tokenizer_round_trip_is_stable(text, lowercase, split):
    tokenizer = WordTokenizer(lowercase=lowercase, split=split)
    tokens = tokenizer.tokenize(text)
    assert tokenizer.tokenize(tokenizer.detokenize(tokens)) == tokens
    assert all(token and not any(c.isspace() for c in token) for token in tokens)


def test_word_tokenizer_splits_punctuation_and_keeps_inner_apostrophes():
    tokens = WordTokenizer(lowercase=True).tokenize("Don't stop, well-known ROMEO!  ‘Tis…")
    assert tokens == ["don't", "stop", ",", "well-known", "romeo", "!", "‘", "tis", ".", ".", "."]


def test_word_tokenizer_normalises_compatibility_forms():
    # NFKC: the "ﬁ" ligature and full-width letters become plain letters
    assert WordTokenizer().tokenize("ﬁne ＡＢＣ") == ["fine", "ABC"]


def test_whitespace_split_keeps_pretokenized_markers():
    assert WordTokenizer(split="whitespace").tokenize(" the <unk> sat N \n") == ["the", "<unk>", "sat", "N"]


def test_tokenizers_round_trip_through_json():
    for tokenizer in (CharTokenizer(), WordTokenizer(lowercase=True, split="whitespace")):
        copy = tokenizer_from_json(json.loads(json.dumps(tokenizer.to_json())))
        assert type(copy) is type(tokenizer) and copy.to_json() == tokenizer.to_json()


def test_word_tokenizer_rejects_unknown_split():
    with pytest.raises(ValueError, match="'split' expected one of"):
        WordTokenizer(split="bytes")


def test_vocabulary_orders_by_count_then_first_appearance_after_specials():
    vocabulary = Vocabulary.build([["b", "a", "c", "a"], ["c", "d"]])
    assert vocabulary.tokens == [*SPECIALS, "a", "c", "b", "d"]
    assert [vocabulary.index(t) for t in SPECIALS] == [0, 1, 2, 3]


def test_vocabulary_min_count_and_max_size_send_the_rest_to_unk():
    corpus = [list("aaabbc")]
    assert Vocabulary.build(corpus, min_count=2).tokens == [*SPECIALS, "a", "b"]
    vocabulary = Vocabulary.build(corpus, max_size=5)
    assert vocabulary.tokens == [*SPECIALS, "a"]
    assert vocabulary.encode(["a", "b", "z"]) == [4, 1, 1]


def test_corpus_token_spelled_like_a_special_is_that_special():
    vocabulary = Vocabulary.build([["the", "<unk>", "cat", "<unk>"]])
    assert vocabulary.tokens == [*SPECIALS, "the", "cat"]
    assert vocabulary.encode(["<unk>"]) == [vocabulary.unk_index]


@given(st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=30))
def test_encode_decode_round_trips_known_tokens(tokens):
    vocabulary = Vocabulary.build([tokens])
    ids = vocabulary.encode(tokens, add_bos=True, add_eos=True)
    assert ids[0] == vocabulary.bos_index and ids[-1] == vocabulary.eos_index
    expected = [t if t not in SPECIALS or t == "<unk>" else None for t in tokens]
    decoded = vocabulary.decode(ids, skip_special=True)
    assert decoded == [t for t in expected if t is not None]
    assert vocabulary.decode(ids[1:-1]) == tokens


def test_encode_can_refuse_unknown_tokens_by_name():
    vocabulary = Vocabulary.build([list("abc")])
    with pytest.raises(ValueError, match=r"1 token\(s\) outside the vocabulary of 7: 'z'"):
        vocabulary.encode(list("abz"), unknown="error")


def test_vocabulary_json_round_trip():
    vocabulary = Vocabulary.build([WordTokenizer().tokenize("to be or not to be , that is")])
    restored = Vocabulary.from_json(json.loads(json.dumps(vocabulary.to_json())))
    assert restored == vocabulary and restored.tokens == vocabulary.tokens


def test_vocabulary_rejects_bad_input():
    with pytest.raises(ValueError, match="expected to start with"):
        Vocabulary(["a", "b"])
    with pytest.raises(ValueError, match="expected distinct tokens"):
        Vocabulary([*SPECIALS, "a", "a"])
    with pytest.raises(ValueError, match="'min_count' expected an int ≥ 1, got 0"):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(TypeError, match="got a str"):
        Vocabulary.build("abc")
    with pytest.raises(ValueError, match=r"expected ids in \[0, 4\], got 9"):
        Vocabulary.build([["a"]]).decode([9])
    with pytest.raises(ValueError, match="expected a dict"):
        Vocabulary.from_json({"words": []})
