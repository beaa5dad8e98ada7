"""Building a compiled extension: one line on stderr with its time (once), an atomic cache that a
second process loads silently, and `convrnn build-core` that builds ahead."""

import re
import warnings

import pytest

from convrnn import _extensions
from convrnn.cli import main

TINY = """
#include <pybind11/pybind11.h>
int twice(int x) { return 2 * x; }
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("twice", &twice); }
"""

needs_toolchain = pytest.mark.skipif(not _extensions.toolchain_present(), reason="no C++ compiler/ninja")


@needs_toolchain
def test_a_build_says_so_in_one_line_with_its_time_and_a_cached_load_says_nothing(tmp_path, monkeypatch, capfd):
    source = tmp_path / "tiny.cpp"
    source.write_text(TINY)
    monkeypatch.setenv("CONVRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVRNN_NO_COMPILE", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # a failed build warns and returns None
        module = _extensions.load_extension("convrnn_tiny", source, what="tiny kernel", fallback="none")
    assert module.twice(21) == 42
    stderr = capfd.readouterr().err
    assert re.fullmatch(r"convrnn: building the tiny kernel \(once; cached in .*/cache/extensions/torch-[^ ]+\) \.\.\. "
                        r"done in \d+ s\n", stderr), stderr
    again = _extensions.load_extension("convrnn_tiny", source, what="tiny kernel", fallback="none")
    assert again.twice(4) == 8
    assert capfd.readouterr().err == ""
    assert len(list((tmp_path / "cache" / "extensions").glob("*/convrnn_tiny_*.so"))) == 1


def test_without_a_toolchain_one_warning_names_what_is_missing_and_the_fallback(tmp_path, monkeypatch):
    source = tmp_path / "tiny.cpp"
    source.write_text(TINY)
    monkeypatch.delenv("CONVRNN_NO_COMPILE", raising=False)
    with pytest.warns(RuntimeWarning, match=r"no C\+\+ compiler and ninja found, so the tiny kernel is not built; "
                                            r"the slow path \(install a compiler and ninja, then run `convrnn build-core`\)"):
        assert _extensions.load_extension("convrnn_tiny", source, what="tiny kernel", fallback="the slow path",
                                          toolchain=False) is None


def test_no_compile_switch_builds_nothing_and_stays_quiet(tmp_path, monkeypatch):
    source = tmp_path / "tiny.cpp"
    source.write_text(TINY)
    monkeypatch.setenv("CONVRNN_NO_COMPILE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _extensions.load_extension("convrnn_tiny", source, what="tiny kernel", fallback="none") is None


@needs_toolchain
def test_build_core_builds_every_kernel_ahead(capsys):
    assert main(["build-core"]) == 0
    assert capsys.readouterr().out.splitlines() == ["recurrent core: built", "word2vec kernel: built",
                                                    "stream kernel: built"]


def test_build_core_without_a_toolchain_is_one_line_and_status_2(monkeypatch, capsys):
    from convrnn.layers.recurrent import _compiled
    from convrnn.models.word2vec import compiled
    from convrnn.stream import native

    monkeypatch.setattr(_compiled, "load", lambda: None)
    monkeypatch.setattr(compiled, "load", lambda: None)
    monkeypatch.setattr(native, "load", lambda: None)
    assert main(["build-core"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["recurrent core: not built", "word2vec kernel: not built",
                                         "stream kernel: not built"]
    assert captured.err.startswith("convrnn: error: build-core: the compiled kernels need a C++ compiler and ninja")
    assert captured.err.count("\n") == 1


@pytest.mark.slow   # a real build (about 30 s; the lock is the one the concurrent-fetch test runs in CI)
@needs_toolchain
def test_two_processes_building_the_same_extension_at_once_build_it_once_and_both_load_it(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    source = tmp_path / "tiny.cpp"
    source.write_text(TINY)
    script = ("import sys, time\nfrom pathlib import Path\nfrom convrnn import _extensions\n"
              "while not Path(sys.argv[2]).exists():\n    time.sleep(0.01)\n"
              "module = _extensions.load_extension('convrnn_tiny', Path(sys.argv[1]), what='tiny kernel', "
              "fallback='none')\nprint(module.twice(21))\n")
    environment = {**os.environ, "CONVRNN_CACHE": str(tmp_path / "cache"), "PYTHONWARNINGS": "error::RuntimeWarning",
                   "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    environment.pop("CONVRNN_NO_COMPILE", None)
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", script, str(source), str(go)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=environment) for _ in range(2)]
    go.touch()
    results = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert [out for out, _ in results] == ["42\n", "42\n"]
    builds = [err for _, err in results if "building the tiny kernel" in err]
    assert len(builds) == 1, results   # the second process waited on the lock and loaded the first one's build
    libraries = list((tmp_path / "cache" / "extensions").glob("*/convrnn_tiny_*.so"))
    assert len(libraries) == 1
    assert not list((tmp_path / "cache" / "extensions").glob("*/build-*"))
