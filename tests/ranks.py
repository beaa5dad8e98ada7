"""Start the processes of a torchrun-like launch of the command line, as the tests of issue 22 need.

Each rank is a plain ``python -c`` process given torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) on 127.0.0.1, so the test
sees each process's own exit status and output; one process is a plain run without them.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

# Runs ``convrnn.cli.main(argv)`` in one process. ``exact`` turns dropout off (each rank draws its
# own dropout masks, so only a model without them can match one process's weights) and trains
# without a schedule (so that a run can be resumed for more epochs).
WORKER = """
import sys
import torch
torch.set_num_threads(1)
if {exact}:
    from dataclasses import replace
    import convrnn.recipes.digits as digits
    torch.nn.Dropout.forward = lambda self, x: x
    digits.RECIPE = replace(digits.RECIPE, scheduler="none")
from convrnn.cli import main
sys.exit(main({argv!r}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def plant_digits(cache: Path) -> Path:
    """A fetched ``digits`` data set in ``cache`` (1,797 rows like scikit-learn's) whose ten classes
    are easy: class k lights row k mod 8 (and column k − 6 for k ≥ 8) over noise."""
    from convrnn.data.catalog import get_source
    from convrnn.data.fetch import MANIFEST

    rng = np.random.default_rng(0)
    labels = np.arange(1797) % 10
    images = rng.integers(0, 4, (1797, 8, 8))
    for row, label in enumerate(labels):
        images[row, label % 8, :] += 12
        if label >= 8:
            images[row, :, label - 6] += 12
    table = np.concatenate([images.reshape(1797, 64).clip(0, 16), labels[:, None]], 1)
    text = "\n".join(",".join(str(v) for v in row) for row in table) + "\n"
    directory = cache / "digits"
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "digits.csv.gz").write_bytes(gzip.compress(text.encode()))
    manifest = {"name": "digits", "sha256": get_source("digits").sha256, "files": ["data/digits.csv.gz"]}
    (directory / MANIFEST).write_text(json.dumps(manifest))
    return cache


def environment(cache: Path) -> dict[str, str]:
    """This process's environment without torchrun's variables, with ``cache`` as the data cache."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {key: value for key, value in os.environ.items() if key not in names}
    source = str(Path(__file__).resolve().parents[1] / "src")
    env |= {"CONVRNN_CACHE": str(cache), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
            "PYTHONPATH": os.pathsep.join([source, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return env


def start(argv: list[str], processes: int, cache: Path, *, exact: bool = False) -> list[subprocess.Popen[str]]:
    """Start ``convrnn argv`` on ``processes`` ranks (1: a plain process, no torchrun variables)."""
    code = WORKER.format(exact=exact, argv=argv)
    base = environment(cache)
    if processes == 1:
        return [subprocess.Popen([sys.executable, "-c", code], env=base, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)]
    port = str(free_port())
    started = []
    for rank in range(processes):
        env = base | {"RANK": str(rank), "WORLD_SIZE": str(processes), "LOCAL_RANK": str(rank),
                      "LOCAL_WORLD_SIZE": str(processes), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        started.append(subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return started


def run(argv: list[str], processes: int, cache: Path, *, exact: bool = False,
        timeout: float = 120) -> list[tuple[int, str, str]]:
    """``(status, stdout, stderr)`` of each rank of ``convrnn argv`` on ``processes`` ranks."""
    started = start(argv, processes, cache, exact=exact)
    try:
        outputs = [process.communicate(timeout=timeout) for process in started]
        return [(process.returncode, *output) for process, output in zip(started, outputs, strict=True)]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
