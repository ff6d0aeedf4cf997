"""The array API on precomputed logits: fit_duo, fit_temperature, ensembles."""

import copy
import math
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

import skduo.utils._arrays as ops
from skduo import (
    DuoClassifier,
    LogitEnsemble,
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._fit._modes import FITS_BY_MODE
from skduo._fit._weight_fit import WeightFitResult
from skduo._outputs._logit_ops import log_softmax, softmax

# CalibratedClassifierCV(method="temperature"), the independent reference,
# exists from scikit-learn 1.8
needs_sklearn_temperature = pytest.mark.skipif(
    tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 8),
    reason="CalibratedClassifierCV(method='temperature') needs scikit-learn >= 1.8",
)


def _synthetic(rng, n=600, k=4, signal=1.5):
    y = rng.integers(0, k, n)
    large = 2.0 * (rng.normal(size=(n, k)) + signal * np.eye(k)[y])
    small = 0.7 * (rng.normal(size=(n, k)) + 0.8 * signal * np.eye(k)[y])
    return large, small, y


@pytest.fixture(scope="module")
def fitted_members(digits_splits):
    X_train, y_train, X_val, y_val, X_test, y_test = digits_splits
    large = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    small = GaussianNB().fit(X_train, y_train)
    return large, small, X_val, y_val, X_test


@pytest.mark.parametrize("mode", ["asymmetric", "unweighted", "uq_only"])
def test_duo_classifier_and_array_api_give_identical_weights(fitted_members, mode):
    large, small, X_val, y_val, X_test = fitted_members
    duo = DuoClassifier(FrozenEstimator(large), FrozenEstimator(small), mode=mode)
    duo.fit(X_val, y_val)
    z_l, z_s = large.decision_function(X_val), small.predict_log_proba(X_val)
    arr = fit_duo(z_l, z_s, y_val, mode=mode)
    assert_array_equal(arr.weights, duo.weights_)
    assert arr.validation_nll == pytest.approx(duo.validation_nll_, rel=1e-12)
    t_l, t_s = large.decision_function(X_test), small.predict_log_proba(X_test)
    assert_allclose(arr.predict_proba(t_l, t_s), duo.predict_proba(X_test), atol=1e-12)
    assert_array_equal(duo.classes_[arr.predict(t_l, t_s)], duo.predict(X_test))


def test_fit_temperature_hand_computed_binary_optimum():
    # Binary logits (0, s) with |margin| 1: 3 right, 1 wrong. The NLL
    # 3/4 log(1 + e^-w) + 1/4 log(1 + e^w) is minimal where sigmoid(w) = 3/4,
    # i.e. w = log 3 (hand-derived); NLL = H(3/4) = 0.5623351446 nats.
    logits = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    y = np.array([1, 1, 1, 0])
    ts = fit_temperature(logits, y, prior=None)  # the exact MLE
    assert ts.weights[0] == pytest.approx(np.log(3.0), rel=1e-7)
    assert ts.temperature == pytest.approx(1.0 / np.log(3.0), rel=1e-7)
    assert ts.validation_nll == pytest.approx(0.5623351446, abs=1e-9)
    with pytest.warns(FutureWarning, match="LogitEnsemble.mode"):  # deprecated name
        assert ts.method == "temperature" and ts.n_members == 1


def test_fit_temperature_recovers_generating_temperature(rng):
    # labels drawn from softmax(z); we hand the fit 3 * z, so T should be ~3
    n, k = 20000, 5
    z = 2.0 * rng.normal(size=(n, k))
    p = softmax(z)
    y = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    ts = fit_temperature(3.0 * z, y)
    assert ts.temperature == pytest.approx(3.0, rel=0.03)


def test_unweighted_duo_is_half_the_single_temperatures(rng):
    large, small, y = _synthetic(rng)
    duo = fit_duo(large, small, y, mode="unweighted")
    w_l = fit_temperature(large, y).weights[0]
    w_s = fit_temperature(small, y).weights[0]
    assert_allclose(duo.weights, [w_l / 2, w_s / 2], rtol=1e-12)


def test_asymmetric_duo_never_worse_than_either_member_on_validation(rng):
    large, small, y = _synthetic(rng)
    duo = fit_duo(large, small, y)
    assert duo.validation_nll <= fit_temperature(large, y).validation_nll + 1e-12
    assert duo.validation_nll <= fit_temperature(small, y).validation_nll + 1e-12
    unweighted = fit_duo(large, small, y, mode="unweighted")
    assert duo.validation_nll < unweighted.validation_nll


def test_uq_only_predicts_large_class_with_duo_probabilities(rng):
    large, small, y = _synthetic(rng)
    uq = fit_duo(large, small, y, mode="uq_only")
    asym = fit_duo(large, small, y)
    assert_array_equal(uq.weights, asym.weights)
    assert_array_equal(uq.predict(large, small), large.argmax(axis=1))
    proba = asym.predict_proba(large, small)
    assert_allclose(uq.predict_proba(large, small), proba)
    rows = np.arange(len(y))
    conf = uq.confidence(large, small, kind="msp")
    assert_allclose(conf, proba[rows, large.argmax(axis=1)])
    # entropy confidence: minus the entropy of the duo's probabilities
    neg_h = np.sum(proba * np.log(proba), axis=1)
    assert_allclose(uq.confidence(large, small, kind="neg_entropy"), neg_h, atol=1e-12)


@pytest.mark.parametrize("kind", ["msp", "margin", "neg_entropy"])
@pytest.mark.parametrize("mode", ["asymmetric", "uq_only"])
def test_confidence_does_not_depend_on_column_order(kind, mode):
    # issue #22: a row's confidence must not depend on its column order (a sum
    # in column order broke ties between permuted rows in the last bit)
    rng = np.random.default_rng(0)
    n, k = 600, 400  # several row blocks
    large, small = 3.0 * rng.normal(size=(2, n, k))
    perm = np.argsort(rng.uniform(size=(n, k)), axis=1)
    ens = LogitEnsemble([0.8, 0.3], mode, k, np.nan)
    conf = ens.confidence(large, small, kind=kind)
    shuffled = (np.take_along_axis(z, perm, axis=1) for z in (large, small))
    assert_array_equal(ens.confidence(*shuffled, kind=kind), conf)
    # and the values: float64 softmax, the entropy summed exactly (math.fsum)
    p = softmax(0.8 * large + 0.3 * small)
    pred = large.argmax(1) if mode == "uq_only" else p.argmax(1)
    p_pred = p[np.arange(n), pred]
    ref = {
        "msp": p_pred,
        "margin": p_pred - np.sort(p, axis=1)[:, -2],
        "neg_entropy": [math.fsum(row * np.log(row)) for row in p],
    }[kind]
    if mode == "uq_only" and kind == "margin":  # the large's class: not the top
        top = p.max(1)
        ref = np.where(p_pred >= top, ref, p_pred - top)
    assert_allclose(conf, ref, rtol=1e-12, atol=1e-15)


def test_weighted_ensemble_of_two_equals_duo(rng):
    large, small, y = _synthetic(rng)
    # as exact MLE fits (their default priors differ: symmetric vs duo)
    ens = fit_weighted_ensemble([large, small], y, prior=None)
    assert_array_equal(ens.weights, fit_duo(large, small, y, prior=None).weights)


def test_deep_ensemble_pool_then_calibrate(rng):
    large, small, y = _synthetic(rng)
    de = fit_deep_ensemble([large, small], y)
    ts_mean = fit_temperature((large + small) / 2, y)
    assert_allclose(de.weights, [ts_mean.weights[0] / 2] * 2, rtol=1e-12)
    assert de.temperature == pytest.approx(ts_mean.temperature, rel=1e-12)
    assert de.validation_nll == pytest.approx(ts_mean.validation_nll, rel=1e-12)
    # two identical members: plain temperature scaling of one
    twin = fit_deep_ensemble([large, large], y)
    assert_allclose(twin.weights.sum(), fit_temperature(large, y).weights[0])


def test_learned_ensemble_beats_pooled_on_validation(rng):
    large, small, y = _synthetic(rng)
    noise = rng.normal(size=large.shape)
    members = [large, small, noise]
    learned = fit_weighted_ensemble(members, y)
    pooled = fit_deep_ensemble(members, y)
    assert learned.validation_nll < pooled.validation_nll
    # the exact MLE all but drops the noise; the default prior (centred on the
    # plain average, 1/3 each) keeps a little of it, still 6x below the best
    assert learned.weights[2] < 0.2 * learned.weights[0]
    mle = fit_weighted_ensemble(members, y, prior=None)
    assert mle.weights[2] < 0.1 * mle.weights[0]


def test_logit_ensemble_is_a_plain_linear_combination():
    with pytest.warns(FutureWarning, match="'weighted' is deprecated"):
        ens = LogitEnsemble(np.array([2.0, 0.0]), "weighted", 2, 0.0)
    # softmax((0, 2 * 1)) = (1 / (1 + e^2), e^2 / (1 + e^2)) by hand
    p = ens.predict_proba([[0.0, 1.0]], [[5.0, 0.0]])
    assert_allclose(p, [[1 / (1 + np.e**2), np.e**2 / (1 + np.e**2)]])
    assert ens.temperature == 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": np.array([0, 1, 5])}, r"outside 0\.\.2"),
        ({"y": np.array(["a", "b", "c"])}, "integer class indices"),
        ({"y": np.array([0, 1])}, r"shape \(3,\)"),
        ({"y": np.array([1, 1, 1])}, "single class"),
        ({"small": np.array([[0.0, 1.0, np.nan]] * 3)}, "NaN"),
        ({"small": np.zeros((3, 4))}, "same shape"),
        ({"large": np.zeros(3)}, "2-D"),
        ({"mode": "voting"}, "mode must be one of"),
    ],
)
def test_fit_duo_errors(kwargs, match):
    args = {
        "large": np.eye(3),
        "small": np.eye(3),
        "y": np.array([0, 1, 2]),
        "mode": "asymmetric",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit_duo(args["large"], args["small"], args["y"], mode=args["mode"])


def test_predict_checks_member_count_and_classes(rng):
    large, small, y = _synthetic(rng)
    duo = fit_duo(large, small, y)
    with pytest.raises(ValueError, match="2 member"):
        duo.predict_proba(large)
    with pytest.raises(ValueError, match="columns"):
        duo.predict_proba(large[:, :3], small[:, :3])
    with pytest.raises(ValueError, match="different numbers of rows"):
        duo.predict_proba(large[:5], small[:6])
    with pytest.raises(ValueError, match="kind"):
        duo.confidence(large, small, kind="max_logit")


def test_sample_weight_equals_repetition(rng):
    large, small, y = _synthetic(rng, n=200)
    sw = rng.integers(0, 3, len(y))
    weighted = fit_duo(large, small, y, sample_weight=sw)
    idx = np.repeat(np.arange(len(y)), sw)
    repeated = fit_duo(large[idx], small[idx], y[idx])
    assert_allclose(weighted.weights, repeated.weights, rtol=1e-6)


# --------------------------------------------------------------------------
# outputs: probabilities and log-probabilities are never fitted as logits
# --------------------------------------------------------------------------


def _fit(entry, a, b, y, **kw):
    """Every entry point of the array API, on two members (one for temperature)."""
    if entry == "temperature":
        return fit_temperature(a, y, **kw)
    if entry in ("asymmetric", "unweighted", "uq_only"):
        return fit_duo(a, b, y, mode=entry, **kw)
    if entry == "learned":
        return fit_weighted_ensemble([a, b], y, **kw)
    return fit_deep_ensemble([a, b], y, **kw)


ENTRIES = ["temperature", "asymmetric", "unweighted", "uq_only", "learned", "pooled"]


@pytest.mark.parametrize("entry", ENTRIES)
def test_probabilities_and_log_probabilities_give_the_logits_fit(rng, entry):
    large, small, y = _synthetic(rng)
    ref = _fit(entry, large, small, y)
    assert ref.outputs == ("logits",) * ref.n_members
    t_l, t_s, _ = _synthetic(rng, n=50)
    n_members = ref.n_members
    for conv, kind in [(softmax, "proba"), (log_softmax, "log_proba")]:
        # 'auto' recognises them (one warning per member), declared: silent
        with pytest.warns(UserWarning, match=f"Declare outputs='{kind}'") as rec:
            auto = _fit(entry, conv(large), conv(small), y)
        assert len([r for r in rec if "look like" in str(r.message)]) == n_members
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            declared = _fit(entry, conv(large), conv(small), y, outputs=kind)
        # log(softmax(z)) is z up to a per-row shift, which softmax ignores:
        # the same convex problem, and measured bit-identical weights
        for ens in (auto, declared):
            assert_allclose(ens.weights, ref.weights, rtol=1e-9)
            assert ens.outputs == (kind,) * n_members
            assert ens.validation_nll == pytest.approx(ref.validation_nll, rel=1e-9)
            # the ensemble takes the same kind at prediction
            args = (conv(t_l), conv(t_s))[:n_members]
            expected = ref.predict_proba(*(t_l, t_s)[:n_members])
            assert_allclose(ens.predict_proba(*args), expected, rtol=1e-9, atol=1e-12)
        # float32 probabilities: float32 logarithms, the same weights to 1e-6
        with pytest.warns(UserWarning, match="look like"):
            f32 = _fit(entry, *(conv(z).astype(np.float32) for z in (large, small)), y)
        assert_allclose(f32.weights, ref.weights, rtol=1e-6)


def test_probabilities_fitted_as_logits_differ(rng):
    # declared 'logits': used as they are, no warning -- and a different duo
    # (the paper's point: fitting on probabilities is simply another model)
    large, small, y = _synthetic(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = fit_duo(softmax(large), softmax(small), y, outputs="logits")
    assert raw.outputs == ("logits", "logits")
    ref = fit_duo(large, small, y)
    assert raw.validation_nll > ref.validation_nll + 0.03  # measured 0.576 vs 0.529


def test_auto_warning_text_and_location(rng):
    large, small, y = _synthetic(rng)
    with pytest.warns(UserWarning) as rec:
        fit_duo(softmax(large), small, y)
    (w,) = rec
    assert str(w.message) == (
        "val_logits_large look like probabilities (every inspected row is in "
        "[0, 1] and sums to 1), not logits: using their logarithm, which gives the "
        "same duo as the logits would. Declare outputs='proba' to silence this "
        "warning, or outputs='logits' if they really are logits."
    )
    assert w.filename == __file__  # points at the user's call
    for entry in ENTRIES:
        with pytest.warns(UserWarning, match="look like log-probabilities") as rec:
            _fit(entry, log_softmax(large), small, y)
        assert {r.filename for r in rec} == {__file__}


@pytest.mark.parametrize(
    "outputs, values, match",
    [
        ("proba", "logits", "val_logits_large is not a probability"),
        ("log_proba", "logits", "val_logits_large is not a log-probability"),
        ("probabilities", "logits", "outputs must be one of"),
    ],
)
def test_declared_outputs_are_checked(rng, outputs, values, match):
    large, small, y = _synthetic(rng)
    with pytest.raises(ValueError, match=match):
        fit_duo(large, small, y, outputs=outputs)


def test_one_hot_rows_are_read_as_logits(rng):
    # exact 0/1 rows are probabilities too, but their logarithm is the same up
    # to a scale (0 and log(tiny)): no warning, used as the logits they may be
    y = rng.integers(0, 3, 90)
    hard = np.where(rng.random(90) < 0.3, rng.integers(0, 3, 90), y)  # some wrong
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ts = fit_temperature(np.eye(3)[hard], y)
    assert ts.outputs == ("logits",)


def test_probabilities_at_prediction_of_a_logits_fit_warn(rng):
    large, small, y = _synthetic(rng)
    duo = fit_duo(large, small, y)
    with pytest.warns(UserWarning, match="Logits of member 0 look like probabilities"):
        duo.predict_proba(softmax(large), small)


# --------------------------------------------------------------------------
# binary scores: 1-D s is the logits (0, s)
# --------------------------------------------------------------------------


def test_fit_temperature_accepts_binary_scores_hand_computed():
    # as test_fit_temperature_hand_computed_binary_optimum with s = 1: the
    # optimum is w = log 3 (sigmoid(w) = 3/4)
    s, y = np.ones(4), np.array([1, 1, 1, 0])
    ts = fit_temperature(s, y, prior=None)  # the exact MLE
    assert ts.weights[0] == pytest.approx(np.log(3.0), rel=1e-7)
    two_columns = fit_temperature(np.c_[np.zeros(4), s], y, prior=None)
    assert_array_equal(ts.weights, two_columns.weights)
    # predictions from 1-D scores: sigmoid(w s) by hand = 3/4 at s = 1
    assert_allclose(
        ts.predict_proba(np.array([1.0, -1.0])), [[0.25, 0.75], [0.75, 0.25]]
    )
    assert_allclose(ts.decision_logits(np.array([2.0])), [[0.0, 2 * np.log(3.0)]])
    assert_array_equal(ts.predict(np.array([0.5, -0.5])), [1, 0])


@needs_sklearn_temperature
def test_binary_scores_match_sklearn_temperature_scaling(rng):
    # scikit-learn reads 1-D scores as (-s, s): its beta_ is half our weight
    X = rng.normal(size=(1200, 5))
    y = (X[:, 0] + 0.8 * rng.normal(size=1200) > 0).astype(int)
    lr = LogisticRegression(C=100).fit(X[:400], y[:400])
    s = lr.decision_function(X[400:])
    ts = fit_temperature(s, y[400:], prior=None)  # sklearn fits the exact MLE
    cal = CalibratedClassifierCV(FrozenEstimator(lr), method="temperature")
    cal.fit(X[400:], y[400:])
    beta = cal.calibrated_classifiers_[0].calibrators[0].beta_
    assert ts.weights[0] == pytest.approx(2 * beta, rel=1e-6)  # measured 2e-8
    assert_allclose(ts.predict_proba(s), cal.predict_proba(X[400:]), atol=1e-7)


@pytest.mark.parametrize("entry", ENTRIES)
def test_binary_scores_on_every_entry_point(rng, entry):
    y = rng.integers(0, 2, 400)
    s_l = 2.0 * (rng.normal(size=400) + 1.5 * (2 * y - 1))
    s_s = rng.normal(size=400) + (2 * y - 1)
    ens = _fit(entry, s_l, s_s, y)
    two = _fit(entry, *(np.c_[np.zeros(400), s] for s in (s_l, s_s)), y)
    assert_array_equal(ens.weights, two.weights)
    assert ens.n_classes == 2
    args = (s_l[:20], s_s[:20])[: ens.n_members]
    expected = two.predict_proba(*(np.c_[np.zeros(20), s] for s in args))
    assert_allclose(ens.predict_proba(*args), expected, rtol=1e-14)
    # probabilities of class 1 are recognised: log-odds are the scores
    p = [1.0 / (1.0 + np.exp(-s)) for s in (s_l, s_s)]
    with pytest.warns(UserWarning, match=r"look like probabilities .* is in \[0, 1\]"):
        from_p = _fit(entry, *p, y)
    assert_allclose(from_p.weights, ens.weights, rtol=1e-7)


def test_binary_scores_errors(rng):
    with pytest.raises(ValueError, match="is 1-D .* pass 2-D arrays"):
        fit_duo(np.zeros(3), np.eye(3), np.array([0, 1, 2]))
    duo = fit_duo(*_synthetic(rng))
    with pytest.raises(ValueError, match="1-D .* the fitted model has 4 classes"):
        duo.predict_proba(np.zeros(3), np.zeros(3))


# --------------------------------------------------------------------------
# LogitEnsemble built by hand: validated
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [np.nan, 1.0]}, "finite and non-negative"),
        ({"weights": [-0.5, 1.0]}, "finite and non-negative"),
        ({"weights": [np.inf, 1.0]}, "finite and non-negative"),
        ({"weights": [[1.0, 1.0]]}, "1-D array"),
        ({"weights": [], "mode": "learned"}, "at least one"),
        ({"weights": ["a", "b"]}, "must be numbers"),
        ({"weights": [1.0, 1.0, 1.0]}, "'asymmetric' combines 2 member"),
        ({"weights": [1.0, 1.0], "mode": "temperature"}, "combines 1 member"),
        ({"n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"n_classes": 2.5}, "n_classes must be an integer"),
        ({"n_classes": True}, "n_classes must be an integer"),
        ({"validation_nll": -0.1}, "validation_nll must be a finite non-negative"),
        ({"validation_nll": np.inf}, "validation_nll"),
        ({"validation_nll": "0.3"}, "validation_nll"),
        ({"n_iter": -1}, "n_iter must be an integer >= 0"),
        ({"converged": "yes"}, "converged must be a bool"),
        ({"outputs": ("logits",)}, "one of them per member"),
        ({"outputs": "scores"}, "outputs must be one of"),
    ],
)
def test_logit_ensemble_validates_its_fields(kwargs, match):
    args = {"weights": [0.5, 1.0], "mode": "asymmetric", "n_classes": 3}
    args |= {"validation_nll": 0.3} | kwargs
    with pytest.raises(ValueError, match=match):
        LogitEnsemble(**args)


def test_logit_ensemble_valid_fields_normalised():
    # NaN validation_nll: unknown (built by hand); integers and numpy scalars ok
    ens = LogitEnsemble([1, 0], "asymmetric", np.int64(3), np.nan, np.int32(2))
    assert ens.weights.dtype == np.float64 and ens.outputs == ("logits", "logits")
    with pytest.raises(ValueError, match="read-only"):
        ens.weights[0] = np.nan  # frozen: the weights cannot be made NaN later
    # weight 0 everywhere: uniform probabilities, not NaN
    zero = LogitEnsemble([0.0], "temperature", 2, np.nan, outputs="proba")
    assert_allclose(zero.predict_proba([[0.9, 0.1]]), [[0.5, 0.5]])
    assert zero.outputs == ("proba",)


@pytest.mark.parametrize(
    "restore",
    [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy, copy.copy],
    ids=["pickle", "deepcopy", "copy"],
)
def test_logit_ensemble_weights_stay_read_only_when_restored(rng, restore):
    # issue #22: pickle and deepcopy bypass __post_init__, and the restored
    # array was writable
    large, small, y = _synthetic(rng, n=200)
    for ens in (fit_duo(large, small, y), LogitEnsemble([0.5, 1.0], "learned", 4, 0.3)):
        restored = restore(ens)
        assert_array_equal(restored.weights, ens.weights)
        assert restored.weights.dtype == np.float64
        assert (restored.mode, restored.outputs) == (ens.mode, ens.outputs)
        with pytest.raises(ValueError, match="read-only"):
            restored.weights[0] = np.nan
        assert_array_equal(
            restored.predict_proba(large, small), ens.predict_proba(large, small)
        )


# --------------------------------------------------------------------------
# large inputs: np.memmap and dask reach the weight fit as they are
# --------------------------------------------------------------------------


@pytest.fixture
def recording_fits(monkeypatch):
    """Replace every weight fit by one that records what it receives."""
    calls = []

    def fit(logits, y, sample_weight=None, *, names=None, prior=None):
        calls.append({"logits": list(logits), "y": y, "names": names, "prior": prior})
        m = len(logits)
        return WeightFitResult(np.ones(m), 1.0, np.zeros(m), 0.0, 1, True, False)

    for mode in FITS_BY_MODE:
        monkeypatch.setitem(FITS_BY_MODE, mode, fit)
    return calls


NAMES = {
    "temperature": ("val_logits",),
    "learned": ("val_logits[0]", "val_logits[1]"),
    "pooled": ("val_logits[0]", "val_logits[1]"),
}


@pytest.mark.parametrize("entry", ENTRIES)
def test_fits_pass_dask_arrays_unmaterialised(rng, recording_fits, entry):
    da = pytest.importorskip("dask.array")
    large, small, y = _synthetic(rng)
    members = [da.from_array(z, chunks=(100, 4)) for z in (large, small)]
    probas = [da.from_array(softmax(z), chunks=(150, 2)) for z in (large, small)]
    _fit(entry, *members, da.from_array(y, chunks=100))
    with pytest.warns(UserWarning, match="look like probabilities"):
        _fit(entry, *probas, y)  # converted lazily, still dask
    plain, converted = recording_fits
    assert all(z is m for z, m in zip(plain["logits"], members))
    assert all(isinstance(z, da.Array) for z in converted["logits"])
    assert_allclose(converted["logits"][0].compute(), np.log(softmax(large)))
    assert isinstance(plain["y"], np.ndarray)  # labels are small: computed
    assert plain["names"] == NAMES.get(entry, ("val_logits_large", "val_logits_small"))


def test_fits_pass_memmaps_uncopied_and_scan_nothing(tmp_path, rng, recording_fits):
    large, small, y = _synthetic(rng)
    small[5, 2] = np.nan  # the fit checks finiteness (contract C1), not the API
    maps = []
    for name, z in [("l", large), ("s", small)]:
        mm = np.lib.format.open_memmap(
            tmp_path / f"{name}.npy", "w+", np.float32, z.shape
        )
        mm[:] = z
        maps.append(mm)
    fit_duo(*maps, y, outputs="logits")
    (call,) = recording_fits
    for z, mm in zip(call["logits"], maps):
        assert np.shares_memory(z, mm) and z.dtype == np.float32


def test_nan_error_names_the_argument(rng):
    large, small, y = _synthetic(rng)
    small[3, 1] = np.nan
    with pytest.raises(ValueError, match="val_logits_small contains 1 NaN"):
        fit_duo(large, small, y)


def test_fit_duo_on_dask_and_memmap_equals_numpy(tmp_path, rng):
    da = pytest.importorskip("dask.array")
    large, small, y = _synthetic(rng, n=3000)
    ref = fit_duo(large, small, y)
    lazy = fit_duo(
        da.from_array(large, chunks=700), da.from_array(small, chunks=500), y
    )
    assert_allclose(lazy.weights, ref.weights, rtol=1e-8)
    np.save(tmp_path / "l.npy", large)
    np.save(tmp_path / "s.npy", small)
    mm = [np.load(tmp_path / f, mmap_mode="r") for f in ("l.npy", "s.npy")]
    assert_array_equal(fit_duo(*mm, y).weights, ref.weights)


# --------------------------------------------------------------------------
# prediction in row blocks: peak extra memory <= the output
# --------------------------------------------------------------------------

#: Small blocks so that the test arrays span many of them.
_TEST_BLOCK = 2**12


def _peak(func, *args, **kwargs):
    """(result, tracemalloc peak of the call in bytes)."""
    tracemalloc.start()
    try:
        out = func(*args, **kwargs)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


METHODS = [
    ("decision_logits", {}),
    ("predict_proba", {}),
    ("predict_log_proba", {}),
    ("predict", {}),
    ("confidence", {"kind": "msp"}),
    ("confidence", {"kind": "margin"}),
    ("confidence", {"kind": "neg_entropy"}),
]


@pytest.mark.parametrize("mode", ["asymmetric", "uq_only"])
@pytest.mark.parametrize("method, kwargs", METHODS)
def test_prediction_peak_memory_is_the_output(
    tmp_path, rng, monkeypatch, mode, method, kwargs
):
    monkeypatch.setattr(ops, "BLOCK_ELEMENTS", _TEST_BLOCK)
    n, k = 3000, 100
    ens = LogitEnsemble([0.7, 0.4], mode, k, 0.5)
    a = (3 * rng.normal(size=(n, k))).astype(np.float32)
    b = rng.normal(size=(n, k)).astype(np.float32)
    # reference: the formulas on whole arrays
    z = 0.7 * a.astype(np.float64) + 0.4 * b.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    pred = np.argmax(a if mode == "uq_only" else z, axis=1)
    rows = np.arange(n)
    top2 = np.sort(np.where(np.eye(k, dtype=bool)[pred], -1.0, p), axis=1)[:, -1]
    expected = {
        "decision_logits": z,
        "predict_proba": p,
        "predict_log_proba": np.log(p),
        "predict": pred,
        "msp": p[rows, pred],
        "margin": p[rows, pred] - top2,
        "neg_entropy": np.sum(p * np.log(p), axis=1),
    }[kwargs.get("kind", method)]
    np.save(tmp_path / "a.npy", a)
    mm = np.load(tmp_path / "a.npy", mmap_mode="r")
    for first in (a, mm):  # in memory and streamed from disk
        out, peak = _peak(getattr(ens, method), first, b, **kwargs)
        assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
        if out.ndim == 2:
            # measured 1.06: the output plus a few blocks of temporaries
            assert peak / out.nbytes <= 1.1
        else:
            # no n x K array at all: the output plus a few 32 KiB blocks
            # (measured 4.3-5.3 blocks; one float64 n x K array is 73 blocks)
            assert peak <= out.nbytes + 8 * _TEST_BLOCK * 8


def test_dask_prediction_is_lazy_and_equals_numpy(rng, monkeypatch):
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(ops, "BLOCK_ELEMENTS", 64)  # blocks within chunks
    large, small, y = _synthetic(rng, n=1000)
    computed = []

    def source(block, block_info=None):
        computed.append(block_info[0]["chunk-location"])
        return block

    lazy_l = da.from_array(large, chunks=(300, 2)).map_blocks(source, dtype=float)
    lazy_s = da.from_array(small, chunks=(128, 4))
    for mode in ("asymmetric", "uq_only"):
        duo = fit_duo(large, small, y, mode=mode)
        for method, kwargs in METHODS:
            out = getattr(duo, method)(lazy_l, lazy_s, **kwargs)
            assert isinstance(out, da.Array) and not computed
            assert out.chunks[0] == (300, 300, 300, 100)
            ref = getattr(duo, method)(large, small, **kwargs)
            assert_array_equal(out.compute(), ref)
            computed.clear()
        # a mix of dask and NumPy inputs
        mixed = duo.predict(lazy_l, small).compute()
        assert_array_equal(mixed, duo.predict(large, small))
        computed.clear()
    # 1-D binary scores as dask arrays
    y2 = rng.integers(0, 2, 500)
    s_l, s_s = rng.normal(size=500) + 2 * y2, rng.normal(size=500) + y2
    duo = fit_duo(s_l, s_s, y2)
    lazy = duo.predict_proba(da.from_array(s_l, chunks=200), s_s)
    assert_array_equal(lazy.compute(), duo.predict_proba(s_l, s_s))


def test_prediction_rejects_nan_in_the_block_loop(rng, monkeypatch):
    monkeypatch.setattr(ops, "BLOCK_ELEMENTS", 40)  # 10 rows of 4 classes
    large, small, y = _synthetic(rng)
    duo = fit_duo(large, small, y)
    bad = small.copy()
    bad[123, 1], bad[125, 0] = np.nan, np.inf
    with pytest.raises(
        ValueError, match=r"member 1 contains 1 NaN and 1 infinite .*120\.\.129"
    ):
        duo.predict(large, bad)
    # a member of weight 0 is still checked
    ens = LogitEnsemble([1.0, 0.0], "asymmetric", 4, np.nan)
    with pytest.raises(ValueError, match="member 1 contains 1 NaN"):
        ens.predict_proba(large, bad)
    da = pytest.importorskip("dask.array")
    lazy = duo.predict_proba(large, da.from_array(bad, chunks=100))
    with pytest.raises(ValueError, match=r"member 1 contains .*120\.\.129"):
        lazy.compute()


@given(
    n=st.integers(1, 40),
    k=st.integers(2, 6),
    block=st.integers(1, 64),
    seed=st.integers(0, 2**16),
)
def test_block_loop_equals_whole_array_formulas(n, k, block, seed):
    # any block size (down to single elements: one row per block) gives the
    # whole-array results exactly
    rng = np.random.default_rng(seed)
    a, b = 5 * rng.normal(size=(n, k)), rng.normal(size=(n, k)).astype(np.float32)
    ens = LogitEnsemble(rng.random(2) * 2, "asymmetric", k, np.nan)
    whole = [ens.decision_logits(a, b), ens.predict_log_proba(a, b), ens.predict(a, b)]
    old = ops.BLOCK_ELEMENTS
    ops.BLOCK_ELEMENTS = block
    try:
        blocked = [ens.decision_logits(a, b), ens.predict_log_proba(a, b)]
        blocked.append(ens.predict(a, b))
    finally:
        ops.BLOCK_ELEMENTS = old
    for x, y in zip(whole, blocked):
        assert_array_equal(x, y)
    z = ens.weights[0] * a + ens.weights[1] * b.astype(np.float64)
    assert_allclose(whole[0], z, rtol=1e-15)
    lse = z.max(axis=1, keepdims=True)
    lse = lse + np.log(np.exp(z - lse).sum(axis=1, keepdims=True))
    assert_allclose(whole[1], z - lse, rtol=1e-12, atol=1e-12)
