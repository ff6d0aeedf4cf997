"""Selective classification: the risk-coverage curve, its areas, all at once.

:func:`risk_coverage_curve`, the areas under it (:func:`aurc`,
:func:`eaurc`, :func:`augrc`) and :func:`selective_metrics`, which returns
every selective metric from one validation and one sort. All of them reduce
the ranked-correctness core of :mod:`skduo.metrics._ranking`, which also
describes how ties are handled; the operating points live in
:mod:`skduo.metrics._operating_points`.
"""

from numbers import Real

from skduo.metrics._ranking import (
    _PARAMS,
    CONFIDENCE_NAMES,  # noqa: F401  (imported from here by tests/test_vocabulary.py)
    _confidence_from_proba,  # noqa: F401  (imported from here by the array API)
    _doc,
    _ranked,
)
from skduo.utils._sklearn_compat import Interval, validate_params

__all__ = [
    "aurc",
    "augrc",
    "eaurc",
    "risk_coverage_curve",
    "selective_metrics",
]


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
