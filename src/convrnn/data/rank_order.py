"""Cache work done once under torch.distributed: rank 0 first, then each machine's first process,
then the rest.

Every process of a torchrun launch builds the same data sets, so each would fetch, convert or
synthesize the same files into the cache at the same time. :func:`in_rank_order` runs such work
in three rounds, each process waiting for the round before it to finish:

1. global rank 0 — it fills the cache (a shared one, or its own machine's);
2. the first process of every other machine (``LOCAL_RANK`` 0) — with one cache per machine it
   fills its machine's; with a shared cache it finds the files already there;
3. every other process, which finds them.

A failure in a round stops every process instead of leaving the others waiting: the failing
process raises its own error, the others :class:`CacheRoundError`. The wait is bounded by the
process group's timeout. Without a process group (one process, a DataLoader worker) the work
simply runs; work started inside another's round runs plainly too (it is that round's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist

__all__ = ["CacheRoundError", "in_rank_order"]

T = TypeVar("T")
_inside = False  # True while this process runs an action: nested calls must not start rounds of their own


class CacheRoundError(RuntimeError):
    """Another process failed to prepare data in the cache, so this one stops too."""


def in_rank_order(action: Callable[[], T], what: str) -> T:
    """``action()`` (which fills the cache and returns what it read), run by every process of a
    torch.distributed group in the three rounds of the module docstring; ``what`` names the data in
    the error the waiting processes raise. Returns ``action()``'s result on every process."""
    global _inside
    if _inside or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return action()
    rank = dist.get_rank()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    rounds = (rank == 0, rank != 0 and local_rank == 0, rank != 0 and local_rank != 0)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    result: T | None = None
    for number, mine in enumerate(rounds, start=1):
        failure: BaseException | None = None
        if mine:
            _inside = True
            try:
                result = action()
            except Exception as error:  # every process must still reach the flag exchange below
                failure = error
            finally:
                _inside = False
        flag = torch.tensor([0 if failure is None else 1], device=device)
        dist.all_reduce(flag)
        if failure is not None:
            raise failure
        if flag.item():
            raise CacheRoundError(f"rank {rank} of {dist.get_world_size()}: another process failed to prepare "
                                  f"{what} in the cache (round {number}; its own error says why), so this one "
                                  "stops too")
    return result  # type: ignore[return-value]  # every process ran the action in one of the rounds
