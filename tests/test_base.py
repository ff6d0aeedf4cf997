"""What the three estimators share (skduo/_estimators/_base.py).

Memory is measured with tracemalloc on members that return precomputed
logits (so only the estimator's own allocations count).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict, cross_val_score
from sklearn.naive_bayes import GaussianNB

from skduo import (
    DuoClassifier,
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
    fit_duo,
)
from skduo._fit._weight_fit import fit_logit_weights
from skduo._outputs._logit_ops import log_softmax, softmax


class Precomputed(ClassifierMixin, BaseEstimator):
    """A fitted member whose logits for rows ``X[:, 0]`` are ``logits[X[:, 0]]``.

    For ``X = _rows(n)`` (all rows, in order) it returns ``logits`` itself (no
    copy, no allocation).
    """

    def __init__(self, logits, classes, method="decision_function"):
        self.logits = logits
        self.classes = classes
        self.method = method

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return np.asarray(self.classes)

    def fit(self, X, y):
        return self

    def _out(self, X):
        X = np.asarray(X)
        n = len(self.logits)
        if len(X) == n and X[0, 0] == 0 and X[-1, 0] == n - 1:
            return self.logits  # all rows (as _rows(n) gives them): no copy
        return self.logits[X[:, 0].astype(np.intp)]

    def __getattr__(self, name):
        if name in ("decision_function", "predict_proba", "predict_log_proba"):
            if name == self.__dict__.get("method"):
                return self._out
        raise AttributeError(name)


def _problem(n, k, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    base = 2 * rng.normal(size=(n, k))
    z_l = (base + rng.normal(size=(n, k))).astype(dtype)
    z_s = (base + 1.5 * rng.normal(size=(n, k))).astype(dtype)
    p = softmax(1.1 * z_l + 0.4 * z_s)
    y = np.minimum((p.cumsum(1) < rng.random(n)[:, None]).sum(1), k - 1)
    return z_l, z_s, y


def _rows(n):
    return np.arange(n).reshape(-1, 1)


def _peak(fn):
    """(result, peak bytes allocated while ``fn`` runs)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return out, peak


# --------------------------------------------------------------------------------
# memory: the fit reads the members' float32 logits in place; prediction has
# one array of the output's size
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("shuffled", [False, True])
def test_fit_peak_memory_is_at_most_twice_one_member_array(shuffled):
    n, k = 20_000, 200
    z_l, z_s, y = _problem(n, k)
    classes = np.arange(k)
    small_classes = classes
    if shuffled:
        # the sidekick's columns in another class order: one re-ordered copy
        perm = np.random.default_rng(1).permutation(k)
        z_s, small_classes = np.ascontiguousarray(z_s[:, perm]), classes[perm]
    duo = DuoClassifier(Precomputed(z_l, classes), Precomputed(z_s, small_classes))
    X = _rows(n)
    _, peak = _peak(lambda: duo.fit(X, y))
    # side by side: the array API's fit on the same logits (its row-chunk
    # buffers are a fixed ~15 MiB, about 1x one array at this size; 0.13x at
    # 100,000 x 1,000, see benchmarks/bench_memory.py)
    _, api_peak = _peak(lambda: fit_duo(z_l, z_s, y))
    # before: 8.0x one member array (float64 copies of both members)
    extra = (peak - api_peak) / z_l.nbytes
    assert extra <= (1.25 if shuffled else 0.25), (peak / z_l.nbytes, extra)
    expected = fit_logit_weights(
        [z_l.astype(np.float64), z_s.astype(np.float64)[:, np.argsort(small_classes)]],
        y,
        prior="auto",  # the duo's default prior (issue 26)
        prior_centres=[1, 0],
    )
    np.testing.assert_allclose(duo.weights_, expected, rtol=1e-7)


def test_fit_on_probability_members_stores_no_log_probabilities():
    # members returning float32 probabilities: the fit reads their logarithm
    # row chunk by row chunk (LogProbaView), never a whole log-probability array
    n, k = 20_000, 200
    z_l, z_s, y = _problem(n, k)
    p_l = softmax(z_l).astype(np.float32)
    p_s = softmax(z_s).astype(np.float32)
    before = p_l.copy(), p_s.copy()
    classes = np.arange(k)
    duo = DuoClassifier(
        Precomputed(p_l, classes, "predict_proba"),
        Precomputed(p_s, classes, "predict_proba"),
    )
    X = _rows(n)
    _, peak = _peak(lambda: duo.fit(X, y))
    log_l = np.log(p_l.astype(np.float64)).astype(np.float32)
    log_s = np.log(p_s.astype(np.float64)).astype(np.float32)
    _, api_peak = _peak(lambda: fit_duo(log_l, log_s, y, outputs="logits"))
    # before: 2.04x here (two float32 log-probability arrays); what remains are
    # the views' row-chunk temporaries (float64 chunks of ~250,000 entries per
    # member and thread: ~0.5x one array at this small size, 0.02x at
    # 100,000 x 1,000, see benchmarks/bench_memory.py)
    extra = (peak - api_peak) / p_l.nbytes
    assert extra <= 0.75, (peak / p_l.nbytes, extra)
    # the same weights as on the stored log-probabilities; members untouched
    expected = fit_duo(log_l, log_s, y, outputs="logits").weights
    np.testing.assert_allclose(duo.weights_, expected, rtol=1e-12)
    np.testing.assert_array_equal(p_l, before[0])
    np.testing.assert_array_equal(p_s, before[1])


def test_memmap_member_outputs_are_streamed(tmp_path):
    n, k = 3_000, 50
    z_l, z_s, y = _problem(n, k)
    maps = []
    for name, z in (("large", z_l), ("small", z_s)):
        np.save(tmp_path / f"{name}.npy", z)
        maps.append(np.load(tmp_path / f"{name}.npy", mmap_mode="r"))
    classes = np.arange(k)
    on_disk = DuoClassifier(
        Precomputed(maps[0], classes), Precomputed(maps[1], classes)
    )
    in_memory = DuoClassifier(Precomputed(z_l, classes), Precomputed(z_s, classes))
    X = _rows(n)
    np.testing.assert_array_equal(
        on_disk.fit(X, y).weights_, in_memory.fit(X, y).weights_
    )
    np.testing.assert_array_equal(on_disk.predict_proba(X), in_memory.predict_proba(X))


def _fitted_duo(z_l, z_s, weights, small_classes=None):
    """A duo over precomputed logits with given weights (no fit needed)."""
    classes = np.arange(z_l.shape[1])
    small_classes = classes if small_classes is None else small_classes
    duo = DuoClassifier(Precomputed(z_l, classes), Precomputed(z_s, small_classes))
    duo.weights_, duo.classes_ = np.asarray(weights, dtype=float), classes
    duo.large_, duo.small_ = duo.large, duo.small
    return duo


@pytest.fixture(scope="module")
def prediction_logits():
    rng = np.random.default_rng(0)
    return 3 * rng.normal(size=(40_000, 200)), 3 * rng.normal(size=(40_000, 200))


@pytest.mark.parametrize(
    "method", ["predict_proba", "predict_log_proba", "decision_function", "predict"]
)
@pytest.mark.parametrize("shuffled", [False, True])
def test_prediction_peak_memory_is_one_output_array(
    prediction_logits, method, shuffled
):
    z_l, z_s = prediction_logits
    n, k = z_l.shape
    w = np.array([1.1, 0.4])
    small_classes = None
    if shuffled:
        # the sidekick's columns in another class order: re-ordered per block
        perm = np.random.default_rng(1).permutation(k)
        z_s, small_classes = np.ascontiguousarray(z_s[:, perm]), perm
    duo = _fitted_duo(z_l, z_s, w, small_classes)
    out, peak = _peak(lambda: getattr(duo, method)(_rows(n)))
    n_by_k = n * k * 8  # the float64 (n_samples, n_classes) output, 64 MB
    # the output plus a few row blocks of 2**18 float64 (2 MiB each; 4-5
    # measured); before: 2x the output (3x for predict_proba with re-ordering)
    assert peak <= (n_by_k if method != "predict" else 0) + 8 * 2**21, peak / n_by_k
    z = w[0] * z_l + w[1] * (z_s if small_classes is None else z_s[:, np.argsort(perm)])
    if method == "predict":
        np.testing.assert_array_equal(out, np.argmax(z, axis=1))
    else:
        reference = {
            "predict_proba": softmax,
            "predict_log_proba": log_softmax,
            "decision_function": lambda v: v,
        }[method](z)
        np.testing.assert_allclose(out, reference, rtol=1e-12, atol=1e-13)


def test_binary_decision_function_is_chunked():
    n = 1_000_000
    rng = np.random.default_rng(0)
    z_l, z_s = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    duo = _fitted_duo(z_l, z_s, [0.7, 0.4])
    X = _rows(n)
    scores, peak = _peak(lambda: duo.decision_function(X))
    np.testing.assert_allclose(
        scores, 0.7 * (z_l[:, 1] - z_l[:, 0]) + 0.4 * (z_s[:, 1] - z_s[:, 0])
    )
    # the (n,) result plus a few 2 MiB row blocks, never the (n, 2) combined
    # logits (before: 3x the result)
    assert peak <= scores.nbytes + 6 * 2**21, peak / scores.nbytes


# --------------------------------------------------------------------------------
# targets: no "regression problem" warning when the members know the classes
# --------------------------------------------------------------------------------


def _regression_warnings(record):
    return [w for w in record if "regression problem" in str(w.message)]


def test_no_regression_warning_at_1000_classes_with_fitted_members():
    n, k = 1_500, 1_000
    z_l, z_s, y = _problem(n, k, dtype=np.float64)
    classes = np.arange(k)
    large, small = Precomputed(z_l, classes), Precomputed(z_s, classes)
    X = _rows(n)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        DuoClassifier(large, small).fit(X, y)
        TemperatureScalingClassifier(large).fit(X, y)
        WeightedEnsembleClassifier([("a", large), ("b", small)]).fit(X, y)
        cross_val_score(DuoClassifier(large, small), X, y, cv=3)
        cross_val_score(TemperatureScalingClassifier(large), X, y, cv=3)
    assert _regression_warnings(record) == []
    # sklearn's own check does warn on these labels (the warning is real; it
    # exists from scikit-learn 1.7)
    import sklearn
    from sklearn.utils.multiclass import check_classification_targets

    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 7):
        with pytest.warns(UserWarning, match="regression problem"):
            check_classification_targets(y)


def test_target_check_is_kept_for_unfitted_members():
    X = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(ValueError, match="Unknown label type"):
        DuoClassifier(LogisticRegression(), GaussianNB()).fit(X, X[:, 0])


# --------------------------------------------------------------------------------
# duck-typed members (not scikit-learn estimators)
# --------------------------------------------------------------------------------


class DuckProba:
    """Has fit / predict_proba / classes_ but is no BaseEstimator."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        self.model = LogisticRegression(C=0.1, max_iter=300).fit(X, y)
        self.classes_ = self.model.classes_
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)


@pytest.fixture(scope="module")
def members_and_duck():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=1_200, n_features=8, n_informative=5, n_classes=4, random_state=0
    )
    lr = LogisticRegression(max_iter=300).fit(X[:900], y[:900])
    return X, y, lr, DuckProba().fit(X[:900], y[:900])


def _clipped_log(p):
    # what the duo does with probabilities: exact zeros clipped at float64 tiny
    return np.log(np.clip(p, np.finfo(np.float64).tiny, None))


def test_duck_typed_fitted_member(members_and_duck):
    X, y, lr, duck = members_and_duck
    X_val, y_val = X[900:], y[900:]
    # the exact MLE on the clipped log-probabilities (the default prior would
    # also floor the duck's exact zeros, see tests/test_no_harm.py)
    duo = DuoClassifier(lr, duck, prior=None).fit(X_val, y_val)
    log_p = _clipped_log(duck.predict_proba(X_val))
    expected = fit_logit_weights([lr.decision_function(X_val), log_p], y_val)
    np.testing.assert_allclose(duo.weights_, expected, rtol=1e-8)
    assert duo.small_ is duck
    assert clone(duo).small is duck  # kept by clone, like any fitted member
    assert duo.get_params()["small"] is duck
    scores = cross_val_score(DuoClassifier(lr, duck), X_val, y_val, cv=3)
    assert np.isfinite(scores).all()
    ts = TemperatureScalingClassifier(duck, prior=None).fit(X_val, y_val)
    np.testing.assert_allclose(ts.weights_, fit_logit_weights([log_p], y_val))
    ens = WeightedEnsembleClassifier([("lr", lr), ("duck", duck)], prior=None)
    ens.fit(X_val, y_val)
    np.testing.assert_allclose(ens.weights_, expected, rtol=1e-8)
    assert ens.get_params()["duck"] is duck


def test_duck_typed_unfitted_member_is_cross_fitted(members_and_duck):
    X, y, lr, _ = members_and_duck
    duo = DuoClassifier(lr, DuckProba(), cv=3).fit(X[900:], y[900:])
    assert isinstance(duo.small_, DuckProba) and hasattr(duo.small_, "classes_")


# --------------------------------------------------------------------------------
# metadata: groups reach the cross-fitting cv, fit params reach members
# --------------------------------------------------------------------------------


class Recording(ClassifierMixin, BaseEstimator):
    """LogisticRegression that records the rows it is fitted on and ``tag``."""

    log = []

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y, tag=None):
        self.model_ = LogisticRegression(C=self.C, max_iter=500).fit(X[:, 1:], y)
        self.classes_ = self.model_.classes_
        Recording.log.append((X[:, 0].astype(int), tag))
        return self

    def decision_function(self, X):
        return self.model_.decision_function(X[:, 1:])

    def predict(self, X):
        return self.model_.predict(X[:, 1:])


def _grouped_data():
    rng = np.random.default_rng(0)
    n = 120
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 3))])
    y = (X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    groups = np.arange(n) // 10  # 12 groups of 10 consecutive rows
    return X, y, groups


def _check_folds_respect_groups(groups, n):
    fold_fits = Recording.log[:-1]  # the last fit is the refit on all rows
    assert len(fold_fits) == 3
    for rows, _ in fold_fits:
        held_out = np.setdiff1d(np.arange(n), rows)
        assert not set(groups[rows]) & set(groups[held_out])
    np.testing.assert_array_equal(Recording.log[-1][0], np.arange(n))


def test_groups_reach_the_cross_fitting_cv():
    X, y, groups = _grouped_data()
    Recording.log = []
    duo = DuoClassifier(Recording(C=0.1), Recording(), cv=GroupKFold(3))
    duo.fit(X, y, groups=groups)
    # two members, each 3 fold fits and a refit
    assert len(Recording.log) == 8
    large_log = Recording.log[:4]
    Recording.log = large_log
    _check_folds_respect_groups(groups, len(y))
    # the weights are those of the out-of-fold logits of GroupKFold
    oof = []
    for c in (0.1, 1.0):
        s = cross_val_predict(
            Recording(C=c),
            X,
            y,
            groups=groups,
            cv=GroupKFold(3),
            method="decision_function",
        )
        oof.append(np.column_stack([np.zeros_like(s), s]))  # binary logits (0, s)
    expected = fit_logit_weights(oof, y, prior="auto", prior_centres=[1, 0])
    np.testing.assert_allclose(duo.weights_, expected, rtol=1e-8)


def test_groups_and_fit_params_with_metadata_routing():
    X, y, groups = _grouped_data()
    tag = np.arange(len(y)) * 10
    with config_context(enable_metadata_routing=True):
        Recording.log = []
        large = Recording().set_fit_request(tag=True)
        ts = TemperatureScalingClassifier(large, cv=GroupKFold(3))
        ts.fit(X, y, groups=groups, tag=tag)
        _check_folds_respect_groups(groups, len(y))
        for rows, got in Recording.log:
            np.testing.assert_array_equal(got, tag[rows])  # per-fold rows of tag
        # a member that did not request the parameter: scikit-learn's error
        with pytest.raises(Exception, match="tag"):
            TemperatureScalingClassifier(Recording()).fit(X, y, tag=tag)
        # fitted members get nothing routed (they are never fitted)
        fitted = Recording().fit(X, y)
        router = DuoClassifier(fitted, Recording()).get_metadata_routing()
        assert "large" not in router._route_mappings
        assert "small" in router._route_mappings


def test_fit_params_need_metadata_routing():
    X, y, _ = _grouped_data()
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['tag'\]"):
        DuoClassifier(Recording(), Recording()).fit(X, y, tag=np.ones(len(y)))


# --------------------------------------------------------------------------------
# a sidekick better than the large model
# --------------------------------------------------------------------------------


def test_warns_when_the_large_member_gets_weight_zero():
    n, k = 400, 4
    z_good, _, y = _problem(n, k, dtype=np.float64)
    rng = np.random.default_rng(2)
    misleading = -2.0 * np.eye(k)[y] + rng.normal(size=(n, k))
    classes = np.arange(k)
    duo = DuoClassifier(
        Precomputed(misleading, classes), Precomputed(z_good, classes), prior=None
    )
    with pytest.warns(UserWarning, match="large member's fitted weight is 0.*swap"):
        duo.fit(_rows(n), y)
    assert duo.weights_[0] == 0.0 and duo.weights_[1] > 0
    # 400 rows determine the scale: the default is that exact MLE (and warns)
    duo = DuoClassifier(Precomputed(misleading, classes), Precomputed(z_good, classes))
    with pytest.warns(UserWarning, match="large member's fitted weight is 0.*swap"):
        duo.fit(_rows(n), y)
    assert duo.weights_[0] == 0.0 and duo.weights_[1] > 0
    # an explicit prior keeps the large member's weight positive (its Gamma
    # prior); the roles warning says the same (issue 26, item 4)
    duo = DuoClassifier(
        Precomputed(misleading, classes), Precomputed(z_good, classes), prior=3.0
    )
    with pytest.warns(UserWarning, match="'small' member is clearly the better.*swap"):
        duo.fit(_rows(n), y)
    assert 0.0 < duo.weights_[0] < 0.01 * duo.weights_[1]
    # the usual roles: no such warning
    duo = DuoClassifier(Precomputed(z_good, classes), Precomputed(misleading, classes))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        duo.fit(_rows(n), y)
    assert duo.weights_[1] == 0.0
