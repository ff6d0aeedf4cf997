"""Selective-classification metrics: everything driven by a ranking of confidence.

All public functions here share one private core, :class:`_RankedCorrectness`:
the samples are sorted once by decreasing confidence and grouped into *tie
groups* (equal confidence). Every metric is then an O(number of groups)
reduction of the cumulative weight ``C_j`` and cumulative error weight ``E_j``
at the end of each group, which is why :func:`selective_metrics` can return all
of them from a single sort.

Ties
----
A confidence threshold either accepts a whole tie group or none of it, so the
risk-coverage curve, :func:`coverage_at_accuracy` and :func:`risk_at_coverage`
only use coverages a threshold can realise (group ends). Area summaries
(:func:`aurc`, :func:`eaurc`, :func:`augrc`) are the *expected value* of the
per-sample definition over uniformly random orders of the samples inside each
tie group. Because those definitions are linear in the cumulative error count,
the expectation is exact and cheap: inside group ``j`` the expected cumulative
errors grow linearly at rate ``r_j = e_j / n_j``. Both conventions are
invariant to the order of the rows, and with distinct confidences they reduce
to the official Asymmetric Duos definitions.
"""

import warnings
from numbers import Real

import numpy as np
from scipy.special import digamma, xlogy
from sklearn.exceptions import UndefinedMetricWarning

from skduo.metrics._base import (
    _as_float_array,
    _check_labels,
    _check_length,
    _check_proba,
    _check_sample_weight,
    _check_y_true,
    _encode,
    _resolve_classes,
    _row_blocks,
)
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = [
    "aurc",
    "augrc",
    "correctness_auroc",
    "coverage_at_accuracy",
    "eaurc",
    "risk_at_coverage",
    "risk_coverage_curve",
    "selective_metrics",
]

CONFIDENCE_NAMES = ("msp", "margin", "neg_entropy")


# --------------------------------------------------------------------------
# Inputs: correctness and confidence
# --------------------------------------------------------------------------
def _confidence_from_proba(proba, pred, confidence, *, top=None):
    """Per-sample confidence (float64) of the prediction ``pred`` (column indices).

    ``proba`` may be of any floating dtype; it is read in row blocks and never
    copied whole (except for a callable, which is promised a float64 array).
    ``top``, the row maxima when ``pred`` is the row arg-max, saves a gather.
    """
    n_samples = proba.shape[0]
    if callable(confidence):
        conf, _ = _as_float_array(
            confidence(np.asarray(proba, dtype=np.float64)),
            "confidence(y_proba)",
            ndim=1,
        )
        _check_length(n_samples, conf, "confidence(y_proba)")
        return conf
    if confidence == "msp":
        if top is not None:
            return top
        return proba[np.arange(n_samples), pred].astype(np.float64)
    conf = np.empty(n_samples)
    n_classes = proba.shape[1]
    for rows in _row_blocks(proba):
        block = proba[rows].astype(np.float64)
        if confidence == "margin":
            p_pred = block[np.arange(block.shape[0]), pred[rows]]
            top2 = np.partition(block, n_classes - 2, axis=1)[:, n_classes - 2 :]
            second, first = top2[:, 0], top2[:, 1]
            # Largest probability among the *other* classes.
            conf[rows] = p_pred - np.where(p_pred >= first, second, first)
        else:
            # neg_entropy: sum_k p log p (0 log 0 = 0); tiny negatives clipped.
            np.clip(block, 0.0, None, out=block)
            conf[rows] = xlogy(block, block) @ np.ones(n_classes)
    return conf


def _correctness_confidence(
    y_true, y_proba, *, labels, sample_weight, confidence, y_pred
):
    """Validate the inputs of a selective metric.

    Returns ``(correct, conf, sample_weight)`` with ``correct`` boolean,
    ``conf`` float64 and ``sample_weight`` float64 or None.
    """
    y = _check_y_true(y_true)
    n_samples = y.shape[0]
    conf_is_array = not (isinstance(confidence, str) or callable(confidence))

    if y_proba is None:
        if y_pred is None or not conf_is_array:
            raise ValueError(
                "y_proba=None requires both y_pred and an array of per-sample "
                "confidence values."
            )
        pred = _check_y_true(y_pred, name="y_pred")
        _check_length(n_samples, pred, "y_pred")
        if labels is not None:
            classes = _check_labels(labels)
            _encode(y, classes)
            _encode(pred, classes, name="y_pred")
        try:
            correct = np.asarray(pred == y, dtype=bool)
        except (TypeError, ValueError):  # pragma: no cover - numpy-dependent
            correct = np.zeros(n_samples, dtype=bool)
        if correct.shape != (n_samples,):  # incomparable types give a scalar
            correct = np.zeros(n_samples, dtype=bool)
        proba = None
    else:
        classes, y_enc = _resolve_classes(y, labels)
        checked = _check_proba(
            y_proba, n_samples, classes, labels is not None, top=y_pred is None
        )
        proba, top = checked.values, checked.top
        if y_pred is None:
            pred_enc = checked.pred
        else:
            pred = _check_y_true(y_pred, name="y_pred")
            _check_length(n_samples, pred, "y_pred")
            pred_enc = _encode(pred, classes, name="y_pred")
            top = None
        correct = pred_enc == y_enc

    if conf_is_array:
        conf, _ = _as_float_array(confidence, "confidence", ndim=1)
        _check_length(n_samples, conf, "confidence")
    else:
        conf = _confidence_from_proba(proba, pred_enc, confidence, top=top)
    sw = _check_sample_weight(sample_weight, n_samples)
    return correct, conf, sw


# --------------------------------------------------------------------------
# The shared core: one sort, tie groups, cumulative sums
# --------------------------------------------------------------------------
class _RankedCorrectness:
    """Tie-grouped cumulative correctness statistics (private).

    Attributes
    ----------
    cum_weight : ndarray of shape (n_groups,)
        ``C_j``: total weight of the samples whose confidence is >= the
        confidence of group ``j`` (groups in decreasing confidence).
    cum_errors : ndarray of shape (n_groups,)
        ``E_j``: the same for wrongly predicted samples.
    thresholds : ndarray of shape (n_groups,)
        Confidence value of each group, decreasing.
    total, total_errors : float
        ``W = C_last`` and ``E_last``.
    unit : bool
        True when every sample has weight one (exact harmonic sums are used).
    perfect : bool
        True when every correct sample is strictly more confident than every
        wrong one (including the all-correct and all-wrong cases).
    """

    def __init__(self, correct, conf, sample_weight=None):
        if sample_weight is not None and np.all(sample_weight == 1.0):
            sample_weight = None
        self.unit = sample_weight is None
        if self.unit:
            n = conf.shape[0]
            sorted_conf = np.sort(conf)[::-1]
            ends = self._group_ends(sorted_conf)
            self.thresholds = sorted_conf[ends - 1]
            # Errors per tie group: locate each (sorted) wrong confidence among
            # the increasing group values; cheaper than an argsort of all.
            increasing = self.thresholds[::-1]
            wrong = np.sort(conf[~correct])
            group = np.searchsorted(increasing, wrong)
            per_group = np.bincount(group, minlength=increasing.shape[0])[::-1]
            self.cum_weight = ends.astype(np.float64)
            self.cum_errors = np.cumsum(per_group).astype(np.float64)
            # integer counts: exact
            self.group_ok = np.diff(ends, prepend=0) - per_group
            self._n = n
        else:
            keep = sample_weight > 0
            conf, correct, w = conf[keep], correct[keep], sample_weight[keep]
            order = np.argsort(-conf)
            sorted_conf = conf[order]
            w = w[order]
            ends = self._group_ends(sorted_conf)
            self.thresholds = sorted_conf[ends - 1]
            ok = correct[order]
            self.cum_weight = np.cumsum(w)[ends - 1]
            self.cum_errors = np.cumsum(np.where(ok, 0.0, w))[ends - 1]
            # Correct weight per group from its own cumulative sum: exactly 0
            # for a group without correct samples (a difference of the two
            # sums above can be off by a rounding error either way).
            self.group_ok = np.diff(
                np.cumsum(np.where(ok, w, 0.0))[ends - 1], prepend=0.0
            )
        self.total = float(self.cum_weight[-1])
        self.total_errors = float(self.cum_errors[-1])
        self.total_correct = self.total - self.total_errors
        # Exactly one of the degenerate cases when every (positive-weight)
        # prediction is right or every one is wrong.
        self.all_correct = self.total_errors == 0
        self.all_wrong = self.total_correct == 0
        if self.all_correct or self.all_wrong:
            self.perfect = True
        else:
            # Perfect ranking: no error at or above the last group holding a
            # correct prediction.
            last_ok = np.flatnonzero(self.group_ok > 0)[-1]
            self.perfect = bool(self.cum_errors[last_ok] == 0)

    @staticmethod
    def _group_ends(sorted_conf):
        """Exclusive end index of each run of equal values."""
        change = np.flatnonzero(sorted_conf[1:] != sorted_conf[:-1]) + 1
        return np.append(change, sorted_conf.shape[0])

    def _previous(self, arr):
        return np.concatenate([[0.0], arr[:-1]])

    # -- curve --------------------------------------------------------------
    def curve(self):
        coverage = self.cum_weight / self.total
        risk = self.cum_errors / self.cum_weight
        return coverage, risk, self.thresholds.copy()

    # -- areas --------------------------------------------------------------
    def _harmonic_between(self, lo, hi):
        """``sum_{k=lo+1}^{hi} 1/k`` per group, or its digamma continuation."""
        if self.unit:
            harmonic = 1.0 / np.arange(1, self._n + 1, dtype=np.float64)
            return np.add.reduceat(harmonic, lo.astype(np.intp))
        return digamma(hi + 1.0) - digamma(lo + 1.0)

    # Every area is clipped to its range: the clip only removes round-off
    # (e.g. the sum of an all-wrong curve's pieces landing one step above 1),
    # and the all-correct / all-wrong end points are exact.
    def aurc(self):
        if getattr(self, "_aurc", None) is not None:
            return self._aurc
        if self.all_correct or self.all_wrong:
            self._aurc = 1.0 if self.all_wrong else 0.0
            return self._aurc
        c, e = self.cum_weight, self.cum_errors
        c_prev, e_prev = self._previous(c), self._previous(e)
        group_err = e - e_prev
        width = c - c_prev
        # A group whose weight is absorbed in the cumulative sum (weights
        # 1e16 times apart) has width 0 and adds only its errors.
        rate = np.divide(group_err, width, out=np.zeros_like(width), where=width > 0)
        contrib = group_err + (e_prev - c_prev * rate) * self._harmonic_between(
            c_prev, c
        )
        self._aurc = min(max(float(contrib.sum() / self.total), 0.0), 1.0)
        return self._aurc

    def aurc_optimal(self):
        m, err, total = self.total_correct, self.total_errors, self.total
        if err == 0:
            return 0.0
        if self.unit:
            tail = (1.0 / np.arange(int(m) + 1, self._n + 1, dtype=np.float64)).sum()
        else:
            tail = digamma(total + 1.0) - digamma(m + 1.0)
        return float((err - m * tail) / total)

    def eaurc(self):
        if self.perfect:
            return 0.0
        # Mathematically in [0, AURC] (the optimal order minimises every
        # cumulative error count); the clip only removes round-off.
        aurc = self.aurc()
        return min(max(aurc - self.aurc_optimal(), 0.0), aurc)

    def augrc(self):
        if self.all_correct or self.all_wrong:
            return 0.5 if self.all_wrong else 0.0
        # On the normalised curve (C / W, E / W): invariant to the weights'
        # scale, and no underflow of W**2 for tiny weights.
        x, g = self.cum_weight / self.total, self.cum_errors / self.total
        x_prev, g_prev = self._previous(x), self._previous(g)
        area = float(((x - x_prev) * (g + g_prev)).sum() / 2.0)
        return min(max(area, 0.0), 0.5)

    # -- operating points -----------------------------------------------------
    def _slack(self):
        # Cumulative sums of non-integer weights carry round-off; accept a
        # target that is missed by less than that. Unit weights are exact.
        return 0.0 if self.unit else 1e-12

    def coverage_at_accuracy(self, accuracy):
        c, e = self.cum_weight, self.cum_errors
        ok = np.flatnonzero((c - e) / c >= accuracy - self._slack())
        if ok.shape[0] == 0:
            return 0.0
        return float(c[ok[-1]] / self.total)

    def risk_at_coverage(self, coverage):
        cov = self.cum_weight / self.total
        target = coverage - self._slack()
        j = min(int(np.searchsorted(cov, target, side="left")), cov.shape[0] - 1)
        return float(self.cum_errors[j] / self.cum_weight[j])

    # -- ranking --------------------------------------------------------------
    def auroc(self):
        pos, neg = self.total_correct, self.total_errors
        if pos == 0 or neg == 0:
            warnings.warn(
                "All predictions are "
                + ("correct" if neg == 0 else "wrong")
                + "; correctness AUROC is not defined in that case. Returning nan.",
                UndefinedMetricWarning,
                stacklevel=3,
            )
            return float("nan")
        e = self.cum_errors
        group_err = e - self._previous(e)
        below = neg - e  # wrong weight strictly less confident than the group
        auc = (self.group_ok * (below + 0.5 * group_err)).sum() / (pos * neg)
        return min(max(float(auc), 0.0), 1.0)


def _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred):
    correct, conf, sw = _correctness_confidence(
        y_true,
        y_proba,
        labels=labels,
        sample_weight=sample_weight,
        confidence=confidence,
        y_pred=y_pred,
    )
    return _RankedCorrectness(correct, conf, sw)


_PARAMS = {
    "y_true": ["array-like"],
    "y_proba": ["array-like", None],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
    "confidence": [StrOptions(set(CONFIDENCE_NAMES)), "array-like", callable],
    "y_pred": ["array-like", None],
}

_SHARED_DOC = """
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes) or None
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``). May be None only when ``y_pred`` and an
        array ``confidence`` are given.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative frequency weights: an integer weight equals repeating the
        row. Zero-weight rows are ignored.

    confidence : {'msp', 'margin', 'neg_entropy'}, array-like or callable, \
            default='msp'
        How confident the classifier is in its prediction; only the order
        matters. ``'msp'``: probability of the predicted class (the maximum
        softmax probability when ``y_pred`` is None). ``'margin'``: that
        probability minus the largest probability of another class.
        ``'neg_entropy'``: :math:`\\sum_k p_k \\log p_k`. An array of shape
        (n_samples,) gives the confidences directly; a callable maps
        ``y_proba`` (float64, validated) to such an array.

    y_pred : array-like of shape (n_samples,), default=None
        Predicted labels. Default: the arg-max of ``y_proba`` (first maximum
        on ties). Pass it when predictions are not the arg-max of the
        probabilities (e.g. a duo in UQ-only mode); the confidence is then
        about this prediction."""


def _doc(func):
    func.__doc__ = func.__doc__.replace("    {shared}", _SHARED_DOC.strip("\n"))
    return func


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------
@validate_params(_PARAMS, prefer_skip_nested_validation=True)
@_doc
def risk_coverage_curve(
    y_true, y_proba, *, labels=None, sample_weight=None, confidence="msp", y_pred=None
):
    r"""Risk-coverage curve of a selective classifier.

    Accepting the samples whose confidence is at least a threshold gives a
    coverage (the accepted fraction) and a selective risk (the error rate
    among them). There is one point per distinct confidence value, i.e. only
    the coverages a threshold can realise.

    Parameters
    ----------
    {shared}

    Returns
    -------
    coverage : ndarray of shape (n_thresholds,)
        Increasing coverages in :math:`(0, 1]`; the last one is 1.

    risk : ndarray of shape (n_thresholds,)
        Selective risk at each coverage (weighted error rate of the accepted
        samples).

    thresholds : ndarray of shape (n_thresholds,)
        Decreasing confidence thresholds: samples with
        ``confidence >= thresholds[i]`` are accepted at ``coverage[i]``.

    See Also
    --------
    aurc : Area under this curve.
    sklearn.metrics.roc_curve : The ROC analogue, with the same return shape.

    Notes
    -----
    With :math:`C_j` the weight of samples with confidence
    :math:`\ge t_j`, :math:`E_j` that of the wrong ones and :math:`W` the
    total weight: ``coverage[j]`` :math:`= C_j / W` and ``risk[j]``
    :math:`= E_j / C_j`.

    Examples
    --------
    >>> from skduo.metrics import risk_coverage_curve
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> coverage, risk, thresholds = risk_coverage_curve(y_true, y_proba)
    >>> coverage.tolist()
    [0.25, 0.5, 0.75, 1.0]
    >>> [round(float(r), 4) for r in risk]
    [0.0, 0.0, 0.3333, 0.25]
    >>> thresholds.tolist()
    [0.9, 0.7, 0.6, 0.55]
    """
    return _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred).curve()


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
@_doc
def aurc(
    y_true, y_proba, *, labels=None, sample_weight=None, confidence="msp", y_pred=None
):
    r"""Area under the risk-coverage curve (AURC); lower is better.

    The mean selective risk over the :math:`N` coverages :math:`k/N`,
    :math:`k = 1, \dots, N`, reached by accepting the :math:`k` most confident
    samples: the definition of the official Asymmetric Duos code (Geifman et
    al.'s AURC without a trapezoid).

    Parameters
    ----------
    {shared}

    Returns
    -------
    aurc : float
        In :math:`[0, 1]`.

    See Also
    --------
    eaurc : AURC minus its optimum for the same predictions.
    augrc : Area under the generalised risk-coverage curve.
    risk_coverage_curve : The curve itself.

    Notes
    -----
    With samples sorted by decreasing confidence and :math:`E_k` the number of
    errors among the first :math:`k`,

    .. math::

        \mathrm{AURC} = \frac{1}{N} \sum_{k=1}^{N} \frac{E_k}{k}.

    **Ties** are resolved by taking the expectation over random orders inside
    each tie group; as :math:`E_k` is linear inside a group, a group
    :math:`j` spanning :math:`k \in (C_{j-1}, C_j]` with :math:`e_j` errors
    contributes exactly

    .. math::

        e_j + \left(E_{j-1} - C_{j-1} r_j\right)
        \left(H_{C_j} - H_{C_{j-1}}\right), \qquad r_j = e_j/(C_j - C_{j-1}),

    with harmonic numbers :math:`H`. The result does not depend on the row
    order, and equals the official value when confidences are distinct.
    **Weights** are frequency weights: :math:`N` becomes the total weight and
    :math:`H_x = \psi(x + 1) + \gamma` (digamma) for non-integer :math:`x`,
    so integer weights equal repeated rows. Like the definition itself, the
    value then depends on the scale of the weights (through the :math:`1/k`
    terms), not only on their ratios.

    Degenerate inputs: all predictions correct gives 0, all wrong gives 1, a
    single sample gives its 0/1 error; empty input raises ``ValueError``.

    References
    ----------
    .. [1] Geifman, Uziel & El-Yaniv, "Bias-Reduced Uncertainty Estimation for
       Deep Neural Classifiers", ICLR 2019.

    Examples
    --------
    >>> from skduo.metrics import aurc
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> # risks at k = 1..4: 0, 0, 1/3, 1/4
    >>> round(aurc(y_true, y_proba), 4)
    0.1458
    """
    return _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred).aurc()


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
@_doc
def eaurc(
    y_true, y_proba, *, labels=None, sample_weight=None, confidence="msp", y_pred=None
):
    r"""Excess AURC: AURC minus the AURC of the best ranking; lower is better.

    The optimum ranks every correct prediction above every wrong one and is
    computed with the same discretisation as :func:`aurc`, so a perfect
    ranking gives exactly 0.

    Parameters
    ----------
    {shared}

    Returns
    -------
    eaurc : float
        In :math:`[0, \mathrm{AURC}]`.

    See Also
    --------
    aurc : The area itself.

    Notes
    -----
    With :math:`M` correct and :math:`N - M` wrong predictions,

    .. math::

        \mathrm{AURC}^* = \frac{1}{N} \sum_{k=M+1}^{N} \frac{k - M}{k},
        \qquad \mathrm{E\text{-}AURC} = \mathrm{AURC} - \mathrm{AURC}^*.

    This is the official code's discrete optimum, not the continuous
    closed form :math:`r + (1 - r)\log(1 - r)` used by some libraries,
    which differs at small :math:`N` and can make E-AURC negative. Ties and
    weights are handled as in :func:`aurc`; the value is 0 when every
    correct prediction is strictly more confident than every wrong one,
    including when all are correct or all are wrong.

    Examples
    --------
    >>> from skduo.metrics import eaurc
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> # AURC 0.1458 minus the optimum (1/4)(1/4) = 0.0625
    >>> round(eaurc(y_true, y_proba), 4)
    0.0833
    """
    return _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred).eaurc()


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
@_doc
def augrc(
    y_true, y_proba, *, labels=None, sample_weight=None, confidence="msp", y_pred=None
):
    r"""Area under the generalised risk-coverage curve (AUGRC); lower is better.

    The generalised risk at a coverage is the weight of *accepted wrong*
    predictions divided by the weight of *all* samples (Traub et al., 2024),
    i.e. the probability that a sample is both accepted and misclassified.

    Parameters
    ----------
    {shared}

    Returns
    -------
    augrc : float
        In :math:`[0, 1/2]`.

    See Also
    --------
    aurc : Area under the selective-risk curve.

    Notes
    -----
    The curve passes through :math:`(0, 0)` and the points
    :math:`(C_j / W, E_j / W)` at each distinct confidence; the area is the
    trapezoidal rule on these points, as in the reference implementation
    (``fd_shifts.analysis.rc_stats.RiskCoverageStats.augrc``):

    .. math::

        \mathrm{AUGRC} = \frac{1}{2 W^2} \sum_j (C_j - C_{j-1})(E_j + E_{j-1}).

    The straight segment over a tie group is the expected curve over random
    orders inside the group, so ties are handled as in :func:`aurc`. The
    value is invariant to rescaling the weights. All correct gives 0, all
    wrong gives 1/2.

    References
    ----------
    .. [1] Traub, Bungert, Lüth, Baumgartner, Maier-Hein, Maier-Hein & Jaeger,
       "Overcoming Common Flaws in the Evaluation of Selective Classification
       Systems", NeurIPS 2024.

    Examples
    --------
    >>> from skduo.metrics import augrc
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> # generalised risks 0, 0, 1/4, 1/4 at coverages 1/4 .. 1
    >>> round(augrc(y_true, y_proba), 4)
    0.0938
    """
    return _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred).augrc()


@validate_params(
    {**_PARAMS, "accuracy": [Interval(Real, 0, 1, closed="both")]},
    prefer_skip_nested_validation=True,
)
@_doc
def coverage_at_accuracy(
    y_true,
    y_proba,
    *,
    accuracy=0.98,
    labels=None,
    sample_weight=None,
    confidence="msp",
    y_pred=None,
):
    r"""Largest coverage whose selective accuracy reaches a target (SAC).

    The paper's SAC@98 is ``coverage_at_accuracy(..., accuracy=0.98)``: the
    largest coverage reachable by a confidence threshold at which the
    accepted samples have accuracy at least ``accuracy``; 0 if none does.

    Parameters
    ----------
    {shared}

    accuracy : float, default=0.98
        Target selective accuracy in :math:`[0, 1]`.

    Returns
    -------
    coverage : float
        In :math:`[0, 1]`; higher is better.

    See Also
    --------
    risk_at_coverage : The converse operating point.

    Notes
    -----
    .. math::

        \mathrm{SAC}@t = \max \left\{ \frac{C_j}{W} :
        \frac{C_j - E_j}{C_j} \ge t \right\},

    over the thresholds of :func:`risk_coverage_curve`. As in the official
    code this is the *largest* such coverage, not the end of the first run
    under the target: the accuracy need not stay above the target at smaller
    coverages. Unlike the official code, which compares the risk with
    ``1 - t`` in floating point (so a risk of exactly 2% fails SAC@98), the
    accuracy is compared with ``t`` directly, so an accuracy exactly equal to
    the target counts (with non-integer ``sample_weight``, up to a slack of
    :math:`10^{-12}` that absorbs the round-off of the cumulative sums).

    Examples
    --------
    >>> from skduo.metrics import coverage_at_accuracy
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> coverage_at_accuracy(y_true, y_proba, accuracy=0.98)
    0.5
    >>> coverage_at_accuracy(y_true, y_proba, accuracy=0.75)
    1.0
    """
    ranked = _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred)
    return ranked.coverage_at_accuracy(accuracy)


@validate_params(
    {**_PARAMS, "coverage": [Interval(Real, 0, 1, closed="right")]},
    prefer_skip_nested_validation=True,
)
@_doc
def risk_at_coverage(
    y_true,
    y_proba,
    *,
    coverage,
    labels=None,
    sample_weight=None,
    confidence="msp",
    y_pred=None,
):
    r"""Selective risk at (the smallest realisable coverage above) a coverage.

    Parameters
    ----------
    {shared}

    coverage : float
        Target coverage in :math:`(0, 1]`.

    Returns
    -------
    risk : float
        Error rate among the accepted samples at the smallest coverage
        :math:`\ge` ``coverage`` that a confidence threshold can realise;
        lower is better.

    See Also
    --------
    coverage_at_accuracy : The converse operating point.

    Notes
    -----
    A threshold accepts whole tie groups, so the realised coverage may exceed
    the target; use :func:`risk_coverage_curve` to see it. ``coverage=1``
    gives the overall error rate.

    Examples
    --------
    >>> from skduo.metrics import risk_at_coverage
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> risk_at_coverage(y_true, y_proba, coverage=0.5)
    0.0
    >>> round(risk_at_coverage(y_true, y_proba, coverage=0.6), 4)
    0.3333
    """
    ranked = _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred)
    return ranked.risk_at_coverage(coverage)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
@_doc
def correctness_auroc(
    y_true, y_proba, *, labels=None, sample_weight=None, confidence="msp", y_pred=None
):
    r"""AUROC of confidence as a predictor of correctness; higher is better.

    The paper's "AUROC": the probability that a correct prediction is more
    confident than a wrong one (ties count one half), i.e.
    ``roc_auc_score(y_pred == y_true, confidence)``.

    Parameters
    ----------
    {shared}

    Returns
    -------
    auroc : float
        In :math:`[0, 1]`, or NaN when all predictions are correct or all are
        wrong (then an :class:`~sklearn.exceptions.UndefinedMetricWarning` is
        emitted, as :func:`sklearn.metrics.roc_auc_score` does).

    See Also
    --------
    sklearn.metrics.roc_auc_score : Same value on ``(correct, confidence)``.

    Notes
    -----
    .. math::

        \mathrm{AUROC} = \frac{\sum_{i \in \mathcal{C}} \sum_{j \in \mathcal{W}}
        w_i w_j \left(\mathbb{1}[c_i > c_j] + \tfrac12 \mathbb{1}[c_i = c_j]
        \right)}{\sum_{i \in \mathcal{C}} w_i \sum_{j \in \mathcal{W}} w_j},

    with :math:`\mathcal{C}` the correct and :math:`\mathcal{W}` the wrong
    predictions, computed from the shared sort in :math:`O(N \log N)`.

    Examples
    --------
    >>> from skduo.metrics import correctness_auroc
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> round(correctness_auroc(y_true, y_proba), 4)
    0.6667
    """
    return _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred).auroc()


@validate_params(
    {
        **_PARAMS,
        "accuracy": [Interval(Real, 0, 1, closed="both")],
        "coverage": [Interval(Real, 0, 1, closed="right"), None],
    },
    prefer_skip_nested_validation=True,
)
@_doc
def selective_metrics(
    y_true,
    y_proba,
    *,
    labels=None,
    sample_weight=None,
    confidence="msp",
    y_pred=None,
    accuracy=0.98,
    coverage=None,
):
    r"""All selective-classification metrics from one validation and one sort.

    Equivalent to calling :func:`aurc`, :func:`eaurc`, :func:`augrc`,
    :func:`correctness_auroc`, :func:`coverage_at_accuracy` and
    :func:`risk_at_coverage` separately, but the inputs are validated, the
    confidences computed and the samples sorted only once.

    Parameters
    ----------
    {shared}

    accuracy : float, default=0.98
        Target accuracy for ``coverage_at_accuracy``.

    coverage : float, default=None
        Target coverage for ``risk_at_coverage``; that key is present only
        when ``coverage`` is given.

    Returns
    -------
    metrics : dict
        Keys ``'aurc'``, ``'eaurc'``, ``'augrc'``, ``'correctness_auroc'``,
        ``'coverage_at_accuracy'`` and, if ``coverage`` is given,
        ``'risk_at_coverage'``; values are Python floats.

    Examples
    --------
    >>> from skduo.metrics import selective_metrics
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> res = selective_metrics(y_true, y_proba, coverage=0.5)
    >>> {k: round(v, 4) for k, v in res.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'aurc': 0.1458, 'eaurc': 0.0833, 'augrc': 0.0938, 'correctness_auroc': 0.6667,
     'coverage_at_accuracy': 0.5, 'risk_at_coverage': 0.0}
    """
    ranked = _ranked(y_true, y_proba, labels, sample_weight, confidence, y_pred)
    out = {
        "aurc": ranked.aurc(),
        "eaurc": ranked.eaurc(),
        "augrc": ranked.augrc(),
        "correctness_auroc": ranked.auroc(),
        "coverage_at_accuracy": ranked.coverage_at_accuracy(accuracy),
    }
    if coverage is not None:
        out["risk_at_coverage"] = ranked.risk_at_coverage(coverage)
    return out
