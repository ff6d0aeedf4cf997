r"""Selective classification at a certified risk: the threshold and its bound.

:func:`certified_threshold` picks, from held-out calibration data, the lowest
confidence threshold whose *selective risk* (error rate among the accepted
predictions) is certified to be at most a target with probability at least
``1 - delta`` over the calibration sample. :class:`~skduo.SelectiveClassifier`
is the estimator around it; the evaluation report and the command line use it
for their certified-coverage column.

The method is Learn-then-Test (Angelopoulos, Bates, Candès, Jordan & Lei,
2021) with fixed-sequence testing and exact binomial p-values; the docstring
of :func:`certified_threshold` states the procedure, its assumptions and why
it is valid.
"""

import math
import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from skduo.metrics._ranking import (
    _PARAMS,
    _correctness_confidence,
    _RankedCorrectness,
)
from skduo.utils._sklearn_compat import Interval, validate_params

__all__ = ["CertificationWarning", "CertifiedThreshold", "certified_threshold"]

#: Each further start of the fixed sequence is this many times further down
#: the ranking (in accepted rows) than the previous one.
_START_FACTOR = 4

#: At most this many starts (each tested at ``delta / n_starts``). Two beat
#: three or four in the simulations of ``benchmarks/bench_selective.py``, with
#: and without label noise: each further start lowers every test's level.
_MAX_STARTS = 2


class CertificationWarning(UserWarning):
    """No confidence threshold certifies the target risk: everything abstains.

    Emitted by :func:`certified_threshold` and
    :meth:`skduo.SelectiveClassifier.fit` when the calibration data cannot
    certify ``target_risk`` at ``delta`` (too few rows, or too many errors among
    the most confident ones). The result then accepts nothing: threshold
    ``inf``, coverage 0. The message says how many rows the target needs at
    the least.

    Examples
    --------
    >>> import warnings
    >>> from skduo.metrics import CertificationWarning, certified_threshold
    >>> y, proba = [0, 1], [[0.9, 0.1], [0.2, 0.8]]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     res = certified_threshold(y, proba, target_risk=0.02, delta=0.05)
    >>> caught[0].category is CertificationWarning, res.coverage
    (True, 0.0)
    """


@dataclass(frozen=True)
class CertifiedThreshold:
    """Result of :func:`certified_threshold`.

    Parameters
    ----------
    threshold : float
        Accept a prediction when its confidence is at least this value;
        ``inf`` when nothing is certified (abstain on everything).
    coverage : float
        Fraction (weight) of the calibration rows accepted at ``threshold``;
        0 when nothing is certified.
    risk_bound : float
        One-sided Clopper-Pearson upper confidence bound, at level
        ``test_level``, of the selective risk at ``threshold`` computed from
        the accepted calibration rows; at most ``target_risk`` when certified
        (that is what the test checks), NaN when nothing is certified. It
        shows the slack below the target; the guarantee itself is stated for
        ``target_risk`` (see :func:`certified_threshold`).
    risk : float
        Error rate of the accepted calibration rows (NaN when none).
    n_accepted : int
        Number (total weight) of accepted calibration rows.
    n_errors : int
        Number (weight) of wrong predictions among them.
    n_samples : int
        Number (total weight) of calibration rows.
    certified : bool
        Whether a threshold was certified.
    target_risk : float
        The risk the threshold is certified for.
    delta : float
        The allowed probability that the certificate is wrong.
    test_level : float
        Level of each binomial test: ``delta / n_starts``.
    n_starts : int
        Number of starting points of the fixed sequence (see
        :func:`certified_threshold`).
    min_samples : int
        The fewest calibration rows that could certify ``target_risk`` at
        ``delta`` at all: the smallest ``n`` with
        ``(1 - target_risk) ** n <= delta`` (all ``n`` predictions correct).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.metrics import certified_threshold
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(0.5, 1.0, 2000)
    >>> correct = rng.uniform(size=2000) < conf  # confidence is calibrated
    >>> y_true, y_pred = np.ones(2000, int), np.where(correct, 1, 0)
    >>> res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf,
    ...                           target_risk=0.05, delta=0.1)
    >>> res.certified, bool(res.risk_bound <= 0.05)
    (True, True)
    """

    threshold: float
    coverage: float
    risk_bound: float
    risk: float
    n_accepted: int
    n_errors: int
    n_samples: int
    certified: bool
    target_risk: float
    delta: float
    test_level: float
    n_starts: int
    min_samples: int


def _min_samples(target_risk, level):
    """Smallest ``n`` with ``binom.cdf(0, n, target_risk) <= level``."""
    n = max(1, int(math.floor(math.log(level) / math.log1p(-target_risk))))
    while binom.cdf(0, n, target_risk) > level:
        n += 1
    while n > 1 and binom.cdf(0, n - 1, target_risk) <= level:
        n -= 1
    return n


def _starts(n_total, target_risk, delta):
    """Starts (in accepted rows) of the fixed sequences and their test level.

    One start at the fewest rows a test at ``delta / s`` can ever reject, then
    one every factor :data:`_START_FACTOR` further down, as many (``s`` <=
    :data:`_MAX_STARTS`) as fit in ``n_total`` rows. They depend on the
    number of rows only, never on the labels or the confidences.
    """
    n_starts = 1
    while n_starts < _MAX_STARTS:
        more = n_starts + 1
        last = _min_samples(target_risk, delta / more) * _START_FACTOR**n_starts
        if last > n_total:
            break
        n_starts = more
    level = delta / n_starts
    first = _min_samples(target_risk, level)
    return [first * _START_FACTOR**i for i in range(n_starts)], level


def _binomial_pvalues(n_errors, n_accepted, target_risk):
    """``P(Binomial(n_accepted, target_risk) <= n_errors)``, the exact tail.

    The p-value of ``H0: risk > target_risk`` given ``n_errors`` errors among
    ``n_accepted`` independent predictions (1 when nothing is accepted).
    """
    return binom.cdf(n_errors, n_accepted, target_risk)


def _clopper_pearson_upper(n_errors, n_accepted, level):
    """One-sided Clopper-Pearson upper bound of a proportion at ``level``.

    The ``r`` with ``P(Binomial(n_accepted, r) <= n_errors) = level`` (1 when
    every prediction is wrong).
    """
    if n_errors >= n_accepted:
        return 1.0
    return float(beta_dist.ppf(1.0 - level, n_errors + 1, n_accepted - n_errors))


def _integer_weights(sample_weight):
    if sample_weight is None:
        return None
    if not np.array_equal(sample_weight, np.round(sample_weight)):
        raise ValueError(
            "certified_threshold needs integer sample_weight (frequency weights: a "
            "weight of 3 is the same row seen 3 times): the binomial bound counts "
            "independent predictions, and non-integer (e.g. importance) weights "
            "have no exact count. Round them, or repeat rows."
        )
    return sample_weight


def _certify(correct, conf, sample_weight, target_risk, delta):
    """The procedure on validated arrays; returns :class:`CertifiedThreshold`."""
    ranked = _RankedCorrectness(correct, conf, _integer_weights(sample_weight))
    n_accepted = np.rint(ranked.cum_weight).astype(np.int64)
    n_errors = np.rint(ranked.cum_errors).astype(np.int64)
    total = int(n_accepted[-1])
    starts, level = _starts(total, target_risk, delta)
    min_samples = _min_samples(target_risk, delta)
    pvalues = _binomial_pvalues(n_errors, n_accepted, target_risk)
    passed = pvalues <= level
    best = -1
    first_test = None  # (n_accepted, n_errors, p-value) of the first start
    for start in starts:
        j0 = int(np.searchsorted(n_accepted, start, side="left"))
        if j0 >= n_accepted.shape[0]:
            break
        if first_test is None:
            first_test = (n_accepted[j0], n_errors[j0], pvalues[j0])
        fails = np.flatnonzero(~passed[j0:])
        n_passed = fails[0] if fails.shape[0] else passed.shape[0] - j0
        if n_passed:
            best = max(best, j0 + n_passed - 1)
    common = dict(
        n_samples=total,
        target_risk=float(target_risk),
        delta=float(delta),
        test_level=float(level),
        n_starts=len(starts),
        min_samples=min_samples,
    )
    if best < 0:
        _warn_uncertified(
            total, target_risk, delta, level, min_samples, first_test, len(starts)
        )
        return CertifiedThreshold(
            threshold=math.inf,
            coverage=0.0,
            risk_bound=math.nan,
            risk=math.nan,
            n_accepted=0,
            n_errors=0,
            certified=False,
            **common,
        )
    n, e = int(n_accepted[best]), int(n_errors[best])
    return CertifiedThreshold(
        threshold=float(ranked.thresholds[best]),
        coverage=n / total,
        risk_bound=_clopper_pearson_upper(e, n, level),
        risk=e / n,
        n_accepted=n,
        n_errors=e,
        certified=True,
        **common,
    )


def _warn_uncertified(
    total, target_risk, delta, level, min_samples, first_test, n_starts
):
    head = (
        f"No confidence threshold certifies a selective risk <= {target_risk:g} "
        f"with probability >= {1 - delta:g} from these {total} calibration rows"
    )
    if total < min_samples or first_test is None:
        why = (
            f"at least {min_samples} rows are needed even if every prediction is "
            f"correct ((1 - target_risk)**n <= delta)"
        )
    else:
        n, e, p = first_test
        why = (
            f"the {n} most confident predictions, where the test starts, hold {e} "
            f"error(s) (binomial p-value {p:.3g} > {level:g})"
            + (", and the second start fails too" if n_starts > 1 else "")
            + ". More calibration rows, a larger target_risk or delta, or a model "
            "whose confident predictions err less would be needed"
        )
    warnings.warn(
        f"{head}: {why}. Abstaining on every input (threshold inf, coverage 0).",
        CertificationWarning,
        stacklevel=5,  # the caller of certified_threshold or of a fit
    )


@validate_params(
    {
        **_PARAMS,
        "target_risk": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def certified_threshold(
    y_true,
    y_proba,
    *,
    target_risk=0.02,
    delta=0.05,
    labels=None,
    sample_weight=None,
    confidence="msp",
    y_pred=None,
):
    r"""Confidence threshold whose selective risk is certified from calibration data.

    Accepting the predictions whose confidence is at least the returned
    ``threshold`` (and abstaining on the others) has, with probability at
    least ``1 - delta`` over the draw of the calibration rows, a selective
    risk -- the error rate among accepted predictions, on new data from the
    same distribution -- of at most ``target_risk``. Among the thresholds the
    procedure certifies it returns the lowest, i.e. the largest coverage.
    When none is certified it warns (:class:`CertificationWarning`) and
    returns ``threshold=inf``: abstain on everything.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of the calibration rows: held-out data that the model
        never saw in training (nor in fitting a duo's weights, strictly).

    y_proba : array-like of shape (n_samples, n_classes) or None
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``). May be None only when ``y_pred`` and an
        array ``confidence`` are given.

    target_risk : float, default=0.02
        The selective risk to certify, in (0, 1).

    delta : float, default=0.05
        Allowed probability, over the calibration sample, that the certified
        threshold's risk exceeds ``target_risk``; in (0, 1).

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative **integer** frequency weights (a weight of 3 counts the
        row three times); zero-weight rows are ignored. Non-integer weights
        raise ``ValueError``: the binomial bound counts independent
        predictions.

    confidence : {'msp', 'margin', 'neg_entropy'}, array-like or callable, \
            default='msp'
        Confidence of each prediction, as in
        :func:`~skduo.metrics.risk_coverage_curve`; only its order matters.

    y_pred : array-like of shape (n_samples,), default=None
        Predicted labels; default: the arg-max of ``y_proba``. Pass the
        model's own predictions when they are not the arg-max (a duo in
        UQ-only mode).

    Returns
    -------
    result : CertifiedThreshold
        ``threshold``, ``coverage`` (on the calibration rows), ``risk_bound``,
        ``risk``, ``n_accepted``, ``n_errors``, ``certified`` and the
        procedure's constants.

    Warns
    -----
    CertificationWarning
        When no threshold is certified.

    See Also
    --------
    skduo.SelectiveClassifier : The same around a fitted classifier.
    coverage_at_accuracy : The uncertified operating point (no guarantee).
    risk_coverage_curve : Coverage and risk at every threshold.

    Notes
    -----
    **Guarantee.** Write :math:`c(x)` for the confidence and
    :math:`R(\lambda) = P(\hat y(X) \ne Y \mid c(X) \ge \lambda)` for the
    selective risk of the threshold :math:`\lambda` on the population. If the
    calibration rows and the future data are independent draws from one
    distribution, the returned :math:`\hat\lambda` satisfies

    .. math::

        P\bigl(R(\hat\lambda) > \alpha\bigr) \le \delta, \qquad
        \alpha = \text{target\_risk},

    where the probability is over the calibration sample. It is a statement
    about the population risk of one fixed threshold, not about the error
    rate of a particular finite batch of future predictions (which
    fluctuates around :math:`R(\hat\lambda)`).

    **Procedure** (Learn-then-Test, fixed-sequence testing). For a threshold
    :math:`\lambda` accepting :math:`n_\lambda` calibration rows with
    :math:`e_\lambda` errors, the p-value of
    :math:`H_\lambda: R(\lambda) > \alpha` is the exact binomial tail

    .. math::

        p_\lambda = P\bigl(\mathrm{Binomial}(n_\lambda, \alpha)
                    \le e_\lambda\bigr),

    valid because, given :math:`n_\lambda`, the accepted rows are
    independent draws from the population conditioned on
    :math:`c(X) \ge \lambda`, so :math:`e_\lambda` is
    :math:`\mathrm{Binomial}(n_\lambda, R(\lambda))`. The thresholds are
    tested from the most confident down, in a fixed order, and testing stops
    at the first p-value above the level: without any union bound, the
    probability of certifying some :math:`\lambda` with
    :math:`R(\lambda) > \alpha` is at most the level, because that requires
    rejecting the first such hypothesis in the order. As
    :math:`(n_\lambda, e_\lambda)` only change at the calibration
    confidences, testing those values tests every threshold. Ties are
    accepted or rejected together.

    A test on fewer than ``min_samples`` rows can never reject (even without
    an error, :math:`(1 - \alpha)^n > \delta`), and one confidently wrong
    calibration row among the first few hundred would stop a single sequence
    at once. So the sequence starts at the first threshold that accepts
    :math:`m_1` rows, the fewest a test at level :math:`\delta / s` can
    reject; when there are at least :math:`4 m_1` calibration rows, a second
    sequence starts at :math:`4 m_1` (:math:`s = 2`), where a few early errors
    no longer decide. Each is tested at :math:`\delta / s` (a union bound
    over the starts), and the lowest threshold certified by either is
    returned. The starts depend on the number of rows only, but a start is
    the :math:`m`-th most confident row, a random threshold rather than one
    fixed in advance as in Learn-then-Test. The argument above still holds
    exactly when the error rate does not increase with the confidence,
    :math:`P(\text{error} \mid c(X) = t)` non-increasing in :math:`t` (what a
    confidence score is for); without that assumption it is not proved, and
    the simulations of ``benchmarks/bench_selective.py`` (including error
    rates that rise with the confidence, and label noise) stay within
    :math:`\delta`.

    ``risk_bound`` is the Clopper-Pearson bound matching the test that
    certified the threshold: :math:`p_{\hat\lambda} \le` ``test_level``
    exactly when the bound at that level is :math:`\le \alpha`.

    References
    ----------
    .. [1] A. N. Angelopoulos, S. Bates, E. J. Candès, M. I. Jordan and L. Lei,
       "Learn then Test: Calibrating Predictive Algorithms to Achieve Risk
       Control", arXiv:2110.01052, 2021.
    .. [2] Y. Geifman and R. El-Yaniv, "Selective Classification for Deep
       Neural Networks", NeurIPS 2017 (selection with guaranteed risk).

    Examples
    --------
    Five hundred calibration rows, all predicted correctly but the least
    confident one. At 2 % risk and ``delta=0.05`` the sequence starts at the
    149 most confident rows (the fewest with ``0.98 ** n <= 0.05``) and
    certifies every threshold down to the lowest:

    >>> import numpy as np
    >>> from skduo.metrics import certified_threshold
    >>> conf = np.linspace(1.0, 0.5, 500)
    >>> y_true = np.zeros(500, dtype=int)
    >>> y_pred = np.zeros(500, dtype=int)
    >>> y_pred[-1] = 1  # the least confident prediction is wrong
    >>> res = certified_threshold(y_true, None, y_pred=y_pred, confidence=conf)
    >>> res.certified, res.threshold, res.n_accepted, res.n_errors, res.min_samples
    (True, 0.5, 500, 1, 149)
    >>> round(res.risk_bound, 4)  # Clopper-Pearson: 1 error in 500, level 0.05
    0.0095
    """
    correct, conf, sw = _correctness_confidence(
        y_true,
        y_proba,
        labels=labels,
        sample_weight=sample_weight,
        confidence=confidence,
        y_pred=y_pred,
    )
    return _certify(correct, conf, sw, target_risk, delta)
