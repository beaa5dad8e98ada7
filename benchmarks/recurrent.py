"""Training-step time (forward + backward) of every convrnn recurrent layer against torch.nn.

Prints, for each (N, T, F, H), the median over repeats of one step in milliseconds and its ratio
to the torch.nn baseline measured in the same run: ``torch.nn.LSTM`` for the LSTM variants and
the cells without a torch twin, ``torch.nn.GRU`` for the GRUs, ``torch.nn.RNN`` for Elman.
float32, default allocator (glibc malloc), torch's default thread count unless ``--threads``;
``--device cuda`` times on the GPU instead (baselines then run on cuDNN).

    python benchmarks/recurrent.py [--repeats 7] [--threads 2] [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from convrnn.layers.recurrent import RNN

SIZES = [(32, 100, 64, 256), (64, 50, 128, 512), (16, 200, 32, 64)]

# name → (builder(F, H), baseline name)
VARIANTS: dict[str, tuple[Callable[[int, int], nn.Module], str]] = {
    "torch.nn.LSTM": (lambda F, H: nn.LSTM(F, H, batch_first=True), "torch.nn.LSTM"),
    "torch.nn.GRU": (lambda F, H: nn.GRU(F, H, batch_first=True), "torch.nn.GRU"),
    "torch.nn.RNN": (lambda F, H: nn.RNN(F, H, batch_first=True), "torch.nn.RNN"),
    "LSTM": (lambda F, H: RNN("lstm", F, H), "torch.nn.LSTM"),
    "LSTM peephole": (lambda F, H: RNN("lstm", F, H, peephole=True), "torch.nn.LSTM"),
    "LSTM layer norm": (lambda F, H: RNN("lstm", F, H, layer_norm=True), "torch.nn.LSTM"),
    "GRU reset=after": (lambda F, H: RNN("gru", F, H, reset="after"), "torch.nn.GRU"),
    "GRU reset=before": (lambda F, H: RNN("gru", F, H, reset="before"), "torch.nn.GRU"),
    "MGU": (lambda F, H: RNN("mgu", F, H), "torch.nn.LSTM"),
    "Elman": (lambda F, H: RNN("elman", F, H), "torch.nn.RNN"),
    "Jordan": (lambda F, H: RNN("jordan", F, H), "torch.nn.LSTM"),
}


def training_step_ms(module: nn.Module, x: Tensor, repeats: int) -> float:
    """Median wall time of forward + backward (loss = sum of outputs), after one warm-up."""
    module.to(x.device)
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    times = []
    for repeat in range(repeats + 1):
        module.zero_grad(set_to_none=True)
        synchronize()
        start = time.perf_counter()
        outputs = module(x)[0]
        outputs.sum().backward()
        synchronize()
        elapsed = time.perf_counter() - start
        if repeat:
            times.append(elapsed * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="only the smallest size, 3 repeats")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes, repeats = (SIZES[2:], 3) if args.quick else (SIZES, args.repeats)
    torch.manual_seed(0)
    results: dict[tuple[str, tuple[int, ...]], float] = {}
    for size in sizes:
        N, T, F, H = size
        x = torch.randn(N, T, F, device=args.device)
        for name, (build, _) in VARIANTS.items():
            results[name, size] = training_step_ms(build(F, H), x, repeats)

    header = ["layer", *(f"N,T,F,H={','.join(map(str, s))}" for s in sizes), "baseline"]
    rows = []
    for name, (_, baseline) in VARIANTS.items():
        cells = [f"{results[name, s]:8.1f} ms ({results[name, s] / results[baseline, s]:4.2f}×)"
                 for s in sizes]
        rows.append([name, *cells, baseline])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else \
        f"{torch.get_num_threads()} CPU threads"
    print(f"torch {torch.__version__}, {where}, float32, training step (forward + backward), "
          f"median of {repeats}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
