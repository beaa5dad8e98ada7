"""The house's floors (DESIGN.md): each imports only the floors below it. ``training/`` is the loop
and knows no task, ``inspect/`` takes a model and data and knows no task, ``tasks/`` knows no
recipe, ``nn/`` (torch.nn's recurrent modules) rides on ``layers/`` alone — checked on every
import statement, function-level ones included."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convrnn"
FORBIDDEN = {
    "nn": ("convrnn.models", "convrnn.data", "convrnn.training", "convrnn.inspect", "convrnn.tasks",
           "convrnn.recipes", "convrnn.cli"),
    "training": ("convrnn.tasks", "convrnn.recipes", "convrnn.cli"),
    "inspect": ("convrnn.tasks", "convrnn.recipes", "convrnn.cli"),
    "tasks": ("convrnn.recipes", "convrnn.cli"),
}


def imported_modules(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module an ``import`` or ``from … import`` in the file names (relative imports resolved);
    ``root`` is the package directory the file lies in."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_import_scan_sees_function_level_and_relative_imports(tmp_path):
    probe = tmp_path / "convrnn" / "training" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("import os\n\ndef f():\n    from convrnn.tasks import Task\n    from . import fit\n")
    assert imported_modules(probe, tmp_path / "convrnn") == {
        "os", "convrnn.tasks", "convrnn.tasks.Task", "convrnn.training", "convrnn.training.fit"}


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_a_floor_imports_nothing_from_the_floors_above_it(floor):
    offending = []
    for path in sorted((PACKAGE / floor).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if any(module == above or module.startswith(above + ".") for above in FORBIDDEN[floor]):
                offending.append(f"{path.relative_to(PACKAGE)}: {module}")
    assert not offending, offending


def test_training_holds_no_task_runner():
    assert not sorted((PACKAGE / "training").glob("*_recipe.py"))
