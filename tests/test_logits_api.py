"""The array API on precomputed logits: fit_duo, fit_temperature, ensembles."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from skduo import (
    DuoClassifier,
    LogitEnsemble,
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._logit_ops import softmax


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
    ts = fit_temperature(logits, y)
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


def test_weighted_ensemble_of_two_equals_duo(rng):
    large, small, y = _synthetic(rng)
    ens = fit_weighted_ensemble([large, small], y)
    assert_array_equal(ens.weights, fit_duo(large, small, y).weights)


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
    assert learned.weights[2] < 0.1 * learned.weights[0]


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
