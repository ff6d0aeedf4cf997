"""Tests for the selective-classification metrics in skduo.metrics._selective."""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import xlogy
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score

from skduo.metrics import (
    augrc,
    aurc,
    correctness_auroc,
    coverage_at_accuracy,
    eaurc,
    risk_at_coverage,
    risk_coverage_curve,
    selective_metrics,
)
from skduo.metrics._ranking import _RankedCorrectness

SCALARS = [aurc, eaurc, augrc, correctness_auroc]


# --------------------------------------------------------------------------
# Independent re-implementations of the official definitions (PAPER.md §3)
# --------------------------------------------------------------------------
def official_aurc(correct, conf, order=None):
    """Mean of risk_k = errors among the k most confident / k, k = 1..N."""
    if order is None:
        order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(~correct[order])
    return np.mean(errors / np.arange(1, len(conf) + 1))


def official_aurc_optimal(correct):
    n, m = len(correct), int(correct.sum())
    return sum((k - m) / k for k in range(m + 1, n + 1)) / n


def official_sac(correct, conf, t):
    """Largest k/N with risk_k <= 1 - t (the official rule, float quirk kept)."""
    order = np.argsort(-conf, kind="stable")
    risk = np.cumsum(~correct[order]) / np.arange(1, len(conf) + 1)
    ok = np.flatnonzero(risk <= 1 - t)
    return 0.0 if len(ok) == 0 else (ok[-1] + 1) / len(conf)


def unit_step_augrc(correct, order):
    """Trapezoid through (0, 0) and (k/N, errors_k/N), k = 1..N."""
    n = len(correct)
    gr = np.concatenate([[0.0], np.cumsum(~correct[order]) / n])
    return float(np.sum((gr[1:] + gr[:-1]) / 2) / n)


# --------------------------------------------------------------------------
# Reference values
# --------------------------------------------------------------------------
def test_toy_example_matches_paper(toy):
    y, proba, ref = toy
    # PAPER.md §3 reference values from the official compute_metrics.
    assert aurc(y, proba) == pytest.approx(ref["aurc"], abs=1e-7)
    assert eaurc(y, proba) == pytest.approx(ref["eaurc"], abs=1e-7)
    assert correctness_auroc(y, proba) == pytest.approx(ref["cp_auroc"], abs=1e-7)
    for t in np.arange(0.90, 0.991, 0.01):
        assert coverage_at_accuracy(y, proba, accuracy=t) == pytest.approx(
            ref["sac"], abs=1e-7
        )
    res = selective_metrics(y, proba)
    assert res["aurc"] == pytest.approx(ref["aurc"], abs=1e-7)
    assert res["eaurc"] == pytest.approx(ref["eaurc"], abs=1e-7)


# Hand-computed tie case: confidences [0.9, 0.5, 0.5, 0.1], correctness
# [1, 1, 0, 0]; the two orders of the tied pair give error counts (0,0,1,2)
# and (0,1,1,2).
TIE_CORRECT = np.array([True, True, False, False])
TIE_CONF = np.array([0.9, 0.5, 0.5, 0.1])
TIE_Y = np.array([0, 1, 1, 0])
TIE_PRED = np.array([0, 1, 0, 1])


def tie_kwargs():
    return dict(y_pred=TIE_PRED, confidence=TIE_CONF)


def test_ties_hand_computed():
    # AURC: mean over the two orders of (0+0+1/3+1/2)/4 and (0+1/2+1/3+1/2)/4.
    assert aurc(TIE_Y, None, **tie_kwargs()) == pytest.approx(13 / 48, abs=1e-15)
    # AURC* with M=2, N=4: (1/4)(1/3 + 2/4) = 5/24, so E-AURC = 3/48.
    assert eaurc(TIE_Y, None, **tie_kwargs()) == pytest.approx(3 / 48, abs=1e-15)
    # AUGRC: trapezoids 0.125 and 0.1875 for the two orders; mean 0.15625.
    assert augrc(TIE_Y, None, **tie_kwargs()) == pytest.approx(0.15625, abs=1e-15)
    # AUROC: pairs (0.9,0.5)=1, (0.9,0.1)=1, (0.5,0.5)=1/2, (0.5,0.1)=1.
    assert correctness_auroc(TIE_Y, None, **tie_kwargs()) == pytest.approx(0.875)
    cov, risk, thr = risk_coverage_curve(TIE_Y, None, **tie_kwargs())
    np.testing.assert_allclose(cov, [0.25, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 1 / 3, 0.5])
    np.testing.assert_allclose(thr, [0.9, 0.5, 0.1])
    # Only thresholds: coverage 0.5 is not realisable, 0.75 is next.
    assert risk_at_coverage(TIE_Y, None, coverage=0.5, **tie_kwargs()) == 1 / 3
    assert coverage_at_accuracy(TIE_Y, None, accuracy=0.98, **tie_kwargs()) == 0.25
    assert coverage_at_accuracy(TIE_Y, None, accuracy=0.6, **tie_kwargs()) == 0.75
    assert coverage_at_accuracy(TIE_Y, None, accuracy=0.5, **tie_kwargs()) == 1.0


def test_augrc_fd_shifts_toy():
    # fd-shifts RiskCoverageStats.augrc (trapezoid through (0,0)) by hand:
    # confids [.9,.8,.7,.6], residuals [0,1,0,1] -> generalised risks
    # 0, 1/4, 1/4, 1/2 at coverages 1/4..1 -> area 0.1875.
    y = np.array([0, 0, 0, 0])
    pred = np.array([0, 1, 0, 1])
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    assert augrc(y, None, y_pred=pred, confidence=conf) == pytest.approx(0.1875)


def test_ties_equal_mean_over_all_tie_orders():
    # Exhaustive check of "expected value over random orders of tied samples":
    # average the official per-sample definitions over all 7! row orders
    # (a stable sort then orders tied samples by position).
    rng = np.random.default_rng(3)
    correct = rng.random(7) < 0.5
    correct[:2] = [True, False]
    conf = np.array([0.9, 0.5, 0.5, 0.5, 0.2, 0.2, 0.7])
    aurcs, augrcs = [], []
    for perm in itertools.permutations(range(7)):
        perm = np.array(perm)
        order = perm[np.argsort(-conf[perm], kind="stable")]
        aurcs.append(official_aurc(correct, conf, order))
        augrcs.append(unit_step_augrc(correct, order))
    y = np.zeros(7, dtype=int)
    kw = dict(y_pred=np.where(correct, 0, 1), confidence=conf)
    assert aurc(y, None, **kw) == pytest.approx(np.mean(aurcs), abs=1e-12)
    assert augrc(y, None, **kw) == pytest.approx(np.mean(augrcs), abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 10, 257])
def test_distinct_confidences_equal_official(n, rng):
    proba = rng.dirichlet(np.ones(4), size=n)
    y = rng.integers(0, 4, size=n)
    labels = np.arange(4)
    correct = proba.argmax(1) == y
    conf = proba.max(1)
    assert len(np.unique(conf)) == n
    assert aurc(y, proba, labels=labels) == pytest.approx(
        official_aurc(correct, conf), abs=1e-12
    )
    expected_e = official_aurc(correct, conf) - official_aurc_optimal(correct)
    assert eaurc(y, proba, labels=labels) == pytest.approx(expected_e, abs=1e-12)
    for t in [0.0, 0.3, 0.5, 0.77, 0.98]:
        got = coverage_at_accuracy(y, proba, labels=labels, accuracy=t)
        assert got == pytest.approx(official_sac(correct, conf, t), abs=1e-12)


def test_sac_uses_largest_coverage_and_exact_target():
    # Accuracy by k: 1, 1/2, 2/3, 3/4, 4/5 -> the last k with acc >= 0.75 is 5,
    # although k = 2, 3 are below the target ("largest k" rule).
    correct = np.array([1, 0, 1, 1, 1], dtype=bool)
    conf = np.linspace(1, 0.5, 5)
    kw = dict(y_pred=np.where(correct, 0, 1), confidence=conf)
    y = np.zeros(5, dtype=int)
    assert coverage_at_accuracy(y, None, accuracy=0.75, **kw) == 1.0
    assert official_sac(correct, conf, 0.75) == 1.0
    assert coverage_at_accuracy(y, None, accuracy=0.76, **kw) == 1.0
    assert coverage_at_accuracy(y, None, accuracy=0.81, **kw) == 0.2
    # Risk exactly 2% (49/50 correct): accuracy 0.98 counts for a target of
    # 0.98. The official code's target comes from np.arange(0.90, 0.991, 0.01)
    # and its 1 - t is 0.0199999... there, so it does not (PAPER.md §3, b).
    correct = np.ones(50, dtype=bool)
    correct[-1] = False
    conf = np.linspace(1, 0.5, 50)
    kw = dict(y_pred=np.where(correct, 0, 1), confidence=conf)
    y = np.zeros(50, dtype=int)
    assert coverage_at_accuracy(y, None, accuracy=0.98, **kw) == 1.0
    t_official = np.arange(0.90, 0.991, 0.01)[8]
    assert 1 - t_official < 0.02
    assert official_sac(correct, conf, t_official) == 0.98


def test_correctness_auroc_matches_sklearn(rng):
    n = 300
    proba = rng.dirichlet(np.ones(3), size=n).round(2)  # many ties
    proba /= proba.sum(1, keepdims=True)
    y = rng.integers(0, 3, size=n)
    w = rng.random(n)
    correct = proba.argmax(1) == y
    conf = proba.max(1)
    assert correctness_auroc(y, proba) == pytest.approx(
        roc_auc_score(correct, conf), abs=1e-12
    )
    assert correctness_auroc(y, proba, sample_weight=w) == pytest.approx(
        roc_auc_score(correct, conf, sample_weight=w), abs=1e-12
    )


def test_risk_coverage_curve_points(rng):
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]])
    cov, risk, thr = risk_coverage_curve(y, proba)
    np.testing.assert_array_equal(cov, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0, 0, 1 / 3, 1 / 4])
    np.testing.assert_array_equal(thr, [0.9, 0.7, 0.6, 0.55])


def test_selective_metrics_equals_individual_calls(rng):
    proba = rng.dirichlet(np.ones(5), size=200).round(2)
    proba /= proba.sum(1, keepdims=True)
    y = rng.integers(0, 5, size=200)
    w = rng.integers(0, 4, size=200)
    kw = dict(sample_weight=w, confidence="margin")
    res = selective_metrics(y, proba, accuracy=0.7, coverage=0.4, **kw)
    assert res == {
        "aurc": aurc(y, proba, **kw),
        "eaurc": eaurc(y, proba, **kw),
        "augrc": augrc(y, proba, **kw),
        "correctness_auroc": correctness_auroc(y, proba, **kw),
        "coverage_at_accuracy": coverage_at_accuracy(y, proba, accuracy=0.7, **kw),
        "risk_at_coverage": risk_at_coverage(y, proba, coverage=0.4, **kw),
    }
    assert "risk_at_coverage" not in selective_metrics(y, proba)


# --------------------------------------------------------------------------
# Confidence and prediction options
# --------------------------------------------------------------------------
@pytest.mark.parametrize("confidence", ["msp", "margin", "neg_entropy"])
def test_confidence_does_not_depend_on_column_order(confidence):
    # issue #22: xlogy(p, p) @ ones summed in column order, so a row and a
    # permutation of it differed in the last bit and broke their tie. These
    # two rows are permutations of each other (the first was off by 2 ulp);
    # one is right, one wrong: tied, every ranking gives the tie average
    # AURC = 1/2 (exact: both rows are at risk 1/2 at every coverage).
    p = [0.40751181517972845, 0.33984824239655975, 0.25263994242371185]
    q = [p[1], p[2], p[0]]
    for y, proba in (([0, 0], [p, q]), ([0, 0], [q, p])):
        assert aurc(y, proba, labels=[0, 1, 2], confidence=confidence) == 0.5
    # many rows, many classes, in several row blocks: each row's confidence is
    # bitwise that of its column permutation
    from skduo.metrics._ranking import _confidence_from_proba

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.full(1000, 0.05), size=300)
    perm = np.argsort(rng.uniform(size=proba.shape), axis=1)
    permuted = np.take_along_axis(proba, perm, axis=1)
    conf = _confidence_from_proba(proba, proba.argmax(1), confidence)
    conf_perm = _confidence_from_proba(permuted, permuted.argmax(1), confidence)
    np.testing.assert_array_equal(conf, conf_perm)
    if confidence == "neg_entropy":  # the value: float64 reference, math.fsum
        ref = [math.fsum(xlogy(r, r)) for r in proba]
        np.testing.assert_allclose(conf, ref, rtol=1e-13)


def test_confidence_options_hand_computed():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]])
    y = np.array([0, 2, 1])
    # margin: 0.6-0.3, 0.6-0.2, 0.5-0.5; correct: yes, yes, no (argmax -> 0).
    # neg_entropy ranks row 2 (entropy ln 2 = 0.693) above row 0 (0.898) and
    # row 1 (0.950), so its only error is ranked first: AURC = mean(1,1/2,1/3).
    assert aurc(y, proba, confidence="margin") == pytest.approx(1 / 3 / 3)
    assert aurc(y, proba, confidence="neg_entropy") == pytest.approx(11 / 18)
    # y_pred given: confidence is the probability of that prediction.
    y_pred = np.array([1, 2, 1])  # wrong, right, right
    # msp of y_pred: 0.3, 0.6, 0.5 -> order: right, right, wrong.
    assert eaurc(y, proba, y_pred=y_pred) == 0.0
    assert aurc(y, proba, y_pred=y_pred) == pytest.approx(1 / 3 / 3)
    # margin of y_pred: 0.3-0.6=-0.3, 0.4, 0.0 -> same order.
    assert aurc(y, proba, y_pred=y_pred, confidence="margin") == pytest.approx(1 / 9)
    # a callable sees the validated proba
    assert aurc(y, proba, confidence=lambda p: -p[:, 2]) == aurc(
        y, proba, confidence=np.array([-0.1, -0.6, 0.0])
    )


def test_string_labels_and_labels_order():
    y = np.array(["cat", "dog", "dog", "bird"])
    proba = np.array(
        [[0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.5, 0.2, 0.3], [0.6, 0.3, 0.1]]
    )
    # sorted labels: bird, cat, dog
    expected = aurc(y, proba)
    reordered = proba[:, [2, 0, 1]]
    assert aurc(y, reordered, labels=["dog", "bird", "cat"]) == expected
    # a class absent from y_true needs labels
    assert np.isfinite(aurc(y[:3], proba[:3], labels=["bird", "cat", "dog"]))


# --------------------------------------------------------------------------
# Degenerate inputs
# --------------------------------------------------------------------------
def test_all_correct_and_all_wrong():
    y = np.array([0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    assert aurc(y, proba) == 0.0
    assert eaurc(y, proba) == 0.0
    assert augrc(y, proba) == 0.0
    assert coverage_at_accuracy(y, proba) == 1.0
    with pytest.warns(UndefinedMetricWarning, match="All predictions are correct"):
        assert np.isnan(correctness_auroc(y, proba))
    wrong = 1 - y
    assert aurc(wrong, proba) == 1.0
    assert eaurc(wrong, proba) == 0.0
    assert augrc(wrong, proba) == 0.5
    assert coverage_at_accuracy(wrong, proba) == 0.0
    assert coverage_at_accuracy(wrong, proba, accuracy=0.0) == 1.0
    with pytest.warns(UndefinedMetricWarning, match="All predictions are wrong"):
        assert np.isnan(correctness_auroc(wrong, proba))


def test_one_sample():
    proba = np.array([[0.3, 0.7]])
    for y, err in [([1], 0.0), ([0], 1.0)]:
        assert aurc(y, proba, labels=[0, 1]) == err
        assert eaurc(y, proba, labels=[0, 1]) == 0.0
        assert augrc(y, proba, labels=[0, 1]) == err / 2
        assert risk_at_coverage(y, proba, labels=[0, 1], coverage=1.0) == err


def test_perfect_ranking_gives_exact_zero(rng):
    n = 1000
    correct = rng.random(n) < 0.8
    conf = np.where(correct, 1 + rng.random(n), rng.random(n))
    kw = dict(y_pred=np.where(correct, 0, 1), confidence=conf)
    y = np.zeros(n, dtype=int)
    assert eaurc(y, None, **kw) == 0.0
    assert aurc(y, None, **kw) == pytest.approx(
        official_aurc_optimal(correct), abs=1e-12
    )
    # with weights too
    w = rng.random(n)
    assert eaurc(y, None, sample_weight=w, **kw) == 0.0


def test_empty_input_raises():
    with pytest.raises(ValueError, match="empty"):
        aurc([], np.zeros((0, 2)))


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(confidence=np.ones(3)), "confidence.*inconsistent|y_true has 4"),
        (dict(confidence=np.array([1, np.nan, 1, 1])), "confidence contains NaN"),
        (dict(confidence="entropy"), "'confidence' parameter"),
        (dict(y_pred=[0, 1, 2, 0]), r"y_pred contains values \{2\}"),
        (dict(y_pred=[0, 1]), "y_pred has 2"),
        (dict(sample_weight=[1, -1, 1, 1]), "Negative values in sample_weight"),
        (dict(sample_weight=[0, 0, 0, 0]), "sums to zero"),
        (dict(labels=[0, 0]), "at least two labels|unique"),
    ],
)
def test_bad_input_messages(kwargs, match):
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]])
    with pytest.raises(ValueError, match=match):
        aurc(y, proba, **kwargs)


def test_y_proba_none_needs_pred_and_confidence():
    with pytest.raises(ValueError, match="y_proba=None requires"):
        aurc([0, 1], None, y_pred=[0, 1])
    with pytest.raises(ValueError, match="y_proba=None requires"):
        aurc([0, 1], None, confidence=[0.5, 0.6])


@pytest.mark.parametrize("value, param", [(1.5, "accuracy"), (0.0, "coverage")])
def test_operating_point_parameter_validation(value, param):
    y, proba = [0, 1], [[0.9, 0.1], [0.2, 0.8]]
    func = coverage_at_accuracy if param == "accuracy" else risk_at_coverage
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        func(y, proba, **{param: value})


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------
@st.composite
def ranked_data(draw, min_size=2, max_size=30):
    n = draw(st.integers(min_size, max_size))
    correct = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    # a coarse grid gives many ties and survives monotone transforms exactly
    conf = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))) / 8
    weights = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    if weights.sum() == 0:
        weights[0] = 1
    return correct, conf, weights


def _call(func, correct, conf, **kw):
    y = np.zeros(len(correct), dtype=int)
    pred = np.where(correct, 0, 1)
    return func(y, None, y_pred=pred, confidence=conf, labels=[0, 1], **kw)


def _metrics(correct, conf, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        out = [_call(f, correct, conf, **kw) for f in SCALARS]
    out.append(_call(coverage_at_accuracy, correct, conf, accuracy=0.6, **kw))
    out.append(_call(risk_at_coverage, correct, conf, coverage=0.5, **kw))
    return np.array(out)


@given(ranked_data(), st.randoms(use_true_random=False))
def test_row_permutation_invariance(data, rnd):
    correct, conf, weights = data
    perm = np.arange(len(correct))
    rnd.shuffle(perm)
    np.testing.assert_allclose(
        _metrics(correct[perm], conf[perm], sample_weight=weights[perm]),
        _metrics(correct, conf, sample_weight=weights),
        rtol=1e-12,
        atol=1e-14,
    )


@given(ranked_data())
def test_monotone_transform_invariance(data):
    correct, conf, _ = data
    for transform in (lambda c: np.exp(3 * c) - 7, lambda c: c**3 + c, np.arctan):
        np.testing.assert_array_equal(
            _metrics(correct, transform(conf)), _metrics(correct, conf)
        )


@given(ranked_data())
def test_bounds(data):
    correct, conf, weights = data
    for kw in ({}, {"sample_weight": weights}, {"sample_weight": weights + 0.37}):
        a = _call(aurc, correct, conf, **kw)
        e = _call(eaurc, correct, conf, **kw)
        g = _call(augrc, correct, conf, **kw)
        assert 0.0 <= e <= a + 1e-15 and a <= 1.0
        assert 0.0 <= g <= 0.5
        # the raw difference is non-negative, not only after the clip
        sw = kw.get("sample_weight")
        ranked = _RankedCorrectness(correct, conf, None if sw is None else sw * 1.0)
        assert ranked.aurc() - ranked.aurc_optimal() >= -1e-12


@given(ranked_data())
def test_integer_weights_equal_repeated_rows(data):
    correct, conf, weights = data
    rep = np.repeat(np.arange(len(correct)), weights)
    np.testing.assert_allclose(
        _metrics(correct, conf, sample_weight=weights),
        _metrics(correct[rep], conf[rep]),
        rtol=1e-10,
        atol=1e-12,
    )
    cov_w, risk_w, thr_w = _call(
        risk_coverage_curve, correct, conf, sample_weight=weights
    )
    cov_r, risk_r, thr_r = _call(risk_coverage_curve, correct[rep], conf[rep])
    np.testing.assert_allclose(cov_w, cov_r)
    np.testing.assert_allclose(risk_w, risk_r)
    np.testing.assert_array_equal(thr_w, thr_r)


@given(ranked_data(), st.floats(0.01, 100))
def test_augrc_and_operating_points_invariant_to_weight_scale(data, scale):
    correct, conf, weights = data
    for func, kw in [
        (augrc, {}),
        (correctness_auroc, {}),
        (coverage_at_accuracy, {"accuracy": 0.5}),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            a = _call(func, correct, conf, sample_weight=weights, **kw)
            b = _call(func, correct, conf, sample_weight=weights * scale, **kw)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_unit_weights_path_equals_weighted_path(rng):
    n = 500
    correct = rng.random(n) < 0.7
    conf = rng.integers(0, 40, n) / 40
    fast = _RankedCorrectness(correct, conf, None)
    slow = _RankedCorrectness(correct, conf, np.full(n, 1.0 + 1e-12))
    assert fast.unit and not slow.unit
    assert fast.aurc() == pytest.approx(slow.aurc(), rel=1e-9)
    assert fast.aurc_optimal() == pytest.approx(slow.aurc_optimal(), rel=1e-9)
