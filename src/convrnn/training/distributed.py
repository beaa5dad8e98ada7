"""Helpers for multi-process training launched by ``torchrun`` (DDP: gloo on CPU, NCCL on GPU).

There is no launcher here: start ``torchrun --nproc_per_node=P your_script.py`` (or
``torchrun … -m convrnn train RECIPE``); the script calls :func:`init_distributed` — or runs its
training inside ``with process_group(device):``, which also leaves the group on every exit
path — builds its loaders with :func:`convrnn.training.make_loader` (which shards by rank) and
calls ``fit``, which wraps the model in ``DistributedDataParallel``, sums metrics over ranks
and lets only rank 0 log and checkpoint.

A rank that dies makes the others fail in their next collective (gloo notices the closed
connection at once; NCCL within the group's timeout): :func:`process_group` turns that error
into one :class:`LostRankError` line naming this rank.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "Launch",
    "LostRankError",
    "all_reduce_sum",
    "backend_for",
    "barrier",
    "collective_device",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "is_peer_failure",
    "launch",
    "process_group",
    "rank",
    "unwrap_model",
    "world_size",
    "wrap_model",
]

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT_S = 600.0


class LostRankError(RuntimeError):
    """Another rank of the run died, was stopped or stopped answering: this one cannot go on."""


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a torchrun launch: its global ``rank`` among ``world_size``
    processes, and its ``local_rank`` among the ``local_world_size`` processes of its machine."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int


def launch() -> Launch | None:
    """This process's place in a torchrun launch, read from ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``
    (and ``LOCAL_WORLD_SIZE``, else ``WORLD_SIZE``), ``MASTER_ADDR`` and ``MASTER_PORT``; None when
    none of them is set (a plain ``python script.py``). Raises ValueError when only some are set
    or a number is not one."""
    missing = [name for name in _TORCHRUN_VARIABLES if name not in os.environ]
    if len(missing) == len(_TORCHRUN_VARIABLES):
        return None
    if missing:
        raise ValueError(
            f"init_distributed: torchrun environment incomplete, missing {missing}; "
            "launch with `torchrun --nproc_per_node=P script.py`"
        )
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        text = os.environ.get(name, os.environ["WORLD_SIZE"])
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(f"init_distributed: environment variable {name} expected an integer, "
                             f"got {text!r}") from None
    found = Launch(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], values["LOCAL_WORLD_SIZE"])
    if not (0 <= found.rank < found.world_size and 0 <= found.local_rank < found.local_world_size):
        raise ValueError(f"init_distributed: expected 0 ≤ RANK < WORLD_SIZE and 0 ≤ LOCAL_RANK < "
                         f"LOCAL_WORLD_SIZE, got {found}")
    return found


def is_distributed() -> bool:
    """True when a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """True on rank 0: the only process that prints, logs and writes checkpoints."""
    return rank() == 0


def backend_for(device: torch.device | str) -> str:
    """The process-group backend for training on ``device``: NCCL on CUDA, gloo on the CPU.
    Raises ValueError for other device types (DDP over them is not supported here)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return "nccl"
    if kind == "cpu":
        return "gloo"
    raise ValueError(f"init_distributed: argument 'device' expected 'cpu' or 'cuda' under torchrun "
                     f"(gloo or NCCL), got {str(device)!r}")


def init_distributed(backend: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> torch.device:
    """Join the process group described by torchrun's environment and return this rank's device.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. Without
    them (a plain ``python script.py``) nothing is initialised and the default device is returned,
    so the same script runs with and without torchrun. ``backend`` defaults to NCCL when CUDA is
    available, else gloo; on CUDA each process takes ``cuda:LOCAL_RANK``. ``timeout_s`` bounds
    how long a collective waits for the other ranks before failing.
    """
    found = launch()
    cuda = torch.cuda.is_available()
    if found is None:
        return torch.device("cuda" if cuda else "cpu")
    if backend is None:
        backend = "nccl" if cuda else "gloo"
    device = torch.device("cuda", found.local_rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        if found.local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"init_distributed: LOCAL_RANK {found.local_rank} expected < the {torch.cuda.device_count()} "
                "visible CUDA device(s); start at most that many processes per node"
            )
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return device


@contextmanager
def process_group(device: torch.device | str = "cpu", *,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[torch.device]:
    """Inside a torchrun launch, join its process group for the duration of the block and yield
    this rank's device; elsewhere yield ``torch.device(device)`` and do nothing else.

    ``device`` is the kind of device every rank trains on: ``"cpu"`` (gloo) or ``"cuda"``
    (NCCL; each rank takes ``cuda:LOCAL_RANK``, so an explicit index is refused). On leaving
    normally the ranks meet at a barrier (rank 0 has then finished writing) and the group is
    destroyed; on an error it is destroyed at once. An error that comes from losing another rank
    (a closed connection, a timed-out collective) is raised as one :class:`LostRankError`
    line naming this rank. A group that was already initialised is used and left alone.
    """
    found = launch()
    if found is None:
        yield torch.device(device)
        return
    parsed = torch.device(device)
    backend = backend_for(parsed)
    if parsed.type == "cuda" and parsed.index is not None:
        raise ValueError(f"train: argument 'device' is {str(device)!r}, but under torchrun each process takes "
                         f"cuda:LOCAL_RANK (this one cuda:{found.local_rank}); pass 'cuda'")
    owned = not dist.is_initialized()
    if owned:
        timeout = float(timeout_s)
        if not timeout > 0:
            raise ValueError(f"process_group: argument 'timeout_s' expected a number > 0, got {timeout_s!r}")
        pinned = init_distributed(backend, timeout_s=timeout)
    else:
        pinned = torch.device("cuda", found.local_rank) if backend == "nccl" else torch.device("cpu")
    try:
        yield pinned
        if owned:
            barrier()
    except RuntimeError as error:
        if isinstance(error, LostRankError) or not is_peer_failure(error):
            raise
        raise LostRankError(
            f"rank {found.rank} of {found.world_size} lost the other processes ({_first_sentence(error)}); "
            "another rank died or was stopped, so this one stops too — see that rank's own output"
        ) from error
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()


# What the backends say when a peer is gone: gloo's transport errors name their source file
# (…/gloo/transport/tcp/pair.cc), NCCL's name NCCL; torch raises DistError subclasses for some.
_PEER_FAILURE = re.compile(r"gloo|NCCL|Connection (closed|reset) by peer|Broken pipe|ProcessGroup|c10d")


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another rank is gone or silent."""
    if isinstance(error, dist.DistError):
        return True
    return isinstance(error, RuntimeError) and bool(_PEER_FAILURE.search(str(error)))


def _first_sentence(error: BaseException) -> str:
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip().splitlines()[0] if str(error).strip() else "")
    return text.split(". ")[0].rstrip(".") or type(error).__name__


def wrap_model(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when distributed (unchanged otherwise).

    DDP averages gradients over ranks during ``backward``, so P processes each with batch B/P
    take the same step as one process with batch B.
    """
    if not is_distributed() or isinstance(model, DistributedDataParallel):
        return model
    device = torch.device(device)
    device_ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user's module inside ``DistributedDataParallel`` and/or ``torch.compile`` wrappers, so
    checkpoints hold the same keys however the model was run."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod  # torch.compile's OptimizedModule
        else:
            return model


def collective_device() -> torch.device:
    """Where a tensor handed to a collective must live: this rank's CUDA device under NCCL, else
    the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over ranks in place (a no-op when not distributed) and return it."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait for every rank (a no-op when not distributed)."""
    if is_distributed():
        dist.barrier()
