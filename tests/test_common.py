"""sklearn estimator checks and package-wide conventions."""

import importlib
import subprocess
import sys

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import skduo
from skduo import DuoClassifier

# Checks the unfitted-members configuration cannot pass, with the reason. The
# weights are fitted on cross-fitted (out-of-fold) member logits, and the folds
# move when rows are repeated instead of weighted, so weights and repeats give
# slightly different member logits and weights. In the default mode the
# difference stays below check_sample_weight_equivalence_on_dense_data's rtol
# of 1e-7 on the check's data (scikit-learn 1.6 to 1.9); in mode='unweighted'
# (each member's temperature fitted on its own out-of-fold logits) the
# probabilities differ by ~3e-7 relative. The weight fit itself is
# weight/repeat equivalent on fixed logits: see tests/test_weight_fit.py.
EXPECTED_FAILED = {
    "unweighted": {
        "check_sample_weight_equivalence_on_dense_data": (
            "cross-fitting folds move when rows are repeated: probabilities "
            "agree to ~3e-7 relative, the check asks for 1e-7"
        )
    }
}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(estimator.mode, {})


@parametrize_with_checks(
    [DuoClassifier(LogisticRegression(max_iter=200), GaussianNB(), cv=3)],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [
        DuoClassifier(LogisticRegression(max_iter=200), GaussianNB(), cv=3, mode=mode)
        for mode in ("unweighted", "uq_only")
    ],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible_estimator_other_modes(estimator, check):
    check(estimator)


def test_tags_do_not_skip_tests():
    from sklearn.frozen import FrozenEstimator

    fitted = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    duo = DuoClassifier(FrozenEstimator(fitted), FrozenEstimator(fitted))
    assert get_tags(duo)._skip_test is False


def test_import_skduo_imports_no_heavy_dependency():
    code = (
        "import sys, skduo, skduo.metrics; "
        "heavy = [m for m in ('torch', 'skorch', 'timm', 'matplotlib', 'numba', "
        "'dask') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module", ["skduo", "skduo.metrics"])
def test_public_names_resolve(module):
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} in __all__ but missing"


def test_version():
    assert isinstance(skduo.__version__, str) and skduo.__version__


def _public_objects():
    modules = ["skduo", "skduo.metrics"]
    for optional in ("skduo.torch", "skduo.evaluation"):
        try:
            importlib.import_module(optional)
        except ImportError:
            continue
        modules.append(optional)
    for module in modules:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj) and not name.startswith("_"):
                yield f"{module}.{name}", obj


@pytest.mark.parametrize(
    "qualname, obj",
    list(_public_objects()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_public_objects_have_numpydoc_with_examples(qualname, obj):
    doc = getattr(obj, "__doc__", None) or ""
    if not doc:
        pytest.fail(f"{qualname} has no docstring")
    if isinstance(obj, type) or hasattr(obj, "__code__"):
        assert "Examples\n" in doc.replace("    ", ""), f"{qualname}: no Examples"
        assert ">>>" in doc, f"{qualname}: Examples section has no doctest"
