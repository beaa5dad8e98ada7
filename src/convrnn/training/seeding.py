"""Deterministic seeding, and capturing/restoring every random number generator a run draws from."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["get_rng_state", "seed_everything", "set_rng_state"]


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    With ``deterministic=True`` also call ``torch.use_deterministic_algorithms(True)`` (ops without
    a deterministic implementation then raise instead of silently varying), turn off cuDNN
    autotuning, and set ``CUBLAS_WORKSPACE_CONFIG`` as cuBLAS requires for reproducible GEMMs.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed_everything: argument 'seed' expected an int, got {seed!r}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed_everything: argument 'seed' expected 0 ≤ seed < 2**32, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def get_rng_state() -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Capture every generator's state, split for storage without pickles.

    Returns ``(scalars, tensors)``: ``scalars`` holds Python's and NumPy's states as plain
    JSON-ready lists and numbers; ``tensors`` holds torch's CPU state (a ``uint8`` tensor) under
    ``"torch"`` and one ``"cuda.<i>"`` per CUDA device.
    """
    version, internal, gauss_next = random.getstate()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    scalars = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {"name": name, "keys": keys.tolist(), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
    }
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{index}"] = state
    return scalars, tensors


def set_rng_state(scalars: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    """Restore the states captured by :func:`get_rng_state`.

    CUDA states are restored only when as many devices are visible as were saved; otherwise a
    ``ValueError`` says how many were expected. All or nothing: a state that cannot be restored (a value out
    of its generator's range, a wrong size) puts back the states of the generators restored before it, then
    raises.
    """
    before = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        _set_rng_state(scalars, tensors)
    except BaseException:
        random.setstate(before[0])
        np.random.set_state(before[1])
        torch.set_rng_state(before[2])
        raise


def _set_rng_state(scalars: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    python = scalars["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy = scalars["numpy"]
    np.random.set_state((numpy["name"], np.asarray(numpy["keys"], dtype=np.uint32),
                         numpy["position"], numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(tensors["torch"].cpu())
    cuda = [tensors[f"cuda.{i}"] for i in range(len(tensors)) if f"cuda.{i}" in tensors]
    if cuda:
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if visible != len(cuda):
            raise ValueError(
                f"set_rng_state: the saved state has {len(cuda)} CUDA generator(s), "
                f"but {visible} CUDA device(s) are visible"
            )
        torch.cuda.set_rng_state_all([state.cpu() for state in cuda])
