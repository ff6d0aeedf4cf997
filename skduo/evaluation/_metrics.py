"""The report's metrics: their names, directions and per-split computation."""

import math

import numpy as np

from skduo._outputs._logit_ops import softmax
from skduo._vocabulary import check_confidence
from skduo.metrics._bootstrap_engine import _observed, _Predictions

__all__ = ["BALANCE_BRACKETS", "METRICS", "compute_metrics"]


class _MetricTable(tuple):
    """The metrics of every report row, as ``(key, header, higher_is_better, scale)``.

    ``key`` names the row's column (``'acc'``, ``'f1'``, ``'brier'``, ``'nll'``,
    ``'ece'``, ``'auroc'``, ``'aurc'``, ``'eaurc'``, ``'sac98'``), ``header`` the
    printed title, ``higher_is_better`` the direction of "harm", and ``scale`` the
    factor of the paper's units (``'brier'``: x 1e4 per class entry).

    Examples
    --------
    >>> from skduo.evaluation import METRICS
    >>> [key for key, *_ in METRICS][:4]
    ['acc', 'f1', 'brier', 'nll']
    """


class _BracketTable(tuple):
    """FLOPs-balance brackets of the harm-rate summaries, ``(label, low, high)``.

    A duo of FLOPs balance ``r = cost(small) / cost(large)`` falls in the bracket
    with ``low <= r < high``: ``<0.05``, ``0.05-0.1``, ``0.1-0.2``, ``0.2-0.5``
    and ``>=0.5``.

    Examples
    --------
    >>> from skduo.evaluation import BALANCE_BRACKETS
    >>> [label for label, *_ in BALANCE_BRACKETS]
    ['<0.05', '0.05-0.1', '0.1-0.2', '0.2-0.5', '>=0.5']
    """


METRICS = _MetricTable(
    (
        ("acc", "Acc", True, 100.0),
        ("f1", "F1", True, 100.0),
        ("brier", "Brier", False, "brier"),
        ("nll", "NLL", False, 100.0),
        ("ece", "ECE", False, 100.0),
        ("auroc", "AUROC", True, 100.0),
        ("aurc", "AURC", False, 100.0),
        ("eaurc", "E-AURC", False, 100.0),
        ("sac98", "SAC@98", True, 100.0),
    )
)
HIGHER = {key: higher for key, _, higher, _ in METRICS}
HEADERS = {key: header for key, header, _, _ in METRICS}

#: The name of each report metric in :func:`skduo.metrics.paired_bootstrap`.
BOOTSTRAP_NAMES = {
    "acc": "accuracy",
    "f1": "f1_macro",
    "brier": "brier",
    "nll": "nll",
    "ece": "ece",
    "auroc": "correctness_auroc",
    "aurc": "aurc",
    "eaurc": "eaurc",
    "sac98": "coverage_at_accuracy",
}

BALANCE_BRACKETS = _BracketTable(
    (
        ("<0.05", 0.0, 0.05),
        ("0.05-0.1", 0.05, 0.1),
        ("0.1-0.2", 0.1, 0.2),
        ("0.2-0.5", 0.2, 0.5),
        (">=0.5", 0.5, math.inf),
    )
)


def compute_metrics(y, logits, pred, *, confidence="msp"):
    """The report's metrics of one classifier on one split.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Integer labels.
    logits : ndarray of shape (n_samples, n_classes)
        The classifier's (combined) logits.
    pred : ndarray of shape (n_samples,)
        Its predictions (not always the arg-max: UQ-only duos).
    confidence : {'msp', 'margin', 'neg_entropy'}
        Confidence used by the selective metrics.

    Returns
    -------
    dict
        Keys of :data:`METRICS`. ``brier`` is the multi-class Brier score (sum
        over classes); the paper prints it divided by the number of classes.

    Notes
    -----
    The values are those of :func:`skduo.metrics.nll_loss` (from the logits),
    :func:`~skduo.metrics.multiclass_brier_score`,
    :func:`~skduo.metrics.expected_calibration_error` (15 uniform bins),
    :func:`~skduo.metrics.selective_metrics` (``y_pred=pred``, SAC at 98%)
    and :func:`sklearn.metrics.f1_score` (macro, over the classes present),
    computed by the weighted sums :func:`skduo.metrics.paired_bootstrap`
    resamples, so that a row and its bootstrap are one computation.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import compute_metrics
    >>> y = np.array([0, 1, 1, 0])
    >>> logits = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    >>> m = compute_metrics(y, logits, logits.argmax(axis=1))
    >>> m["acc"], round(m["nll"], 4)
    (0.5, 1.2005)
    """
    confidence = check_confidence(confidence)
    return observed_metrics(prepare(y, logits, pred, confidence=confidence))


def prepare(y, logits, pred, *, confidence="msp", proba=None, stats=None):
    """The per-row statistics of every report metric (and of its bootstrap).

    ``stats`` (:func:`~skduo.metrics._bootstrap_engine.row_statistics` of the
    predictions, e.g. streamed block by block) replaces ``logits`` and
    ``proba``.
    """
    y = np.asarray(y, dtype=np.intp)
    if proba is None and stats is None:
        proba = softmax(logits)
    return _Predictions(
        y,
        proba,
        list(BOOTSTRAP_NAMES.values()),
        logits=logits,
        pred=np.asarray(pred, dtype=np.intp),
        confidence=confidence,
        n_bins=15,
        accuracy=0.98,
        stats=stats,
    )


def observed_metrics(prepared):
    """The report's metrics from :func:`prepare`'s statistics (all rows)."""
    values = _observed(prepared, list(BOOTSTRAP_NAMES.values()))
    return {key: values[name] for key, name in BOOTSTRAP_NAMES.items()}
