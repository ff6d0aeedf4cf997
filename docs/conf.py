"""Sphinx configuration for the skduo documentation.

Builds offline (no intersphinx: inventories cannot be fetched) with warnings as
errors: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

import os
import re
import sys
from pathlib import Path

# The gallery runs small scikit-learn / torch models on a few CPU cores that
# may be shared: one BLAS/OpenMP thread per process avoids oversubscription
# (set before numpy or torch is imported).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import skduo  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skduo"
author = "skduo developers"
copyright = "2025, skduo developers"
release = skduo.__version__
version = re.sub(r"(\.dev\d*|rc\d*|a\d*|b\d*)$", "", release)

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into _static: formulas render without a network
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# No intersphinx here, so no cross-library links: keep numpydoc's type
# cross-referencing off rather than emit links that cannot resolve.
numpydoc_xref_param_type = False

# -- MyST (the changelog is Markdown) ------------------------------------------
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": [str(HERE.parent / "examples")],
    "gallery_dirs": [str(HERE / "auto_examples")],
    # plot_* scripts are executed; the others are rendered, not run.
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skduo",),
    "backreferences_dir": str(HERE / "generated" / "backreferences"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 1,
    "download_all_examples": False,
    "plot_gallery": "True",
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skduo {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


# -- Guard: every public name is documented --------------------------------------
def _public_names():
    import importlib

    names = set()
    for module in (
        "skduo",
        "skduo.metrics",
        "skduo.torch",
        "skduo.evaluation",
        "skduo.onnx",
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        public = getattr(mod, "__all__", [])
        names.update(f"{module}.{name}" for name in public if not name.startswith("_"))
    return names


def _check_api_reference(app):
    """Warn (an error under -W) when api.rst misses a name from an ``__all__``."""
    from sphinx.util import logging

    text = (HERE / "api.rst").read_text()
    documented = set()
    module = None
    for line in text.splitlines():
        m = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if m:
            module = m.group(1)
        elif module and re.fullmatch(r"\s{3,}[A-Za-z_][\w]*", line):
            documented.add(f"{module}.{line.strip()}")
    missing = sorted(_public_names() - documented)
    if missing:
        logging.getLogger(__name__).warning(
            "docs/api.rst does not list these public names: %s", ", ".join(missing)
        )


# -- Docstring hygiene ----------------------------------------------------------
_TYPE_LINE = re.compile(r"^(\s*[\w*, ]+ : )(.*)$")
_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]+?)\s*<[^`>]+>|([^`<]+))`")
_EMAIL_LIKE = re.compile(r"(?<![`\w])(SAC|sac)@(?=\d)")


def _fix_docstring(app, what, name, obj, options, lines):
    """Two docutils pitfalls of numpydoc docstrings, fixed before numpydoc runs.

    * In a raw docstring a trailing backslash (the sklearn convention to
      continue a long ``name : type`` line) is not a line continuation: join
      the two lines, as Python does in a normal string.
    * A word ending in ``_`` in a type, e.g. ``(n_bins_,)``, is a docutils
      reference; escape the underscore.
    """
    if getattr(obj, "__module__", "").startswith("sklearn"):
        # methods inherited from scikit-learn (score, get_params, ...): their
        # :ref: labels point into scikit-learn's own docs, unknown here
        lines[:] = [_SKLEARN_REF.sub(r"\1\2", line) for line in lines]
    out = []
    for line in lines:
        if out and out[-1].endswith("\\") and not out[-1].endswith("\\\\"):
            out[-1] = out[-1][:-1].rstrip() + " " + line.strip()
            continue
        out.append(line)
    for i, line in enumerate(out):
        # "SAC@98" would become a mailto: link (docutils' standalone e-mail
        # recognition); an escaped @ keeps it text
        out[i] = line = _EMAIL_LIKE.sub(r"\1\\@", line)
        m = _TYPE_LINE.match(line)
        if m and "`" not in m.group(2):
            out[i] = m.group(1) + re.sub(
                r"\b(\w+)_(?=[\s,)\]]|$)", r"\1\\_", m.group(2)
            )
    lines[:] = out


def _skip_member(app, what, name, obj, skip, options):
    """Skip scikit-learn's generated ``set_*_request`` methods (documented there)."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def _check_rendered_methods(app, exc):
    """Warn when an estimator's page lacks an entry for one of its public methods."""
    if exc is not None or app.builder.name != "html":
        return
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    for name in (
        "DuoClassifier",
        "TemperatureScalingClassifier",
        "WeightedEnsembleClassifier",
    ):
        page = Path(app.outdir) / "generated" / f"skduo.{name}.html"
        html = page.read_text() if page.exists() else ""
        cls = getattr(skduo, name)
        for method in dir(cls):
            if method.startswith("_") or re.fullmatch(r"set_\w+_request", method):
                continue
            if callable(getattr(cls, method)) and (
                f'id="skduo.{name}.{method}"' not in html
            ):
                log.warning("%s: no rendered entry for %s.%s", page, name, method)


def _check_api_summaries(app, exc):
    """Warn when an API-reference row has no summary, or the same as another."""
    if exc is not None or app.builder.name != "html":
        return
    from collections import defaultdict

    from sphinx.util import logging

    page = Path(app.outdir) / "api.html"
    html = page.read_text() if page.exists() else ""
    rows = re.findall(
        r'<tr class="row-(?:odd|even)"><td><p><a class="reference internal" '
        r'href="[^"]*" title="([^"]+)">.*?</td>\s*<td><p>(.*?)</p></td>',
        html,
        re.S,
    )
    by_summary = defaultdict(list)
    for name, summary in rows:
        by_summary[re.sub(r"<[^>]+>", "", summary).strip()].append(name)
    log = logging.getLogger(__name__)
    for summary, names in by_summary.items():
        if not summary or len(names) > 1:
            log.warning("api.html: %s share the summary %r", names, summary)


def setup(app):
    app.connect("builder-inited", _check_api_reference)
    app.connect("build-finished", _check_api_summaries)
    app.connect("build-finished", _check_rendered_methods)
    app.connect("autodoc-process-docstring", _fix_docstring, priority=100)
    app.connect("autodoc-skip-member", _skip_member)
