"""Padding, lengths, masks and length buckets."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from convrnn.data.batching import (
    IGNORE_INDEX,
    LengthBucketSampler,
    SequenceCollate,
    length_mask,
    pad_sequences,
)


@given(st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=9), min_size=1, max_size=8))
def test_padding_keeps_every_sequence_and_its_length(sequences):
    padded, lengths = pad_sequences(sequences, padding_value=0)
    assert padded.shape == (len(sequences), max(map(len, sequences)))
    assert lengths.tolist() == [len(s) for s in sequences]
    mask = length_mask(lengths)
    for i, sequence in enumerate(sequences):
        assert padded[i, : len(sequence)].tolist() == sequence
        assert (padded[i, len(sequence):] == 0).all()
    # the mask is True exactly at the real steps (no sequence holds a 0 token here)
    assert torch.equal(mask, padded != 0)


def test_pad_sequences_keeps_feature_dimensions_and_dtype():
    sequences = [torch.randn(3, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)]
    padded, lengths = pad_sequences(sequences, padding_value=-1.0)
    assert padded.shape == (2, 5, 2) and padded.dtype == torch.float64
    assert torch.equal(padded[0, :3], sequences[0]) and (padded[0, 3:] == -1).all()
    assert lengths.tolist() == [3, 5]


def test_pad_sequences_rejects_empty_and_mismatched_sequences():
    with pytest.raises(ValueError, match="non-empty list"):
        pad_sequences([])
    with pytest.raises(ValueError, match="sequence 1 expected at least one step"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match=r"sequence 1 expected trailing shape \(2,\)"):
        pad_sequences([torch.zeros(2, 2), torch.zeros(2, 3)])


def test_length_mask_with_explicit_steps():
    assert length_mask(torch.tensor([1, 3]), steps=4).tolist() == [[True, False, False, False],
                                                                    [True, True, True, False]]


def test_collate_pads_per_step_targets_with_the_ignore_index():
    batch = SequenceCollate()([([5, 6, 7], [1, 2, 3]), ([8], [4])])
    assert batch["inputs"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1]
    assert batch["targets"].tolist() == [[1, 2, 3], [4, IGNORE_INDEX, IGNORE_INDEX]]
    loss = torch.nn.functional.cross_entropy(torch.zeros(2, 9, 3), batch["targets"])
    assert loss.item() == pytest.approx(torch.log(torch.tensor(9.0)).item())  # 4 real steps only


def test_collate_stacks_one_target_per_sequence():
    batch = SequenceCollate(input_name="tokens")([([1, 2], 0), ([3], 1)])
    assert set(batch) == {"tokens", "lengths", "targets"}
    assert batch["targets"].tolist() == [0, 1]


def test_collate_rejects_targets_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"example 0 expected a scalar target or one target per step \(2\)"):
        SequenceCollate()([([1, 2], [1, 2, 3])])


@given(st.lists(st.integers(1, 40), min_size=1, max_size=120), st.integers(1, 9), st.booleans(),
       st.integers(0, 3))
def test_bucket_sampler_yields_every_index_once(lengths, batch_size, shuffle, epoch):
    sampler = LengthBucketSampler(lengths, batch_size, pool=3, shuffle=shuffle)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_bucket_sampler_groups_similar_lengths():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 200, (2000,), generator=generator).tolist()
    sampler = LengthBucketSampler(lengths, 16, pool=50)
    padded = sum(16 * max(lengths[i] for i in batch) - sum(lengths[i] for i in batch) for batch in sampler)
    random_padding = sum(16 * max(lengths[i:i + 16]) - sum(lengths[i:i + 16]) for i in range(0, 2000, 16))
    assert padded < 0.1 * random_padding


def test_bucket_sampler_changes_order_with_the_epoch_and_replays_it():
    sampler = LengthBucketSampler(list(range(1, 101)), 10)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert first != second and list(sampler) == first


def test_bucket_sampler_drop_last_and_bad_arguments():
    assert len(list(LengthBucketSampler([1] * 25, 10, drop_last=True))) == 2
    with pytest.raises(ValueError, match="'batch_size' expected an int ≥ 1, got 0"):
        LengthBucketSampler([1, 2], 0)


def test_sampler_and_collate_feed_a_data_loader():
    examples = [(list(range(1, n + 1)), n % 2) for n in (5, 1, 3, 2, 4, 6)]
    loader = DataLoader(examples, batch_sampler=LengthBucketSampler([len(e[0]) for e in examples], 2, shuffle=False),
                        collate_fn=SequenceCollate())
    batches = list(loader)
    assert [b["lengths"].tolist() for b in batches] == [[1, 2], [3, 4], [5, 6]]
