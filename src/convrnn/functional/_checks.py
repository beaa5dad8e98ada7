"""Argument checks shared by every floor: each error names the argument, the expected and the actual value."""

from __future__ import annotations

import math
import operator
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
        if not isinstance(dims, int) or isinstance(dims, bool) or dims not in (1, 2, 3):
            raise ValueError(f"{where}: argument 'dims' expected 1, 2 or 3, got {dims!r}")
        return dims
    if isinstance(kernel_size, int):
        aliases = f", or use {where}1d/{where}2d/{where}3d" if where in ("Conv", "ConvTranspose", "Pool") else ""
        raise ValueError(
            f"{where}: argument 'kernel_size' expected one size per spatial dimension (or dims=), got the int "
            f"{kernel_size}, so the number of spatial dimensions is unknown: pass a tuple such as "
            f"({kernel_size}, {kernel_size}), dims=2{aliases}"
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


def check_flag(name: str, value: object, *, where: str) -> bool:
    """Raise ``TypeError`` unless ``value`` is a bool (Python's or NumPy's): a string such as
    ``"no"`` is truthy and would silently mean True."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise TypeError(f"{where}: argument '{name}' expected a bool, got {value!r}")


def _show(value: float) -> str:
    """A bound as a message shows it: an int in full (2**32 − 1 as 4294967295), a float by ``:g``."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _bounds(minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{_show(minimum)}, {_show(maximum)}]"
    if minimum is not None and below is not None:
        return f" in [{_show(minimum)}, {_show(below)})"
    parts = []
    if minimum is not None:
        parts.append(f"≥ {_show(minimum)}")
    if above is not None:
        parts.append(f"> {_show(above)}")
    if maximum is not None:
        parts.append(f"≤ {_show(maximum)}")
    if below is not None:
        parts.append(f"< {_show(below)}")
    return (" " + " and ".join(parts)) if parts else ""


def check_int(name: str, value: object, *, where: str, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Raise ``TypeError`` unless ``value`` is an int (Python's or NumPy's, never a bool or a float
    such as ``2.0``), ``ValueError`` unless it lies in ``[minimum, maximum]``. (The message is built only
    on failure, so a compiled graph traces nothing but the comparisons.)"""
    def refuse(error: type[Exception]) -> Exception:
        return error(f"{where}: argument '{name}' expected an int{_bounds(minimum, maximum, None, None)}, "
                     f"got {value!r}")

    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise refuse(TypeError)
    try:
        number = operator.index(value)   # int and NumPy integers; float, str, None refused
    except TypeError:
        raise refuse(TypeError) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise refuse(ValueError)
    return number


def check_real(name: str, value: object, *, where: str, minimum: float | None = None,
               maximum: float | None = None, above: float | None = None, below: float | None = None,
               finite: bool = True) -> float:
    """Raise ``TypeError`` unless ``value`` is a real number (int or float, never a bool or a
    string), ``ValueError`` if it is NaN, infinite (unless ``finite=False``), or outside the bounds
    (``minimum``/``maximum`` inclusive, ``above``/``below`` exclusive)."""
    def refuse(error: type[Exception]) -> Exception:
        expected = f"a {'finite ' if finite else ''}number{_bounds(minimum, maximum, above, below)}"
        return error(f"{where}: argument '{name}' expected {expected}, got {value!r}")

    if isinstance(value, bool | str | bytes | Tensor) or type(value).__name__ == "bool_":
        raise refuse(TypeError)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise refuse(TypeError) from None
    if number != number or (finite and math.isinf(number)) \
            or (minimum is not None and number < minimum) or (maximum is not None and number > maximum) \
            or (above is not None and number <= above) or (below is not None and number >= below):
        raise refuse(ValueError)
    return number


def check_module(name: str, value: object, *, where: str) -> torch.nn.Module:
    """Raise ``TypeError`` unless ``value`` is a ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{where}: argument '{name}' expected a torch.nn.Module, got {type(value).__name__}")
    return value


def check_like(name: str, x: Tensor, reference: Tensor, *, where: str, reference_name: str,
               dtype: bool = True) -> None:
    """Raise ``ValueError`` unless tensor ``x`` is on the device of ``reference`` (a parameter, or
    another argument), ``TypeError`` unless it has its dtype (skipped under autocast, which casts
    each operation's inputs itself, and when ``dtype`` is False)."""
    if x.device != reference.device:
        raise ValueError(f"{where}: argument '{name}' expected a tensor on {reference.device} (that of "
                         f"{reference_name}), got one on {x.device}")
    if dtype and x.dtype != reference.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(f"{where}: argument '{name}' expected dtype {reference.dtype} (that of "
                        f"{reference_name}), got {x.dtype}")
