"""Read pickles that hold only numpy arrays (the MNIST pickle), refusing anything executable.

A pickle may name any importable callable and call it while loading; the standard
``pickle.load`` therefore runs whatever a file asks. This unpickler resolves only the three
names a numpy array needs (plus the latin-1 string-to-bytes step that Python 3 writes into
protocol-2 pickles), so a pickle that names anything else is refused before it runs.

A pickle's length fields are not trusted either. CPython's C unpickler allocates the whole length
that a ``BINBYTES``/``BINBYTES8`` opcode states before reading it (2 GiB for a 610-byte file whose
length field says so, a ``MemoryError`` for an 8-byte one); this reader runs the pure-Python
unpickler over a stream that reads at most 1 MiB at a time, so what it allocates is bounded by what
the file holds.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from typing import Any, BinaryIO, ClassVar

import numpy as np

try:  # numpy ≥ 2 moved the module; pickles written by numpy 1 still name the old one
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct


def _numeric_dtype(*args: Any) -> np.dtype:
    # numpy pickles a dtype as dtype(code, align, copy): a type code and two flags (ints 0/1 from Python 2)
    if not (1 <= len(args) <= 3 and isinstance(args[0], str)
            and all(isinstance(a, int) and a in (0, 1) for a in args[1:])):
        raise pickle.UnpicklingError(f"refusing dtype arguments other than a type code and two flags: "
                                     f"{str(args)[:80]}")
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


_CHUNK = 1 << 20


class _ChunkedReads:
    """``read(n)`` in reads of at most 1 MiB each, until n bytes or the end of ``stream``: a length field
    that promises more than the stream holds costs what the stream holds, not what it promises."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self._stream.read()
        parts = []
        while size > 0:
            part = self._stream.read(min(size, _CHUNK))
            if not part:
                break
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def readline(self) -> bytes:
        return self._stream.readline()


# pickle._Unpickler is the standard library's pure-Python unpickler (the module's reference
# implementation, beside the C one that pickle.Unpickler names): it reads each length-prefixed
# argument with file.read(n) instead of allocating n bytes first.
class ArrayUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """A pure-Python ``pickle`` unpickler that admits numpy arrays of numbers and plain containers only
    (as pickled with protocols 0–4; a protocol-5 array is refused, saying so)."""

    # BUILD (obj.__setstate__(state)) is the one opcode that calls into numpy with values read from the file;
    # numpy's setstate of a dtype or an array does not check everything (a mutated pickle crashed the process
    # in it), so the state is checked against the form numpy itself writes first.
    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def _load_build(self) -> None:
        state = self.stack[-1]
        _check_state(self.stack[-2] if len(self.stack) > 1 else None, state)
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    dispatch[pickle.BUILD[0]] = _load_build

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


_BYTE_ORDERS = ("<", ">", "|", "=")


def _check_state(target: Any, state: Any) -> None:
    """Refuse a BUILD state unless it is what numpy writes for a numeric dtype, (3, order, None, None, None,
    -1, -1, 0), or for an array, (1, shape, dtype, fortran, bytes) with len(bytes) = ∏shape · itemsize."""
    if isinstance(target, np.dtype):
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in _BYTE_ORDERS
                and state[2:] == (None, None, None, -1, -1, 0)):
            raise pickle.UnpicklingError(f"refusing a dtype state other than a plain number's: {str(state)[:80]}")
    elif isinstance(target, np.ndarray):
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise pickle.UnpicklingError(f"refusing an array state of another form: {str(state)[:80]}")
        _, shape, dtype, fortran, data = state
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
            raise pickle.UnpicklingError(f"refusing an array shape {str(shape)[:80]}")
        if not (isinstance(dtype, np.dtype) and not dtype.hasobject and dtype.fields is None
                and dtype.subdtype is None and dtype.itemsize > 0):
            raise pickle.UnpicklingError(f"refusing an array of dtype {str(dtype)[:80]}")
        if not isinstance(fortran, bool) or not isinstance(data, (bytes, str)):
            raise pickle.UnpicklingError("refusing an array state whose order flag or data is of another type")
        expected = math.prod(shape) * dtype.itemsize
        if len(data) != expected:
            raise pickle.UnpicklingError(f"refusing an array of shape {shape} and dtype {dtype}: {len(data)} bytes "
                                         f"of data for {expected}")
    else:
        raise pickle.UnpicklingError(f"refusing to set the state of a {type(target).__name__}")


def load_arrays(file: BinaryIO | bytes) -> Any:
    """Unpickle ``file`` (an open binary file or bytes) admitting only numeric numpy arrays.

    Pickles written by Python 2 (like the MNIST one) store array bytes as ``str``; they are
    decoded as latin-1, which maps each byte to itself. Raises ``pickle.UnpicklingError``
    when the pickle names anything else (a numpy array pickled with protocol 5 included: nothing convrnn reads
    needs it), or when an array holds Python objects.
    """
    stream = _ChunkedReads(io.BytesIO(file) if isinstance(file, bytes) else file)
    try:
        result = ArrayUnpickler(stream, encoding="latin1").load()
    except pickle.UnpicklingError as error:
        if str(error).startswith("refusing"):
            raise
        raise pickle.UnpicklingError(f"not a valid pickle of arrays: {' '.join(str(error).split())[:200]}") from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
            OverflowError, UnicodeDecodeError, RecursionError, MemoryError) as error:   # a truncated or mangled stream
        detail = " ".join(str(error).split())[:200] or (
            "the data ends before what it announces" if isinstance(error, EOFError) else "no detail")
        raise pickle.UnpicklingError(f"not a valid pickle of arrays: {type(error).__name__}: {detail}") from None
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
