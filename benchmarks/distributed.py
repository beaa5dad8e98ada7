"""Training throughput of ``convrnn train`` on 1 process against P processes under torchrun.

Each recipe's command runs as a plain process and as
``python -m torch.distributed.run --nproc_per_node=P -m convrnn train …`` (DDP: gloo on the CPU,
NCCL with one GPU per process). The samples/s are those the run logs itself (``log.csv``: every
rank's samples over the epoch's wall time), the median over the epochs after the first (which pays
for the first batches' allocations).

On the CPU each recipe runs three ways: one process with all ``--threads``, one process with
``threads / P`` (what each of the P processes gets) and P processes with ``threads / P`` each. The
speed-up compares P processes with the first (the same cores), the efficiency with P times the
second (DDP's all-reduce and the smaller per-process batches are what it loses). With 2 cores the
expected scaling is at most 2×; on a machine shared with other work, several threads per process
can lose far more to waiting for each other than DDP costs. With CUDA, P is the number of GPUs
(one process each); with one GPU there is nothing to compare, and the script runs 1 process only
and says so.

    python benchmarks/distributed.py [--recipes digits japanese-vowels] [--epochs 4] [--processes 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# a conv and a recurrent recipe, with the --limit that keeps an epoch a few seconds on 2 cores
RECIPES = {"digits": ["--limit", "1024"], "japanese-vowels": [], "mnist": ["--limit", "4096"],
           "shakespeare": ["--limit", "300000"]}


def train(recipe: str, processes: int, threads: int, device: str, epochs: int, out: Path) -> tuple[float, float]:
    """(median samples/s after the first epoch, wall seconds) of one ``convrnn train`` run."""
    command = ["-m", "convrnn", "train", recipe, "--out", str(out), "--epochs", str(epochs), "--no-progress",
               "--device", device, *RECIPES.get(recipe, [])]
    if processes > 1:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *command]
    env = os.environ | {"OMP_NUM_THREADS": str(max(1, threads // processes))}  # threads of each process
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if finished.returncode:
        raise SystemExit(f"distributed.py: {recipe} on {processes} process(es) failed:\n{finished.stderr[-2000:]}")
    with open(out / "log.csv") as handle:
        rates = [float(row["samples_per_s"]) for row in csv.DictReader(handle)]
    return statistics.median(rates[1:] or rates), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=["digits", "japanese-vowels"], choices=sorted(RECIPES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2, help="processes of the launch on the CPU")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    processes = args.processes
    if args.device == "cuda":
        processes = torch.cuda.device_count()
        print(f"{processes} GPU(s): {torch.cuda.get_device_name(0)}"
              + ("; one GPU, so one process only (nothing to compare)" if processes == 1 else ""))
    print(f"{os.cpu_count()} CPU cores, {args.threads} threads in all, device {args.device}, "
          f"torch {torch.__version__}, {args.epochs} epochs (median samples/s of epochs 2…)")
    print(f"{'recipe':<16} {'processes':>9} {'threads':>7} {'samples/s':>10} {'wall s':>7} {'speed-up':>8} "
          f"{'efficiency':>10}")
    share = max(1, args.threads // processes)
    for recipe in args.recipes:
        with tempfile.TemporaryDirectory() as scratch:
            single, wall = train(recipe, 1, args.threads, args.device, args.epochs, Path(scratch) / "one")
            print(f"{recipe:<16} {1:>9} {args.threads:>7} {single:>10.0f} {wall:>7.1f} {'1.00×':>8}", flush=True)
            if processes == 1:
                continue
            narrow, wall = train(recipe, 1, share, args.device, args.epochs, Path(scratch) / "narrow")
            print(f"{recipe:<16} {1:>9} {share:>7} {narrow:>10.0f} {wall:>7.1f} {narrow / single:>7.2f}×", flush=True)
            many, wall = train(recipe, processes, args.threads, args.device, args.epochs, Path(scratch) / "many")
            print(f"{recipe:<16} {processes:>9} {share:>7} {many:>10.0f} {wall:>7.1f} {many / single:>7.2f}× "
                  f"{100 * many / (processes * narrow):>9.0f} %", flush=True)

if __name__ == "__main__":
    main()
