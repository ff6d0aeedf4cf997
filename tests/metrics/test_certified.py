"""certified_threshold: the binomial arithmetic, hand-worked thresholds, validity."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import binom

from skduo.metrics import (
    CertificationWarning,
    CertifiedThreshold,
    certified_threshold,
    coverage_at_accuracy,
)
from skduo.metrics._certified import (
    _binomial_pvalues,
    _clopper_pearson_upper,
    _min_samples,
    _starts,
)


def _exact_binomial_cdf(k, n, p):
    """P(Binomial(n, p) <= k) in exact rational arithmetic (independent of scipy)."""
    p = Fraction(p)
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)))


def _ranked_inputs(errors_at, n, low=0.5):
    """``n`` rows with distinct decreasing confidences; wrong at ``errors_at``."""
    conf = np.linspace(0.99, low, n)
    y_true = np.zeros(n, dtype=int)
    y_pred = np.zeros(n, dtype=int)
    y_pred[list(errors_at)] = 1
    return y_true, y_pred, conf


# --------------------------------------------------------------------------
# the bound's arithmetic
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "k, n, p",
    [(0, 149, 0.02), (0, 148, 0.02), (1, 160, 0.02), (7, 766, 0.02), (3, 50, 0.1)],
)
def test_pvalue_is_the_exact_binomial_tail(k, n, p):
    ours = float(_binomial_pvalues(np.array([k]), np.array([n]), p)[0])
    assert ours == pytest.approx(binom.cdf(k, n, p), rel=1e-12)
    assert ours == pytest.approx(_exact_binomial_cdf(k, n, p), rel=1e-10)


def test_min_samples_solves_zero_error_tail():
    # 0.98**148 = 0.0503 > 0.05 >= 0.98**149 = 0.0493 (by hand); likewise
    # 0.99**298 = 0.0500 > 0.05 >= 0.99**299, 0.95**58 > 0.05 >= 0.95**59
    assert _min_samples(0.02, 0.05) == 149
    assert _min_samples(0.01, 0.05) == 299
    assert _min_samples(0.05, 0.05) == 59
    for alpha, level in [(0.02, 0.05), (0.01, 0.1), (0.001, 0.025), (0.3, 0.01)]:
        n = _min_samples(alpha, level)
        assert binom.cdf(0, n, alpha) <= level < binom.cdf(0, n - 1, alpha)


@pytest.mark.parametrize("k, n", [(0, 159), (1, 500), (7, 766), (40, 100)])
def test_clopper_pearson_upper_bound_solves_the_tail(k, n):
    level = 0.05
    bound = _clopper_pearson_upper(k, n, level)
    # the bound is where the exact tail at k equals the level
    assert binom.cdf(k, n, bound) == pytest.approx(level, rel=1e-8)
    assert binom.cdf(k, n, bound * (1 + 1e-6)) < level
    if k == 0:  # closed form 1 - level**(1/n)
        assert bound == pytest.approx(1 - level ** (1 / n), rel=1e-12)


def test_clopper_pearson_all_wrong_is_one():
    assert _clopper_pearson_upper(10, 10, 0.05) == 1.0


def test_starts_depend_on_the_number_of_rows_only():
    # two starts once 4 * n_min(delta / 2) = 4 * 183 = 732 rows fit
    assert _starts(731, 0.02, 0.05) == ([149], 0.05)
    assert _starts(732, 0.02, 0.05) == ([183, 732], 0.025)
    assert _starts(10**6, 0.02, 0.05) == ([183, 732], 0.025)


# --------------------------------------------------------------------------
# thresholds worked out by hand
# --------------------------------------------------------------------------
def test_hand_worked_single_start():
    # 200 rows (one start, at the 149 most confident; level 0.05), wrong at
    # ranks 160 and 190 (1-based). N = 149..159 with 0 errors: p = 0.98**N
    # <= 0.98**149 = 0.0493. N = 160 with 1 error: p = 0.98**160 + 160 * 0.02
    # * 0.98**159 = 0.0395 + 0.1289 = 0.168 > 0.05: stop. Certified: the 159
    # most confident rows; bound 1 - 0.05**(1/159) = 0.018665.
    y_true, y_pred, conf = _ranked_inputs([159, 189], 200)
    res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert res.certified and res.n_starts == 1 and res.test_level == 0.05
    assert (res.n_accepted, res.n_errors) == (159, 0)
    assert res.threshold == conf[158]
    assert res.coverage == 159 / 200 and res.risk == 0.0
    assert res.risk_bound == pytest.approx(0.018665, abs=1e-6)
    assert res.risk_bound <= res.target_risk


def test_hand_worked_second_start_survives_a_confident_error():
    # 800 rows: two starts (183 and 732 rows, level 0.025). The most confident
    # prediction is wrong: the first test, 1 error in 183, has p = 0.117 >
    # 0.025, so a single sequence would certify nothing. The second starts at
    # 732 rows, 1 error: p = 6.0e-6. Rows 761..800 are all wrong: N = 766
    # holds 7 errors, p = 0.0142 <= 0.025; N = 767 holds 8, p = 0.0301 > 0.025.
    y_true, y_pred, conf = _ranked_inputs([0, *range(760, 800)], 800)
    res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert res.n_starts == 2 and res.test_level == 0.025
    assert binom.cdf(1, 183, 0.02) > 0.025 >= binom.cdf(7, 766, 0.02)
    assert binom.cdf(8, 767, 0.02) > 0.025
    assert (res.n_accepted, res.n_errors) == (766, 7)
    assert res.threshold == conf[765]
    assert res.risk_bound <= 0.02
    assert binom.cdf(7, 766, res.risk_bound) == pytest.approx(0.025, rel=1e-8)


def _reference_certify(correct, conf, alpha, delta):
    """A plain loop over the ranks (distinct confidences): the same procedure."""
    order = np.argsort(-conf)
    errors = np.cumsum(~correct[order])
    n = len(conf)
    starts, level = _starts(n, alpha, delta)
    best = 0
    for start in starts:
        last = 0
        for k in range(start, n + 1):
            if binom.cdf(errors[k - 1], k, alpha) > level:
                break
            last = k
        best = max(best, last)
    return best


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha, delta", [(0.02, 0.05), (0.05, 0.1)])
def test_matches_a_plain_loop(seed, alpha, delta):
    rng = np.random.default_rng(seed)
    n = 1500
    conf = rng.uniform(size=n)
    correct = rng.uniform(size=n) < 0.94 + 0.06 * conf
    y_pred = np.where(correct, 0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CertificationWarning)
        res = certified_threshold(
            np.zeros(n, int), None, y_pred=y_pred, confidence=conf,
            target_risk=alpha, delta=delta,
        )  # fmt: skip
    assert res.n_accepted == _reference_certify(correct, conf, alpha, delta)


def test_never_beyond_the_uncertified_operating_point():
    # a certified threshold has empirical risk <= target (fixed-sequence p <=
    # level < 1/2 needs errors below the mean), so its coverage is at most the
    # largest coverage reaching that accuracy on the same rows
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.full(5, 0.3), size=3000)
    y = np.array([rng.choice(5, p=p) for p in proba])
    res = certified_threshold(y, proba, target_risk=0.05, delta=0.1)
    assert res.certified and res.risk <= 0.05
    assert res.coverage <= coverage_at_accuracy(y, proba, accuracy=0.95)


# --------------------------------------------------------------------------
# nothing certified
# --------------------------------------------------------------------------
def test_too_few_rows_abstains_and_says_how_many_are_needed():
    y_true, y_pred, conf = _ranked_inputs([], 148)
    with pytest.warns(
        CertificationWarning, match=r"148 calibration rows.*at least 149"
    ):
        res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert not res.certified
    assert res.threshold == math.inf and res.coverage == 0.0
    assert res.n_accepted == res.n_errors == 0
    assert math.isnan(res.risk_bound) and math.isnan(res.risk)
    assert res.min_samples == 149


def test_confident_errors_abstain_and_name_the_failed_test():
    y_true, y_pred, conf = _ranked_inputs([0, 5], 300)
    with pytest.warns(
        CertificationWarning, match=r"the 149 most confident predictions.*2 error"
    ):
        res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert res.coverage == 0.0 and res.threshold == math.inf


def test_one_more_row_certifies():
    y_true, y_pred, conf = _ranked_inputs([], 149)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert res.certified and res.coverage == 1.0


# --------------------------------------------------------------------------
# inputs: weights, order, ties, labels
# --------------------------------------------------------------------------
def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.full(3, 0.2), size=400)
    y = np.array([rng.choice(3, p=p) for p in proba])
    w = rng.integers(0, 4, size=400)
    weighted = certified_threshold(y, proba, sample_weight=w, target_risk=0.05)
    rows = np.repeat(np.arange(400), w)
    repeated = certified_threshold(y[rows], proba[rows], target_risk=0.05)
    assert weighted == repeated


def test_non_integer_weights_are_refused():
    y_true, y_pred, conf = _ranked_inputs([], 200)
    with pytest.raises(ValueError, match="integer sample_weight"):
        certified_threshold(
            y_true,
            None,
            y_pred=y_pred,
            confidence=conf,
            sample_weight=np.full(200, 0.5),
        )


def test_invariant_to_row_order_and_monotone_confidence_transforms():
    rng = np.random.default_rng(3)
    conf = rng.uniform(size=1000)
    correct = rng.uniform(size=1000) < 0.9 + 0.1 * conf
    y_pred = np.where(correct, 0, 1)
    y = np.zeros(1000, dtype=int)
    base = certified_threshold(
        y, None, y_pred=y_pred, confidence=conf, target_risk=0.05
    )
    perm = rng.permutation(1000)
    shuffled = certified_threshold(
        y[perm], None, y_pred=y_pred[perm], confidence=conf[perm], target_risk=0.05
    )
    assert shuffled == base
    squashed = certified_threshold(
        y, None, y_pred=y_pred, confidence=np.log(conf), target_risk=0.05
    )
    assert squashed.n_accepted == base.n_accepted
    assert squashed.threshold == pytest.approx(np.log(base.threshold))


def test_ties_are_accepted_together():
    # 300 rows at confidence 1 (all right), then 100 at 0.5 with 10 wrong: the
    # tie group at 0.5 is one hypothesis (10 errors in 400 fails at 2 %)
    conf = np.r_[np.ones(300), np.full(100, 0.5)]
    y_pred = np.zeros(400, int)
    y_pred[300:310] = 1
    res = certified_threshold(np.zeros(400, int), None, y_pred=y_pred, confidence=conf)
    assert res.threshold == 1.0 and res.n_accepted == 300


def test_string_labels_and_proba():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.full(3, 0.15), size=600)
    idx = np.array([rng.choice(3, p=p) for p in proba])
    labels = np.array(["cat", "dog", "eel"])
    res_str = certified_threshold(labels[idx], proba, target_risk=0.05)
    res_int = certified_threshold(idx, proba, target_risk=0.05)
    assert res_str == res_int and res_str.certified


def test_result_is_a_frozen_dataclass():
    y_true, y_pred, conf = _ranked_inputs([], 200)
    res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    assert isinstance(res, CertifiedThreshold)
    with pytest.raises(AttributeError):
        res.threshold = 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_risk": 0.0}, "target_risk"),
        ({"target_risk": 1.0}, "target_risk"),
        ({"delta": 1.5}, "delta"),
        ({"confidence": "nope"}, "confidence"),
    ],
)
def test_parameter_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        certified_threshold([0, 1], [[0.9, 0.1], [0.2, 0.8]], **kwargs)


# --------------------------------------------------------------------------
# validity: the certified threshold's population risk exceeds the target in
# at most delta of the calibration draws
# --------------------------------------------------------------------------
def _calibrated_rows(rng, n, n_classes=10, scale=8.0):
    """A calibrated model: labels drawn from its own softmax probabilities.

    Returns ``(conf, correct, error_probability)``; given the probabilities,
    the arg-max is wrong with probability ``1 - max p`` exactly.
    """
    z = rng.normal(scale=scale, size=(n, n_classes))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    conf = p.max(axis=1)
    return conf, p.argmax(axis=1) == y, 1.0 - conf


def _population(n=400_000, seed=12345):
    """Confidences (decreasing) and cumulative error probabilities."""
    conf, _, err = _calibrated_rows(np.random.default_rng(seed), n)
    order = np.argsort(-conf)
    return conf[order], np.cumsum(err[order])


def _population_risk(pop, threshold):
    conf, cum = pop
    k = np.searchsorted(-conf, -threshold, side="right")
    return (cum[k - 1] / k, k / conf.shape[0]) if k else (0.0, 0.0)


def _violation_rate(pop, alpha, delta, n_cal, n_draws, seed):
    rng = np.random.default_rng(seed)
    violations, coverage = 0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CertificationWarning)
        for _ in range(n_draws):
            conf, correct, _ = _calibrated_rows(rng, n_cal)
            y_pred = np.where(correct, 0, 1)
            res = certified_threshold(
                np.zeros(n_cal, int), None, y_pred=y_pred, confidence=conf,
                target_risk=alpha, delta=delta,
            )  # fmt: skip
            risk, cov = _population_risk(pop, res.threshold)
            violations += cov > 0 and risk > alpha
            coverage += cov
    return violations / n_draws, coverage / n_draws


def _allowed(delta, n_draws):
    return delta + 3 * math.sqrt(delta * (1 - delta) / n_draws)


def test_validity_fast():
    pop = _population(200_000)
    rate, coverage = _violation_rate(pop, 0.05, 0.1, 1000, 300, seed=0)
    assert rate <= _allowed(0.1, 300)
    assert coverage > 0.5  # and it does certify something


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.01, 0.02, 0.05])
@pytest.mark.parametrize("delta", [0.05, 0.1])
def test_validity_synthetic_1000_draws(alpha, delta):
    pop = _population()
    rate, _ = _violation_rate(pop, alpha, delta, 2000, 1000, seed=1)
    assert rate <= _allowed(delta, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("alpha, n_cal", [(0.05, 3000), (0.02, 5000), (0.01, 10000)])
def test_efficiency_within_5_points_of_the_oracle(alpha, n_cal):
    # the oracle: the population's own largest coverage at risk <= alpha. On
    # this model the gap is 5.0-5.3 points at 5 % with 2,000 rows, 8 at 2 % and
    # ~20 at 1 % (benchmarks/README.md): the rows needed grow as 1 / alpha.
    conf, cum = pop = _population()
    risk = cum / np.arange(1, conf.shape[0] + 1)
    oracle = (np.flatnonzero(risk <= alpha)[-1] + 1) / conf.shape[0]
    _, coverage = _violation_rate(pop, alpha, 0.05, n_cal, 100, seed=2)
    assert oracle - 0.05 <= coverage <= oracle
