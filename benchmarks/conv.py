"""Convolution speed: every boundary and 'same' with stride 2, forward + backward, against
``F.conv2d`` with built-in zero padding on the same machine in the same run.

    python benchmarks/conv.py [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from _timing import median_time, print_table
from convrnn.functional import BOUNDARIES, conv, resolve_padding


def run(repeats: int) -> list[tuple[str, float, float]]:
    x = torch.randn(64, 16, 64, 64, requires_grad=True)
    w = torch.randn(32, 16, 3, 3, requires_grad=True)
    grad = torch.randn(64, 32, 64, 64)

    def step(fn):
        def go():
            x.grad = w.grad = None
            fn().backward(grad)
        return go

    base = median_time(step(lambda: F.conv2d(x, w, padding=1)), repeats)
    rows = []
    for boundary in BOUNDARIES:
        t = median_time(step(lambda b=boundary: conv(x, w, padding=1, boundary=b, value=0.5)), repeats)
        rows.append((f"boundary={boundary}", t, base))
    grad2 = torch.randn(64, 32, 32, 32)
    pairs = resolve_padding("same", (64, 64), (3, 3), (2, 2), (1, 1))
    explicit = [*pairs[1], *pairs[0]]

    def step2(fn):
        def go():
            x.grad = w.grad = None
            fn().backward(grad2)
        return go

    base2 = median_time(step2(lambda: F.conv2d(F.pad(x, explicit), w, stride=2)), repeats)
    ours2 = median_time(step2(lambda: conv(x, w, stride=2, padding="same")), repeats)
    rows.append(("'same', stride 2 (vs explicit pad)", ours2, base2))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.repeats)
    print_table(f"conv (64,16,64,64) → 32 × 3×3, forward + backward, {args.threads} threads, "
                f"median of {args.repeats}", rows, "F.conv2d(p=1)")


if __name__ == "__main__":
    main()
