"""Alignment heat maps: a PNG of the right size for the tokens, clear errors for bad weights."""

import numpy as np
import pytest
import torch

from convrnn.inspect.alignment import plot_alignment, save_alignment

pytest.importorskip("matplotlib")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_alignment_png_grows_with_the_tokens(tmp_path):
    weights = torch.softmax(torch.randn(3, 5), dim=-1)
    small = plot_alignment(weights, list("cater"), ["K", "EY", "T"])
    wide = plot_alignment(np.full((3, 10), 0.1), list("catalogues"), ["K", "AE", "T"], title="catalogues")
    assert _png_size(wide)[0] > _png_size(small)[0]
    path = save_alignment(tmp_path / "a" / "cat.png", weights, list("cater"), ["K", "EY", "T"])
    assert path.read_bytes().startswith(b"\x89PNG")


def test_bad_weights_name_the_argument():
    with pytest.raises(ValueError, match=r"'weights' expected shape \(len\(target\)=2, len\(source\)=3\)"):
        plot_alignment(np.ones((3, 2)) / 2, list("abc"), ["A", "B"])
    with pytest.raises(ValueError, match="'weights' expected attention weights in \\[0, 1\\]"):
        plot_alignment(np.full((2, 3), 2.0), list("abc"), ["A", "B"])


def test_plotting_leaves_the_users_matplotlib_alone():
    """A plot is drawn on a free-standing figure: the user's backend (a notebook's inline one) is not switched and no
    figure is left in pyplot's list (it was switched to Agg for good, silencing every later plt.show())."""
    import subprocess
    import sys

    script = (
        "import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot as plt\n"
        "from convrnn.inspect import plot_alignment\n"
        "png = plot_alignment([[1.0, 0.0], [0.3, 0.7]], ['a', 'b'], ['x', 'y'])\n"
        "assert png[:8] == b'\\x89PNG\\r\\n\\x1a\\n', png[:8]\n"
        "print(matplotlib.get_backend(), plt.get_fignums())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "[]"]
