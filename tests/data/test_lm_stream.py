"""Language-model streams: rows, windows, targets, and the text read back exactly."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from convrnn.data.batching import IGNORE_INDEX
from convrnn.data.lm_stream import LanguageModelStream
from convrnn.data.text import CharTokenizer, Vocabulary


def read_back(stream: LanguageModelStream) -> list[int]:
    """Read every row in order through the windows, as the model sees them, then the last target."""
    rows = [[] for _ in range(stream.batch_size)]
    last_row_targets = []
    for window in stream:
        for row in range(stream.batch_size):
            real = window["targets"][row] != IGNORE_INDEX
            rows[row].extend(window["inputs"][row][real].tolist())
        last_row_targets.extend(window["targets"][-1][window["targets"][-1] != IGNORE_INDEX].tolist())
    return [token for row in rows for token in row] + last_row_targets[-1:]


@given(st.integers(2, 300), st.integers(1, 12), st.integers(1, 30))
def test_stream_reconstructs_the_tokens_exactly(length, batch_size, steps):
    batch_size = min(batch_size, length - 1)
    tokens = torch.randint(4, 50, (length,))
    stream = LanguageModelStream(tokens, batch_size, steps)
    assert read_back(stream) == tokens.tolist()
    assert int(stream.row_lengths.sum()) == length - 1 == stream.token_count
    assert int(stream.row_lengths.max() - stream.row_lengths.min()) <= 1


@given(st.integers(2, 200), st.integers(1, 8), st.integers(1, 20))
def test_every_target_is_the_next_token_of_the_stream(length, batch_size, steps):
    batch_size = min(batch_size, length - 1)
    tokens = torch.arange(length) + 10  # token value = position + 10, so "next" is "+1"
    for window in LanguageModelStream(tokens, batch_size, steps):
        real = window["targets"] != IGNORE_INDEX
        assert torch.equal(window["targets"][real], window["inputs"][real] + 1)
        # padding only at the end of a row: real steps form a prefix
        assert torch.equal(real, real.cummin(dim=1).values)


def test_rows_continue_each_other_across_windows():
    text = "to be, or not to be: that is the question"
    vocabulary = Vocabulary.build([CharTokenizer().tokenize(text)])
    stream = LanguageModelStream(vocabulary.encode(text), batch_size=3, steps=4)
    assert stream.row_lengths.tolist() == [14, 13, 13]
    assert len(stream) == 4 and [w["inputs"].shape[1] for w in stream] == [4, 4, 4, 2]
    row0 = "".join(vocabulary.decode(torch.cat([w["inputs"][0] for w in stream])))
    assert row0 == text[:14]
    assert [w["window"] for w in stream] == [0, 1, 2, 3]


def test_stream_feeds_a_data_loader_window_by_window():
    stream = LanguageModelStream(torch.arange(101), batch_size=4, steps=10)
    batches = list(DataLoader(stream, batch_size=None))
    assert len(batches) == len(stream) == 3
    assert torch.equal(batches[1]["inputs"], stream[1]["inputs"]) and batches[2]["window"] == 2


def test_stream_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"at least batch_size \+ 1 = 5 tokens"):
        LanguageModelStream([1, 2, 3], batch_size=4, steps=2)
    with pytest.raises(ValueError, match="'steps' expected an int ≥ 1, got 0"):
        LanguageModelStream([1, 2, 3], batch_size=1, steps=0)
    with pytest.raises(ValueError, match="1-d integer sequence"):
        LanguageModelStream(torch.zeros(5), batch_size=1, steps=2)
    with pytest.raises(IndexError, match="window 3 out of range"):
        LanguageModelStream(torch.arange(10), batch_size=3, steps=1)[3]
