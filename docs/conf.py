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
sys.path.insert(0, str(HERE / "_ext"))  # the local extensions

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
    # local: the command-line reference and the example report
    "skduo_cli",
]
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "data",
    "generated/cli",
]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
# "fit()" rather than "DuoClassifier.fit()" in a class page's "On this page"
toc_object_entries_show_parents = "hide"
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
    # plot_<n>_ by n (plain file names sort plot_10 before plot_2)
    "within_subsection_order": "gallery_order.ExampleNumberSortKey",
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
    # the "Computation times" pages load jQuery and DataTables from a CDN
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skduo {release}"
html_short_title = "skduo"
html_static_path = ["_static"]
html_css_files = ["skduo.css"]
html_theme_options = {
    "logo": {"text": "skduo"},
    "navigation_with_keys": False,
    # the top bar: every entry of the root toctree, none under "More"
    "header_links_before_dropdown": 8,
    "navbar_align": "left",
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher"],
    "navbar_persistent": ["search-button"],
    "show_toc_level": 2,
    "show_nav_level": 1,
    "navigation_depth": 3,
    "collapse_navigation": False,
    # one "On this page" (the pages have no ``.. contents::`` of their own)
    "secondary_sidebar_items": ["page-toc"],
    "show_prev_next": True,
    "footer_start": ["copyright"],
    "footer_center": [],
    "footer_end": ["sphinx-version"],
}
# pages without a section to navigate get no (empty) left sidebar
html_sidebars = {
    "index": [],
    "install": [],
    "cli": [],
    "changelog": [],
    "developers": [],
    "search": [],
    "genindex": [],
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


# -- "Read more in the User Guide" ----------------------------------------------
# The user-guide section of each public object: its API page gets the line
# "Read more in the User Guide." right after the summary (as scikit-learn's
# docstrings have it). One entry per public name; a name without an entry
# simply gets no link.
_GUIDE = {
    "guide_method": ["skduo.DuoClassifier"],
    "guide_selective": [
        "skduo.SelectiveClassifier",
        "skduo.metrics.certified_threshold",
        "skduo.metrics.CertifiedThreshold",
        "skduo.metrics.CertificationWarning",
    ],
    "guide_estimators_workflow": [
        "skduo.TemperatureScalingClassifier",
        "skduo.WeightedEnsembleClassifier",
        "skduo.metrics.RiskCoverageDisplay",
    ],
    "guide_arrays": [
        "skduo.LogitEnsemble",
        "skduo.fit_duo",
        "skduo.fit_temperature",
        "skduo.fit_weighted_ensemble",
        "skduo.fit_deep_ensemble",
    ],
    "guide_metrics_reading": [
        f"skduo.metrics.{name}"
        for name in (
            "expected_calibration_error",
            "reliability_curve",
            "multiclass_brier_score",
            "nll_loss",
            "risk_coverage_curve",
            "aurc",
            "eaurc",
            "augrc",
            "coverage_at_accuracy",
            "risk_at_coverage",
            "correctness_auroc",
            "selective_metrics",
            "ReliabilityDisplay",
        )
    ],
    "guide_metrics_scorers": [
        f"skduo.metrics.{name}"
        for name in (
            "neg_aurc_scorer",
            "neg_eaurc_scorer",
            "neg_augrc_scorer",
            "neg_ece_scorer",
            "neg_nll_scorer",
            "neg_brier_scorer",
            "correctness_auroc_scorer",
            "make_proba_scorer",
            "make_coverage_at_accuracy_scorer",
            "get_scorer",
            "get_scorer_names",
        )
    ],
    "guide_evaluation_bootstrap": [
        "skduo.metrics.paired_bootstrap",
        "skduo.metrics.PairedBootstrapResult",
        "skduo.metrics.ConfidenceInterval",
    ],
    "guide_evaluation_decomposition": [
        "skduo.metrics.calibration_refinement_decomposition",
        "skduo.metrics.ScoreDecomposition",
    ],
    "guide_evaluation_smece": ["skduo.metrics.smooth_ece"],
    "guide_torch": [
        "skduo.torch.as_member",
        "skduo.torch.InferenceNet",
        "skduo.torch.make_timm_classifier",
        "skduo.torch.check_same_device",
    ],
    "guide_torch_precomputed": [
        "skduo.torch.precompute_logits",
        "skduo.torch.restore_members",
        "skduo.torch.PrecomputedMember",
    ],
    "guide_torch_cache": ["skduo.torch.logits_cache"],
    "guide_torch_gpu_cpu": ["skduo.torch.net_logits"],
    "guide_choosing_sidekick": [
        "skduo.torch.count_flops",
        "skduo.torch.duo_compute_report",
        "skduo.torch.FlopCount",
        "skduo.torch.DuoComputeReport",
        "skduo.evaluation.select_sidekick",
        "skduo.evaluation.SidekickSelection",
    ],
    "guide_serving_torch": ["skduo.torch.export_duo_module"],
    "guide_serving_onnx": ["skduo.onnx.register_converters"],
    "guide_evaluation": [
        f"skduo.evaluation.{name}"
        for name in (
            "evaluate_zoo",
            "ZooReport",
            "compute_metrics",
            "plot_metric_vs_balance",
            "plot_risk_coverage",
            "METRICS",
            "BALANCE_BRACKETS",
        )
    ],
    "guide_evaluation_folder": [
        "skduo.evaluation.LogitZoo",
        "skduo.evaluation.ModelLogits",
        "skduo.evaluation.load_logits_dir",
        "skduo.evaluation.save_logits_dir",
    ],
}
GUIDE_SECTION = {name: label for label, names in _GUIDE.items() for name in names}


def _add_guide_link(app, what, name, obj, options, lines):
    """Insert "Read more in the User Guide." after the summary paragraph."""
    label = GUIDE_SECTION.get(name)
    if label is None or what not in ("class", "function", "data"):
        return
    end = 0
    while end < len(lines) and lines[end].strip():
        end += 1
    lines[end:end] = ["", f"Read more in the :ref:`User Guide <{label}>`."]


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


def _wbr_names(html):
    """``<wbr>`` after each dot and underscore inside the text of ``html``."""
    from markupsafe import Markup

    def text(match):
        return ">" + re.sub(r"([._])(?=\w)", r"\1<wbr>", match.group(1)) + "<"

    return Markup(re.sub(r">([^<]+)<", text, str(html)))


def _register_filters(app):
    if hasattr(app.builder, "templates"):
        app.builder.templates.environment.filters["wbr_names"] = _wbr_names


def setup(app):
    app.connect("builder-inited", _register_filters)
    app.connect("builder-inited", _check_api_reference)
    app.connect("build-finished", _check_api_summaries)
    app.connect("build-finished", _check_rendered_methods)
    app.connect("autodoc-process-docstring", _fix_docstring, priority=100)
    app.connect("autodoc-process-docstring", _add_guide_link, priority=110)
    app.connect("autodoc-skip-member", _skip_member)
