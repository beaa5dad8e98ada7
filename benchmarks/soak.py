"""Soak: train a small recipe for N epochs while killing it (SIGKILL) at random moments K times, resuming
each time with ``--resume``; then check that the final model equals an uninterrupted run's bit for bit, and
report the peak resident memory of every start (it must not grow from restart to restart).

    python benchmarks/soak.py                      # digits (sklearn's 8×8 digits, in the cache), 6 epochs, 4 kills
    python benchmarks/soak.py --epochs 10 --kills 8 --seed 3
    python benchmarks/soak.py --synthetic --epochs 2 --kills 1     # generated data, no cache needed (CI)

Each start is a fresh process (``convrnn train``, or with ``--synthetic`` this script's own child mode on
generated 8×8 digits); a kill lands at a uniformly random moment of the uninterrupted run's duration, so
some land while a checkpoint is being written. The exit status is 0 only if the models are equal.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _synthetic_child(out: str, epochs: int, resume: bool) -> None:
    """Train the digits CNN on generated 8×8 digits into ``out`` (this script's child mode)."""
    import torch

    from convrnn.data.image_dataset import ImageDataset
    from convrnn.tasks.image import ImageRecipe, train_recipe

    torch.set_num_threads(1)

    def digits(split: str, *, normalize: bool = False, random_shift: int = 0) -> ImageDataset:
        count = {"train": 320, "validation": 64, "test": 64}[split]
        generator = torch.Generator().manual_seed({"train": 0, "validation": 1, "test": 2}[split])
        labels = torch.arange(count) % 10
        images = 0.1 * torch.rand(count, 1, 8, 8, generator=generator)
        for i, k in enumerate(labels.tolist()):
            images[i, 0, k % 8, :] += 0.8
            if k >= 8:
                images[i, 0, :, k - 6] += 0.8
        mean, std = (0.2, 0.3) if normalize else (None, None)
        return ImageDataset(images.clamp(0, 1), labels, classes=[str(i) for i in range(10)], mean=mean, std=std,
                            random_shift=random_shift)

    recipe = ImageRecipe(name="digits", description="synthetic", dataset=digits, model="digits-cnn", epochs=epochs,
                         batch_size=16, lr=3e-3, scheduler="none", random_shift=1)
    train_recipe(recipe, out, progress=False, resume=resume)


def _command(args: argparse.Namespace, out: Path, resume: bool) -> list[str]:
    if args.synthetic:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--epochs", str(args.epochs)]
    else:
        command = [sys.executable, "-m", "convrnn", "train", args.recipe, "--out", str(out), "--epochs",
                   str(args.epochs), "--no-progress", "--seed", "0"]
        if args.limit:
            command += ["--limit", str(args.limit)]
    return command + (["--resume"] if resume else [])


def _run(command: list[str], kill_after: float | None) -> tuple[int, float, int]:
    """Run ``command``, SIGKILLed after ``kill_after`` seconds if given and still running: (status, seconds,
    peak resident memory in MiB)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), environment.get("PYTHONPATH", "")])
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, -signal.SIGKILL):
        raise SystemExit(f"soak: a start failed with status {process.returncode}:\n{errors}")
    peak = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return process.returncode, time.monotonic() - started, round(peak)


def _weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(out / "model" / "model.safetensors"))


def soak(args: argparse.Namespace) -> bool:
    """The soak itself; prints its report and returns whether the models are equal."""
    work = Path(tempfile.mkdtemp(prefix="convrnn-soak-", dir=args.workdir))
    try:
        reference = work / "uninterrupted"
        status, duration, reference_peak = _run(_command(args, reference, False), None)
        print(f"uninterrupted: {args.epochs} epochs in {duration:.1f} s, peak RSS {reference_peak} MiB")
        rng = random.Random(args.seed)
        out, peaks, kills, starts = work / "interrupted", [], 0, 0
        while True:
            resume = (out / "checkpoints" / "last").exists() or (out / "checkpoints" / ".last.previous").exists()
            if not resume and out.exists():
                shutil.rmtree(out)   # killed before its first checkpoint: nothing to resume, start afresh
            kill_after = rng.uniform(0.1, 0.9) * duration if kills < args.kills else None
            status, seconds, peak = _run(_command(args, out, resume), kill_after)
            starts += 1
            peaks.append(peak)
            killed = status == -signal.SIGKILL
            kills += killed
            print(f"start {starts}{' (resumed)' if resume else ''}: "
                  f"{'killed after ' if killed else 'finished in '}{seconds:.1f} s, peak RSS {peak} MiB")
            if not killed:
                break
        expected, got = _weights(reference), _weights(out)
        equal = expected.keys() == got.keys() and all(
            expected[k].dtype == got[k].dtype and expected[k].shape == got[k].shape
            and expected[k].view(-1).view(dtype=_bits(expected[k])).equal(got[k].view(-1).view(dtype=_bits(got[k])))
            for k in expected)
        print(f"final model after {kills} kills and {starts} starts equals the uninterrupted run's: "
              f"{'yes, bit for bit' if equal else 'NO'} ({len(expected)} tensors)")
        growth = max(peaks) - peaks[0]
        print(f"peak RSS across restarts: {max(peaks)} MiB (first start {peaks[0]} MiB, uninterrupted "
              f"{reference_peak} MiB; growth over restarts {growth:+d} MiB)")
        return equal
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _bits(tensor) -> object:
    import torch

    return {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[tensor.element_size()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="digits", help="the recipe to train (default digits)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--kills", type=int, default=4, help="how many times to SIGKILL a start (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N examples only")
    parser.add_argument("--synthetic", action="store_true", help="generated digits (no data cache needed)")
    parser.add_argument("--workdir", default=None, help="where the two run directories go (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _synthetic_child(args.child, args.epochs, args.resume)
        return 0
    if args.epochs < 1 or args.kills < 0:
        parser.error("--epochs must be ≥ 1 and --kills ≥ 0")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # a killed child dumps no core
    return 0 if soak(args) else 1


if __name__ == "__main__":
    sys.exit(main())
