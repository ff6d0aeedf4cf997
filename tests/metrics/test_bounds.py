"""Every bounded metric stays inside its documented range, to the last bit."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from skduo.metrics import (
    augrc,
    aurc,
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
    reliability_curve,
    risk_coverage_curve,
    selective_metrics,
)


def test_augrc_all_wrong_is_exactly_one_half():
    # issue 14: the trapezoid sum of an all-wrong curve rounded to
    # 0.5000000000000001 with these weights; all wrong is exactly 1/2.
    kw = dict(
        y_pred=[1, 1, 1],
        confidence=np.array([0.0, 0.0, 0.125]),
        sample_weight=[0.37, 1.37, 3.37],
    )
    assert augrc([0, 0, 0], None, **kw) == 0.5
    assert aurc([0, 0, 0], None, **kw) == 1.0


@st.composite
def predictions(draw):
    n = draw(st.integers(1, 25))
    k = draw(st.integers(2, 4))
    unit = st.floats(0.0, 1.0, allow_subnormal=False)
    raw = np.array(draw(st.lists(unit, min_size=n * k, max_size=n * k))).reshape(n, k)
    raw[raw.sum(axis=1) == 0, 0] = 1.0
    proba = raw / raw.sum(axis=1, keepdims=True)
    if draw(st.booleans()):
        proba = proba.astype(np.float32)
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    weights = None
    if draw(st.booleans()):
        w = st.floats(0.0, 5.0, allow_subnormal=False)
        weights = np.array(draw(st.lists(w, min_size=n, max_size=n)))
        if not weights.sum() > 0:
            weights[0] = 0.37
    y_pred = None
    if draw(st.booleans()):
        y_pred = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return y, proba, weights, y_pred


@settings(max_examples=300, deadline=None)
@given(predictions(), st.sampled_from(["msp", "margin", "neg_entropy"]))
def test_every_bounded_metric_stays_in_its_range(data, confidence):
    y, proba, w, y_pred = data
    labels = np.arange(proba.shape[1])
    kw = dict(labels=labels, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        sel = selective_metrics(
            y, proba, confidence=confidence, y_pred=y_pred, coverage=0.5, **kw
        )
    assert 0.0 <= sel["aurc"] <= 1.0
    assert 0.0 <= sel["eaurc"] <= sel["aurc"]
    assert 0.0 <= sel["augrc"] <= 0.5
    auroc = sel["correctness_auroc"]
    assert np.isnan(auroc) or 0.0 <= auroc <= 1.0
    assert 0.0 <= sel["coverage_at_accuracy"] <= 1.0
    assert 0.0 <= sel["risk_at_coverage"] <= 1.0
    coverage, risk, _ = risk_coverage_curve(
        y, proba, confidence=confidence, y_pred=y_pred, **kw
    )
    assert (coverage > 0).all() and (coverage <= 1).all() and coverage[-1] == 1.0
    assert ((risk >= 0) & (risk <= 1)).all()
    for strategy in ("uniform", "quantile"):
        for classwise in (False, True):
            ece = expected_calibration_error(
                y, proba, strategy=strategy, classwise=classwise, **kw
            )
            assert 0.0 <= ece <= 1.0
        conf, acc, weight, _ = reliability_curve(y, proba, strategy=strategy, **kw)
        full = weight > 0
        assert ((conf[full] >= 0) & (conf[full] <= 1)).all()
        assert ((acc[full] >= 0) & (acc[full] <= 1)).all()
    assert 0.0 <= multiclass_brier_score(y, proba, **kw) <= 2.0
    k = proba.shape[1]
    brier_k = multiclass_brier_score(y, proba, divide_by_n_classes=True, **kw)
    assert 0.0 <= brier_k <= 2.0 / k
    assert nll_loss(y, proba, **kw) >= 0.0
    with np.errstate(divide="ignore"):
        logits = np.log(proba.astype(np.float64))
    finite = np.where(np.isfinite(logits), logits, -800.0)
    assert nll_loss(y, logits=finite, **kw) >= 0.0


@pytest.mark.parametrize("n_wrong", [0, 3])
@given(
    st.lists(st.floats(0.01, 5.0, allow_subnormal=False), min_size=3, max_size=3),
    st.lists(st.integers(0, 8), min_size=3, max_size=3),
)
def test_all_correct_and_all_wrong_are_exact_under_any_weights(n_wrong, w, conf):
    # The end points of the ranges are hit exactly, not one rounding away.
    y = np.zeros(3, dtype=int)
    pred = np.r_[np.ones(n_wrong, dtype=int), np.zeros(3 - n_wrong, dtype=int)]
    kw = dict(y_pred=pred, confidence=np.array(conf) / 8, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        res = selective_metrics(y, None, labels=[0, 1], **kw)
    wrong = n_wrong == 3
    assert res["aurc"] == (1.0 if wrong else 0.0)
    assert res["augrc"] == (0.5 if wrong else 0.0)
    assert res["eaurc"] == 0.0
    assert res["coverage_at_accuracy"] == (0.0 if wrong else 1.0)


def test_probabilities_at_the_tolerance_keep_the_bounds():
    # float32 rows accepted within the tolerance (3.5e-4) but with an entry
    # above 1: a probability above 1 is round-off, not evidence.
    y = np.array([0, 1, 0])
    p = np.array([[1.0002, -0.0002], [1.0002, -0.0002], [0.3, 0.7]], np.float32)
    assert nll_loss(y, p) >= 0.0
    # row 0: -log(min(1.0002, 1)) = 0; row 1: p = -0.0002 clipped at the
    # float32 eps, -log(eps) = 15.94; row 2: -log(0.3)
    eps, p03 = float(np.finfo(np.float32).eps), float(np.float32(0.3))
    expected = (0.0 - np.log(eps) - np.log(p03)) / 3
    assert nll_loss(y, p) == pytest.approx(expected, rel=1e-12)
    ece = expected_calibration_error(y, p, n_bins=2)
    # top-label confidence min(1.0002, 1) = 1: bin 2 holds 1 (right), 1
    # (wrong), 0.7 (wrong): |2.7 - 1| / 3
    assert ece == pytest.approx((2.7 - 1.0) / 3)
    conf, _, weight, _ = reliability_curve(y, p, n_bins=2)
    assert conf[weight > 0].max() <= 1.0
