"""Batches of variable-length sequences: pad to the longest in the batch and keep the lengths.

Nothing is packed by hand: the recurrent engine masks by ``lengths``, so padding never changes a
result. Grouping sequences of similar length (:class:`LengthBucketSampler`) only saves the work
spent on padding.

    loader = DataLoader(dataset, batch_sampler=LengthBucketSampler(lengths, 32),
                        collate_fn=SequenceCollate())
    for batch in loader:          # {"inputs": (N, T), "lengths": (N,), "targets": (N,) or (N, T)}
        logits = model(batch["inputs"], batch["lengths"])

Letters: N batch, T the longest length in the batch, T_i the length of sequence i, * features.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Sampler

IGNORE_INDEX = -100
"""Target value at padded steps; ``torch.nn.CrossEntropyLoss`` ignores it by default."""


def pad_sequences(sequences: Sequence[Sequence[Any] | Tensor], *, padding_value: float = 0,
                  dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    """Stack sequences of different lengths into one padded tensor.

    Args:
        sequences: N sequences, each a tensor (T_i, *) or a list of numbers (T_i,), T_i ≥ 1;
            all with the same trailing shape *.
        padding_value: written after each sequence's end.
        dtype: of the result (default: that of the first sequence; int64 for lists of ints).

    Returns:
        padded: (N, T, *) with T = max T_i and ``padded[i, :T_i] == sequences[i]``.
        lengths: (N,) int64, the T_i.
    """
    if isinstance(sequences, Tensor | str) or not isinstance(sequences, Sequence) or len(sequences) == 0:
        raise ValueError(f"pad_sequences: argument 'sequences' expected a non-empty list of sequences, "
                         f"got {type(sequences).__name__}"
                         + (" of length 0" if isinstance(sequences, Sequence) and len(sequences) == 0 else ""))
    tensors = [s if isinstance(s, Tensor) else torch.as_tensor(s) for s in sequences]
    for i, tensor in enumerate(tensors):
        if tensor.dim() == 0 or tensor.shape[0] == 0:
            raise ValueError(f"pad_sequences: sequence {i} expected at least one step, got shape {tuple(tensor.shape)}")
        if tensor.shape[1:] != tensors[0].shape[1:]:
            raise ValueError(f"pad_sequences: sequence {i} expected trailing shape {tuple(tensors[0].shape[1:])} "
                             f"(that of sequence 0), got {tuple(tensor.shape[1:])}")
    lengths = torch.tensor([tensor.shape[0] for tensor in tensors], dtype=torch.long)
    dtype = dtype or tensors[0].dtype
    padded = torch.full((len(tensors), int(lengths.max()), *tensors[0].shape[1:]), padding_value, dtype=dtype)
    for i, tensor in enumerate(tensors):
        padded[i, : tensor.shape[0]] = tensor
    return padded, lengths


def length_mask(lengths: Tensor, steps: int | None = None) -> Tensor:
    """``mask[i, t] = t < lengths[i]``: (N, T) bool, True at real steps; T = ``steps`` or max length."""
    if not isinstance(lengths, Tensor) or lengths.dim() != 1:
        raise ValueError(f"length_mask: argument 'lengths' expected a 1-d tensor (N,), got "
                         f"{tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__}")
    steps = int(lengths.max()) if steps is None else steps
    return torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)


class SequenceCollate:
    """``collate_fn`` for a ``DataLoader`` over ``(sequence, target)`` examples.

    ``sequence``: (T_i, *) — token ids (T_i,) or feature vectors (T_i, F). ``target``: a scalar
    (many → one, e.g. a class) or a sequence (T_i, …) of the same length (many → many, e.g. tags).

    Returns ``{input_name: (N, T, *), "lengths": (N,), "targets": (N,) or (N, T, …)}``; padded
    inputs hold ``padding_value``, padded targets ``target_padding`` (ignored by
    ``CrossEntropyLoss``). A dict batch with ``"targets"`` is what ``convrnn.training.fit``'s
    default step expects: it calls ``model(inputs=…, lengths=…)``.
    """

    def __init__(self, input_name: str = "inputs", padding_value: float = 0,
                 target_padding: float = IGNORE_INDEX) -> None:
        self.input_name, self.padding_value, self.target_padding = input_name, padding_value, target_padding

    def __call__(self, examples: Sequence[tuple[Any, Any]]) -> dict[str, Tensor]:
        if not examples or not all(isinstance(e, tuple | list) and len(e) == 2 for e in examples):
            raise ValueError("SequenceCollate: expected a non-empty batch of (sequence, target) pairs")
        sequences, targets = zip(*examples, strict=True)
        inputs, lengths = pad_sequences(sequences, padding_value=self.padding_value)
        target_tensors = [t if isinstance(t, Tensor) else torch.as_tensor(t) for t in targets]
        if all(t.dim() == 0 for t in target_tensors):
            stacked = torch.stack(target_tensors)
        else:
            for i, (target, length) in enumerate(zip(target_tensors, lengths.tolist(), strict=True)):
                if target.dim() == 0 or target.shape[0] != length:
                    raise ValueError(f"SequenceCollate: example {i} expected a scalar target or one target "
                                     f"per step ({length}), got shape {tuple(target.shape)}")
            stacked, _ = pad_sequences(target_tensors, padding_value=self.target_padding)
        return {self.input_name: inputs, "lengths": lengths, "targets": stacked}


class LengthBucketSampler(Sampler[list[int]]):
    """A batch sampler that puts sequences of similar length together.

    Each epoch: shuffle the indices (by ``seed`` and the epoch set with :meth:`set_epoch`), cut
    them into pools of ``batch_size · pool`` indices, sort each pool by length, cut the pools into
    batches and shuffle the batches. Padding per batch then shrinks to nearly nothing while the
    batches still change from epoch to epoch. ``shuffle=False`` sorts the whole data set by length
    once (deterministic evaluation).

    Use as ``DataLoader(dataset, batch_sampler=sampler, collate_fn=SequenceCollate())``.
    """

    def __init__(self, lengths: Sequence[int] | Tensor, batch_size: int, *, pool: int = 50,
                 shuffle: bool = True, drop_last: bool = False, seed: int = 0) -> None:
        for name, value in (("batch_size", batch_size), ("pool", pool)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LengthBucketSampler: argument '{name}' expected an int ≥ 1, got {value!r}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.lengths.dim() != 1 or self.lengths.numel() == 0:
            raise ValueError(f"LengthBucketSampler: argument 'lengths' expected a non-empty list of lengths, "
                             f"got shape {tuple(self.lengths.shape)}")
        self.batch_size, self.pool, self.shuffle = batch_size, pool, shuffle
        self.drop_last, self.seed, self.epoch = drop_last, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        count = len(self.lengths)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            # a stable sort keeps equal lengths in data-set order
            order = torch.sort(self.lengths, stable=True).indices
            batches = list(order.split(self.batch_size))
        else:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(len(self.lengths), generator=generator)
            batches = []
            for pool in order.split(self.batch_size * self.pool):
                by_length = pool[torch.sort(self.lengths[pool], stable=True).indices]
                batches.extend(by_length.split(self.batch_size))
            # the last, short batch of each pool would otherwise always come last
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        for batch in batches:
            if self.drop_last and len(batch) < self.batch_size:
                continue
            yield batch.tolist()


__all__ = ["IGNORE_INDEX", "LengthBucketSampler", "SequenceCollate", "length_mask", "pad_sequences"]
