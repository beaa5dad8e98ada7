"""Each rank's share of a loader whose batches are global, so that ``--batch-size`` means the same
batch on one process or many.

A loader built for one process yields global batches: index batches from a batch sampler
(``DataLoader(batch_size=B)``, a length-bucketing sampler), or items that are whole batches
already (:class:`convrnn.data.lm_stream.LanguageModelStream` windows, ``batch_size=None``).
:func:`shard_loader` rebuilds it for this rank under torch.distributed:

- training (``split=True``): every global batch is split over the R ranks
  (:class:`ShardedBatchSampler`, or :class:`RowShard` for whole-batch items), so the R per-rank
  batches together are the global batch and DDP's gradient average is its gradient;
- evaluation (``split=False``): whole batches are dealt out in turn, nothing repeated or dropped,
  so metrics summed over ranks are exactly those of one process.

:func:`per_rank` applies this to what ``fit`` takes (loaders, or data sets with a global
``batch_size``). Letters: R ranks, r this rank, B a global batch's size, N rows of a whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset, Sampler

from convrnn.training import distributed
from convrnn.training.sampling import ResumableSampler

__all__ = ["RowShard", "ShardedBatchSampler", "per_rank", "shard_loader"]


def _replicas(num_replicas: int | None, rank: int | None, where: str) -> tuple[int, int]:
    replicas = distributed.world_size() if num_replicas is None else num_replicas
    this = distributed.rank() if rank is None else rank
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"{where}: argument 'num_replicas' expected an int ≥ 1, got {replicas!r}")
    if isinstance(this, bool) or not isinstance(this, int) or not 0 <= this < replicas:
        raise ValueError(f"{where}: argument 'rank' expected 0 ≤ rank < {replicas}, got {this!r}")
    return replicas, this


class ShardedBatchSampler(Sampler[list[int]]):
    """Rank r's part of every batch of ``batch_sampler``, a sampler of global index batches.

    ``split=True`` (training): a global batch of n indices is padded to a multiple of R with its
    own first indices, and rank r takes positions r, r + R, r + 2R, …: every rank gets ⌈n/R⌉
    samples and the ranks together hold the batch (an index repeats only in a batch whose size R
    does not divide). ``split=False`` (evaluation): rank r takes whole batches r, r + R, … (the
    ranks' counts differ by at most one; no index repeats).

    ``set_epoch`` is passed on to ``batch_sampler`` and to its ``sampler``, which pick the epoch's
    order; every rank must draw the same global batches (same seed), as they do in ``fit``.
    """

    def __init__(self, batch_sampler: Sampler[list[int]] | Any, *, num_replicas: int | None = None,
                 rank: int | None = None, split: bool = True) -> None:
        if not isinstance(batch_sampler, Sized):
            raise TypeError(f"ShardedBatchSampler: argument 'batch_sampler' expected a batch sampler with a "
                            f"length, got {type(batch_sampler).__name__}")
        self.batch_sampler, self.split = batch_sampler, split
        self.num_replicas, self.rank = _replicas(num_replicas, rank, "ShardedBatchSampler")

    def set_epoch(self, epoch: int) -> None:
        for sampler in (self.batch_sampler, getattr(self.batch_sampler, "sampler", None)):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)

    def __len__(self) -> int:
        batches = len(self.batch_sampler)
        return batches if self.split else len(range(self.rank, batches, self.num_replicas))

    def __iter__(self) -> Iterator[list[int]]:
        replicas, rank = self.num_replicas, self.rank
        for number, batch in enumerate(self.batch_sampler):
            batch = list(batch)
            if not batch:
                continue
            if not self.split:
                if number % replicas == rank:
                    yield batch
                continue
            needed = -(-len(batch) // replicas) * replicas
            padded = (batch * -(-needed // len(batch)))[:needed]
            yield padded[rank::replicas]


class RowShard(Dataset[Any]):
    """Rank r's contiguous block of rows of every item of ``dataset``, whose items are whole
    batches: each tensor of one or more dimensions is cut along dim 0 into R blocks of ⌊N/R⌋ or
    ⌈N/R⌉ rows (``torch.tensor_split``), other values pass unchanged. For a language-model
    stream, whose rows are contiguous pieces of one token stream, each rank reads its own
    contiguous slice of the stream and carries its own rows' states."""

    def __init__(self, dataset: Dataset[Any], *, num_replicas: int | None = None, rank: int | None = None) -> None:
        if not isinstance(dataset, Sized) or isinstance(dataset, IterableDataset):
            raise TypeError(f"RowShard: argument 'dataset' expected a map-style data set with a length, "
                            f"got {type(dataset).__name__}")
        self.dataset = dataset
        self.num_replicas, self.rank = _replicas(num_replicas, rank, "RowShard")

    def rows(self) -> int:
        """N, the rows of the first item (0 for an empty data set)."""
        return _rows(self.dataset[0]) if len(self.dataset) else 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self._cut(self.dataset[index])

    def _cut(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            return torch.tensor_split(value, self.num_replicas)[self.rank] if value.dim() else value
        if isinstance(value, Mapping):
            return {key: self._cut(item) for key, item in value.items()}
        if isinstance(value, tuple | list):
            return type(value)(self._cut(item) for item in value)
        return value


def _rows(value: Any) -> int:
    if isinstance(value, Tensor):
        return value.shape[0] if value.dim() else 0
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, tuple | list) else ()
    return max((_rows(item) for item in items), default=0)


def is_sharded(loader: DataLoader[Any]) -> bool:
    """Whether ``loader`` already yields one rank's share (a sharded sampler or data set)."""
    sampler = loader.sampler
    if isinstance(sampler, ResumableSampler) and sampler.num_replicas > 1:
        return True
    return isinstance(sampler, DistributedSampler) or isinstance(loader.batch_sampler, ShardedBatchSampler) \
        or isinstance(loader.dataset, RowShard)


def shard_loader(loader: DataLoader[Any], *, split: bool = True) -> DataLoader[Any]:
    """This rank's loader for ``loader``, whose batches are global (see the module docstring);
    ``loader`` itself when not distributed or already sharded. Its collate function, workers,
    pinning and generator are kept.

    Raises ValueError for items that are whole batches of fewer rows than ranks (in training;
    for evaluation every rank then reads them all, which the summed metrics allow), TypeError
    for an iterable data set (it has no indices to deal out).
    """
    if not isinstance(loader, DataLoader):
        raise TypeError(f"shard_loader: argument 'loader' expected a DataLoader, got {type(loader).__name__}")
    if not distributed.is_distributed() or is_sharded(loader):
        return loader
    if isinstance(loader.dataset, IterableDataset):
        raise TypeError("shard_loader: an IterableDataset cannot be dealt out over ranks; give a map-style "
                        "data set, or shard it yourself by torch.distributed.get_rank()")
    options: dict[str, Any] = {
        "num_workers": loader.num_workers, "collate_fn": loader.collate_fn, "pin_memory": loader.pin_memory,
        "timeout": loader.timeout, "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context, "generator": loader.generator,
        "persistent_workers": loader.persistent_workers, "pin_memory_device": loader.pin_memory_device,
    }
    if loader.num_workers > 0:
        options["prefetch_factor"] = loader.prefetch_factor
    if loader.batch_sampler is not None:
        return DataLoader(loader.dataset, batch_sampler=ShardedBatchSampler(loader.batch_sampler, split=split),
                          **options)
    rows = RowShard(loader.dataset)
    if rows.rows() < rows.num_replicas:
        if not split:
            return loader
        raise ValueError(f"shard_loader: each batch has {rows.rows()} rows, fewer than the {rows.num_replicas} "
                         "processes; use a batch of at least one row per process")
    return DataLoader(rows, batch_size=None, sampler=loader.sampler, **options)


def per_rank(train: DataLoader[Any] | Dataset[Any], val: DataLoader[Any] | Dataset[Any] | None,
             batch_size: int | None) -> tuple[Any, Any, int | None]:
    """``(train, val, batch_size)`` for this rank from their global forms: loaders through
    :func:`shard_loader` (train split, val dealt out), and a data set's global ``batch_size`` B
    divided by R (``fit`` then shards the data set itself). Raises ValueError unless R divides B."""
    replicas = distributed.world_size()
    if isinstance(train, DataLoader):
        train = shard_loader(train, split=True)
    if isinstance(val, DataLoader):
        val = shard_loader(val, split=False)
    if batch_size is not None and replicas > 1:
        if batch_size % replicas:
            raise ValueError(f"train: the batch size {batch_size} is the global batch, split over the "
                             f"{replicas} processes; expected a multiple of {replicas}")
        batch_size //= replicas
    return train, val, batch_size
