"""The documentation site (docs/): every public name has a reference entry, every CLI sub-command a
section with an example, and the built site — opened in headless Chromium — shows rendered math and
its figures, with nothing fetched from the network.

The generator (docs/_ext/convrnn_docs.py) needs no Sphinx, so the coverage of the generated pages is
checked on every run; the built site is checked where it was built (CI builds it first:
``sphinx-build -W --keep-going docs docs/_build/html``, or set CONVRNN_DOCS_SITE to another folder).
"""

import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("CONVRNN_DOCS_SITE", ROOT / "docs" / "_build" / "html"))
TUTORIALS = ["convolution", "mnist_cnn", "recurrence", "gated_cells", "sequence_tasks", "word_embeddings",
             "parallel_in_time", "cnn_zoo"]
GUIDES = ["export", "streaming", "gpu", "torchrun"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _generator():
    spec = importlib.util.spec_from_file_location("convrnn_docs", ROOT / "docs" / "_ext" / "convrnn_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _public_names():
    """(module, name, object) for every name of every public module's __all__."""
    generator = _generator()
    for module_name in generator.public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            yield module_name, name, getattr(module, name)


def _site():
    if not (SITE / "index.html").exists():
        if os.environ.get("CONVRNN_DOCS_SITE"):
            pytest.fail(f"CONVRNN_DOCS_SITE={SITE} holds no built site")
        pytest.skip(f"the site is not built at {SITE}: sphinx-build -W --keep-going docs docs/_build/html")
    return SITE


def _inventory(site):
    """{dotted name: (role, page)} from Sphinx's objects.inv (4 header lines, then zlib text)."""
    data = (site / "objects.inv").read_bytes()
    body = zlib.decompress(data.split(b"\n", 4)[4]).decode()
    entries = {}
    for line in body.splitlines():
        match = re.match(r"(\S+)\s+(\S+):(\S+)\s+(-?\d+)\s+(\S+)\s+(.*)", line)
        if match and match.group(2) == "py":
            entries[match.group(1)] = (match.group(3), match.group(5).replace("$", match.group(1)))
    return entries


def _resolve(dotted):
    """The object a dotted name names, by attribute first (``convrnn.functional.conv`` is the function that
    shadows the module of that name), importing a submodule only where no attribute has the name."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for index, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[:index]))
        except ImportError:
            return None
    return obj


def test_generated_reference_names_every_public_name(tmp_path):
    generator = _generator()
    modules = generator.generate(tmp_path)
    pages = {module: (tmp_path / "api" / f"{module}.rst").read_text() for module in modules}
    documented = {}
    for text in pages.values():
        for directive, target in re.findall(r"^\.\. (autoclass|autofunction):: (\S+)", text, re.M):
            documented[target] = directive
        for name, module in re.findall(r"^\.\. py:data:: (\S+)\n   :module: (\S+)$", text, re.M):
            documented[f"{module}.{name}"] = "py:data"
    missing = []
    for module, name, obj in _public_names():
        page = pages[module]
        if inspect.ismodule(obj):
            ok = obj.__name__ in pages
        else:
            homes = [target for target in documented if _resolve(target) is obj]
            ok = bool(homes) and (f"`{name}`" in page or any(f"`~{home}`" in page for home in homes))
        if not ok:
            missing.append(f"{module}.{name}")
    assert not missing, f"public names without a reference entry: {missing}"


def test_cli_reference_has_every_subcommand_with_an_example_that_parses(tmp_path):
    from convrnn.cli import _build_parser

    generator = _generator()
    generator.generate(tmp_path)
    page = (tmp_path / "cli.rst").read_text()
    commands = [name for name, sub, _ in generator._subcommands(_build_parser())]
    assert {"train", "predict", "export", "data fetch"} <= set(commands)
    for name in commands:
        section = page.split(f"\nconvrnn {name}\n")[1].split("\n.. _cli-")[0]
        if name != "data":
            assert "Example:" in section and f"convrnn {name}" in section, name
    with pytest.raises(RuntimeError, match="does not parse"):
        generator._check_example(_build_parser(), "train", "convrnn train mnist --epochs many")


def test_recipe_page_lists_the_registry(tmp_path):
    from convrnn.recipes import RECIPE_NAMES

    _generator().generate(tmp_path)
    page = (tmp_path / "recipes.rst").read_text()
    assert all(f":mod:`{name} <" in page for name in RECIPE_NAMES)


def test_docstring_normaliser_escapes_math_and_separates_indented_equations():
    normalise = _generator().normalise_docstring
    lines = ["The p-norm (Σ |x|^p)^(1/p) of x * y, and ``|literal|``:", "", "Updates", "are", "    h_t = a ∘ h",
             "back."]
    assert normalise(lines) == ["The p-norm (Σ \\|x\\|^p)^(1/p) of x \\* y, and ``|literal|``:", "", "Updates",
                                "are", "", "    h_t = a ∘ h", "", "back."]
    assert normalise(["Shapes:", "    x: (N, T)", "Done."]) == ["Shapes:", "    x: (N, T)", "", "Done."]


def test_built_site_has_a_reference_entry_for_every_public_name():
    entries = _inventory(_site())
    resolved = {}
    for target in entries:
        resolved.setdefault(id(_resolve(target)), []).append(target)
    missing = []
    for module, name, obj in _public_names():
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            if not any(_resolve(target) is obj for target in resolved.get(id(obj), [])):
                missing.append(f"{module}.{name}")
        elif f"{module}.{name}" not in entries:
            missing.append(f"{module}.{name}")
    assert not missing, f"public names without an entry in the built site: {missing}"


def test_built_site_has_every_page_and_fetches_nothing():
    site = _site()
    pages = [site / "index.html", *(site / "tutorials" / f"{t}.html" for t in TUTORIALS),
             *(site / "guides" / f"{g}.html" for g in GUIDES), site / "_generated" / "cli.html", site / "run_times.html"]
    for page in pages:
        assert page.exists(), page
        html = page.read_text()
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html), page
    for tutorial in TUTORIALS:   # every plt.show() of a tutorial put its figure on the page
        shown = (ROOT / "docs" / "tutorials" / f"{tutorial}.md").read_text().count("plt.show()")
        images = len(re.findall(r"<img ", (site / "tutorials" / f"{tutorial}.html").read_text()))
        assert images >= shown, (tutorial, images, shown)
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


def test_built_site_states_every_tutorials_run_time_from_this_build():
    # docs/run_times.md holds myst-nb's execution table: a row per tutorial with its wall time and status
    text = re.sub(r"<[^>]+>", " ", (_site() / "run_times.html").read_text())
    rows = dict(re.findall(r"tutorials/(\w+)\s+\S+ \S+\s+\w+\s+([0-9.]+)\s+✅", text))
    assert sorted(rows) == sorted(TUTORIALS), rows
    assert all(float(seconds) > 0 for seconds in rows.values()), rows


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium binary on PATH (install Debian's `chromium`: apt-get install -y chromium)")


def _dom(page, tmp_path):
    result = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=180)
    return result.stdout


def _formulas(html):
    """The inner HTML of every formula Sphinx wrote (``<span|div class="math notranslate nohighlight">``); the
    ``math-wrapper`` container around display math is not a formula."""
    return re.findall(r'<(span|div) class="math notranslate nohighlight">(.*?)</\1>', html, re.S)


def test_built_index_and_a_tutorial_render_math_and_figures_in_chromium(tmp_path):
    site = _site()
    index = _dom(site / "index.html", tmp_path)
    for tutorial in TUTORIALS:
        assert f'href="tutorials/{tutorial}.html"' in index, tutorial
    page = site / "tutorials" / "recurrence.html"
    dom = _dom(page, tmp_path)
    written = _formulas(page.read_text())
    shown = _formulas(dom)
    assert len(written) >= 5 and len(shown) == len(written), (len(shown), len(written))
    untypeset = [re.sub(r"<[^>]+>", "", inner)[:60] for _, inner in shown if "<mjx-container" not in inner]
    assert not untypeset, f"formulas MathJax did not typeset: {untypeset}"
    assert "<merror" not in dom and "<mjx-merror" not in dom   # elements; MathJax's stylesheet names mjx-merror too
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    assert len(images) >= 3, images
    for source in images:
        data = (page.parent / source).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, source
