"""Tests for multiclass_brier_score, nll_loss and the shared input checks."""

import inspect
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.metrics import brier_score_loss, log_loss

from skduo.metrics import (
    aurc,
    calibration_refinement_decomposition,
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
)
from skduo.metrics._bootstrap_engine import _nll_rows


def test_toy_example_matches_paper(toy):
    y, proba, ref = toy
    # PAPER.md §3: official Brier (= multi-class / K) and sklearn log_loss NLL.
    brier = multiclass_brier_score(y, proba, divide_by_n_classes=True)
    assert brier == pytest.approx(ref["brier_divided_by_k"], abs=1e-7)
    # hand sum of the eight squared distances: 3.4134 / 8
    assert multiclass_brier_score(y, proba) == pytest.approx(0.426675, abs=1e-7)
    assert nll_loss(y, proba) == pytest.approx(ref["nll"], abs=1e-7)


def test_brier_matches_sklearn(rng):
    proba = rng.dirichlet(np.ones(4), size=100)
    y = rng.integers(0, 4, size=100)
    w = rng.random(100)
    labels = np.arange(4)
    ours = multiclass_brier_score(y, proba, labels=labels, sample_weight=w)
    onehot = np.eye(4)[y]
    if "scale_by_half" in inspect.signature(brier_score_loss).parameters:
        theirs = brier_score_loss(
            y, proba, labels=labels, sample_weight=w, scale_by_half=False
        )
    else:  # scikit-learn < 1.7: binary only; the definition by hand
        theirs = np.average(((proba - onehot) ** 2).sum(axis=1), weights=w)
    assert ours == pytest.approx(theirs, rel=1e-12)
    # the official divided-by-K value: sklearn on the flattened one-hot matrix
    flat = brier_score_loss(onehot.ravel(), proba.ravel())
    ours_k = multiclass_brier_score(y, proba, labels=labels, divide_by_n_classes=True)
    assert ours_k == pytest.approx(flat, rel=1e-12)


def test_binary_brier_is_twice_classical():
    y = [0, 1, 1]
    p1 = np.array([0.2, 0.6, 0.9])
    classical = brier_score_loss(y, p1)  # mean (p - y)^2
    assert multiclass_brier_score(y, p1) == pytest.approx(2 * classical)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nll_matches_sklearn_log_loss(rng, dtype):
    proba = rng.dirichlet(np.ones(5) * 0.3, size=200).astype(dtype)
    proba[:3] = np.eye(5, dtype=dtype)[[1, 2, 3]]  # exact zeros on true class
    y = rng.integers(0, 5, size=200)
    y[:3] = 0
    w = rng.random(200)
    labels = np.arange(5)
    ours = nll_loss(y, proba, labels=labels, sample_weight=w)
    theirs = log_loss(y, proba, labels=labels, sample_weight=w)
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_nll_float32_cap():
    # PAPER.md §3: with float32 input the per-sample cap is -log(eps32) = 15.94.
    proba = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    y = [1, 1]
    assert nll_loss(y, proba, labels=[0, 1]) == pytest.approx(15.942385 / 2, abs=1e-6)
    assert nll_loss(y, proba.astype(np.float64), labels=[0, 1]) == pytest.approx(
        36.0436533 / 2
    )
    assert nll_loss(y, proba, eps=1e-3, labels=[0, 1]) == pytest.approx(
        -np.log(1e-3) / 2
    )


def test_nll_from_logits(rng):
    z = rng.normal(size=(50, 3)) * 4
    y = rng.integers(0, 3, size=50)
    w = rng.random(50)
    expected = log_loss(y, softmax(z, axis=1), labels=[0, 1, 2], sample_weight=w)
    got = nll_loss(y, logits=z, labels=[0, 1, 2], sample_weight=w)
    assert got == pytest.approx(expected, rel=1e-10)
    # invariant to a row-wise shift; log-probabilities are valid logits
    assert nll_loss(y, logits=z + 100, labels=[0, 1, 2]) == pytest.approx(
        nll_loss(y, logits=np.log(softmax(z, axis=1)), labels=[0, 1, 2])
    )


def _mp_nll(row, label):
    """``logsumexp(row) - row[label]`` in 50-digit arithmetic (mpmath)."""
    from mpmath import mp

    with mp.workdps(50):
        z = [mp.mpf(float(v)) for v in row]
        return float(mp.log(mp.fsum(mp.exp(v) for v in z)) - z[label])


@pytest.mark.parametrize(
    "row, expected",
    [
        # issue #22: log1p(exp(-25)) = 1.388794386486758e-11 (was 1.455e-11)
        ([1e4, 1e4 - 25], 1.3887943864867583e-11),
        # log1p(exp(-30)) = 9.357622968839737e-14 (was 0.0)
        ([1e5, 1e5 - 30], 9.357622968839737e-14),
        # a tied runner-up: log 2 + log1p(exp(-40) / 2)
        ([0.0, 0.0, -40.0], 0.6931471805599453),
    ],
)
def test_nll_from_logits_keeps_tiny_losses_accurate(row, expected):
    # expected: the exact expressions, evaluated (and checked) with mpmath
    assert _mp_nll(row, 0) == pytest.approx(expected, rel=1e-15, abs=0)
    labels = list(range(len(row)))
    got = nll_loss([0], logits=[row], labels=labels)
    assert got == pytest.approx(expected, rel=4e-16, abs=0)
    # the same values in the decomposition's score and the bootstrap's rows
    split = calibration_refinement_decomposition([0], logits=[row], labels=labels)
    assert split.score == got
    assert _nll_rows(np.array([row]), np.array([0]))[0] == got


def test_nll_from_logits_against_an_arbitrary_precision_reference():
    # rows of every regime: tiny, moderate and large losses, wide logit ranges
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 5)) * np.array([[0.1], [3.0], [40.0]]).repeat(20, 0)
    z[::7] += 1e4
    y = np.where(np.arange(60) % 3 == 0, z.argmax(1), rng.integers(0, 5, 60))
    ref = np.array([_mp_nll(row, label) for row, label in zip(z, y)])
    for i in range(60):
        got = nll_loss([y[i]], logits=z[i : i + 1], labels=range(5))
        # the bound of the problem's conditioning: each difference z_j - z_a
        # is rounded to half an ulp of the logits (2^-53 max|z| absolute), which
        # moves exp(z_j - z_a), so a loss below 1, by as much relatively
        scale = 2.0**-52 * np.abs(z[i]).max()
        tol = 4.5e-16 * ref[i] + scale * min(ref[i], 1.0)
        assert abs(got - ref[i]) <= tol, (i, got, ref[i])


def test_nll_from_saturated_logits_is_exact():
    # softmax([60, 0]) is exactly [1, 0] in float32; the true NLL of label 1
    # is 60 + log(1 + e^-60) ~= 60, far above any clipped value.
    z = np.array([[60.0, 0.0]])
    assert nll_loss([1], logits=z, labels=[0, 1]) == pytest.approx(60.0)
    p32 = softmax(z, axis=1).astype(np.float32)
    assert nll_loss([1], p32, labels=[0, 1]) == pytest.approx(15.942385, abs=1e-5)


def test_nll_binary_1d_logits():
    # one logit per sample = log-odds of the second class, logits (0, x)
    x = np.array([2.0, -1.0, 0.5])
    y = np.array([1, 0, 0])
    p1 = 1 / (1 + np.exp(-x))
    assert nll_loss(y, logits=x) == pytest.approx(log_loss(y, p1))


def test_nll_needs_exactly_one_input():
    with pytest.raises(ValueError, match="exactly one of y_proba or logits"):
        nll_loss([0, 1])
    with pytest.raises(ValueError, match="exactly one of y_proba or logits"):
        nll_loss([0, 1], [[0.5, 0.5]] * 2, logits=[[0.0, 0.0]] * 2)
    with pytest.raises(ValueError, match="logits contains NaN"):
        nll_loss([0, 1], logits=[[0.0, np.nan], [0.0, 0.0]])
    with pytest.raises(ValueError, match="different number of classes"):
        nll_loss([0, 1], logits=[[0.0, 1.0, 2.0]] * 2)


# --------------------------------------------------------------------------
# Shared input validation (run through several metrics)
# --------------------------------------------------------------------------
METRICS = [multiclass_brier_score, nll_loss, expected_calibration_error, aurc]
Y = np.array([0, 1, 2, 1])
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]])


@pytest.mark.parametrize("metric", METRICS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "y_true, y_proba, kwargs, match",
    [
        (Y, P * 1.2, {}, "Rows of y_proba must sum to one"),
        (Y, P * 3 - 1, {}, "probabilities in \\[0, 1\\].*logits"),
        (Y, np.where(P == 0.7, np.nan, P), {}, "y_proba contains NaN or infinity"),
        (Y, np.where(P == 0.7, np.inf, P), {}, "y_proba contains NaN or infinity"),
        (Y, P[:3], {}, "inconsistent numbers of samples"),
        (Y[:2], P[:2], {}, "different number of classes: 2 vs 3"),
        (Y % 2, P, dict(labels=[0, 1]), "number of classes in labels is different"),
        (Y, P, dict(labels=[0, 1]), r"y_true contains values \{2\}"),
        (Y, P, dict(labels=[1]), "at least two labels"),
        (Y, P, dict(labels=[0, 1, 3]), r"y_true contains values \{2\}"),
        (Y, P, dict(labels=[0, 1, 2, 3]), "number of classes in labels is different"),
        (Y, P, dict(sample_weight=[1, 1, -1, 1]), "Negative values in sample_weight"),
        (Y, P, dict(sample_weight=[1, 1, np.nan, 1]), "sample_weight contains NaN"),
        (Y, P, dict(sample_weight=[1, 1, 1]), "inconsistent numbers of samples"),
        ([], np.zeros((0, 3)), {}, "Found empty input"),
        ([1, 1], P[:2], {}, "only one label"),
        (Y, P[:, :, None], {}, "must be 1-D or 2-D"),
        (Y, [["a", "b", "c"]] * 4, {}, "must contain numbers"),
    ],
)
def test_bad_input(metric, y_true, y_proba, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metric(y_true, y_proba, **kwargs)


def test_label_messages_mirror_log_loss():
    # Same wording as sklearn.metrics.log_loss for the two label mismatches.
    with pytest.raises(ValueError, match="Please provide the true labels") as ours:
        nll_loss(Y[:2], P[:2])
    with pytest.raises(ValueError, match="Please provide the true labels") as theirs:
        log_loss(Y[:2], P[:2])
    first = "y_true and y_proba contain different number of classes: 2 vs 3"
    assert str(ours.value).split(".")[0] == first
    theirs = str(theirs.value).split(".")[0]
    # scikit-learn 1.6 words it "y_true and y_pred contain different number
    # of classes 2, 3"; skduo keeps the newer wording (1.8: "y_prob ... 2 vs 3")
    if "y_prob " in theirs:
        assert theirs.replace("y_prob", "y_proba") == first
    with pytest.raises(ValueError, match=r"y_true contains values \{2\} not belonging"):
        nll_loss(Y, P, labels=[0, 1, 3])
    try:
        log_loss(Y, P, labels=[0, 1, 3])
    except ValueError as exc:  # newer scikit-learn; 1.6.1 returns 0.374 silently
        assert re.match("y_true contains values .* not belonging", str(exc))


def test_probability_tolerance_depends_on_dtype():
    off = P.copy()
    off[:, 0] += 1e-4  # rows sum to 1.0001
    assert np.isfinite(multiclass_brier_score(Y, off.astype(np.float32)))
    with pytest.raises(ValueError, match="tolerance 1e-05"):
        multiclass_brier_score(Y, off)
    # float32 softmax rows cast to float64 are accepted
    z = np.random.default_rng(0).normal(size=(1000, 50)) * 5
    p32 = softmax(z.astype(np.float32), axis=1).astype(np.float64)
    y = np.arange(1000) % 50
    assert np.isfinite(multiclass_brier_score(y, p32))


def test_labels_in_any_order_and_strings():
    y = np.array(["b", "a", "c"])
    proba = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    expected = multiclass_brier_score(y, proba)  # columns a, b, c
    shuffled = proba[:, [2, 0, 1]]
    assert multiclass_brier_score(y, shuffled, labels=["c", "a", "b"]) == expected
    assert nll_loss(y, shuffled, labels=["c", "a", "b"]) == nll_loss(y, proba)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------
@given(
    st.lists(st.integers(0, 2), min_size=1, max_size=20),
    st.integers(0, 2**32 - 1),
)
def test_integer_weights_equal_repeated_rows(y, seed):
    rng = np.random.default_rng(seed)
    y = np.array(y)
    proba = rng.dirichlet(np.ones(3), size=len(y))
    w = rng.integers(0, 4, size=len(y))
    w[0] += 1
    rep = np.repeat(np.arange(len(y)), w)
    kw = dict(labels=[0, 1, 2])
    for metric in (multiclass_brier_score, nll_loss):
        assert metric(y, proba, sample_weight=w, **kw) == pytest.approx(
            metric(y[rep], proba[rep], **kw), rel=1e-12
        )
