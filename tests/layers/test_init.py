"""`convrnn.layers` shows every layer: each public name of its modules is exported there and listed
in the README's "Layers" table, so a new public name without documentation fails here."""

import importlib
import re
from pathlib import Path

import convrnn.layers

README = Path(__file__).resolve().parents[2] / "README.md"
MODULES = ["attention", "blocks", "columns", "conv", "ctc", "maxout", "pool", "recurrent", "time_norm"]


def documented_names() -> list[str]:
    """The backticked names in the last column of the README's "Layers" table."""
    section = README.read_text().split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and "`" in line]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.rstrip(" |").rsplit("|", 1)[1])]


def test_every_public_name_of_the_layer_modules_is_exported():
    public = {name for module in MODULES
              for name in importlib.import_module(f"convrnn.layers.{module}").__all__}
    assert set(convrnn.layers.__all__) == public
    for name in convrnn.layers.__all__:
        assert getattr(convrnn.layers, name) is not None


def test_the_parallel_layers_import_from_convrnn_layers():
    from convrnn.layers import QRNN, MinGRU, MinLSTM, ParallelRNN
    from convrnn.layers.recurrent import parallel

    assert MinGRU is parallel.MinGRU and all(issubclass(layer, ParallelRNN) for layer in (MinGRU, MinLSTM, QRNN))


def test_the_readme_lists_exactly_the_exported_names_once():
    names = documented_names()
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
    assert set(names) == set(convrnn.layers.__all__), (
        f"undocumented: {sorted(set(convrnn.layers.__all__) - set(names))}; "
        f"documented but not exported: {sorted(set(names) - set(convrnn.layers.__all__))}")
