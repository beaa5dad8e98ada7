"""Shakespeare, State of the Union and Penn Treebank readers on small fake files."""

from __future__ import annotations

import pytest

from convrnn.data.corpora import (
    penn_treebank,
    read_penn_treebank,
    shakespeare_works,
    sotu_speeches,
)

TREEBANK_SOURCE = '''penn = {}
penn['train'] = """ the cat sat \n a dog <unk> N years \n"""
penn['valid'] = """ valid line \n"""
penn['test'] = """ test one \n\n test two \n"""
open("/tmp/never-created", "w")
'''


def test_shakespeare_editions_are_kept_apart(tmp_path, planted):
    planted(tmp_path, "shakespeare", {"hamlet_gut.txt": b"To be, or not to be\n",
                                      "hamlet_gut_f.txt": b"To be, or not to be, that is\n",
                                      "sonnets_gut.txt": b"From fairest creatures\n"})
    assert shakespeare_works(cache=tmp_path) == {"hamlet": "To be, or not to be\n",
                                                 "sonnets": "From fairest creatures\n"}
    assert shakespeare_works("folio", cache=tmp_path) == {
        "hamlet": "To be, or not to be, that is\n"}
    with pytest.raises(ValueError, match="'edition' expected one of"):
        shakespeare_works("quarto", cache=tmp_path)


def test_sotu_speeches_come_in_chronological_order(tmp_path, planted):
    planted(tmp_path, "sotu", {"speeches/1791-Washington-1.txt": b"second",
                               "speeches/1790-Washington-1.txt": b"first"})
    speeches = sotu_speeches(cache=tmp_path)
    assert list(speeches) == ["1790-Washington-1", "1791-Washington-1"]
    assert speeches["1790-Washington-1"] == "first"


def test_treebank_text_is_parsed_not_executed(tmp_path, planted):
    path = tmp_path / "__init__.py"
    path.write_text(TREEBANK_SOURCE)
    texts = read_penn_treebank(path)
    assert list(texts) == ["train", "valid", "test"]
    assert texts["train"] == " the cat sat \n a dog <unk> N years \n"
    planted(tmp_path / "cache", "treebank", {"__init__.py": TREEBANK_SOURCE.encode()})
    assert penn_treebank("test", cache=tmp_path / "cache") == ["test one", "test two"]
    assert penn_treebank("train", cache=tmp_path / "cache") == ["the cat sat", "a dog <unk> N years"]


def test_treebank_without_the_three_splits_is_refused(tmp_path):
    path = tmp_path / "__init__.py"
    path.write_text("penn = {}\npenn['train'] = 'x'\n")
    with pytest.raises(ValueError, match=r"expected string assignments penn\['valid'\]"):
        read_penn_treebank(path)
