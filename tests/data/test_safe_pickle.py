"""The restricted unpickler admits numeric numpy arrays and refuses everything else."""

from __future__ import annotations

import io
import os
import pickle

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
