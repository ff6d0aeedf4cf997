"""The ranked-correctness core shared by every selective-classification metric.

The inputs of a selective metric -- labels, probabilities (or predictions
and confidences), weights -- become a boolean *correctness* and a float64
*confidence* per sample (:func:`_correctness_confidence`); then
:class:`_RankedCorrectness` sorts the samples once by decreasing confidence
and groups them into *tie groups* (equal confidence). Every metric is an
O(number of groups) reduction of the cumulative weight ``C_j`` and cumulative
error weight ``E_j`` at the end of each group, which is why
:func:`~skduo.metrics.selective_metrics` can return all of them from a single
sort. The public functions live in :mod:`skduo.metrics._selective` (curve
and areas) and :mod:`skduo.metrics._operating_points`.

Ties
----
A confidence threshold either accepts a whole tie group or none of it, so the
risk-coverage curve, ``coverage_at_accuracy`` and ``risk_at_coverage`` only
use coverages a threshold can realise (group ends). Area summaries (``aurc``,
``eaurc``, ``augrc``) are the *expected value* of the per-sample definition
over uniformly random orders of the samples inside each tie group. Because
those definitions are linear in the cumulative error count, the expectation
is exact and cheap: inside group ``j`` the expected cumulative errors grow
linearly at rate ``r_j = e_j / n_j``. Both conventions are invariant to the
order of the rows, and with distinct confidences they reduce to the official
Asymmetric Duos definitions.
"""

import warnings

import numpy as np
from scipy.special import digamma, xlogy
from sklearn.exceptions import UndefinedMetricWarning

from skduo._vocabulary import CONFIDENCES
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
from skduo.utils._sklearn_compat import StrOptions

__all__ = []  # private module

#: Confidence names of the selective metrics (the vocabulary's).
CONFIDENCE_NAMES = CONFIDENCES


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
            # The terms are summed sorted, so that the sum does not depend on
            # the column order: a row and any permutation of it get the same
            # value to the last bit (and tie, as they should, in the ranking).
            np.clip(block, 0.0, None, out=block)
            terms = xlogy(block, block, out=block)
            terms.sort(axis=1)
            conf[rows] = terms.sum(axis=1)
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


# --------------------------------------------------------------------------
# Parameters and their documentation, shared by the public functions
# --------------------------------------------------------------------------
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
