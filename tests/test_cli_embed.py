"""`convrnn embed`: neighbours and analogies from a word2vec file or run, errors as one line."""

from __future__ import annotations

import torch

from convrnn.cli import main
from convrnn.models.word2vec import save_word2vec_format


def _vectors(tmp_path, binary=False):
    royal, male, female, noise = torch.eye(4)
    vectors = torch.stack([royal + male, royal + female, male + 0.1 * royal, female + 0.1 * royal, noise])
    return save_word2vec_format(tmp_path / ("v.bin" if binary else "v.txt"), ["king", "queen", "man", "woman", "apple"],
                                vectors, binary=binary)


def test_embed_prints_neighbours_and_analogies(tmp_path, capsys):
    path = _vectors(tmp_path, binary=True)
    assert main(["embed", str(path), "--similar", "king", "--analogy", "king", "man", "woman", "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("king: man 0.774, queen 0.500")  # cos(r+m, m+r/10) = 1.1/(√2·√1.01)
    assert lines[1].startswith("king − man + woman: queen ")
    assert main(["embed", str(_vectors(tmp_path)), "--analogy", "king", "man", "woman", "--method", "3cosmul",
                 "--top", "1"]) == 0
    assert capsys.readouterr().out.startswith("king − man + woman: queen")


def test_embed_names_an_unknown_word_and_a_missing_query(tmp_path, capsys):
    path = _vectors(tmp_path)
    assert main(["embed", str(path), "--similar", "prince"]) == 2
    assert "word 'prince' is not in the vocabulary of 5 words" in capsys.readouterr().err
    assert main(["embed", str(path)]) == 2
    assert "expected at least one query" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "missing")]) == 2
