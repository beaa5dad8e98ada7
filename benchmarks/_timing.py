"""Timing helpers shared by the benchmark scripts: warm-up, then the median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wall_time(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes on the wall clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved_ratio(fn: Callable[[], object], baseline: Callable[[], object], repeats: int = 7,
                      warmup: int = 2, clock: Callable[[Callable[[], object]], float] = wall_time
                      ) -> tuple[float, float]:
    """Median times of ``fn`` and ``baseline``, timed alternately (and in alternating order, since the
    first of a pair pays the page faults of memory the allocator just returned) so drifts hit both;
    ``clock(f)`` times one call (default the wall clock; CUDA events on a GPU)."""
    for _ in range(warmup):
        fn()
        baseline()
    ours, base = [], []
    for repeat in range(repeats):
        pairs = ((fn, ours), (baseline, base))
        for target, times in pairs if repeat % 2 == 0 else pairs[::-1]:
            times.append(clock(target))
    return statistics.median(ours), statistics.median(base)


def print_table(title: str, rows: list[tuple[str, float, float]], baseline_name: str) -> None:
    """Print ``(case, time, baseline time)`` rows as a ratio table."""
    print(f"\n{title}")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'case'.ljust(width)}  {'ms':>9}  {baseline_name + ' ms':>14}  {'ratio':>6}")
    for name, ours, base in rows:
        print(f"{name.ljust(width)}  {ours * 1e3:9.2f}  {base * 1e3:14.2f}  {ours / base:6.2f}×")
