"""Read pickles that hold only numpy arrays (the MNIST pickle), refusing anything executable.

A pickle may name any importable callable and call it while loading; the standard
``pickle.load`` therefore runs whatever a file asks. This unpickler resolves only the three
names a numpy array needs (plus the latin-1 string-to-bytes step that Python 3 writes into
protocol-2 pickles), so a pickle that names anything else is refused before it runs.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any, BinaryIO

import numpy as np

try:  # numpy ≥ 2 moved the module; pickles written by numpy 1 still name the old one
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct


def _numeric_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing a pickled array of Python objects (dtype {dtype})")
    return dtype


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numeric_dtype,
}


# What numpy ≥ 1.16 writes for an array pickled with protocol 5 (its buffer out of the array's state). Nothing
# convrnn reads is pickled that way (the one pickle it reads, the MNIST one, is protocol 2), so it stays refused,
# with a message that says what to do instead.
_PROTOCOL_5 = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}


class ArrayUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that admits numpy arrays of numbers and plain containers only (as pickled with
    protocols 0–4; a protocol-5 array is refused, saying so)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PROTOCOL_5:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this pickle, and this one holds "
                "an array pickled with protocol 5, which this reader does not admit (convrnn reads no such pickle); "
                "save it with pickle protocol ≤ 4, or better as .npy (numpy.save)"
            )
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this pickle"
            ) from None


def load_arrays(file: BinaryIO | bytes) -> Any:
    """Unpickle ``file`` (an open binary file or bytes) admitting only numeric numpy arrays.

    Pickles written by Python 2 (like the MNIST one) store array bytes as ``str``; they are
    decoded as latin-1, which maps each byte to itself. Raises ``pickle.UnpicklingError``
    when the pickle names anything else (a numpy array pickled with protocol 5 included: nothing convrnn reads
    needs it), or when an array holds Python objects.
    """
    stream = io.BytesIO(file) if isinstance(file, bytes) else file
    try:
        result = ArrayUnpickler(stream, encoding="latin1").load()
    except pickle.UnpicklingError as error:
        if str(error).startswith("refusing"):
            raise
        raise pickle.UnpicklingError(f"not a valid pickle of arrays: {' '.join(str(error).split())[:200]}") from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
            OverflowError, UnicodeDecodeError, RecursionError) as error:   # a truncated or mangled stream
        raise pickle.UnpicklingError(f"not a valid pickle of arrays: {type(error).__name__}: "
                                     f"{' '.join(str(error).split())[:200]}") from None
    _check_numeric(result)
    return result


def _check_numeric(value: Any) -> None:
    # Defence in depth: a dtype's pickled state could still describe object fields.
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise pickle.UnpicklingError(f"refusing an array of Python objects ({value.dtype})")
    elif isinstance(value, (tuple, list)):
        for item in value:
            _check_numeric(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_numeric(item)
