import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from convrnn.training import ResumableSampler, make_loader


def test_order_is_a_function_of_seed_and_epoch_only():
    sampler = ResumableSampler(20, seed=4)
    sampler.set_epoch(2)
    first = list(sampler)
    torch.manual_seed(123)  # the global generator plays no part
    other = ResumableSampler(20, seed=4)
    other.set_epoch(2)
    assert list(other) == first
    assert sorted(first) == list(range(20))
    other.set_epoch(3)
    assert list(other) != first


@given(length=st.integers(0, 40), replicas=st.integers(1, 4), drop_last=st.booleans(),
       epoch=st.integers(0, 5))
def test_shards_interleave_to_the_single_process_order(length, replicas, drop_last, epoch):
    single = ResumableSampler(length, seed=1)
    single.set_epoch(epoch)
    order = list(single)
    shards = []
    for rank in range(replicas):
        sampler = ResumableSampler(length, seed=1, num_replicas=replicas, rank=rank,
                                   drop_last=drop_last)
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
        assert len(shards[-1]) == len(sampler)
    assert len({len(shard) for shard in shards}) == 1  # every rank takes as many steps
    interleaved = [shard[i] for i in range(len(shards[0])) for shard in shards]
    if drop_last:
        assert interleaved == order[:len(interleaved)]
    else:
        assert interleaved[:length] == order  # padding only repeats at the end


@given(length=st.integers(1, 30), start=st.integers(0, 30), shuffle=st.booleans())
def test_start_skips_exactly_the_first_indices(length, start, shuffle):
    start = min(start, length)
    sampler = ResumableSampler(length, seed=2, shuffle=shuffle)
    sampler.set_epoch(1)
    full = list(sampler)
    sampler.set_epoch(1, start=start)
    assert list(sampler) == full[start:] and len(sampler) == length - start


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="'rank'"):
        ResumableSampler(5, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="'start'"):
        ResumableSampler(5).set_epoch(0, start=6)
    with pytest.raises(ValueError, match="'batch_size'"):
        make_loader(TensorDataset(torch.zeros(3)), 0)


def test_make_loader_leaves_the_global_generator_alone():
    loader = make_loader(TensorDataset(torch.arange(10)), 4)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    batches = [batch for (batch,) in loader]
    assert torch.equal(torch.rand(1), expected)
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
