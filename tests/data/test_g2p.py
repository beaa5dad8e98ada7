"""G2P data: stress removal, a split by word that is deterministic and disjoint, vocabularies,
batches with <bos>/<eos> framing and ignored padding."""

import pytest
import torch

from convrnn.data.batching import IGNORE_INDEX
from convrnn.data.g2p import (
    G2PCollate,
    build_vocabularies,
    encode_pairs,
    encode_word,
    g2p_lexicon,
    g2p_loader,
    split_by_word,
    strip_stress,
    word_batches,
    word_bucket,
)

LEXICON = {
    "read": [["R", "IY1", "D"], ["R", "EH1", "D"]],
    "Cat": [["K", "AE1", "T"]],
    "project": [["P", "R", "AA1", "JH", "EH0", "K", "T"], ["P", "R", "AA0", "JH", "EH1", "K", "T"]],
    **{f"word{i}": [["W", "ER1", "D"]] for i in range(200)},
}


def test_stress_is_stripped_and_equal_pronunciations_merge():
    assert strip_stress(["K", "AE1", "T", "AH0", "ER2"]) == ("K", "AE", "T", "AH", "ER")
    lexicon = g2p_lexicon(LEXICON)
    assert lexicon["cat"] == [("K", "AE", "T")]                   # lower-cased
    assert lexicon["read"] == [("R", "IY", "D"), ("R", "EH", "D")]
    assert lexicon["project"] == [("P", "R", "AA", "JH", "EH", "K", "T")]  # differed only in stress
    assert g2p_lexicon(LEXICON, stress=True)["project"] == [tuple(p) for p in LEXICON["project"]]


def test_split_by_word_is_deterministic_disjoint_and_complete():
    lexicon = g2p_lexicon(LEXICON)
    splits = split_by_word(lexicon, test_fraction=0.1, validation_fraction=0.05)
    words = {name: [w for w, _ in entries] for name, entries in splits.items()}
    assert sorted(w for split in words.values() for w in split) == sorted(lexicon)
    assert not set(words["train"]) & set(words["test"]) and not set(words["validation"]) & set(words["test"])
    assert not set(words["train"]) & set(words["validation"])
    assert 5 <= len(words["test"]) <= 45  # ≈ 10 % of 203
    # the same words land in the same split whatever the order or size of the dictionary
    reordered = dict(list(reversed(lexicon.items()))[:150])
    again = split_by_word(reordered, test_fraction=0.1, validation_fraction=0.05)
    for name in splits:
        assert [w for w, _ in again[name]] == [w for w in words[name] if w in reordered]
    for word in words["test"]:
        assert word_bucket(word) < 0.1
    assert all(dict(splits["train"] + splits["test"] + splits["validation"])[w] == lexicon[w] for w in lexicon)


def test_bad_fractions_name_the_argument():
    with pytest.raises(ValueError, match="'test_fraction' expected a fraction"):
        split_by_word({}, test_fraction=1.5)
    with pytest.raises(ValueError, match="'test_fraction' \\+ 'validation_fraction' expected < 1"):
        split_by_word({}, test_fraction=0.6, validation_fraction=0.5)
    with pytest.raises(TypeError, match="'lexicon' expected a mapping"):
        g2p_lexicon([("cat", [["K"]])])


def test_vocabularies_and_encoding():
    entries = [("read", [("R", "IY", "D"), ("R", "EH", "D")]), ("cat", [("K", "AE", "T")])]
    graphemes, phonemes = build_vocabularies(entries)
    assert graphemes.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert set(graphemes.tokens[4:]) == set("readct")
    assert set(phonemes.tokens[4:]) == {"R", "IY", "D", "EH", "K", "AE", "T"}
    pairs = encode_pairs(entries, graphemes, phonemes)
    assert len(pairs) == 3  # one example per pronunciation
    assert graphemes.decode(pairs[0][0]) == list("read") and phonemes.decode(pairs[1][1]) == ["R", "EH", "D"]
    assert encode_word("CAT", graphemes) == graphemes.encode(list("cat"))
    with pytest.raises(ValueError, match="argument 'word' 'xyz' holds letters the model never saw"):
        encode_word("xyz", graphemes)
    with pytest.raises(ValueError, match="argument 'word' expected a non-empty str"):
        encode_word("", graphemes)


def test_collate_frames_targets_with_bos_and_eos_and_ignores_padding():
    batch = G2PCollate()([([5, 6, 7], [9, 10]), ([8], [11, 12, 13])])
    torch.testing.assert_close(batch["inputs"], torch.tensor([[5, 6, 7], [8, 0, 0]]))
    torch.testing.assert_close(batch["lengths"], torch.tensor([3, 1]))
    torch.testing.assert_close(batch["decoder_inputs"], torch.tensor([[2, 9, 10, 0], [2, 11, 12, 13]]))
    torch.testing.assert_close(batch["targets"], torch.tensor([[9, 10, 3, IGNORE_INDEX], [11, 12, 13, 3]]))
    with pytest.raises(ValueError, match="G2PCollate: expected a non-empty batch"):
        G2PCollate()([])


def test_loader_groups_similar_lengths_and_covers_every_example():
    examples = [([4] * (1 + i % 9), [5] * (1 + i % 4)) for i in range(100)]
    loader = g2p_loader(examples, 10, shuffle=True, seed=1)
    seen = 0
    for batch in loader:
        seen += batch["inputs"].shape[0]
        assert batch["lengths"].max() - batch["lengths"].min() <= 2  # pools sorted by length
    assert seen == 100
    first = [b["inputs"].tolist() for b in g2p_loader(examples, 10, shuffle=True, seed=1)]
    assert first == [b["inputs"].tolist() for b in loader]  # same seed and epoch → same batches


def test_word_batches_cover_every_word_once():
    graphemes, _ = build_vocabularies([("abc", [("A",)]), ("d", [("D",)])])
    words = ["abc", "d", "cab", "bad", "a"]
    seen = []
    for positions, inputs, lengths in word_batches(words, graphemes, 2):
        for row, position in enumerate(positions):
            assert graphemes.decode(inputs[row, :lengths[row]]) == list(words[position])
        seen += positions
    assert sorted(seen) == list(range(5))
