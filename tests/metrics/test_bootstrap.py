"""paired_bootstrap: literal values, scipy.stats.bootstrap, the vectorised metrics."""

import functools
import warnings

import numpy as np
import pytest
import scipy
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.metrics import f1_score

from skduo.metrics import (
    augrc,
    aurc,
    correctness_auroc,
    coverage_at_accuracy,
    eaurc,
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
    paired_bootstrap,
)
from skduo.metrics._bootstrap_engine import (
    BOOTSTRAP_METRICS,
    _Harmonic,
    _metric_values,
    _Predictions,
)

# scipy.stats.bootstrap takes rng= (and draws with a Generator) from scipy 1.15
needs_scipy_rng = pytest.mark.skipif(
    tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 15),
    reason="scipy.stats.bootstrap(rng=...) needs scipy >= 1.15",
)

Y4 = np.array([0, 1, 1, 0])
# correct: a [1, 1, 0, 1], b [0, 1, 0, 1]
PA4 = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
PB4 = np.array([[0.4, 0.6], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])


def test_tiny_bootstrap_by_hand():
    # default_rng(0).integers(0, 4, (3, 4)) draws rows [3 2 2 1], [1 0 0 0],
    # [0 3 2 3]; the per-row accuracy difference a - b is [1, 0, 0, 0], so the
    # resamples give 0/4, 3/4 and 1/4
    res = paired_bootstrap(Y4, PA4, PB4, "accuracy", n_resamples=3, random_state=0)
    assert_array_equal(res.bootstrap_distribution, [0.0, 0.75, 0.25])
    assert res.statistic == 0.25 and res.statistic_a == 0.75
    assert res.statistic_b == 0.5
    # linear quantiles of (0, .25, .75) at 2.5% and 97.5%: 0 + .05 * .25 and
    # .25 + .95 * .5
    assert res.confidence_interval.low == pytest.approx(0.0125, abs=1e-15)
    assert res.confidence_interval.high == pytest.approx(0.725, abs=1e-15)
    # F(0) = (#< 0 + #<= 0) / (2 * 3) = 1/6, p = 2 * 1/6
    assert res.pvalue == pytest.approx(1 / 3)
    # sample std of (0, .75, .25): sqrt(0.2916667 / 2)
    assert res.standard_error == pytest.approx(0.38188130791298663)
    assert res.significant and res.better == "a"


def _proba(rng, y, signal, k, round_to=None):
    z = rng.normal(size=(len(y), k)) + signal * np.eye(k)[y]
    if round_to is not None:
        z = np.round(z, round_to)  # ties in the confidence
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _skduo_metric(name):
    return {
        "accuracy": lambda y, p, sample_weight=None: float(
            np.average(p.argmax(1) == y, weights=sample_weight)
        ),
        "nll": nll_loss,
        "brier": multiclass_brier_score,
        "ece": expected_calibration_error,
        "aurc": aurc,
        "eaurc": eaurc,
        "augrc": augrc,
        "correctness_auroc": correctness_auroc,
        "coverage_at_accuracy": functools.partial(coverage_at_accuracy, accuracy=0.98),
    }[name]


@needs_scipy_rng
@pytest.mark.parametrize("method", ["percentile", "basic", "BCa"])
@pytest.mark.parametrize("metric", ["nll", "accuracy", "aurc", "correctness_auroc"])
def test_matches_scipy_bootstrap(metric, method):
    # scipy resamples the row indices with the same generator calls, so the
    # distributions, and hence the intervals, must agree
    rng = np.random.default_rng(3)
    n, k = 60, 3
    y = rng.integers(0, k, n)
    pa, pb = _proba(rng, y, 1.5, k), _proba(rng, y, 1.0, k)
    func = _skduo_metric(metric)
    labels = np.arange(k)

    def statistic(idx):
        def one(p):
            kw = {} if metric == "accuracy" else {"labels": labels}
            return func(y[idx], p[idx], **kw)

        return one(pa) - one(pb)

    ref = stats.bootstrap(
        (np.arange(n),),
        statistic,
        vectorized=False,
        n_resamples=200,
        method=method,
        rng=7,
    )
    res = paired_bootstrap(
        y, pa, pb, metric, n_resamples=200, method=method, random_state=7
    )
    assert_allclose(res.bootstrap_distribution, ref.bootstrap_distribution, atol=1e-12)
    assert_allclose(res.confidence_interval, ref.confidence_interval, atol=1e-12)
    assert res.standard_error == pytest.approx(ref.standard_error, abs=1e-12)


def _case(seed, n=250, k=4, round_to=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    z = np.round(rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y], round_to)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return rng, y, z, p


@pytest.mark.parametrize("integer", [True, False])
@pytest.mark.parametrize("metric", BOOTSTRAP_METRICS)
def test_vectorised_metrics_equal_the_metric_functions(metric, integer):
    # a resample is a vector of row weights: each vectorised metric must equal
    # the skduo (or sklearn) metric with those weights, ties included
    rng, y, z, p = _case(0)
    if integer:
        w = rng.integers(0, 4, len(y)).astype(float)
    else:
        w = rng.uniform(0.0, 2.0, len(y))
    pred = _Predictions(y, p, [metric], logits=z if metric == "nll" else None)
    got = _metric_values(pred, w[None, :], [metric], _Harmonic(4 * len(y), integer))
    if metric == "f1_macro":
        if not integer:
            pytest.skip("macro-F1 of repeated rows is defined for integer weights")
        reps = w.astype(int)
        want = f1_score(
            np.repeat(y, reps), np.repeat(p.argmax(1), reps), average="macro"
        )
    elif metric == "nll":
        want = nll_loss(y, logits=z, sample_weight=w)
    else:
        want = _skduo_metric(metric)(y, p, sample_weight=w)
    assert got[metric][0] == pytest.approx(want, rel=1e-10, abs=1e-13)


def test_eaurc_and_auroc_of_a_perfect_and_a_reversed_ranking():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45]])
    pred = _Predictions(y, p, ["eaurc", "correctness_auroc", "aurc"])
    # rows 0, 1 correct and most confident: perfect ranking
    perfect = _metric_values(pred, np.ones((1, 4)), ["eaurc", "correctness_auroc"])
    assert perfect["eaurc"][0] == 0.0 and perfect["correctness_auroc"][0] == 1.0
    reversed_ = _Predictions(1 - y, p, ["correctness_auroc", "aurc"])
    values = _metric_values(
        reversed_, np.ones((1, 4)), ["correctness_auroc", "aurc"], _Harmonic(4, True)
    )
    assert values["correctness_auroc"][0] == 0.0
    # errors first: risks 1, 1, 2/3, 1/2 -> mean 19/24
    assert values["aurc"][0] == pytest.approx(19 / 24)


def test_identical_predictions_are_no_difference():
    _, y, _, p = _case(1)
    res = paired_bootstrap(y, p, p, "aurc", n_resamples=100, random_state=0)
    assert res.statistic == 0.0
    assert tuple(res.confidence_interval) == (0.0, 0.0)
    assert res.pvalue == 1.0 and not res.significant and res.better is None


def test_clear_difference_is_significant_with_floored_pvalue():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    strong, weak = _proba(rng, y, 3.0, 3), _proba(rng, y, 0.5, 3)
    res = paired_bootstrap(y, strong, weak, "nll", n_resamples=200, random_state=0)
    assert res.confidence_interval.high < 0 and res.better == "a"
    assert res.pvalue == 1 / 200  # no resample crosses 0: the floor
    flipped = paired_bootstrap(y, weak, strong, "nll", n_resamples=200, random_state=0)
    assert flipped.better == "b"
    assert_allclose(flipped.bootstrap_distribution, -res.bootstrap_distribution)


@given(seed=st.integers(0, 2**16), metric=st.sampled_from(["aurc", "brier", "ece"]))
def test_swapping_the_sets_negates_everything(seed, metric):
    _, y, _, pa = _case(seed, n=80)
    _, _, _, pb = _case(seed + 1, n=80)
    ab = paired_bootstrap(y, pa, pb, metric, n_resamples=50, random_state=seed)
    ba = paired_bootstrap(y, pb, pa, metric, n_resamples=50, random_state=seed)
    assert_allclose(ab.bootstrap_distribution, -ba.bootstrap_distribution, atol=1e-13)
    assert ab.statistic == pytest.approx(-ba.statistic, abs=1e-13)
    assert ab.confidence_interval.low == pytest.approx(
        -ba.confidence_interval.high, abs=1e-12
    )
    assert ab.pvalue == pytest.approx(ba.pvalue)


def test_callable_metric_equals_the_vectorised_one():
    _, y, _, pa = _case(2, n=120)
    _, _, _, pb = _case(3, n=120)
    fast = paired_bootstrap(y, pa, pb, "brier", n_resamples=40, random_state=1)
    # a partial is not recognised as skduo's function: the per-resample path
    slow = paired_bootstrap(
        y,
        pa,
        pb,
        functools.partial(multiclass_brier_score),
        n_resamples=40,
        random_state=1,
    )
    assert_allclose(slow.bootstrap_distribution, fast.bootstrap_distribution)
    assert slow.higher_is_better is None and slow.better is None
    # the skduo function itself takes the vectorised path
    named = paired_bootstrap(y, pa, pb, aurc, n_resamples=40, random_state=1)
    assert named.metric == "aurc" and named.higher_is_better is False


def test_sample_weight_multiplies_the_counts():
    _, y, _, pa = _case(4, n=50)
    _, _, _, pb = _case(5, n=50)
    twice = paired_bootstrap(
        y,
        pa,
        pb,
        "nll",
        sample_weight=np.full(50, 2.0),
        n_resamples=30,
        random_state=0,
    )
    plain = paired_bootstrap(y, pa, pb, "nll", n_resamples=30, random_state=0)
    # a constant weight does not change a weighted mean
    assert_allclose(twice.bootstrap_distribution, plain.bootstrap_distribution)


def test_uq_only_predictions_and_logits():
    rng, y, z, p = _case(6, n=100)
    other = np.roll(p, 1, axis=0)
    y_pred = np.roll(p.argmax(1), 3)
    res = paired_bootstrap(
        y, p, other, "accuracy", y_pred_a=y_pred, n_resamples=20, random_state=0
    )
    assert res.statistic_a == pytest.approx(np.mean(y_pred == y))
    via_logits = paired_bootstrap(
        y, p, other, "nll", logits_a=z, n_resamples=20, random_state=0
    )
    assert via_logits.statistic_a == pytest.approx(nll_loss(y, logits=z))


def test_undefined_resamples_warn_and_are_left_out():
    y = np.array([0] * 9 + [1])
    p = np.tile([0.8, 0.2], (10, 1))  # one error (the last row)
    q = np.tile([0.7, 0.3], (10, 1))
    with pytest.warns(UserWarning, match="resamples leave correctness_auroc"):
        res = paired_bootstrap(
            y, p, q, "correctness_auroc", n_resamples=50, random_state=0
        )
    assert np.isnan(res.bootstrap_distribution).any()


@needs_scipy_rng
def test_generator_is_advanced_like_scipy():
    _, y, _, pa = _case(7, n=30)
    gen_a, gen_b = np.random.default_rng(5), np.random.default_rng(5)
    paired_bootstrap(y, pa, pa, "nll", n_resamples=10, random_state=gen_a)
    stats.bootstrap((np.arange(30),), np.mean, n_resamples=10, rng=gen_b)
    assert gen_a.integers(1 << 30) == gen_b.integers(1 << 30)


def test_bad_arguments():
    with pytest.raises(ValueError, match="metric"):
        paired_bootstrap(Y4, PA4, PB4, "speed")
    with pytest.raises(ValueError, match=r"metric_params \['n_bins'\]"):
        paired_bootstrap(Y4, PA4, PB4, "nll", metric_params={"n_bins": 3})
    with pytest.raises(ValueError, match="y_proba_b"):
        paired_bootstrap(Y4, PA4, PB4[:3], "nll")


def test_one_sided_alternatives():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    strong, weak = _proba(rng, y, 2.5, 3), _proba(rng, y, 1.0, 3)
    less = paired_bootstrap(
        y, strong, weak, "nll", alternative="less", n_resamples=100, random_state=0
    )
    assert less.confidence_interval.low == -np.inf and less.significant
    greater = paired_bootstrap(
        y,
        strong,
        weak,
        "nll",
        alternative="greater",
        n_resamples=100,
        random_state=0,
    )
    assert greater.confidence_interval.high == np.inf and greater.pvalue == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paired_bootstrap(
            y, strong, weak, "ece", method="bca", n_resamples=50, random_state=0
        )


def test_resampler_reuses_its_draws_in_one_byte_per_row(monkeypatch):
    # above the in-memory limit of float64 weights the draws are kept as
    # uint8 counts: the second pass yields exactly the first pass's weights
    # (as scipy's draws, counted), without drawing again
    from skduo.metrics import _bootstrap_engine as engine

    monkeypatch.setattr(engine, "_BATCH_ELEMENTS", 2**12)
    res = engine._Resampler(1000, 50, random_state=3)
    first = [(s, w.copy()) for s, w in res.batches()]
    assert res._cache is not None and res._cache[0][1].dtype == np.uint8
    second = list(res.batches())
    assert [s for s, _ in first] == [s for s, _ in second]
    for (_, a), (_, b) in zip(first, second):
        assert b.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    # the weights are counts of scipy-style index draws
    idx = np.random.default_rng(3).integers(0, 1000, (first[0][1].shape[0], 1000))
    counts = np.stack([np.bincount(r, minlength=1000) for r in idx])
    np.testing.assert_array_equal(first[0][1], counts)
