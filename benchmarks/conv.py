"""Convolution speed: every boundary and 'same' with stride 2, forward + backward, against
``F.conv2d`` with built-in zero padding (for 'same', stride 2: against explicit ``F.pad`` + ``F.conv2d``),
timed alternately in the same run.

    python benchmarks/conv.py [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from _timing import interleaved_ratio, print_table
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

    baseline = step(lambda: F.conv2d(x, w, padding=1))
    rows = []
    for boundary in BOUNDARIES:
        ours, base = interleaved_ratio(step(lambda b=boundary: conv(x, w, padding=1, boundary=b, value=0.5)),
                                       baseline, repeats)
        rows.append((f"boundary={boundary}", ours, base))
    grad2 = torch.randn(64, 32, 32, 32)
    pairs = resolve_padding("same", (64, 64), (3, 3), (2, 2), (1, 1))
    explicit = [*pairs[1], *pairs[0]]

    def step2(fn):
        def go():
            x.grad = w.grad = None
            fn().backward(grad2)
        return go

    ours2, base2 = interleaved_ratio(step2(lambda: conv(x, w, stride=2, padding="same")),
                                     step2(lambda: F.conv2d(F.pad(x, explicit), w, stride=2)), repeats)
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
                f"median of {args.repeats}", rows, "baseline")


if __name__ == "__main__":
    main()
