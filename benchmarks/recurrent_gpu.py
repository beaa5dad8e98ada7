"""The GPU engine (Triton kernels, ``convrnn.layers.recurrent.gpu``) against cuDNN: ratio tables.

For each (N, T, F, H) of the issue, each custom cell and each mode — one training step (forward
+ backward, loss = sum of outputs) or one inference forward (``torch.no_grad``), float32 or
bfloat16 autocast — the median over repeats (CUDA events) in milliseconds, its ratio to the
baseline timed in turn in the same run (``torch.nn.LSTM``; ``torch.nn.GRU`` for the GRU family;
``pack_padded_sequence`` around it for "+ lengths" rows, lengths drawn in [T/2, T]), and the
peak memory of both (``torch.cuda.max_memory_allocated`` over one call, MiB). The parallel
layers (``MinGRU``, ``MinLSTM``, ``QRNN``: gates as PyTorch ops, the recurrence on the Triton
linear scan) are timed the same way at their two sizes. The card's
name heads the output; the strategy each cell ran with (persistent or stepwise) is printed in
its row.

    python benchmarks/recurrent_gpu.py [--repeats 5] [--quick] [--cells lstm_peephole,mgu]
    python benchmarks/recurrent_gpu.py --dry-run    # CPU, Triton's interpreter, tiny shapes

``--dry-run`` runs every code path on CPU tensors through the interpreter (wall-clock time, no
memory column) so that CI proves the script works; its numbers say nothing about a GPU.
"""

from __future__ import annotations

import os
import sys

if "--dry-run" in sys.argv:     # before anything imports Triton
    os.environ.setdefault("TRITON_INTERPRET", "1")

import argparse
import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from _timing import interleaved_ratio, wall_time
from convrnn.layers.recurrent import QRNN, RNN, MinGRU, MinLSTM
from convrnn.layers.recurrent.gpu.dispatch import backend, kernels_everywhere

SIZES = [(32, 100, 64, 256), (64, 50, 128, 512), (16, 200, 32, 64), (16, 1024, 768, 768), (64, 1000, 256, 1024)]
PARALLEL_SIZES = [(16, 1000, 64, 256), (16, 4096, 256, 1024)]
DRY_SIZES = [(2, 3, 3, 4)]
DRY_PARALLEL_SIZES = [(2, 5, 3, 4)]

# name → (builder(F, H), baseline "lstm"/"gru", lengths?)
CELLS: dict[str, tuple[Callable[[int, int], nn.Module], str, bool]] = {
    "lstm_peephole": (lambda F, H: RNN("lstm", F, H, peephole=True), "lstm", False),
    "lstm_layer_norm": (lambda F, H: RNN("lstm", F, H, layer_norm=True), "lstm", False),
    "lstm_zoneout": (lambda F, H: RNN("lstm", F, H, zoneout=0.1), "lstm", False),
    "gru_before": (lambda F, H: RNN("gru", F, H, reset="before"), "gru", False),
    "mgu": (lambda F, H: RNN("mgu", F, H), "lstm", False),
    "elman_layer_norm": (lambda F, H: RNN("elman", F, H, layer_norm=True), "lstm", False),
    "jordan": (lambda F, H: RNN("jordan", F, H), "lstm", False),
    "lstm_lengths": (lambda F, H: RNN("lstm", F, H), "lstm", True),
    "gru_after_lengths": (lambda F, H: RNN("gru", F, H, reset="after"), "gru", True),
}
PARALLEL: dict[str, Callable[[int, int], nn.Module]] = {
    "MinGRU": lambda F, H: MinGRU(F, H),
    "MinLSTM": lambda F, H: MinLSTM(F, H),
    "QRNN": lambda F, H: QRNN(F, H),
}


class Clock:
    """Times a call: CUDA events on a GPU, wall time on a CPU; peak memory on a GPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, fn: Callable[[], object]) -> float:
        if not self.cuda:
            return wall_time(fn)
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3

    def peak(self, fn: Callable[[], object]) -> float:
        if not self.cuda:
            return float("nan")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20


def step(module: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None, training: bool, autocast: bool,
         packed_baseline: bool = False) -> Callable[[], object]:
    """One training step or inference call of ``module`` (ours, or a torch.nn baseline)."""
    device = x.device.type

    def run() -> object:
        with torch.autocast(device, dtype=torch.bfloat16) if autocast else contextlib.nullcontext():
            if packed_baseline and lengths is not None:
                out = module(pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))[0].data
            elif isinstance(module, (nn.LSTM, nn.GRU)):
                out = module(x)[0]
            elif isinstance(module, RNN):
                out = module(x, lengths)[0]
            else:
                result = module(x)
                out = result[0] if isinstance(result, tuple) else result
            if training:
                out.float().sum().backward()
        return out

    if training:
        return run

    def infer() -> object:
        with torch.no_grad():
            return run()

    return infer


@contextlib.contextmanager
def engine(dry_run: bool) -> Iterator[None]:
    with kernels_everywhere() if dry_run else contextlib.nullcontext():
        yield


def baseline_of(kind: str, F: int, H: int, device: torch.device) -> nn.Module:
    return (nn.LSTM if kind == "lstm" else nn.GRU)(F, H, batch_first=True).to(device)


def cell_rows(args: argparse.Namespace, device: torch.device, clock: Clock) -> list[str]:
    rows = []
    sizes = DRY_SIZES if args.dry_run else SIZES[:2] if args.quick else SIZES
    names = args.cells.split(",") if args.cells else list(CELLS)
    generator = torch.Generator().manual_seed(0)
    for N, T, F, H in sizes:
        for name in names:
            build, kind, with_lengths = CELLS[name]
            ours = build(F, H).to(device)
            ours.use_native = False        # plain cells too: the GPU kernels, not cuDNN
            base = baseline_of(kind, F, H, device)
            x = torch.randn(N, T, F, generator=generator).to(device)
            lengths = torch.randint(T // 2 + 1, T + 1, (N,), generator=generator).to(device) if with_lengths else None
            with engine(args.dry_run):
                which, why = backend(ours, x, lengths)
            chosen = why.split(", ")[1] if which == "gpu kernels" else which
            modes = [(training, autocast) for training in (True, False) for autocast in (False, True)]
            if args.dry_run:        # one mode per cell, in turn
                modes = [modes[names.index(name) % 3]]
            for training, autocast in modes:
                ours.train(training)
                ours_call = step(ours, x, lengths, training, autocast)
                # (a CPU's oneDNN LSTM may refuse bfloat16: the dry run's baseline stays float32)
                base_call = step(base, x, lengths, training, autocast and not args.dry_run, packed_baseline=True)
                with engine(args.dry_run):
                    mine, theirs = interleaved_ratio(ours_call, base_call, args.repeats, args.warmup, clock=clock)
                    memory = clock.peak(ours_call)
                base_memory = clock.peak(base_call)
                rows.append(f"{name:18} {N:3} {T:5} {F:4} {H:5}  {'train' if training else 'infer':5} "
                            f"{'bf16' if autocast else 'fp32':4} {chosen:20} {mine * 1e3:9.2f} {theirs * 1e3:9.2f} "
                            f"{mine / theirs:6.2f}× {memory:8.1f} {base_memory:8.1f}")
                print(rows[-1], flush=True)
    return rows


def parallel_rows(args: argparse.Namespace, device: torch.device, clock: Clock) -> list[str]:
    rows = []
    sizes = DRY_PARALLEL_SIZES if args.dry_run else PARALLEL_SIZES[:1] if args.quick else PARALLEL_SIZES
    generator = torch.Generator().manual_seed(1)
    for N, T, F, H in sizes:
        base = baseline_of("lstm", F, H, device)
        x = torch.randn(N, T, F, generator=generator).to(device)
        for name, build in PARALLEL.items():
            ours = build(F, H).to(device)
            with engine(args.dry_run):
                which = backend(ours, x)[0]
            chosen = "triton linear scan" if which == "gpu kernels" else which
            for training in (True, False):
                ours.train(training)
                ours_call = step(ours, x, None, training, False)
                base_call = step(base, x, None, training, False)
                with engine(args.dry_run):
                    mine, theirs = interleaved_ratio(ours_call, base_call, args.repeats, args.warmup, clock=clock)
                    memory = clock.peak(ours_call)
                rows.append(f"{name:18} {N:3} {T:5} {F:4} {H:5}  {'train' if training else 'infer':5} fp32 "
                            f"{chosen:20} {mine * 1e3:9.2f} {theirs * 1e3:9.2f} {mine / theirs:6.2f}× "
                            f"{memory:8.1f} {clock.peak(base_call):8.1f}")
                print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the first two sizes only")
    parser.add_argument("--cells", default="", help=f"comma-separated subset of {','.join(CELLS)}")
    parser.add_argument("--dry-run", action="store_true", help="CPU, Triton's interpreter, tiny shapes")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.repeats, args.warmup = 1, 0
        device = torch.device("cpu")
        print("dry run: CPU tensors through Triton's interpreter; the times say nothing about a GPU")
    elif not torch.cuda.is_available():
        print("recurrent_gpu: error: no CUDA device (use --dry-run to check the script on a CPU)", file=sys.stderr)
        return 2
    else:
        device = torch.device("cuda")
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    unknown = [c for c in args.cells.split(",") if c and c not in CELLS]
    if unknown:
        print(f"recurrent_gpu: error: unknown cells {unknown}; choose from {list(CELLS)}", file=sys.stderr)
        return 2
    clock = Clock(device)
    header = (f"{'layer':18} {'N':>3} {'T':>5} {'F':>4} {'H':>5}  {'mode':5} {'type':4} {'backend':20} "
              f"{'ours ms':>9} {'base ms':>9} {'ratio':>7} {'MiB':>8} {'base MiB':>8}")
    print("\nCells (baseline: cuDNN nn.LSTM / nn.GRU; + lengths: packed)\n" + header)
    cell_rows(args, device, clock)
    print("\nParallel layers (baseline: cuDNN nn.LSTM)\n" + header)
    parallel_rows(args, device, clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
