"""Speed and memory of every convrnn recurrent layer against torch.nn, ratio tables.

Table 1, for each (N, T, F, H): the median over repeats of one training step (forward +
backward, loss = sum of outputs) or one inference forward (``torch.no_grad``), in milliseconds,
and its ratio to the torch.nn baseline measured in the same run, ours and the baseline timed in
turn (interleaved) so that a busy machine slows both alike: ``torch.nn.LSTM`` for the LSTM
variants and the cells without a torch twin, ``torch.nn.GRU`` for the GRUs, ``torch.nn.RNN`` for
Elman. "+ lengths" rows draw lengths in [T/2, T] and the baseline packs them
(``pack_padded_sequence``) as a torch user must; "states" rows ask for ``return_states=True``
(last column: ratio to the same layer without it, timed in the same interleaved loop).
Table 2: the parallel-in-time layers at (16, 1000, 64, 256) against ``torch.nn.LSTM``.
Table 3: ``torch.compile`` (inductor, fullgraph) of a few layers against the same layers eager, a
training step and an inference forward at the first size (the compiled graph calls the core's
operators, so the ratio is what compiling the code around the loop gives; compile time excluded).
Table 4: training memory: the bytes of the distinct storages autograd keeps for the backward
pass (``saved_tensors_hooks``; the part of peak memory a layer decides), and on CUDA also
``torch.cuda.max_memory_allocated`` of a step.
Table 5 (head to head): a layer against the layers it is to be compared with, all of them timed in
one interleaved loop, e.g. seed 001's gated unit under layer norm against the layer-normalised MGU
and against the engine's Python loop (``fused.disabled()``) that the compiled core replaces for it.

float32, glibc malloc, torch's default thread count unless ``--threads``; fast calls get more
rounds than ``--repeats`` (up to 40, see :func:`interleaved_ms`); ``--device cuda``
times on the GPU (baselines on cuDNN; the compiled core is CPU-only, so the engine's CUDA path
is its Python loop).

    python benchmarks/recurrent.py [--repeats 7] [--threads 2] [--quick] [--device cuda]
    python benchmarks/recurrent.py --threads 1 --head-to-head-only   # Table 5 alone
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrnn.layers.recurrent import QRNN, RNN, MinGRU, MinLSTM
from convrnn.layers.recurrent.fused import disabled

SIZES = [(32, 100, 64, 256), (64, 50, 128, 512), (16, 200, 32, 64)]
PARALLEL_SIZE = (16, 1000, 64, 256)

# name → (builder(F, H), baseline name, options); options: "lengths", "states"
VARIANTS: dict[str, tuple[Callable[[int, int], nn.Module], str, frozenset[str]]] = {
    "LSTM (native)": (lambda F, H: RNN("lstm", F, H), "torch.nn.LSTM", frozenset()),
    "LSTM + lengths (core masks on CPU)": (lambda F, H: RNN("lstm", F, H), "torch.nn.LSTM", frozenset({"lengths"})),
    "GRU reset=after (native)": (lambda F, H: RNN("gru", F, H, reset="after"), "torch.nn.GRU", frozenset()),
    "GRU reset=after + lengths (core masks on CPU)": (lambda F, H: RNN("gru", F, H, reset="after"),
                                                      "torch.nn.GRU", frozenset({"lengths"})),
    "Elman (native)": (lambda F, H: RNN("elman", F, H), "torch.nn.RNN", frozenset()),
    "Elman + lengths (core masks on CPU)": (lambda F, H: RNN("elman", F, H), "torch.nn.RNN", frozenset({"lengths"})),
    "LSTM peephole": (lambda F, H: RNN("lstm", F, H, peephole=True), "torch.nn.LSTM", frozenset()),
    "LSTM peephole + lengths": (lambda F, H: RNN("lstm", F, H, peephole=True), "torch.nn.LSTM",
                                frozenset({"lengths"})),
    "LSTM peephole, states": (lambda F, H: RNN("lstm", F, H, peephole=True), "torch.nn.LSTM",
                              frozenset({"states"})),
    "GRU reset=before": (lambda F, H: RNN("gru", F, H, reset="before"), "torch.nn.GRU", frozenset()),
    "GRU reset=before, states": (lambda F, H: RNN("gru", F, H, reset="before"), "torch.nn.GRU",
                                 frozenset({"states"})),
    "MGU": (lambda F, H: RNN("mgu", F, H), "torch.nn.LSTM", frozenset()),
    "Gated (seed 001, no reset gate)": (lambda F, H: RNN("gated", F, H), "torch.nn.LSTM", frozenset()),
    "GRU reset=before, z on candidate (seed 004)": (lambda F, H: RNN("gru", F, H, z_multiplies="candidate"),
                                                    "torch.nn.GRU", frozenset()),
    "Elman sigmoid": (lambda F, H: RNN("elman", F, H, nonlinearity="sigmoid"), "torch.nn.RNN", frozenset()),
    "Elman leaky_relu": (lambda F, H: RNN("elman", F, H, nonlinearity="leaky_relu"), "torch.nn.RNN", frozenset()),
    "Elman identity": (lambda F, H: RNN("elman", F, H, nonlinearity="identity"), "torch.nn.RNN", frozenset()),
    "LSTM layer norm": (lambda F, H: RNN("lstm", F, H, layer_norm=True), "torch.nn.LSTM", frozenset()),
    "LSTM layer norm, states": (lambda F, H: RNN("lstm", F, H, layer_norm=True), "torch.nn.LSTM",
                                frozenset({"states"})),
    "GRU reset=before layer norm": (lambda F, H: RNN("gru", F, H, reset="before", layer_norm=True), "torch.nn.LSTM",
                                    frozenset()),
    "MGU layer norm": (lambda F, H: RNN("mgu", F, H, layer_norm=True), "torch.nn.LSTM", frozenset()),
    "Gated layer norm": (lambda F, H: RNN("gated", F, H, layer_norm=True), "torch.nn.LSTM", frozenset()),
    "Elman layer norm": (lambda F, H: RNN("elman", F, H, layer_norm=True), "torch.nn.LSTM", frozenset()),
    "Jordan": (lambda F, H: RNN("jordan", F, H), "torch.nn.LSTM", frozenset()),
    "Jordan, states": (lambda F, H: RNN("jordan", F, H), "torch.nn.LSTM", frozenset({"states"})),
}

BASELINES: dict[str, Callable[[int, int], nn.Module]] = {
    "torch.nn.LSTM": lambda F, H: nn.LSTM(F, H, batch_first=True),
    "torch.nn.GRU": lambda F, H: nn.GRU(F, H, batch_first=True),
    "torch.nn.RNN": lambda F, H: nn.RNN(F, H, batch_first=True),
}

# Table 5: layer → what it is timed against, each (label, builder, on the Python engine?)
HEAD_TO_HEAD: dict[str, list[tuple[str, Callable[[int, int], nn.Module], bool]]] = {
    "Gated layer norm": [("MGU layer norm", VARIANTS["MGU layer norm"][0], False),
                         ("its Python loop", VARIANTS["Gated layer norm"][0], True)],
}

PARALLEL: dict[str, Callable[[int, int], nn.Module]] = {
    "MinGRU": lambda F, H: MinGRU(F, H),
    "MinLSTM": lambda F, H: MinLSTM(F, H),
    "QRNN (fo, window 2)": lambda F, H: QRNN(F, H),
}


def make_call(module: nn.Module, x: Tensor, lengths: Tensor | None, states: bool, training: bool
              ) -> Callable[[], None]:
    """One training step or one inference forward of ``module`` on x (and lengths)."""
    torch_module = isinstance(module, nn.RNNBase)

    def forward() -> Tensor:
        """The sum of the outputs (and, for "states" rows, of every state): a scalar loss."""
        if torch_module and lengths is not None:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            return pad_packed_sequence(module(packed)[0], batch_first=True, total_length=x.shape[1])[0].sum()
        if torch_module or not states:
            return (module(x)[0] if torch_module else module(x, lengths)[0]).sum()
        outputs, _, every = module(x, lengths, return_states=True)
        every = every if isinstance(every, tuple) else (every,)
        return outputs.sum() + sum(component.sum() for component in every)

    def step() -> None:
        module.zero_grad(set_to_none=True)
        forward().backward()

    def infer() -> None:
        with torch.no_grad():
            forward()

    return step if training else infer


def interleaved_ms(calls: list[Callable[[], None]], repeats: int, synchronize: Callable[[], None]) -> list[float]:
    """Median wall time of each call in milliseconds, the calls timed in turn, after one warm-up.
    At least ``repeats`` rounds, and more for fast calls (up to 40, about 0.4 s a call), whose
    medians a busy machine would otherwise sway by 10 % or more."""
    times: list[list[float]] = [[] for _ in calls]
    rounds, repeat, slowest = repeats, 0, 1e-3
    while repeat <= rounds:
        for call, record in zip(calls, times):
            synchronize()
            start = time.perf_counter()
            call()
            synchronize()
            elapsed = time.perf_counter() - start
            if repeat:
                record.append(elapsed * 1e3)
            else:
                slowest = max(slowest, elapsed)
        if not repeat:  # after the warm-up round: as many rounds as fit 0.4 s for the slowest call
            rounds = max(repeats, min(40, int(0.4 / slowest)))
        repeat += 1
    return [statistics.median(record) for record in times]


def saved_bytes(module: nn.Module, x: Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for one training step's backward pass."""
    storages: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        outputs = module(x)[0]
    outputs.sum().backward()
    parameters = {p.untyped_storage().data_ptr() for p in module.parameters()}
    return sum(size for pointer, size in storages.items() if pointer not in parameters and pointer != 0)


def cuda_peak_bytes(module: nn.Module, x: Tensor) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    module(x)[0].sum().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


COMPILED = {"LSTM peephole": VARIANTS["LSTM peephole"][0], "GRU reset=before": VARIANTS["GRU reset=before"][0],
            "MGU": VARIANTS["MGU"][0], "LSTM layer norm": VARIANTS["LSTM layer norm"][0],
            "MinGRU": lambda F, H: MinGRU(F, H)}


def compiled_table(size: tuple[int, int, int, int], repeats: int, device: torch.device,
                   synchronize: Callable[[], None]) -> None:
    """Table 3: torch.compile(fullgraph=True) against eager, the same layer, interleaved."""
    N, T, F, H = size
    x = torch.randn(N, T, F, device=device)
    rows = []
    for name, build in COMPILED.items():
        torch._dynamo.reset()
        eager = build(F, H).to(device)
        compiled = torch.compile(eager, fullgraph=True)
        cells = []
        for training in (True, False):
            fast = make_call(compiled, x, None, False, training)
            started = time.perf_counter()
            fast()   # compiles
            took = time.perf_counter() - started
            mine, theirs = interleaved_ms([fast, make_call(eager, x, None, False, training)], repeats, synchronize)
            cells += [f"{mine:8.1f} ms", f"{theirs:8.1f} ms", f"{theirs / mine:4.2f}×", f"{took:5.1f} s"]
        rows.append([name, *cells])
    print_table(f"torch.compile(fullgraph=True) vs eager at (N, T, F, H) = {size}",
                ["layer", "train compiled", "train eager", "speed-up", "compile", "infer compiled", "infer eager",
                 "speed-up", "compile"], rows)


def on_engine(call: Callable[[], None]) -> Callable[[], None]:
    """``call`` with the compiled core switched off: the engine's Python loop."""
    def run() -> None:
        with disabled():
            call()
    return run


def head_to_head_table(sizes: list[tuple[int, int, int, int]], repeats: int, device: torch.device,
                       synchronize: Callable[[], None], only: str | None) -> None:
    """Table 5: each layer of HEAD_TO_HEAD and its comparisons timed in one interleaved loop; the
    layer's median and the ratio of it to each comparison's median (< 1: the layer is faster)."""
    rows = []
    for name, others in HEAD_TO_HEAD.items():
        if only is not None and only.lower() not in name.lower():
            continue
        for training in (True, False):
            cells = []
            for N, T, F, H in sizes:
                x = torch.randn(N, T, F, device=device)
                calls = [make_call(VARIANTS[name][0](F, H).to(device), x, None, False, training)]
                for _, build, python_loop in others:
                    call = make_call(build(F, H).to(device), x, None, False, training)
                    calls.append(on_engine(call) if python_loop else call)
                ours, *theirs = interleaved_ms(calls, repeats, synchronize)
                ratios = ", ".join(f"{ours / t:4.2f}× {label}" for t, (label, _, _) in zip(theirs, others, strict=True))
                cells.append(f"{ours:8.1f} ms ({ratios})")
            rows.append([f"{name}, {'training step' if training else 'inference'}", *cells])
    print_table("Head to head (each row timed in one interleaved loop)",
                ["layer", *(f"N,T,F,H={','.join(map(str, s))}" for s in sizes)], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="only the smallest size, 3 repeats")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default=None, metavar="TEXT",
                        help="only the layers whose name contains TEXT (case-insensitive), e.g. 'peephole'")
    parser.add_argument("--no-parallel", action="store_true", help="skip the parallel-layer and memory tables")
    parser.add_argument("--no-compiled", action="store_true", help="skip the torch.compile table")
    parser.add_argument("--head-to-head-only", action="store_true",
                        help="only Table 5 (each layer against the layers it is compared with)")
    args = parser.parse_args()
    variants = {name: value for name, value in VARIANTS.items()
                if args.only is None or args.only.lower() in name.lower()}
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes, repeats = (SIZES[2:], 3) if args.quick else (SIZES, args.repeats)
    device = torch.device(args.device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"torch {torch.__version__}, {where}, float32, median of {repeats}, ours and baseline interleaved")
    torch.manual_seed(0)
    if args.head_to_head_only:
        head_to_head_table(sizes, repeats, device, synchronize, args.only)
        return

    for training in (True, False):
        rows = []
        results: dict[tuple[str, tuple[int, ...]], tuple[float, float]] = {}
        for size in sizes:
            N, T, F, H = size
            x = torch.randn(N, T, F, device=device)
            lengths = torch.randint(T // 2, T + 1, (N,))
            lengths[0] = T
            for name, (build, baseline, options) in variants.items():
                ours = build(F, H).to(device)
                theirs = BASELINES[baseline](F, H).to(device)
                given = lengths if "lengths" in options else None
                calls = [make_call(ours, x, given, "states" in options, training),
                         make_call(theirs, x, given, False, training)]
                if "states" in options:   # the same layer without states, timed in the same loop
                    calls.append(make_call(ours, x, given, False, training))
                results[name, size] = tuple(interleaved_ms(calls, repeats, synchronize))
        for name, (_, baseline, options) in variants.items():
            cells = []
            for size in sizes:
                ours, theirs = results[name, size][:2]
                cells.append(f"{ours:8.1f} ms ({ours / theirs:4.2f}×)")
            extra = ""
            if "states" in options:
                extra = " ".join(f"{results[name, s][0] / results[name, s][2]:4.2f}×" for s in sizes)
            rows.append([name, *cells, (baseline + " + packing") if "lengths" in options else baseline, extra])
        header = ["layer", *(f"N,T,F,H={','.join(map(str, s))}" for s in sizes), "baseline",
                  "states / no states"]
        print_table("Training step (forward + backward)" if training else "Inference (forward, no_grad)",
                    header, rows)

    head_to_head_table(sizes, repeats, device, synchronize, args.only)
    if not args.no_compiled:
        compiled_table(sizes[0], repeats, device, synchronize)
    if args.no_parallel:
        return
    N, T, F, H = PARALLEL_SIZE if not args.quick else (16, 200, 64, 256)
    x = torch.randn(N, T, F, device=device)
    lstm = BASELINES["torch.nn.LSTM"](F, H).to(device)
    rows = []
    for name, build in PARALLEL.items():
        ours = build(F, H).to(device)
        mine, theirs = interleaved_ms([make_call(ours, x, None, False, True), make_call(lstm, x, None, False, True)],
                                      max(3, repeats // 2), synchronize)
        rows.append([name, f"{mine:8.1f} ms", f"{theirs:8.1f} ms", f"{theirs / mine:5.1f}× faster"])
    print_table(f"Parallel-in-time layers, training step at (N, T, F, H) = {(N, T, F, H)}",
                ["layer", "ours", "torch.nn.LSTM", "speed-up"], rows)

    rows = []
    N, T, F, H = sizes[0]
    x = torch.randn(N, T, F, device=device)
    memory_variants = {"LSTM peephole": VARIANTS["LSTM peephole"][0], "GRU reset=before": VARIANTS["GRU reset=before"][0],
                       "MGU": VARIANTS["MGU"][0], "LSTM layer norm": VARIANTS["LSTM layer norm"][0],
                       "Jordan": VARIANTS["Jordan"][0], "LSTM (native)": VARIANTS["LSTM (native)"][0], **PARALLEL}
    lstm = BASELINES["torch.nn.LSTM"](F, H).to(device)
    reference = saved_bytes(lstm, x)
    reference_peak = cuda_peak_bytes(lstm, x) if device.type == "cuda" else None
    for name, build in memory_variants.items():
        module = build(F, H).to(device)
        kept = saved_bytes(module, x)
        row = [name, f"{kept / 2**20:7.1f} MiB", f"{kept / reference:4.2f}×"]
        if reference_peak is not None:
            peak = cuda_peak_bytes(module, x)
            row += [f"{peak / 2**20:7.1f} MiB", f"{peak / reference_peak:4.2f}×"]
        rows.append(row)
    header = ["layer", "kept for backward", "vs torch.nn.LSTM"]
    if reference_peak is not None:
        header += ["CUDA peak of a step", "vs torch.nn.LSTM"]
    print_table(f"Training memory at {(N, T, F, H)} (torch.nn.LSTM keeps {reference / 2**20:.1f} MiB)", header, rows)


if __name__ == "__main__":
    main()
