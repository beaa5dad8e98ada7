"""Speed of every pooling kind relative to PyTorch's max pooling, forward + backward.

    python benchmarks/pool.py [--shape 64 32 64 64] [--repeats 5] [--threads 2]

Prints one row per kind and one column per window (2×2 stride 2, 3×3 stride 1): the median over
``--repeats`` runs of ``pool(x, kind=…)`` forward + backward divided by the median of
``F.max_pool2d`` forward + backward on the same input, the two timed alternately in the same run. The row
"median (unfold + torch.median)" is the straightforward implementation, for comparison.
Targets (issue 2): median ≤ 2×, p-norm ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from convrnn.functional.pool import pool

WINDOWS = {"2×2/2": (2, 2), "3×3/1": (3, 1)}


def unfold_median(x: Tensor, kernel: int, stride: int) -> Tensor:
    windows = x.unfold(2, kernel, stride).unfold(3, kernel, stride)
    return windows.flatten(-2).median(dim=-1).values


def run_once(step: Callable[[Tensor], Tensor], x: Tensor) -> float:
    leaf = x.detach().requires_grad_()
    start = time.perf_counter()
    y = step(leaf)
    y.backward(torch.ones_like(y))
    return time.perf_counter() - start


def ratio(step: Callable[[Tensor], Tensor], base: Callable[[Tensor], Tensor], x: Tensor,
          repeats: int) -> tuple[float, float]:
    """Median time of ``step`` over median time of ``base``, forward + backward, runs interleaved
    so that a machine's changing load hits both alike; also the base's median in seconds."""
    run_once(step, x), run_once(base, x)  # warm-up
    step_times, base_times = [], []
    for _ in range(repeats):
        base_times.append(run_once(base, x))
        step_times.append(run_once(step, x))
    base_median = statistics.median(base_times)
    return statistics.median(step_times) / base_median, base_median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=4, default=[64, 32, 64, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(*args.shape)

    rows: dict[str, Callable[[Tensor, int, int], Tensor]] = {
        "max": lambda t, k, s: pool(t, k, s, kind="max"),
        "min": lambda t, k, s: pool(t, k, s, kind="min"),
        "avg": lambda t, k, s: pool(t, k, s, kind="avg"),
        "sum": lambda t, k, s: pool(t, k, s, kind="sum"),
        "median": lambda t, k, s: pool(t, k, s, kind="median"),
        "lp, p = 1": lambda t, k, s: pool(t, k, s, kind="lp", p=1.0),
        "lp, p = 2": lambda t, k, s: pool(t, k, s, kind="lp", p=2.0),
        "lp, p = 3": lambda t, k, s: pool(t, k, s, kind="lp", p=3.0),
        "lp, p = ∞": lambda t, k, s: pool(t, k, s, kind="lp", p=float("inf")),
        "median (unfold + torch.median)": unfold_median,
    }
    print(f"pooling forward + backward, x {tuple(args.shape)} float32, "
          f"{args.threads} threads, median of {args.repeats}; ratio to F.max_pool2d")
    print(f"{'kind':<32}" + "".join(f"{name:>10}" for name in WINDOWS))
    base_ms = []
    for label, step in rows.items():
        cells = []
        for k, s in WINDOWS.values():
            r, base = ratio(lambda t, k=k, s=s, f=step: f(t, k, s),
                            lambda t, k=k, s=s: F.max_pool2d(t, k, s), x, args.repeats)
            cells.append(f"{r:>9.2f}×")
            base_ms.append(1e3 * base)
        print(f"{label:<32}" + "".join(cells))
    low, high = min(base_ms), max(base_ms)
    print(f"(F.max_pool2d itself took {low:.0f}–{high:.0f} ms per forward + backward)")


if __name__ == "__main__":
    main()
