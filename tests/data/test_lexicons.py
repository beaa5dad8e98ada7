"""CMU dictionary and word-vector benchmark readers on hand-made files."""

from __future__ import annotations

import pytest

from convrnn.data.lexicons import (
    cmudict,
    embedding_benchmarks,
    read_analogies,
    read_cmudict,
    read_word_pairs,
)

CMUDICT = b"'bout B AW1 T\nread R EH1 D\nread(2) R IY1 D\naalborg AO1 L B AO0 R G # place, danish\n"
ANALOGIES = b": capital-common-countries\nAthens Greece Baghdad Iraq\n: family\nboy girl brother sister\n"
PAIRS = b"# The WordSimilarity-353 Test Collection\n# Word 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\ntiger\tcat\t7.35\n"


def test_cmudict_merges_variants_and_drops_comments(tmp_path, planted):
    planted(tmp_path, "cmudict", {"cmudict.dict": CMUDICT})
    entries = cmudict(cache=tmp_path)
    assert entries == {"'bout": [["B", "AW1", "T"]],
                       "read": [["R", "EH1", "D"], ["R", "IY1", "D"]],
                       "aalborg": [["AO1", "L", "B", "AO0", "R", "G"]]}


def test_benchmarks_are_read_by_section_and_pair(tmp_path, planted):
    planted(tmp_path, "embedding-benchmarks", {"questions-words.txt": ANALOGIES,
                                               "wordsim353.tsv": PAIRS, "simlex999.txt": PAIRS})
    benchmarks = embedding_benchmarks(cache=tmp_path)
    assert benchmarks["analogies"] == {
        "capital-common-countries": [("Athens", "Greece", "Baghdad", "Iraq")],
        "family": [("boy", "girl", "brother", "sister")]}
    assert benchmarks["wordsim353"] == [("love", "sex", 6.77), ("tiger", "cat", 7.35)]


def test_malformed_lines_name_the_line(tmp_path):
    path = tmp_path / "questions-words.txt"
    path.write_bytes(b": s\na b c\n")
    with pytest.raises(ValueError, match=r"questions-words\.txt, line 2: expected"):
        read_analogies(path)
    path.write_bytes(b"love\tsex\tlots\n")
    with pytest.raises(ValueError, match="line 1: expected word<TAB>word<TAB>score"):
        read_word_pairs(path)
    path.write_bytes(b"lonely\n")
    with pytest.raises(ValueError, match="line 1: expected a word and its phonemes"):
        read_cmudict(path)
