"""One epoch of MNIST-sized batches: convrnn's ImageDataset against a plain PyTorch DataLoader.

    python benchmarks/data_loading.py [--images 60000] [--batch-size 128] [--repeats 3]
                                      [--threads 2] [--real]

Baseline: ``DataLoader(TensorDataset(images, labels), batch_size, shuffle=True)``, the usual
PyTorch way to batch in-memory tensors. Each row is the median time of one full epoch over
``--repeats`` rounds (each round times every case once, so load from other processes hits all
cases alike) divided by the baseline's median in the same run. Random shifts have no
PyTorch-native counterpart, so their rows show what the augmentation costs on top of batching.
``--real`` uses the cached real MNIST train split instead of random images of the same shape;
``--cpu-time`` measures CPU seconds of this process, for a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from _timing import median_time, print_table
from convrnn.data.image_dataset import ImageDataset


def epoch(batches) -> None:
    for images, labels in batches:
        images.sum()  # touch the data, as a model would
        labels.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time this process's CPU seconds instead of wall seconds (fairer "
                             "on a machine shared with other jobs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.real:
        from convrnn.data.mnist import MNIST

        images, labels = MNIST("train").tensors
    else:
        images = torch.rand(args.images, 1, 28, 28)
        labels = torch.randint(0, 10, (args.images,))

    native = DataLoader(TensorDataset(images, labels), batch_size=args.batch_size, shuffle=True)
    plain = ImageDataset(images, labels, classes=[str(k) for k in range(10)])
    shifted = ImageDataset(images, labels, classes=[str(k) for k in range(10)], random_shift=2)
    cases = {
        "ImageDataset.batches": lambda: epoch(plain.batches(args.batch_size, shuffle=True)),
        "DataLoader(ImageDataset)": lambda: epoch(
            DataLoader(plain, batch_size=args.batch_size, shuffle=True)),
        "DataLoader(ImageDataset, BatchSampler)": lambda: epoch(
            DataLoader(plain, batch_size=None, sampler=BatchSampler(
                RandomSampler(plain), args.batch_size, drop_last=False))),
        "ImageDataset.batches, random_shift=2": lambda: epoch(
            shifted.batches(args.batch_size, shuffle=True)),
        "DataLoader(ImageDataset, random_shift=2)": lambda: epoch(
            DataLoader(shifted, batch_size=args.batch_size, shuffle=True)),
    }
    # Rounds interleave every case, so that load from other processes hits them all alike.
    runs = {"baseline": lambda: epoch(native), **cases}
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            if args.cpu_time:
                start = time.process_time()
                run()
                times[name].append(time.process_time() - start)
            else:
                times[name].append(median_time(run, repeats=1, warmup=0))
    baseline = statistics.median(times["baseline"])
    rows = [(name, statistics.median(times[name]), baseline) for name in cases]
    clock = "CPU time" if args.cpu_time else "wall time"
    print_table(f"one epoch, {len(images)} images, batch {args.batch_size}, "
                f"{args.threads} threads, {clock} (ratio < 1: faster than the baseline)", rows,
                "DataLoader(TensorDataset)")


if __name__ == "__main__":
    main()
