"""Rotten Tomatoes reader on a small bz2 CSV in the shipped layout."""

from __future__ import annotations

import bz2

import pytest

from convrnn.data.rotten_tomatoes import Review, read_rotten_tomatoes, rotten_tomatoes

CSV = ('category,text,movie_name,has_plot_and_reviews\n'
       'plot,"A plot, with a comma\nand a newline",abandon,True\n'
       'fresh,"Holmes shines, ""truly"".",abandon,True\n'
       'rotten,Dull.,zoolander,False\n')


def test_reviews_are_labelled_and_plots_skipped(tmp_path, planted):
    planted(tmp_path, "rotten-tomatoes",
            {"rotten_tomatoes_corpus_full.csv.bz2": bz2.compress(CSV.encode())})
    assert rotten_tomatoes(cache=tmp_path) == [
        Review('Holmes shines, "truly".', 1, "abandon"), Review("Dull.", 0, "zoolander")]


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "bad.csv.bz2"
    path.write_bytes(bz2.compress(b"category,review\nfresh,good\n"))
    with pytest.raises(ValueError, match=r"missing \['movie_name', 'text'\]"):
        read_rotten_tomatoes(path)
