"""Shared test settings: deterministic seeds, float64 for reference checks, small hypothesis budgets."""

import os

import pytest
import torch
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
