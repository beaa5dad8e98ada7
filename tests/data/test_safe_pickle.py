"""The restricted unpickler admits numeric numpy arrays and refuses everything else."""

from __future__ import annotations

import io
import os
import pickle
import tracemalloc

import numpy as np
import pytest

from convrnn.data.safe_pickle import load_arrays


class _RunsACommand:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_protocol_5_array_is_refused_saying_what_it_is_and_what_to_do_instead():
    """numpy pickles an array with protocol 5 through numpy._core.numeric._frombuffer; nothing convrnn reads is
    pickled so (the MNIST pickle is protocol 2), so the reader keeps refusing it, but says why and what to use."""
    payload = pickle.dumps([np.arange(6, dtype=np.float32)], protocol=5)
    with pytest.raises(pickle.UnpicklingError, match=r"^refusing to load numpy\._?core\.numeric\._frombuffer: .*"
                                                      r"an array pickled with protocol 5, .*protocol ≤ 4, or better "
                                                      r"as \.npy"):
        load_arrays(payload)
    assert [a.tolist() for a in load_arrays(pickle.dumps([np.arange(6, dtype=np.float32)], protocol=4))] == \
        [list(range(6))]


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_arrays_in_plain_containers_round_trip(protocol):
    rng = np.random.default_rng(0)
    data = ((rng.random((5, 784), dtype=np.float32), rng.integers(0, 10, 5)),
            [np.arange(6, dtype=">i4").reshape(2, 3)], {"x": np.float64(2.5) * np.ones(3)})
    payload = pickle.dumps(data, protocol=protocol)
    loaded, reference = load_arrays(payload), pickle.loads(payload)  # the unrestricted loader
    pairs = [(loaded[0][0], reference[0][0]), (loaded[0][1], reference[0][1]),
             (loaded[1][0], reference[1][0]), (loaded[2]["x"], reference[2]["x"])]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(loaded[0][0], data[0][0])


def test_loads_from_an_open_file():
    array = np.arange(10, dtype=np.uint8)
    loaded = load_arrays(io.BytesIO(pickle.dumps(array, protocol=2)))
    np.testing.assert_array_equal(loaded, array)


def test_a_pickle_that_would_run_a_command_is_refused_before_running_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsACommand(str(marker)), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load posix\.system"):
        load_arrays(payload)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    b"cbuiltins\neval\n(S'1+1'\ntR.",
    b"cnumpy\nload\n(S'x.npy'\ntR.",
    b"c__main__\n_RunsACommand\n.",
])
def test_any_global_other_than_the_array_machinery_is_refused(payload):
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays are allowed"):
        load_arrays(payload)


def test_arrays_of_python_objects_are_refused():
    payload = pickle.dumps(np.array([1, "a", None], dtype=object), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="Python objects"):
        load_arrays(payload)


# Opcodes whose argument is a length field followed by that many bytes; each claims far more than follows.
_LYING_LENGTHS = {
    "BINBYTES 2^31": b"\x80\x03B" + (2**31).to_bytes(4, "little") + b"abc.",
    "BINSTRING 2^31-1": b"\x80\x02T" + (2**31 - 1).to_bytes(4, "little") + b"abc.",
    "BINUNICODE 2^32-1": b"\x80\x03X" + (2**32 - 1).to_bytes(4, "little") + b"abc.",
    "BINBYTES8 2^62": b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"abc.",
    "BINUNICODE8 2^62": b"\x80\x04\x8d" + (2**62).to_bytes(8, "little") + b"abc.",
    "FRAME 2^40": b"\x80\x04\x95" + (2**40).to_bytes(8, "little") + b"B" + (2**31).to_bytes(4, "little") + b"abc.",
    "LONG4 2^31": b"\x80\x02\x8b" + (2**31).to_bytes(4, "little") + b"abc.",
    # the fuzz case that found it: two bytes inserted after the PROTO opcode of a protocol-2 pickle
    "fuzzed": pickle.dumps((np.arange(3),), protocol=2)[:1] + b"\x00B" + pickle.dumps((np.arange(3),), protocol=2)[1:],
}


@pytest.mark.parametrize("data", _LYING_LENGTHS.values(), ids=_LYING_LENGTHS.keys())
def test_a_length_field_larger_than_the_file_is_refused_without_allocating_it(data):
    # CPython's C unpickler allocated the stated length first: 2 GiB for BINBYTES 2^31, MemoryError for 2^62.
    tracemalloc.start()
    try:
        with pytest.raises(pickle.UnpicklingError, match="not a valid pickle of arrays"):
            load_arrays(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.0f} MiB allocated reading a {len(data)}-byte pickle"


def test_a_large_array_still_loads_through_the_chunked_reads():
    # a string longer than one 1 MiB read, split and joined back
    array = np.arange(3 * 2**18 + 7, dtype=np.float64)
    (loaded,) = load_arrays(io.BytesIO(pickle.dumps((array,), protocol=2)))
    assert np.array_equal(loaded, array)


def _short_string(data: bytes) -> bytes:   # SHORT_BINSTRING or BINSTRING: a Python 2 str (read as latin-1)
    return b"U" + bytes([len(data)]) + data if len(data) < 256 else b"T" + len(data).to_bytes(4, "little") + data


def _python2_array_pickle(array: np.ndarray, *, dtype_state: bytes | None = None, data: bytes | None = None) -> bytes:
    """A float32 array pickled as numpy under Python 2 wrote the MNIST pickle: str data, dtype('f4', 0, 1)
    with int flags; ``dtype_state`` and ``data`` replace the pickled dtype state and array bytes."""
    code = array.dtype.str[1:].encode()
    dtype = (b"cnumpy\ndtype\n(" + _short_string(code) + b"K\x00K\x01tR"
             + (dtype_state or b"(K\x03" + _short_string(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t") + b"b")
    shape = b"(" + b"".join(b"K" + bytes([n]) for n in array.shape) + b"t"
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _short_string(b"b")
            + b"\x87R(K\x01" + shape + dtype + b"\x89" + _short_string(array.tobytes() if data is None else data)
            + b"tb.")


def test_a_python_2_array_pickle_loads_as_the_standard_unpickler_reads_it():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = _python2_array_pickle(array)
    assert np.array_equal(pickle.loads(data, encoding="latin1"), array)   # the crafted pickle is numpy's form
    loaded = load_arrays(data)
    assert loaded.dtype == np.float32 and np.array_equal(loaded, array)


_BAD_STATES = {
    "array data shorter than its shape": dict(data=b"\x00" * 44),
    "array data longer than its shape": dict(data=b"\x00" * 52),
    "a dtype state with fields": dict(dtype_state=b"(K\x03U\x01|N(U\x01at}U\x01a(cnumpy\ndtype\n(U\x02f4K\x00K\x01tRK\x00tsK\x04K\x01K\x10t"),
    "a dtype state of another version": dict(dtype_state=b"(K\x07U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"),
}


@pytest.mark.parametrize("change", _BAD_STATES.values(), ids=_BAD_STATES.keys())
def test_a_state_numpy_would_not_write_is_refused_before_numpy_sees_it(change):
    # numpy's setstate does not check everything: a mutated pickle's state crashed the process inside it
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_arrays(_python2_array_pickle(np.zeros((3, 4), np.float32), **change))


def test_build_on_anything_but_a_dtype_or_an_array_is_refused():
    with pytest.raises(pickle.UnpicklingError, match="refusing to set the state of a list"):
        load_arrays(b"\x80\x02]}b.")
    with pytest.raises(pickle.UnpicklingError, match="refusing dtype arguments"):
        load_arrays(b"\x80\x02cnumpy\ndtype\nU\x02f4U\x018\x86R.")   # dtype('f4', '8'): align given a str
