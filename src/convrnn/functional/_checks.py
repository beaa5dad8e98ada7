"""Argument checks shared by every floor: each error names the argument, the expected and the actual value."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor


def check_tensor(name: str, x: object, *, dims: int | Sequence[int] | None = None,
                 floating: bool = False, where: str = "") -> Tensor:
    """Raise ``TypeError``/``ValueError`` unless ``x`` is a tensor with an allowed rank.

    ``dims`` is one rank or several allowed ranks; ``floating`` demands a floating dtype.
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(x, Tensor):
        raise TypeError(f"{prefix}argument '{name}' expected a torch.Tensor, got {type(x).__name__}")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if x.dim() not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(
                f"{prefix}argument '{name}' expected a {want}-d tensor, "
                f"got shape {tuple(x.shape)} ({x.dim()}-d)"
            )
    if floating and not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{prefix}argument '{name}' expected a floating-point tensor, got dtype {x.dtype}")
    return x


def as_tuple(name: str, value: int | Sequence[int], n: int, *, minimum: int | None = None,
             where: str = "") -> tuple[int, ...]:
    """Expand an int or a length-``n`` sequence of ints to a tuple, checking each is ≥ ``minimum``."""
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool):
        raise TypeError(f"{prefix}argument '{name}' expected an int or {n} ints, got {value!r}")
    if isinstance(value, int):
        out = (value,) * n
    elif isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool)
                                             for v in value):
        if len(value) != n:
            raise ValueError(
                f"{prefix}argument '{name}' expected an int or {n} ints (one per spatial dimension), "
                f"got {tuple(value)}"
            )
        out = tuple(value)
    else:
        raise TypeError(f"{prefix}argument '{name}' expected an int or {n} ints, got {value!r}")
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{prefix}argument '{name}' expected integers ≥ {minimum}, got {value!r}")
    return out


def check_choice(name: str, value: object, choices: Sequence[str], *, where: str = "") -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    prefix = f"{where}: " if where else ""
    if value not in choices:
        raise ValueError(f"{prefix}argument '{name}' expected one of {list(choices)}, got {value!r}")
    return str(value)


def is_tracing() -> bool:
    """True under ``torch.jit.trace``/``torch.onnx.export``/``torch.compile``.

    Checks that read tensor sizes as Python numbers are skipped there, so graphs stay shape-generic.
    """
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def static_sizes(x: Tensor, start: int = 2) -> tuple[int, ...]:
    """``x.shape[start:]`` as Python ints, also under ``torch.jit.trace`` (where sizes are tensors).

    A traced graph is then specialised to the traced input's spatial size wherever the size enters
    Python arithmetic (``"same"`` padding, boundary padding), as in a TensorFlow graph.
    """
    if not torch.jit.is_tracing():
        return tuple(x.shape[start:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return tuple(int(n) for n in x.shape[start:])


def spatial_dims(kernel_size: int | Sequence[int], dims: int | None, where: str) -> int:
    """Number of spatial dimensions of a layer, read off a tuple ``kernel_size`` or given as ``dims``.

    An int kernel size without ``dims`` is ambiguous and refused, pointing to the ``…1d/2d/3d``
    aliases of the layer named ``where``.
    """
    if dims is not None:
        if isinstance(dims, bool) or dims not in (1, 2, 3):
            raise ValueError(f"{where}: argument 'dims' expected 1, 2 or 3, got {dims!r}")
        return dims
    if isinstance(kernel_size, int):
        raise ValueError(
            f"{where}: argument 'kernel_size' is the int {kernel_size}, so the number of spatial "
            f"dimensions is unknown: pass a tuple such as ({kernel_size}, {kernel_size}), dims=2, "
            f"or use {where}1d/{where}2d/{where}3d"
        )
    if not isinstance(kernel_size, Sequence) or len(kernel_size) not in (1, 2, 3):
        raise ValueError(f"{where}: argument 'kernel_size' expected an int or 1 to 3 sizes, got {kernel_size!r}")
    return len(kernel_size)


def refuse_torchscript(module: object) -> None:
    """Raise the error ``torch.jit.script`` meets on a convrnn layer that TorchScript cannot compile
    (called from the layer's ``__prepare_scriptable__``): TorchScript is in maintenance, and the
    layer's engine is Python with compiled operators, which torch.export and torch.compile take."""
    name = type(module).__name__
    raise TypeError(
        f"torch.jit.script: convrnn's {name} does not support TorchScript (in maintenance in PyTorch); "
        f"export it with torch.export.export(model, args) or torch.onnx.export(model, args, dynamo=True) "
        f"(the time axis stays dynamic; see the README's 'Export and deploy'), or speed it up with torch.compile")
