"""Shared test settings: deterministic seeds, float64 for reference checks, small hypothesis budgets, Triton's
interpreter where no CUDA device is present."""

import os

import pytest
import torch

# The GPU kernels' tests (tests/layers/recurrent/gpu) run through Triton's interpreter on a machine
# without CUDA; Triton reads this when it is imported, so it is set before anything imports it.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from hypothesis import HealthCheck, settings

# derandomize: the same examples on every run (a rare failing draw would otherwise make CI
# fail now and then); a search for new ones is HYPOTHESIS_PROFILE=explore.
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
    database=None,
)
settings.register_profile("explore", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the tables that the fault-injection and fuzzing tests filled (tests/faults.py)."""
    import sys

    faults = sys.modules.get("faults")
    for title, lines in (faults.TABLES.items() if faults is not None else ()):
        rows = lines()
        if len(rows) > 2:
            terminalreporter.write_sep("=", title)
            for row in rows:
                terminalreporter.write_line(row)
