"""The parallel layers' pool of projection blocks: what it keeps, for whom, and how much."""

import torch

from convrnn.layers.recurrent import projection_buffers as pool


def test_a_given_block_is_taken_again_by_the_same_size_and_dtype_only(monkeypatch):
    monkeypatch.setattr(pool, "MIN_BYTES", 0)
    pool.release_buffers()
    block = torch.empty(6, 4)
    address = block.data_ptr()
    pool.give(block)
    assert pool.held_bytes() == 96
    other = pool.take(4, 6, torch.float64)          # same count, other dtype: a new block
    assert other.data_ptr() != address and other.shape == (4, 6) and other.dtype == torch.float64
    again = pool.take(4, 6, torch.float32)          # same count and dtype, any (rows, cols)
    assert again.data_ptr() == address and again.shape == (4, 6) and again.is_contiguous()
    assert pool.held_bytes() == 0
    assert pool.take(4, 6, torch.float32).data_ptr() != address   # taken blocks are not handed out twice


def test_small_views_and_oversized_blocks_are_not_kept_and_the_oldest_go_first(monkeypatch):
    monkeypatch.setattr(pool, "MIN_BYTES", 64)
    monkeypatch.setattr(pool, "MAX_BYTES", 256)
    pool.release_buffers()
    pool.give(torch.empty(8))                       # 32 bytes: below MIN_BYTES
    pool.give(torch.empty(8, 8).t())                # not contiguous
    pool.give(torch.empty(100))                     # 400 bytes: over MAX_BYTES
    assert pool.held_bytes() == 0
    first, second, third = torch.empty(40), torch.empty(16), torch.empty(16)
    addresses = [t.data_ptr() for t in (first, second, third)]
    for block in (first, second, third):
        pool.give(block)
    assert pool.held_bytes() == 128                 # 160 + 64 + 64 > 256: the first went
    assert pool.take(1, 40, torch.float32).data_ptr() != addresses[0]
    assert {pool.take(4, 4, torch.float32).data_ptr() for _ in range(2)} == set(addresses[1:])
    pool.release_buffers()
    assert pool.held_bytes() == 0
