"""Fixtures for the convrnn.nn tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test of tiny models on one thread: their ops are microseconds long, and on a busy
    machine waking torch's thread pool for each costs milliseconds (measured: a 50-step word
    language model, 0.4 s on one thread, 10 s on two while other jobs ran). Results do not
    depend on it; the thread count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
