"""Calibration metrics: expected calibration error and reliability curves."""

from numbers import Integral

import numpy as np

from skduo.metrics._base import _check_proba_inputs
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["expected_calibration_error", "reliability_curve"]


def _bin_edges(conf, sample_weight, n_bins, strategy):
    """Bin edges on [0, 1] for ``strategy`` in {'uniform', 'quantile'}."""
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    # Weighted inverted-CDF quantiles, so that integer weights equal repeated
    # rows; duplicate edges (ties, or quantiles equal to 0 or 1) are merged.
    order = np.argsort(conf, kind="stable")
    sorted_conf = conf[order]
    if sample_weight is None:
        cum = np.arange(1, conf.shape[0] + 1, dtype=np.float64)
    else:
        cum = np.cumsum(sample_weight[order])
        keep = sample_weight[order] > 0
        sorted_conf, cum = sorted_conf[keep], cum[keep]
    targets = np.arange(1, n_bins) / n_bins * cum[-1]
    idx = np.minimum(np.searchsorted(cum, targets, side="left"), cum.shape[0] - 1)
    inner = np.clip(sorted_conf[idx], 0.0, 1.0)
    return np.unique(np.concatenate([[0.0], inner, [1.0]]))


def _assign_bins(values, edges, uniform=False):
    """Bin index of each value for bins ``(lo, hi]``; 0 goes to the first bin.

    With ``uniform=True`` (edges from ``np.linspace(0, 1, B + 1)``) the index
    is computed arithmetically, then corrected by one where rounding put a
    value on the wrong side of its edge, so the result is identical to the
    ``searchsorted`` path.
    """
    last = edges.shape[0] - 2
    if not uniform:
        idx = np.searchsorted(edges, values, side="left") - 1
        return np.clip(idx, 0, last)
    idx = np.clip(np.ceil(values * (last + 1)).astype(np.intp) - 1, 0, last)
    idx -= (values <= edges[idx]) & (idx > 0)
    idx += (values > edges[idx + 1]) & (idx < last)
    return idx


def _binned_sums(conf, target, sample_weight, edges):
    """Per-bin sums of weight, weight*conf and weight*target."""
    n_bins = edges.shape[0] - 1
    uniform = edges.shape[0] > 2 and np.array_equal(
        edges, np.linspace(0.0, 1.0, edges.shape[0])
    )
    idx = _assign_bins(conf, edges, uniform=uniform)
    w = sample_weight
    weight = np.bincount(idx, weights=w, minlength=n_bins).astype(np.float64)
    conf_sum = np.bincount(
        idx, weights=conf if w is None else conf * w, minlength=n_bins
    )
    target_sum = np.bincount(
        idx, weights=target if w is None else target * w, minlength=n_bins
    )
    return weight, conf_sum, target_sum


def _top_label(y_enc, proba):
    """Top-label confidence and correctness, from the validation pass.

    Confidences are clipped to [0, 1]: an entry accepted within the
    probability tolerance above 1 is a rounding error.
    """
    conf = np.clip(proba.top, 0.0, 1.0)
    return conf, (proba.pred == y_enc).astype(np.float64)


_COMMON_PARAMS = {
    "y_true": ["array-like"],
    "y_proba": ["array-like"],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
}


@validate_params(
    {**_COMMON_PARAMS, "classwise": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(
    y_true,
    y_proba,
    *,
    labels=None,
    sample_weight=None,
    n_bins=15,
    strategy="uniform",
    classwise=False,
):
    r"""Expected calibration error (ECE), top-label or class-wise.

    Top-label ECE bins the confidence :math:`c_i = \max_k p_{ik}` and compares,
    in each bin, the mean confidence with the accuracy of the arg-max
    prediction. With ``n_bins=15`` and ``strategy='uniform'`` this is the
    paper's (and the official code's) ECE.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``). A 1-D array (binary) holds the
        probability of the second class.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    n_bins : int, default=15
        Number of bins.

    strategy : {'uniform', 'quantile'}, default='uniform'
        ``'uniform'``: equal-width bins on :math:`[0, 1]`. ``'quantile'``:
        equal-mass bins whose inner edges are the (weighted, inverted-CDF)
        quantiles of the confidences, i.e. the adaptive ECE; tied quantiles
        are merged, so there may be fewer than ``n_bins`` bins.

    classwise : bool, default=False
        If True, return the class-wise ECE (Kull et al., 2019): for each class
        :math:`k`, bin :math:`p_{ik}` over all samples and compare it with the
        frequency of :math:`y_i = k`; average over classes.

    Returns
    -------
    ece : float
        In :math:`[0, 1]`; lower is better.

    See Also
    --------
    reliability_curve : The per-bin values behind the top-label ECE.

    Notes
    -----
    Bins are half-open on the left, :math:`B_b = (e_b, e_{b+1}]`, and a
    confidence of exactly 0 falls in the first bin (the official code's
    convention). With bin weights :math:`W_b = \sum_{i \in B_b} w_i` and
    :math:`W = \sum_i w_i`,

    .. math::

        \mathrm{ECE} = \sum_b \frac{W_b}{W} \left| \bar c_b - \bar a_b \right|
        = \frac{1}{W} \sum_b \Bigl| \sum_{i \in B_b} w_i (c_i - a_i) \Bigr| ,

    where :math:`a_i = \mathbb{1}[\arg\max_k p_{ik} = y_i]` (the first maximum
    on ties). The class-wise variant is

    .. math::

        \mathrm{cwECE} = \frac{1}{K} \sum_{k=1}^K \frac{1}{W} \sum_b \Bigl|
        \sum_{i \in B^{(k)}_b} w_i (p_{ik} - \mathbb{1}[y_i = k]) \Bigr| .

    References
    ----------
    .. [1] Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural
       Networks", ICML 2017.
    .. [2] Nixon et al., "Measuring Calibration in Deep Learning", CVPR
       Workshops 2019 (adaptive ECE).
    .. [3] Kull et al., "Beyond temperature scaling: Obtaining well-calibrated
       multi-class probabilities with Dirichlet calibration", NeurIPS 2019.

    Examples
    --------
    >>> from skduo.metrics import expected_calibration_error
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> round(expected_calibration_error(y_true, y_proba, n_bins=4), 4)
    0.0625
    >>> round(expected_calibration_error(y_true, y_proba, classwise=True), 4)
    0.25
    """
    y_enc, proba, _, sw = _check_proba_inputs(
        y_true, y_proba, labels=labels, sample_weight=sample_weight, top=not classwise
    )
    total = float(y_enc.shape[0] if sw is None else sw.sum())
    if not classwise:
        conf, correct = _top_label(y_enc, proba)
        edges = _bin_edges(conf, sw, n_bins, strategy)
        _, conf_sum, acc_sum = _binned_sums(conf, correct, sw, edges)
        # <= 1 up to the round-off of two sums of the same weights
        return min(float(np.abs(conf_sum - acc_sum).sum() / total), 1.0)
    values = proba.values
    n_classes = values.shape[1]
    errors = np.empty(n_classes)
    for k in range(n_classes):
        p_k = np.clip(values[:, k].astype(np.float64), 0.0, 1.0)
        edges = _bin_edges(p_k, sw, n_bins, strategy)
        _, conf_sum, freq_sum = _binned_sums(
            p_k, (y_enc == k).astype(np.float64), sw, edges
        )
        errors[k] = np.abs(conf_sum - freq_sum).sum() / total
    return min(float(errors.mean()), 1.0)


@validate_params(_COMMON_PARAMS, prefer_skip_nested_validation=True)
def reliability_curve(
    y_true, y_proba, *, labels=None, sample_weight=None, n_bins=15, strategy="uniform"
):
    r"""Top-label reliability curve: confidence and accuracy per bin.

    The data of a multi-class reliability diagram, binned exactly as
    :func:`expected_calibration_error` bins them, so that
    ``np.nansum(bin_weight * np.abs(confidence - accuracy)) / bin_weight.sum()``
    equals the top-label ECE.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``).

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    n_bins : int, default=15
        Number of bins.

    strategy : {'uniform', 'quantile'}, default='uniform'
        Equal-width or equal-mass bins; see
        :func:`expected_calibration_error`.

    Returns
    -------
    confidence : ndarray of shape (n_bins_,)
        Weighted mean confidence :math:`\max_k p_{ik}` in each bin; NaN for
        empty bins.

    accuracy : ndarray of shape (n_bins_,)
        Weighted accuracy of the arg-max prediction in each bin; NaN for empty
        bins.

    bin_weight : ndarray of shape (n_bins_,)
        Total sample weight in each bin (the sample count when
        ``sample_weight`` is None); 0 for empty bins.

    bin_edges : ndarray of shape (n_bins_ + 1,)
        Increasing edges from 0 to 1; bin ``b`` is
        ``(bin_edges[b], bin_edges[b + 1]]`` (the first bin also holds 0).

    ``n_bins_`` equals ``n_bins`` except with ``strategy='quantile'`` when tied
    quantiles are merged. Empty bins are kept so that every array lines up
    with ``bin_edges``.

    See Also
    --------
    expected_calibration_error : The weighted mean gap of this curve.
    sklearn.calibration.calibration_curve : The binary analogue.

    Examples
    --------
    >>> from skduo.metrics import reliability_curve
    >>> y_true = [0, 1, 1, 0]
    >>> y_proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> conf, acc, weight, edges = reliability_curve(y_true, y_proba, n_bins=4)
    >>> [round(float(c), 4) for c in conf]
    [nan, nan, 0.6167, 0.9]
    >>> [round(float(a), 4) for a in acc]
    [nan, nan, 0.6667, 1.0]
    >>> weight.tolist(), edges.tolist()
    ([0.0, 0.0, 3.0, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0])
    """
    y_enc, proba, _, sw = _check_proba_inputs(
        y_true, y_proba, labels=labels, sample_weight=sample_weight, top=True
    )
    conf, correct = _top_label(y_enc, proba)
    edges = _bin_edges(conf, sw, n_bins, strategy)
    weight, conf_sum, acc_sum = _binned_sums(conf, correct, sw, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(weight > 0, conf_sum / weight, np.nan)
        accuracy = np.where(weight > 0, acc_sum / weight, np.nan)
    return mean_conf, accuracy, weight, edges
