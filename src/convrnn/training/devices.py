"""Device arguments, checked: a device name this machine has (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
``"mps"``…), never a device this torch lacks or one that holds no data (``"meta"``)."""

from __future__ import annotations

from typing import Any

import torch


def resolve_device(device: Any, *, where: str = "train") -> str:
    """``device`` checked: a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) that this
    machine has. Returned unchanged, so configs and scores record what was asked for; errors name
    ``where`` (the command or function) and the argument."""
    if not isinstance(device, str | torch.device):
        raise TypeError(f"{where}: argument 'device' expected a device name such as 'cpu' or 'cuda', got {device!r}")
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{where}: argument 'device' expected a device name such as 'cpu', 'cuda' or "
                         f"'cuda:1', got {str(device)!r}") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{where}: argument 'device' is {str(device)!r}, but this machine has no CUDA device "
                             f"(torch {torch.__version__}); use 'cpu'")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"{where}: argument 'device' is {str(device)!r}, but this machine has {count} CUDA "
                             f"device{'s' if count > 1 else ''} (cuda:0 … cuda:{count - 1})")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{where}: argument 'device' is {str(device)!r}, but MPS is not available here; "
                             "use 'cpu'")
    elif parsed.type == "meta":
        raise ValueError(f"{where}: argument 'device' expected a device that holds data, such as 'cpu' or 'cuda', "
                         "got 'meta' (tensors with shapes only)")
    elif parsed.type != "cpu":  # xpu, hpu, mtia, privateuseone…: only where this torch has one and it is there
        backend = getattr(torch, parsed.type, None)
        available = getattr(backend, "is_available", None)
        try:
            present = bool(callable(available) and available())
        except Exception:  # a backend this build lacks may raise rather than answer
            present = False
        if not present:
            raise ValueError(f"{where}: argument 'device' is {str(device)!r}, but this machine (torch "
                             f"{torch.__version__}) has no {parsed.type} device; use 'cpu'")
    return str(device)


__all__ = ["resolve_device"]
