"""Selective classification at one operating point, and correctness AUROC.

:func:`coverage_at_accuracy` (the paper's SAC), :func:`risk_at_coverage` and
:func:`correctness_auroc`, reductions of the ranked-correctness core of
:mod:`skduo.metrics._ranking`.
"""

from numbers import Real

from skduo.metrics._ranking import _PARAMS, _doc, _ranked
from skduo.utils._sklearn_compat import Interval, validate_params

__all__ = ["correctness_auroc", "coverage_at_accuracy", "risk_at_coverage"]


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
