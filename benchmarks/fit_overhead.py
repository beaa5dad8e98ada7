"""What ``convrnn.training.fit`` costs per epoch compared with a hand-written PyTorch loop.

The MNIST model of the seeds (conv 32 and 64 filters 5×5 'same' + ReLU + 2×2 max-pool twice,
FC 128, FC 10; Adam 1e-3, batch 128) on synthetic data of MNIST's shape, so the numbers do not
depend on a download. Every variant trains the same model on the same loader; variants are
interleaved within each repeat (in a rotating order) so a busy machine slows them alike, and
the table reports the median over repeats. The target (issue 5) is a ratio ≤ 1.10.

    python benchmarks/fit_overhead.py [--batches 40] [--repeats 5] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from convrnn.training import Accuracy, ProgressBar, fit

BATCH = 128


def mnist_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def synthetic_mnist(images: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(images, 1, 28, 28, generator=generator)
    targets = torch.randint(10, (images,), generator=generator)
    return TensorDataset((inputs - 0.1307) / 0.3081, targets)


def hand_loop(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
              device: torch.device) -> None:
    """The baseline: the loop every PyTorch tutorial writes."""
    loss_function = nn.CrossEntropyLoss()
    model.train()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_function(model(inputs), targets)
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="batches of 128 per epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    device = torch.device(arguments.device)
    data = synthetic_mnist(arguments.batches * BATCH)

    def loader() -> DataLoader:
        return DataLoader(data, batch_size=BATCH, shuffle=True,
                          generator=torch.Generator().manual_seed(0))

    def setup() -> tuple[nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = mnist_model().to(device)
        return model, torch.optim.Adam(model.parameters(), lr=1e-3)

    devnull = open(os.devnull, "w")  # noqa: SIM115 — the bar draws as on a terminal, unseen
    variants: dict[str, Callable[[], None]] = {}
    hand_model, hand_optimizer = setup()
    hand_loader = loader()
    variants["hand-written loop"] = lambda: hand_loop(hand_model, hand_loader, hand_optimizer,
                                                      device)
    bare_model, bare_optimizer = setup()
    bare_loader = loader()
    variants["fit (no metrics, no bar)"] = lambda: fit(
        bare_model, bare_loader, loss=nn.CrossEntropyLoss(), optimizer=bare_optimizer, epochs=1,
        device=device, progress=False)
    full_model, full_optimizer = setup()
    full_loader = loader()
    variants["fit (accuracy + live bar)"] = lambda: fit(
        full_model, full_loader, loss=nn.CrossEntropyLoss(), optimizer=full_optimizer, epochs=1,
        device=device, metrics={"accuracy": Accuracy()},
        callbacks=[ProgressBar(live=True, file=devnull)])
    dataset_model, dataset_optimizer = setup()
    variants["fit (Dataset → make_loader)"] = lambda: fit(
        dataset_model, data, batch_size=BATCH, loss=nn.CrossEntropyLoss(),
        optimizer=dataset_optimizer, epochs=1, device=device,
        metrics={"accuracy": Accuracy()}, progress=False)

    for run in variants.values():  # warm-up: allocator, kernels, first-call imports
        run()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(arguments.repeats):
        # rotate the order each repeat, so no variant always follows the same one
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            run = variants[name]
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[name].append(time.perf_counter() - started)
    devnull.close()

    images = arguments.batches * BATCH
    baseline = statistics.median(seconds["hand-written loop"])
    print(f"fit overhead: MNIST CNN, {images} synthetic images/epoch, batch {BATCH}, Adam, "
          f"{arguments.threads} threads, {device}, torch {torch.__version__}, "
          f"median of {arguments.repeats}")
    print(f"| {'variant':<30} | {'s/epoch':>8} | {'images/s':>9} | {'× hand loop':>11} |")
    print(f"|{'-' * 32}|{'-' * 10}|{'-' * 11}|{'-' * 13}|")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"| {name:<30} | {median:>8.3f} | {images / median:>9,.0f} | "
              f"{median / baseline:>11.3f} |")


if __name__ == "__main__":
    main()
