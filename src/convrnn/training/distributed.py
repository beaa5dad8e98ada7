"""Helpers for multi-process training launched by ``torchrun`` (DDP: gloo on CPU, NCCL on GPU).

There is no launcher here: start ``torchrun --nproc_per_node=P your_script.py``; the script calls
:func:`init_distributed`, builds its loaders with :func:`convrnn.training.make_loader` (which
shards by rank) and calls ``fit``, which wraps the model in ``DistributedDataParallel``,
averages metrics over ranks and lets only rank 0 log and checkpoint.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "all_reduce_sum",
    "barrier",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "rank",
    "unwrap_model",
    "world_size",
    "wrap_model",
]

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


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


def init_distributed(backend: str | None = None, *, timeout_s: float = 600.0) -> torch.device:
    """Join the process group described by torchrun's environment and return this rank's device.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. Without
    them (a plain ``python script.py``) nothing is initialised and the default device is returned,
    so the same script runs with and without torchrun. ``backend`` defaults to NCCL when CUDA is
    available, else gloo; on CUDA each process takes ``cuda:LOCAL_RANK``.
    """
    missing = [name for name in _TORCHRUN_VARIABLES if name not in os.environ]
    cuda = torch.cuda.is_available()
    if len(missing) == len(_TORCHRUN_VARIABLES):
        return torch.device("cuda" if cuda else "cpu")
    if missing:
        raise ValueError(
            f"init_distributed: torchrun environment incomplete, missing {missing}; "
            "launch with `torchrun --nproc_per_node=P script.py`"
        )
    if backend is None:
        backend = "nccl" if cuda else "gloo"
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"init_distributed: LOCAL_RANK {local_rank} expected < the {torch.cuda.device_count()} "
                "visible CUDA device(s); start at most that many processes per node"
            )
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return device


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


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over ranks in place (a no-op when not distributed) and return it."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait for every rank (a no-op when not distributed)."""
    if is_distributed():
        dist.barrier()
