"""Batch order as a function of (seed, epoch), sharded over ranks, resumable in mid-epoch.

Resuming bit for bit needs the batches after the checkpoint to be exactly those the
uninterrupted run would have drawn. :class:`ResumableSampler` permutes with a generator seeded
from ``(seed, epoch)`` only — never from the global generator, which dropout also consumes —
and can start ``start`` indices into the epoch, so the batches already trained on are skipped
without loading them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from convrnn.training import distributed

__all__ = ["ResumableSampler", "as_loader", "epoch_seed", "make_loader"]


def epoch_seed(seed: int, epoch: int) -> int:
    """One distinct generator seed per (seed, epoch) pair for epochs below 2**20."""
    return seed * 2**20 + epoch


class ResumableSampler(Sampler[int]):
    """Indices ``0 … L−1``, shuffled per epoch if ``shuffle``, this rank's share of them.

    Like ``DistributedSampler``: the permutation is padded by wrapping around to a multiple of
    ``num_replicas`` (or cut, with ``drop_last``) and rank ``r`` takes positions
    ``r, r + R, r + 2R, …``, so one global batch of ``B`` over ``R`` ranks holds the same samples
    as batch ``B`` in a single process. With ``even=False`` (evaluation) nothing is padded or cut:
    the ranks' shares differ by at most one index and together hold each index once, so sums
    over ranks are exactly one process's. ``set_epoch(epoch, start)`` picks the permutation and
    skips this rank's first ``start`` indices.
    """

    def __init__(self, length: int, *, shuffle: bool = True, seed: int = 0, num_replicas: int = 1,
                 rank: int = 0, drop_last: bool = False, even: bool = True) -> None:
        if length < 0:
            raise ValueError(f"ResumableSampler: argument 'length' expected ≥ 0, got {length}")
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"ResumableSampler: argument 'rank' expected 0 ≤ rank < {num_replicas}, got {rank}"
            )
        self.length, self.shuffle, self.seed = length, shuffle, seed
        self.num_replicas, self.rank, self.drop_last = num_replicas, rank, drop_last
        self.epoch, self.start, self.even = 0, 0, even
        if not even:
            self.per_rank = len(range(rank, length, num_replicas))
        elif drop_last:
            self.per_rank = length // num_replicas
        else:
            self.per_rank = -(-length // num_replicas)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        if not 0 <= start <= self.per_rank:
            raise ValueError(
                f"ResumableSampler.set_epoch: argument 'start' expected 0 ≤ start ≤ "
                f"{self.per_rank}, got {start}"
            )
        self.epoch, self.start = epoch, start

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            order = torch.randperm(self.length, generator=generator)
        else:
            order = torch.arange(self.length)
        if not self.even:
            return iter(order[self.rank::self.num_replicas][self.start:].tolist())
        total = self.per_rank * self.num_replicas
        if total > self.length:
            order = order.repeat(-(-total // max(self.length, 1)))
        mine = order[:total][self.rank::self.num_replicas][self.start:]
        return iter(mine.tolist())

    def __len__(self) -> int:
        return self.per_rank - self.start


def make_loader(
    dataset: Dataset[Any],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    pin_memory: bool = False,
    even: bool = True,
) -> DataLoader[Any]:
    """A ``DataLoader`` whose order ``fit`` can reproduce and resume, sharded over DDP ranks.

    Under torchrun ``batch_size`` is per process (the global batch is ``batch_size × P``);
    ``even=False`` shares the data set out without padding (for evaluation: see
    :class:`ResumableSampler`). The loader gets its own generator, so creating an iterator (which
    draws worker seeds) does not advance the global generator that dropout uses.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"make_loader: argument 'batch_size' expected an int ≥ 1, got {batch_size!r}")
    if not isinstance(dataset, Sized):
        raise TypeError(
            f"make_loader: argument 'dataset' expected a map-style Dataset with a length, "
            f"got {type(dataset).__name__}"
        )
    sampler = ResumableSampler(len(dataset), shuffle=shuffle, seed=seed,
                               num_replicas=distributed.world_size(), rank=distributed.rank(),
                               drop_last=drop_last, even=even)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, collate_fn=collate_fn, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(seed))


def as_loader(data: DataLoader[Any] | Dataset[Any], batch_size: int | None, *, shuffle: bool,
              seed: int, name: str, where: str = "fit", even: bool = True) -> DataLoader[Any]:
    """``data`` itself if it is a loader; else a :func:`make_loader` over the data set (``even``:
    see there). ``name`` and ``where`` name the argument and the function in errors."""
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, Dataset):
        raise TypeError(
            f"{where}: argument '{name}' expected a DataLoader or a Dataset, got {type(data).__name__}"
        )
    if batch_size is None:
        raise ValueError(f"{where}: argument '{name}' is a Dataset, so 'batch_size' is required")
    return make_loader(data, batch_size, shuffle=shuffle, seed=seed, even=even)
