r"""Paired bootstrap of a metric difference between two sets of predictions.

Both prediction sets are scored on the *same* resamples of the test rows, so
the interval is that of the difference, not of two separate metrics. The
resamples are drawn as :func:`scipy.stats.bootstrap` draws them (row indices
``rng.integers(0, n, (batch, n))``, batch by batch) and are then counted, so a
resample is a vector of row weights :math:`N_{bi}` (how often row :math:`i`
was drawn, times its ``sample_weight``). Every built-in metric is a function of
a few weighted sums: means for accuracy, NLL and Brier; per-bin sums for ECE;
per-class sums for macro-F1; and, for the selective metrics, cumulative sums
along one sort of the rows by confidence (the tie-aware formulas of
:mod:`skduo.metrics._selective`). So all resamples of a batch are scored with
a few matrix operations and no per-resample sort.

The vectorised scoring of the resamples lives in
:mod:`skduo.metrics._bootstrap_engine`, the result and its intervals in
:mod:`skduo.metrics._bootstrap_result`.
"""

import inspect
import warnings
from numbers import Integral, Real

import numpy as np

from skduo.metrics._base import (
    _as_float_array,
    _check_length,
    _check_proba,
    _check_sample_weight,
    _check_y_true,
    _encode,
    _resolve_classes,
)
from skduo.metrics._bootstrap_engine import (
    _METRIC_PARAMS,
    BOOTSTRAP_METRICS,
    HIGHER_IS_BETTER,
    _Harmonic,
    _jackknife,
    _metric_values,
    _observed,
    _Predictions,
    _Resampler,
)
from skduo.metrics._bootstrap_result import (
    ConfidenceInterval,
    PairedBootstrapResult,
    _interval,
)
from skduo.metrics._calibration import expected_calibration_error
from skduo.metrics._classification import multiclass_brier_score, nll_loss
from skduo.metrics._operating_points import correctness_auroc, coverage_at_accuracy
from skduo.metrics._selective import augrc, aurc, eaurc
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["ConfidenceInterval", "PairedBootstrapResult", "paired_bootstrap"]


# --------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------
def _known_metric(metric, metric_params):
    """The built-in name of ``metric`` (a name or a skduo metric function)."""
    if isinstance(metric, str):
        return metric
    names = {
        nll_loss: "nll",
        multiclass_brier_score: "brier",
        expected_calibration_error: "ece",
        aurc: "aurc",
        eaurc: "eaurc",
        augrc: "augrc",
        correctness_auroc: "correctness_auroc",
        coverage_at_accuracy: "coverage_at_accuracy",
    }
    name = names.get(metric)
    if name is None or set(metric_params) - _METRIC_PARAMS.get(name, set()):
        return None
    return name


def _accepts(func, name):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _callable_distribution(resampler, func, y, proba, pred, kwargs):
    """Bootstrap values of a user metric, one call per resample."""
    out = np.empty(resampler.n_resamples)
    for start, weights in resampler.batches():
        for j, w in enumerate(weights):
            keep = w > 0
            extra = dict(kwargs)
            if pred is not None:
                extra["y_pred"] = pred[keep]
            out[start + j] = func(y[keep], proba[keep], sample_weight=w[keep], **extra)
    return out


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba_a": ["array-like"],
        "y_proba_b": ["array-like"],
        "metric": [StrOptions(set(BOOTSTRAP_METRICS)), callable],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
        "y_pred_a": ["array-like", None],
        "y_pred_b": ["array-like", None],
        "logits_a": ["array-like", None],
        "logits_b": ["array-like", None],
        "confidence": [StrOptions({"msp", "margin", "neg_entropy"})],
        "metric_params": [dict, None],
        "n_resamples": [Interval(Integral, 1, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"percentile", "basic", "BCa", "bca"})],
        "alternative": [StrOptions({"two-sided", "less", "greater"})],
        "batch": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
    },
    prefer_skip_nested_validation=True,
)
def paired_bootstrap(
    y_true,
    y_proba_a,
    y_proba_b,
    metric,
    *,
    labels=None,
    sample_weight=None,
    y_pred_a=None,
    y_pred_b=None,
    logits_a=None,
    logits_b=None,
    confidence="msp",
    metric_params=None,
    n_resamples=1000,
    confidence_level=0.95,
    method="percentile",
    alternative="two-sided",
    batch=None,
    random_state=None,
):
    r"""Paired bootstrap interval of ``metric(a) - metric(b)`` on the same rows.

    Resamples the rows with replacement ``n_resamples`` times, scores both
    prediction sets on each resample and returns the observed difference, its
    interval at ``confidence_level`` and a p-value. Because both sets are
    scored on the same resamples, the interval reflects the *paired*
    variation: two models that err on the same hard rows have a much tighter
    difference than their separate intervals suggest.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba_a, y_proba_b : array-like of shape (n_samples, n_classes)
        Probabilities of the two prediction sets; columns follow ``labels``
        (or the sorted unique labels of ``y_true``).

    metric : str or callable
        One of ``'accuracy'``, ``'f1_macro'``, ``'nll'``, ``'brier'``,
        ``'ece'``, ``'correctness_auroc'``, ``'aurc'``, ``'eaurc'``,
        ``'augrc'``, ``'coverage_at_accuracy'`` (vectorised: all resamples in
        a few array operations; the skduo metric functions of the same names,
        e.g. :func:`aurc`, are recognised too). Any other callable is called
        once per resample as ``metric(y_true, y_proba, sample_weight=w,
        **metric_params)`` on the drawn rows, ``w`` counting how often each was
        drawn (times ``sample_weight``); ``labels`` and ``y_pred`` are passed
        when it accepts them.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative frequency weights, multiplied into each resample's
        counts.

    y_pred_a, y_pred_b : array-like of shape (n_samples,), default=None
        Predicted labels when they are not the arg-max of the probabilities
        (e.g. a UQ-only duo); used by accuracy, macro-F1 and the selective
        metrics.

    logits_a, logits_b : array-like of shape (n_samples, n_classes), \
            default=None
        Logits of the two sets; when given, the NLL is computed from them
        exactly (as :func:`nll_loss` with ``logits=``) instead of from clipped
        probabilities.

    confidence : {'msp', 'margin', 'neg_entropy'}, default='msp'
        Confidence of the selective metrics (see :func:`aurc`).

    metric_params : dict, default=None
        ``{'n_bins': int}`` for ``'ece'`` (uniform bins, default 15),
        ``{'accuracy': float}`` for ``'coverage_at_accuracy'`` (default
        0.98); for a callable, its keyword arguments.

    n_resamples : int, default=1000
        Number of bootstrap resamples.

    confidence_level : float, default=0.95
        Level of the interval.

    method : {'percentile', 'basic', 'BCa'}, default='percentile'
        Interval, as in :func:`scipy.stats.bootstrap`. ``'BCa'`` needs a
        leave-one-out (jackknife) pass: closed-form for accuracy, NLL and
        Brier, ``n`` evaluations (O(n^2) work) for the other metrics, which
        is why it is not the default here (scipy's default is ``'BCa'``).

    alternative : {'two-sided', 'less', 'greater'}, default='two-sided'
        As in :func:`scipy.stats.bootstrap`: ``'less'`` gives the interval
        ``(-inf, high]`` and the p-value of "a - b >= 0".

    batch : int, default=None
        Resamples scored per vectorised step (default: as many as fit in about
        10^6 resample-row entries). The resamples equal those of
        :func:`scipy.stats.bootstrap` with the same ``batch``.

    random_state : int, numpy.random.Generator, RandomState or None, \
            default=None
        Seed of the resampling. An int seeds :func:`numpy.random.default_rng`,
        and the resamples are then exactly those of
        ``scipy.stats.bootstrap(..., rng=random_state)``.

    Returns
    -------
    result : PairedBootstrapResult
        ``statistic`` (observed ``metric(a) - metric(b)``), ``statistic_a``,
        ``statistic_b``, ``confidence_interval`` (``low``, ``high``),
        ``bootstrap_distribution``, ``standard_error``, ``pvalue``, and the
        properties ``significant`` (the interval excludes 0) and ``better``.

    See Also
    --------
    scipy.stats.bootstrap : The general bootstrap, whose conventions this
        follows.

    Notes
    -----
    With :math:`\hat\theta = m(a) - m(b)` and :math:`\hat\theta^*_b` its value
    on resample :math:`b`, the percentile interval is
    :math:`[q_{\alpha/2}, q_{1-\alpha/2}]` of the :math:`\hat\theta^*_b`
    (linear-interpolated quantiles), the basic interval
    :math:`[2\hat\theta - q_{1-\alpha/2}, 2\hat\theta - q_{\alpha/2}]`, and BCa
    adjusts the two levels by the bias :math:`z_0` and the jackknife
    acceleration :math:`a` (Efron & Tibshirani 1993, eq. 14.10 and 14.15),
    exactly as :func:`scipy.stats.bootstrap` does.

    The p-value inverts the interval: it is the smallest
    :math:`1 - \text{confidence\_level}` at which the interval (same method)
    excludes 0, i.e. :math:`2 \min(F(0), 1 - F(0))` for the percentile
    interval, with :math:`F` the bootstrap distribution function (ties count
    half). It cannot resolve values below :math:`1/n_\text{resamples}` and is
    reported as at least that. ``significant`` is the interval's verdict; the
    two agree up to the discreteness of the resamples.

    Resamples on which the metric is undefined (correctness AUROC of a
    resample without errors) are NaN in ``bootstrap_distribution`` and left
    out of the interval, with a warning.

    References
    ----------
    .. [1] Efron & Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall 1993, chapters 13-15.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.metrics import paired_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> def proba(signal):
    ...     z = rng.normal(size=(500, 3)) + signal * np.eye(3)[y]
    ...     e = np.exp(z - z.max(1, keepdims=True))
    ...     return e / e.sum(1, keepdims=True)
    >>> strong, weak = proba(2.0), proba(1.0)
    >>> res = paired_bootstrap(y, strong, weak, "aurc", random_state=0)
    >>> bool(res.statistic < 0), res.significant, res.better
    (True, True, 'a')
    """
    method = "BCa" if method.lower() == "bca" else method
    metric_params = dict(metric_params or {})
    y = _check_y_true(y_true)
    n = y.shape[0]
    classes, y_enc = _resolve_classes(y, labels)
    checked_a = _check_proba(
        y_proba_a, n, classes, labels is not None, name="y_proba_a"
    )
    checked_b = _check_proba(
        y_proba_b, n, classes, labels is not None, name="y_proba_b"
    )
    proba_a, dtype_a = np.asarray(checked_a.values, np.float64), checked_a.dtype
    proba_b, dtype_b = np.asarray(checked_b.values, np.float64), checked_b.dtype
    sw = _check_sample_weight(sample_weight, n)
    preds = []
    for y_pred, name in ((y_pred_a, "y_pred_a"), (y_pred_b, "y_pred_b")):
        if y_pred is None:
            preds.append(None)
            continue
        y_pred = _check_y_true(y_pred, name=name)
        _check_length(n, y_pred, name)
        preds.append(_encode(y_pred, classes, name=name))
    logits = []
    for z, name in ((logits_a, "logits_a"), (logits_b, "logits_b")):
        if z is not None:
            z, _ = _as_float_array(z, name, ndim=2)
            if z.shape != proba_a.shape:
                raise ValueError(
                    f"{name} must have the shape of the probabilities {proba_a.shape}; "
                    f"got {z.shape}."
                )
        logits.append(z)
    resampler = _Resampler(n, n_resamples, random_state, sw, batch)

    name = _known_metric(metric, metric_params)
    if name is not None:
        unknown = set(metric_params) - _METRIC_PARAMS.get(name, set())
        if unknown:
            raise ValueError(
                f"metric_params {sorted(unknown)} do not apply to metric {name!r}."
            )
        options = {
            "n_bins": int(metric_params.get("n_bins", 15)),
            "accuracy": float(metric_params.get("accuracy", 0.98)),
            "confidence": confidence,
        }
        sets = [
            _Predictions(
                y_enc,
                p,
                [name],
                logits=z,
                pred=pr,
                nll_eps=float(np.finfo(dt).eps),
                **options,
            )
            for p, z, pr, dt in zip(
                (proba_a, proba_b), logits, preds, (dtype_a, dtype_b)
            )
        ]
        harmonic = _Harmonic(n, resampler.unit)
        dist = np.empty(n_resamples)
        for start, weights in resampler.batches():
            va = _metric_values(sets[0], weights, [name], harmonic)[name]
            vb = _metric_values(sets[1], weights, [name], harmonic)[name]
            dist[start : start + weights.shape[0]] = va - vb
        obs_a = _observed(sets[0], [name], sw)[name]
        obs_b = _observed(sets[1], [name], sw)[name]
        jack = None
        if method == "BCa":
            ja = _jackknife(sets[0], [name], sw)[name]
            jb = _jackknife(sets[1], [name], sw)[name]
            jack = ja - jb
        higher = name in HIGHER_IS_BETTER
    else:
        func = metric
        kwargs = dict(metric_params)
        if _accepts(func, "labels") and "labels" not in kwargs:
            kwargs["labels"] = classes
        y_cls = classes[y_enc]
        pa = None if preds[0] is None else classes[preds[0]]
        pb = None if preds[1] is None else classes[preds[1]]
        if (pa is not None or pb is not None) and not _accepts(func, "y_pred"):
            raise ValueError("y_pred_a / y_pred_b given, but metric takes no y_pred.")
        # each pass restarts from the same generator state: same resamples
        dist = _callable_distribution(resampler, func, y_cls, proba_a, pa, kwargs)
        dist -= _callable_distribution(resampler, func, y_cls, proba_b, pb, kwargs)
        w_all = np.ones(n) if sw is None else sw

        def full(p, pr):
            extra = dict(kwargs)
            if pr is not None:
                extra["y_pred"] = pr
            return float(func(y_cls, p, sample_weight=w_all, **extra))

        obs_a, obs_b = full(proba_a, pa), full(proba_b, pb)
        jack = None
        if method == "BCa":
            jack = np.empty(n)
            for i in range(n):
                w = w_all.copy()
                w[i] = 0.0
                keep = w > 0
                ex_a, ex_b = dict(kwargs), dict(kwargs)
                if pa is not None:
                    ex_a["y_pred"] = pa[keep]
                if pb is not None:
                    ex_b["y_pred"] = pb[keep]
                jack[i] = func(
                    y_cls[keep], proba_a[keep], sample_weight=w[keep], **ex_a
                ) - func(y_cls[keep], proba_b[keep], sample_weight=w[keep], **ex_b)
        name = getattr(func, "__name__", repr(func))
        higher = None

    observed = obs_a - obs_b
    finite = np.isfinite(dist)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {n_resamples} resamples leave {name} "
            "undefined; the interval uses the others.",
            UserWarning,
            stacklevel=2,
        )
    used = dist[finite]
    if used.shape[0] == 0 or not np.isfinite(observed):
        low = high = pvalue = se = float("nan")
    else:
        if jack is not None:
            jack = jack[np.isfinite(jack)]
        low, high, pvalue = _interval(
            used, observed, confidence_level, method, alternative, jack
        )
        se = float(np.std(used, ddof=1)) if used.shape[0] > 1 else float("nan")
    return PairedBootstrapResult(
        statistic=float(observed),
        statistic_a=float(obs_a),
        statistic_b=float(obs_b),
        confidence_interval=ConfidenceInterval(low, high),
        bootstrap_distribution=dist,
        standard_error=se,
        pvalue=pvalue,
        confidence_level=float(confidence_level),
        method=method,
        metric=name,
        higher_is_better=higher,
    )
