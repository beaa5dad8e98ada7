"""The issue's conv/pool speed table in one run: ``benchmarks/conv.py`` (every boundary, 'same' with
stride 2) then ``benchmarks/pool.py`` (every pooling kind), each printing its ratio table.

    python benchmarks/conv_pool.py [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for script in ("conv.py", "pool.py"):
        command = [sys.executable, str(HERE / script), "--threads", str(args.threads), "--repeats", str(args.repeats)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
