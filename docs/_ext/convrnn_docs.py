"""Sphinx extension: the parts of the convrnn site that are generated from the code, never written by hand.

At ``builder-inited`` it writes, under ``docs/_generated/`` (not committed):

- ``api/<module>.rst`` for every public module (no path component starting with ``_``): the module
  docstring, then every name of its ``__all__`` — documented in full (``autoclass``/``autofunction``/
  ``autodata``) on the page of the shortest public module that exports it, and linked there from
  every other module that re-exports it; a module without ``__all__`` gets its docstring only;
- ``api/index.rst``: the modules grouped by floor;
- ``cli.rst``: every sub-command of ``convrnn.cli``'s argparse parser with its usage, its options
  and an example from :data:`CLI_EXAMPLES` (each example is parsed by the real parser here, so an
  example that no longer parses fails the build);
- ``recipes.rst``: the recipe registry (``convrnn.recipes.RECIPE_NAMES``): name, task kind,
  description, and a link to the recipe module.

:func:`public_modules` and :func:`documented_names` are what ``tests/test_docs.py`` compares the
built site against.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import pkgutil
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

ROOT = "convrnn"

# one example per sub-command (a sub-command with sub-actions: one per action); the build parses each
CLI_EXAMPLES: dict[str, list[str]] = {
    "train": ["convrnn train mnist", "convrnn train shakespeare --cell qrnn --epochs 1 --out runs/qrnn",
              "torchrun --nproc-per-node 2 -m convrnn train mnist --batch-size 256"],
    "eval": ["convrnn eval runs/mnist --split test"],
    "predict": ["convrnn predict runs/mnist digit.png --top 3", "convrnn predict runs/brown-pos sentence.txt --stream"],
    "export": ["convrnn export runs/mnist --format onnx --out mnist.onnx"],
    "build-core": ["convrnn build-core"],
    "listen": ["convrnn listen runs/keyword-causal speech.wav --chunk-ms 20 --threshold 0.6"],
    "sample": ["convrnn sample runs/shakespeare --prompt 'ROMEO:' --length 200 --temperature 0.8 --top-p 0.9"],
    "embed": ["convrnn embed runs/word2vec --similar king --analogy paris france spain --top 5"],
    "summary": ["convrnn summary mnist", "convrnn summary runs/mnist --input-shape 1,28,28"],
    "inspect": ["convrnn inspect runs/mnist --batch-size 64"],
    "report": ["convrnn report runs/mnist --out mnist-report.html"],
    "data list": ["convrnn data list"],
    "data fetch": ["convrnn data fetch mnist"],
}


def _private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def public_modules() -> list[str]:
    """Every importable module of convrnn whose dotted name has no part starting with ``_``, sorted."""
    package = importlib.import_module(ROOT)
    names = [ROOT]
    for info in pkgutil.walk_packages(package.__path__, ROOT + "."):
        if not _private(info.name):
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as error:
                raise RuntimeError(
                    f"convrnn_docs: the API reference imports {info.name}, which needs {error.name!r}: install the "
                    "docs extra (pip install -e '.[docs]'), which brings the gpu extra's Triton too"
                ) from error
            names.append(info.name)
    return sorted(names)


def exported(module: str) -> list[str]:
    """The names of ``module.__all__`` (empty for a module without one)."""
    return list(getattr(importlib.import_module(module), "__all__", []))


def _is_documentable(obj: Any) -> bool:
    """Classes and functions are documented once, at their canonical home; data is documented per module."""
    return inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isroutine(obj)


def documented_names() -> dict[str, str]:
    """``module.name`` for every name in every public ``__all__`` → the dotted name its full entry has.

    A class or function exported by several modules is documented at the shortest module path that
    exports it (ties: alphabetical), which is the one users import from; data is documented where it
    is exported; a module in ``__all__`` points at its own page.
    """
    modules = public_modules()
    home: dict[int, str] = {}
    for module in sorted(modules, key=lambda m: (m.count("."), len(m), m)):
        for name in exported(module):
            obj = getattr(importlib.import_module(module), name)
            if _is_documentable(obj):
                home.setdefault(id(obj), f"{module}.{name}")
    result = {}
    for module in modules:
        for name in exported(module):
            obj = getattr(importlib.import_module(module), name)
            if inspect.ismodule(obj):
                result[f"{module}.{name}"] = obj.__name__
            elif _is_documentable(obj):
                result[f"{module}.{name}"] = home[id(obj)]
            else:
                result[f"{module}.{name}"] = f"{module}.{name}"
    return result


def _exported_object(dotted: str) -> Any:
    """``module.name`` of an ``__all__`` → the object."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _module_page(module: str, canonical: dict[str, str]) -> str:
    # a module shadowed by a function of the same dotted name (convrnn.functional.conv) is not indexed twice
    shadowed = any(target == module and not inspect.ismodule(_exported_object(key))
                   for key, target in canonical.items())
    lines = [f".. _api-{module}:", "", _title(module), f".. automodule:: {module}", "   :no-members:",
             *(["   :no-index:"] if shadowed else []), "",
             f".. currentmodule:: {module}", ""]
    names = exported(module)
    if not names:
        lines += ["*This module declares no* ``__all__``: *its names are internal, or exported by its package.*", ""]
        return "\n".join(lines)
    lines += [".. rubric:: Public names", ""]
    for name in names:
        target = canonical[f"{module}.{name}"]
        lines.append(f"- :py:obj:`~{target}`" if target != f"{module}.{name}" else f"- :py:obj:`{name}`")
    lines.append("")
    mod = importlib.import_module(module)
    for name in names:
        target = canonical[f"{module}.{name}"]
        obj = getattr(mod, name)
        if inspect.ismodule(obj) or target != f"{module}.{name}":
            continue  # documented at its home, linked from the list above
        if inspect.isclass(obj):
            lines += [f".. autoclass:: {target}", "   :members:", "   :show-inheritance:", ""]
        elif _is_documentable(obj):
            lines += [f".. autofunction:: {target}", ""]
        else:
            lines += _data_entry(target, obj)
    return "\n".join(lines)


def _data_entry(target: str, obj: Any) -> list[str]:
    """A constant: its type and, when short, its value (autodoc would show the docstring of its type).

    The directive names the constant without its module and gives the module as ``:module:`` — under the
    page's ``currentmodule`` a dotted name would be prefixed twice (``convrnn.data.convrnn.data.CATALOG``
    in ``objects.inv``).
    """
    module, _, name = target.rpartition(".")
    lines = [f".. py:data:: {name}", f"   :module: {module}",
             f"   :type: {type(obj).__module__}.{type(obj).__qualname__}"
             if type(obj).__module__ != "builtins" else f"   :type: {type(obj).__qualname__}"]
    value = repr(obj)
    if len(value) <= 100 and "\n" not in value:
        lines.append(f"   :value: {value}")
    return [*lines, ""]


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _api_index(modules: list[str]) -> str:
    lines = [_title("API reference"),
             "Generated from the docstrings: one page per public module; every name of a module's ``__all__`` "
             "is documented on the page of the shortest module that exports it, and linked from the others.", ""]
    floors: dict[str, list[str]] = {}
    for module in modules:
        floors.setdefault(_floor(module), []).append(module)
    for floor, members in floors.items():
        lines += [_title(floor if floor == ROOT else f"{ROOT}.{floor}", "-"), ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   {module}" for module in members]
        lines.append("")
    return "\n".join(lines)


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.ArgumentParser, str]]:
    """(name, parser, help) of every sub-command and sub-action, depth first."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                nested = _subcommands(sub, full + " ")
                found.append((full, sub, helps.get(name) or ""))
                found += nested
    return found


def _option_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or action.dest.upper()
                name += " " + (" ".join(metavar) if isinstance(metavar, tuple) else str(metavar))
        else:
            name = str(action.metavar or action.dest)
        detail = action.help or ""
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            detail += f" (one of: {', '.join(map(str, action.choices))})"
        rows.append((name, detail))
    return rows


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


def _cli_page() -> str:
    from convrnn.cli import _build_parser

    parser = _build_parser()
    lines = [_title("Command line: ``convrnn``"),
             "Generated from the argparse parser of :mod:`convrnn.cli`; every example below is parsed by that "
             "parser when the site is built. Errors are one line, ``convrnn CMD: error: …``, exit status 2.", "",
             ".. code-block:: text", ""]
    lines += [f"   {line}" for line in parser.format_usage().strip().splitlines()]
    lines += ["", ".. list-table::", "   :header-rows: 1", "", "   * - option", "     - meaning"]
    for name, detail in _option_rows(parser):
        lines += [f"   * - {_literal(name)}", f"     - {detail.replace('`', '``') if '``' not in detail else detail}"]
    lines.append("")
    commands = _subcommands(parser)
    missing = [name for name, sub, _ in commands if name not in CLI_EXAMPLES and not _has_subcommands(sub)]
    if missing:
        raise RuntimeError(f"convrnn_docs: no example for the sub-command(s) {missing}; add them to CLI_EXAMPLES")
    for name, sub, help_text in commands:
        lines += [f".. _cli-{name.replace(' ', '-')}:", "", _title(f"convrnn {name}", "-"), _rst_text(help_text), "",
                  ".. code-block:: text", ""]
        lines += [f"   {line}" for line in sub.format_usage().strip().splitlines()]
        lines.append("")
        rows = _option_rows(sub)
        if rows:
            lines += [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "", "   * - argument",
                      "     - meaning"]
            for option, detail in rows:
                lines += [f"   * - {_literal(option)}", f"     - {_rst_text(detail)}"]
            lines.append("")
        examples = CLI_EXAMPLES.get(name, [])
        for example in examples:
            _check_example(parser, name, example)
        if examples:
            lines += ["Example:", "", ".. code-block:: sh", ""] + [f"   {example}" for example in examples] + [""]
    return "\n".join(lines)


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(action, argparse._SubParsersAction) for action in parser._actions)


def _rst_text(text: str) -> str:
    """argparse help uses single backticks for commands; in reST they are literals."""
    text = text.replace("*", r"\*")
    out, inside = [], False
    for piece in text.split("`"):
        out.append(f"``{piece}``" if inside and piece else piece)
        inside = not inside
    return "".join(out)


def _check_example(parser: argparse.ArgumentParser, name: str, example: str) -> None:
    argv = shlex.split(example)
    start = argv.index("convrnn") + 1 if "convrnn" in argv else argv.index("-m") + 2
    argv = argv[start:]
    if argv[: len(name.split())] != name.split():
        raise RuntimeError(f"convrnn_docs: the example {example!r} is not an example of `convrnn {name}`")
    try:
        parser.parse_args(argv)
    except SystemExit as error:
        raise RuntimeError(f"convrnn_docs: the example {example!r} does not parse") from error


def _recipes_page() -> str:
    from convrnn.recipes import RECIPE_NAMES, get_recipe

    lines = [_title("Recipes"),
             "Generated from the recipe registry (:data:`convrnn.recipes.RECIPE_NAMES`): every recipe trains "
             "with ``convrnn train NAME`` on its real data set; its module states the settings and the "
             "measured results.", "", ".. list-table::", "   :header-rows: 1", "   :widths: 18 18 64", "",
             "   * - recipe", "     - task kind", "     - description"]
    for name in RECIPE_NAMES:
        recipe = get_recipe(name)
        module = f"convrnn.recipes.{name.replace('-', '_')}"
        lines += [f"   * - :mod:`{name} <{module}>`", f"     - ``{recipe.kind}``",
                  f"     - {_rst_text(recipe.description)}"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    """Write only when changed, so that Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(out: Path) -> list[str]:
    """Write the generated pages under ``out``; return the public modules."""
    modules = public_modules()
    canonical = documented_names()
    wanted = {f"{module}.rst" for module in modules} | {"index.rst"}
    for stale in (out / "api").glob("*.rst") if (out / "api").exists() else []:
        if stale.name not in wanted:
            stale.unlink()
    for module in modules:
        _write(out / "api" / f"{module}.rst", _module_page(module, canonical))
    _write(out / "api" / "index.rst", _api_index(modules))
    _write(out / "cli.rst", _cli_page())
    _write(out / "recipes.rst", _recipes_page())
    return modules


_PROTECTED = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]+`|`[^`]+`_{0,2}|\*\*[^*\s][^*]*?\*\*)")
_TABLE_BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")
_BULLET = re.compile(r"^(\s*)([-*•+]|\d+[.)]|\(\w\))\s+")


def _escape(line: str) -> str:
    """``|`` and ``*`` are plain characters in convrnn's docstrings (norms, products), never reST markup."""
    pieces = _PROTECTED.split(line)
    for index in range(0, len(pieces), 2):
        pieces[index] = pieces[index].replace("|", r"\|").replace("*", r"\*")
    return "".join(pieces)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def normalise_docstring(lines: list[str]) -> list[str]:
    """Make a docstring written as plain text with reST literals and roles parse as reST without warnings.

    convrnn's docstrings put equations and shape lists in indented blocks right under a sentence and use
    ``|x|`` and ``*`` as mathematics. Here: ``|`` and ``*`` outside literals and roles are escaped; a blank
    line goes wherever the indentation changes between two lines, unless the lower line continues a bullet
    item or a one-line term's definition (a definition list, which is how "Shapes:" lists render), so
    indented equations become quotations instead of errors. Literal blocks (after ``::``) and directives
    are left as they are.
    """
    out: list[str] = []
    literal_indent: int | None = None  # inside a literal block / directive body: lines indented past this
    bullet_text: int | None = None  # the text column of the bullet item being continued
    paragraph = 0  # lines in the current paragraph
    table = False  # inside a simple table (from a ``===  ===`` border to the next blank line)
    for line in lines:
        if not line.strip():
            out.append(line)
            paragraph = 0
            bullet_text = None
            table = False
            continue
        if table or _TABLE_BORDER.match(line):
            table = True
            out.append(line)
            continue
        indent = _indent(line)
        if literal_indent is not None:
            if indent > literal_indent:
                out.append(line)
                continue
            literal_indent = None
        previous = out[-1] if out else ""
        if previous.strip() and paragraph:
            before = _indent(previous)
            continues_bullet = bullet_text is not None and indent == bullet_text
            definition = indent > before and paragraph == 1 and bullet_text is None  # "Shapes:\n    x: …"
            if indent != before and not continues_bullet and not definition:
                out.append("")
                paragraph = 0
        bullet = _BULLET.match(line)
        if bullet and paragraph and bullet_text is None and out and out[-1].strip():
            out.append("")  # a list right under a sentence ("A cell owns\n- ...") starts a new block
        if bullet:
            bullet_text = bullet.end()
            paragraph = 0
        elif bullet_text is not None and indent != bullet_text:
            bullet_text = None
        stripped = line.strip()
        if stripped.startswith(".. ") or stripped.endswith("::"):
            out.append(line)
            literal_indent = indent
            if stripped.endswith("::") and not stripped.startswith(".. "):
                out.append("")
            paragraph = 0
            continue
        out.append(_escape(line))
        paragraph += 1
    return out


def _process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = normalise_docstring(lines)


def _mathjax_static() -> Path:
    """MathJax 3 as the ``sphinx-mathjax-offline`` wheel ships it (tex-chtml with its fonts)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("convrnn_docs: install the docs extra (pip install -e '.[docs]'): the site bundles the "
                           "MathJax of the sphinx-mathjax-offline package")
    return Path(spec.origin).parent / "static" / "mathjax"


def _copy_mathjax(app: Any, exception: BaseException | None) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_mathjax_static(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def _on_builder_inited(app: Any) -> None:
    _mathjax_static()
    generate(Path(app.srcdir) / "_generated")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("autodoc-process-docstring", _process_docstring, priority=600)  # after napoleon (500)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
