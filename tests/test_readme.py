"""The README's example runs as written and prints the shapes its comments promise."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_keeps_its_promised_shapes():
    code = README.read_text().split("## Ten lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert tuple(namespace["y"].shape) == (8, 16, 16, 16)
    assert tuple(namespace["m"].shape) == (8, 16, 16, 16)
    assert tuple(namespace["net"](namespace["x"]).shape) == (8, 64, 16, 16)
    assert tuple(namespace["out"].shape) == (4, 50, 128)
    h_all, c_all = namespace["states"]
    assert tuple(h_all.shape) == (4, 50, 2, 128) and tuple(c_all.shape) == (4, 50, 2, 128)
    assert h_all[3, 1:].abs().sum() == 0  # the length-1 sequence has no state past its end


def test_readme_from_torch_nn_example_runs_and_keeps_its_promised_shapes():
    code = README.read_text().split("## From torch.nn", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert tuple(namespace["output"].shape) == (50, 4, 64)
    assert tuple(namespace["h_all"].shape) == (50, 4, 2, 64)   # (L, N, layers, H), time-major as torch
    assert namespace["h_all"][1:, 3].abs().sum() == 0          # the length-1 sequence stops after a step
    assert tuple(namespace["h_last"].shape) == (1, 4, 64) and tuple(namespace["c"].shape) == (4, 64)


def _deploy_section():
    return README.read_text().split("## Export and deploy", 1)[1].split("\n## ", 1)[0]


def test_readme_export_tables_are_the_tested_cases():
    """The support tables say what the compile/export tests run (tests/deploy_cases.py), no more."""
    from deploy_cases import recipe_table, support_table

    lines = [line for line in _deploy_section().splitlines() if line.startswith("|")]
    assert lines == support_table() + recipe_table()


def test_readme_export_example_runs(tmp_path, monkeypatch):
    import pytest

    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    code = _deploy_section().split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["y"].shape == (3, 40, 16) and namespace["c"].shape == (1, 3, 16)
    assert (tmp_path / "lstm.onnx.json").is_file()
