"""The Brown corpus reader: word/tag tokens, slashes inside words, documents from the cache."""

from __future__ import annotations

import pytest

from convrnn.data.brown import brown_documents, parse_brown

SAMPLE = ("\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ./.\n\n\n"
          "\tIt/pps cost/vbd 1/2/cd a/at dollar/nn ./.\n")


def test_sentences_split_tokens_at_the_last_slash():
    sentences = parse_brown(SAMPLE)
    assert sentences == [
        [("The", "at"), ("Fulton", "np-tl"), ("jury", "nn"), ("said", "vbd"), (".", ".")],
        [("It", "pps"), ("cost", "vbd"), ("1/2", "cd"), ("a", "at"), ("dollar", "nn"),
         (".", ".")],
    ]


def test_a_token_without_a_tag_names_the_file_and_line():
    with pytest.raises(ValueError, match="cb07, line 2: expected word/tag tokens, got 'oops'"):
        parse_brown("\tA/at\n\tB/nn oops\n", name="cb07")


def test_documents_are_read_by_id_and_other_package_files_ignored(tmp_path, planted):
    planted(tmp_path, "brown", {"ca01": SAMPLE.encode(), "cr09": b"\tEnd/nn ./.\n",
                                "README": b"not a document"})
    documents = brown_documents(cache=tmp_path)
    assert list(documents) == ["ca01", "cr09"]
    assert documents["cr09"] == [[("End", "nn"), (".", ".")]]
