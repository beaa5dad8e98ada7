"""Each rank's share of global batches: the ranks' shares together are every global batch (training)
or every batch once (evaluation); whole-batch items are cut into contiguous row blocks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, TensorDataset

from convrnn.training.sampling import ResumableSampler
from convrnn.training.sharding import RowShard, ShardedBatchSampler, per_rank, shard_loader


def batches(length: int, size: int) -> BatchSampler:
    return BatchSampler(SequentialSampler(range(length)), size, drop_last=False)


@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 4))
def test_the_ranks_shares_of_a_training_batch_are_the_batch(length, size, replicas):
    shares = [list(ShardedBatchSampler(batches(length, size), num_replicas=replicas, rank=r)) for r in range(replicas)]
    expected = list(batches(length, size))
    assert all(len(share) == len(expected) for share in shares)  # every rank takes every step
    for number, batch in enumerate(expected):
        parts = [share[number] for share in shares]
        assert {index for part in parts for index in part} == set(batch)
        assert len({len(part) for part in parts}) == 1  # equal shares: DDP's mean is the batch's mean
        if len(batch) % replicas == 0:
            assert sorted(index for part in parts for index in part) == batch  # nothing counted twice


@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 4))
def test_evaluation_deals_out_whole_batches_once(length, size, replicas):
    shares = [list(ShardedBatchSampler(batches(length, size), num_replicas=replicas, rank=r, split=False))
              for r in range(replicas)]
    dealt = sorted(index for share in shares for batch in share for index in batch)
    assert dealt == list(range(length))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_row_shard_gives_each_rank_a_contiguous_block_of_every_item():
    items = [(torch.arange(10).reshape(5, 2) + 10 * item, torch.tensor(item), "tag") for item in range(3)]
    first, second = (RowShard(items, num_replicas=2, rank=rank) for rank in range(2))  # type: ignore[arg-type]
    assert len(first) == 3 and first.rows() == 5
    x0, scalar, tag = first[1]
    x1, _, _ = second[1]
    assert torch.equal(torch.cat([x0, x1]), items[1][0]) and x0.shape[0] == 3  # ⌈5/2⌉ then ⌊5/2⌋
    assert scalar.item() == 1 and tag == "tag"  # scalars and other values pass unchanged


def test_resumable_sampler_without_padding_holds_each_index_once():
    shares = [list(ResumableSampler(7, shuffle=True, seed=3, num_replicas=3, rank=r, even=False)) for r in range(3)]
    assert sorted(index for share in shares for index in share) == list(range(7))
    assert [len(share) for share in shares] == [3, 2, 2]
    assert [len(ResumableSampler(7, num_replicas=3, rank=r, even=False)) for r in range(3)] == [3, 2, 2]


def test_bad_ranks_and_data_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"ShardedBatchSampler: argument 'rank' expected 0 ≤ rank < 2, got 2"):
        ShardedBatchSampler(batches(4, 2), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match=r"RowShard: argument 'num_replicas' expected an int ≥ 1, got 0"):
        RowShard(TensorDataset(torch.zeros(2)), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match=r"ShardedBatchSampler: argument 'batch_sampler' expected a batch sampler"):
        ShardedBatchSampler(iter([[0]]), num_replicas=1, rank=0)
    with pytest.raises(TypeError, match=r"shard_loader: argument 'loader' expected a DataLoader, got list"):
        shard_loader([1, 2])  # type: ignore[arg-type]


def test_one_process_keeps_its_loaders_and_batch():
    loader = DataLoader(TensorDataset(torch.zeros(6)), batch_size=3)
    assert shard_loader(loader) is loader
    assert per_rank(loader, None, 5) == (loader, None, 5)
