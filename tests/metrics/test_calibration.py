"""Tests for expected_calibration_error and reliability_curve."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from skduo.metrics import expected_calibration_error, reliability_curve
from skduo.metrics._calibration import _assign_bins


def test_toy_example_matches_paper(toy):
    y, proba, ref = toy
    # PAPER.md §3: official ECE, 15 bins (lo, hi], float32 torch.
    assert expected_calibration_error(y, proba) == pytest.approx(ref["ece"], abs=1e-7)


def test_hand_computed_top_label():
    y = [0, 1, 1, 0]
    proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    # 4 bins: (.5,.75] holds .7 (right), .6 (wrong), .55 (right): gap
    # |1.85 - 2| = .15; (.75,1] holds .9 (right): gap .1. ECE = .25/4.
    assert expected_calibration_error(y, proba, n_bins=4) == pytest.approx(0.0625)
    conf, acc, weight, edges = reliability_curve(y, proba, n_bins=4)
    np.testing.assert_allclose(conf, [np.nan, np.nan, 1.85 / 3, 0.9])
    np.testing.assert_allclose(acc, [np.nan, np.nan, 2 / 3, 1.0])
    np.testing.assert_array_equal(weight, [0, 0, 3, 1])
    np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1])


def test_hand_computed_classwise():
    y = [0, 1, 1, 0]
    proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    # 15 bins. Class 0: .9->bin 13 (gap .1), .3->bin 4 (.3), .6 and .55 share
    # (8/15, 9/15]: |1.15 - 1| = .15 -> .55/4. Class 1: .1 (.1), .7 (.3),
    # .4 = 6/15 closes bin 5 (.6), .45 (.45) -> 1.45/4. Mean 0.25.
    assert expected_calibration_error(y, proba, classwise=True) == pytest.approx(0.25)


def test_bins_are_closed_on_the_right_and_zero_is_in_first_bin():
    edges = np.linspace(0, 1, 6)
    values = np.array([0.0, 0.2, 0.2000001, 0.6, 1.0, 1.0 + 1e-9])
    np.testing.assert_array_equal(_assign_bins(values, edges), [0, 0, 1, 2, 4, 4])
    # A confidence of exactly 1.0 that is right has zero gap in the last bin.
    assert expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_quantile_strategy_hand_computed():
    y = np.array([0, 0, 0, 0, 1, 1])
    # top-label confidences .5 .6 .7 .8 .9 1.0; predictions all class 0, so
    # the last two are wrong. Two equal-mass bins: (0, .7] and (.7, 1].
    p0 = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    proba = np.c_[p0, 1 - p0]
    conf, acc, weight, edges = reliability_curve(
        y, proba, n_bins=2, strategy="quantile"
    )
    np.testing.assert_allclose(edges, [0, 0.7, 1])
    np.testing.assert_array_equal(weight, [3, 3])
    np.testing.assert_allclose(conf, [0.6, 0.9])
    np.testing.assert_allclose(acc, [1.0, 1 / 3])
    ece = expected_calibration_error(y, proba, n_bins=2, strategy="quantile")
    assert ece == pytest.approx(0.5 * 0.4 + 0.5 * (0.9 - 1 / 3))


def test_quantile_merges_tied_edges():
    proba = np.tile([[0.8, 0.2]], (10, 1))
    y = np.zeros(10, dtype=int)
    _, _, weight, edges = reliability_curve(
        y, proba, labels=[0, 1], n_bins=5, strategy="quantile"
    )
    np.testing.assert_allclose(edges, [0, 0.8, 1])
    np.testing.assert_array_equal(weight, [10, 0])


def test_reliability_curve_reproduces_ece(rng):
    proba = rng.dirichlet(np.ones(4) * 0.5, size=500)
    y = rng.integers(0, 4, size=500)
    w = rng.random(500)
    for strategy in ("uniform", "quantile"):
        conf, acc, weight, _ = reliability_curve(
            y, proba, sample_weight=w, strategy=strategy
        )
        ece = np.nansum(weight * np.abs(conf - acc)) / weight.sum()
        assert ece == pytest.approx(
            expected_calibration_error(y, proba, sample_weight=w, strategy=strategy)
        )


def test_classwise_binary_matches_sklearn_calibration_curve(rng):
    # For class 1 of a binary problem, the class-wise term is sklearn's
    # calibration_curve gap weighted by bin counts (no values on bin edges).
    n, n_bins = 2000, 10
    p1 = rng.random(n)
    y = (rng.random(n) < p1**2).astype(int)
    prob_true, prob_pred = calibration_curve(y, p1, n_bins=n_bins)
    counts = np.histogram(p1, bins=np.linspace(0, 1, n_bins + 1))[0]
    counts = counts[counts > 0]
    term = np.sum(counts * np.abs(prob_true - prob_pred)) / n
    # Both classes give the same term in the binary case.
    got = expected_calibration_error(y, p1, n_bins=n_bins, classwise=True)
    assert got == pytest.approx(term, rel=1e-12)


def test_class_absent_from_y_true_with_labels():
    proba = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]
    assert expected_calibration_error(
        [0, 1], proba, labels=[0, 1, 2], n_bins=10
    ) == pytest.approx((0.3 + 0.2) / 2)
    with pytest.raises(ValueError, match="different number of classes"):
        expected_calibration_error([0, 1], proba)


def test_one_sample():
    assert expected_calibration_error(
        [1], [[0.25, 0.75]], labels=[0, 1]
    ) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_bins=0), "'n_bins' parameter"),
        (dict(strategy="equal"), "'strategy' parameter"),
        (dict(sample_weight=[1, 1]), "inconsistent numbers of samples"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error([0, 1, 1], [[0.9, 0.1]] * 3, **kwargs)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------
@st.composite
def proba_data(draw):
    n = draw(st.integers(1, 25))
    k = draw(st.integers(2, 4))
    raw = np.array(
        draw(st.lists(st.integers(0, 10), min_size=n * k, max_size=n * k)), float
    ).reshape(n, k)
    raw[:, 0] += 1  # no all-zero rows
    proba = raw / raw.sum(1, keepdims=True)
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    if w.sum() == 0:
        w[0] = 1
    return y, proba, w, np.arange(k)


OPTIONS = [
    dict(),
    dict(strategy="quantile", n_bins=4),
    dict(classwise=True, n_bins=5),
    dict(classwise=True, strategy="quantile", n_bins=3),
]


@given(proba_data())
def test_ece_in_unit_interval_and_permutation_invariant(data):
    y, proba, w, labels = data
    perm = np.random.default_rng(len(y)).permutation(len(y))
    for opts in OPTIONS:
        ece = expected_calibration_error(y, proba, labels=labels, **opts)
        assert 0.0 <= ece <= 1.0
        permuted = expected_calibration_error(
            y[perm], proba[perm], labels=labels, **opts
        )
        assert permuted == pytest.approx(ece, abs=1e-12)


@given(proba_data())
def test_integer_weights_equal_repeated_rows(data):
    y, proba, w, labels = data
    rep = np.repeat(np.arange(len(y)), w)
    for opts in OPTIONS:
        weighted = expected_calibration_error(
            y, proba, labels=labels, sample_weight=w, **opts
        )
        repeated = expected_calibration_error(y[rep], proba[rep], labels=labels, **opts)
        assert weighted == pytest.approx(repeated, abs=1e-12)
