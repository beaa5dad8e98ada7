"""Sphinx configuration of the convrnn site: ``sphinx-build -W --keep-going docs docs/_build/html``.

Everything under ``_generated/`` (API reference, CLI reference, recipe list) is written from the code by
``_ext/convrnn_docs.py`` at each build; the tutorials (``tutorials/*.md``, MyST notebooks) are executed at
each build, so a failing cell fails the build. Math is rendered in the browser by a MathJax copy bundled
into ``_static`` (sphinx-mathjax-offline): the site needs no network.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))
# the tutorials' kernels import convrnn from this tree too, and run on one thread: their models are small, and
# with two OpenMP threads on a machine other jobs also load, one training step of the sequence tutorial's CRNN
# took 2.6 s instead of 0.05 s (torch.lstm waiting on its second thread), which made the build take 24 minutes
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent / "src"), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
# plt.show() in a tutorial must put its figure on the page: the kernels draw with the inline backend (an
# inherited MPLBACKEND=Agg made every plt.show() figure vanish from the site without a warning)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

import convrnn  # noqa: E402

project = "convrnn"
author = "the convrnn authors"
copyright = "2026, the convrnn authors"
version = release = convrnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "convrnn_docs",
]

exclude_patterns = ["_build", "jupyter_execute", ".venv*", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

html_theme = "furo"
html_title = f"convrnn {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = False
add_module_names = False

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

nb_execution_mode = "force"           # every build runs every tutorial: each output on the site is real
mathjax_path = "mathjax/tex-chtml.js"   # bundled (see _ext/convrnn_docs.py), no CDN
nb_execution_timeout = 1200           # seconds per cell: a shared machine can be slow
nb_execution_raise_on_error = True    # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# A type hint such as ``model: RNN | Cell`` on a function documented in convrnn.training names a class that
# several modules export (convrnn.layers.RNN, convrnn.nn.RNN): Sphinx links one and warns that it had a
# choice. Every other warning (a broken docstring, a missing page, a failing tutorial cell) fails the build.
suppress_warnings = ["ref.python"]
