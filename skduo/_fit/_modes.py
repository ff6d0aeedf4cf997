"""One weight fit per way of combining members, and the fit of each mode.

Every function takes the members' logits (NumPy arrays, memory maps or dask
arrays), labels and sample weights and returns a
:class:`~skduo._fit._weight_fit.WeightFitResult`: the joint learned fit (the duo),
the paper's unweighted ablation (each member temperature-scaled alone, then
averaged) and pool-then-calibrate (a deep ensemble). :data:`FITS_BY_MODE` maps
each ``mode`` of :data:`skduo._vocabulary.FIT_MODES` to its fit.

Every fit takes ``prior`` (None: the exact maximum-likelihood weights; a
strength: the weak prior of :mod:`skduo._fit._prior`; ``'auto'``: the exact
fit where the data determine it, else the members as given), centred
on the members as given: the duo's large member at weight 1 and its sidekick
at 0 (:func:`fit_duo_weights`), ``M`` symmetric members at ``1 / M`` each, a
temperature-scaled model at temperature 1.
"""

import warnings

import numpy as np

from skduo._fit._inputs import (
    _Checked,
    _MeanLogits,
    _Members,
    _members,
    _validate_inputs,
)
from skduo._fit._weight_fit import (
    WeightFitResult,
    _fit,
    _prior_spec,
    fit_logit_weights,
)

__all__ = [
    "FITS_BY_MODE",
    "fit_duo_weights",
    "fit_learned_weights",
    "fit_pooled_weights",
    "fit_unweighted_weights",
]


def fit_learned_weights(
    logits, y, sample_weight=None, *, names=None, prior=None, centres=None
):
    """One learned non-negative weight per member (the M-member form of the duo).

    The joint convex fit of :func:`fit_logit_weights`; with ``prior`` centred
    at ``centres`` (default ``1 / M`` for each member: their logit average).

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        NumPy arrays, memory maps or dask arrays.
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None
    names : sequence of str, default=None
        Names of the members in messages.
    prior : 'auto', float or None, default=None
        None: the exact maximum-likelihood weights; a strength ``c >= 0`` (in
        validation rows): the weak prior of :mod:`skduo._fit._prior`;
        ``'auto'``: the exact fit where the data determine it, else the
        members as given (the centres).
    centres : array-like of shape (n_members,), default=None
        The prior's centres (see :func:`fit_logit_weights`).

    Returns
    -------
    WeightFitResult
    """
    return fit_logit_weights(
        logits,
        y,
        sample_weight,
        return_result=True,
        names=names,
        prior=prior,
        prior_centres=centres,
    )


def fit_duo_weights(logits, y, sample_weight=None, *, names=None, prior=None):
    """The duo's joint fit: :func:`fit_learned_weights` of ``(large, small)``.

    With ``prior``, the large member's weight is centred at 1 (the member as
    given) and the sidekick's at 0 (no sidekick unless the data ask for one).

    Parameters
    ----------
    logits : sequence of two array-like of shape (n_samples, n_classes)
        The large member's logits, then the sidekick's.
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None
    names : sequence of str, default=None
        Names of the members in messages.
    prior : 'auto', float or None, default=None
        None: the exact maximum-likelihood weights; a strength ``c >= 0`` (in
        validation rows): the weak prior of :mod:`skduo._fit._prior`;
        ``'auto'``: the exact fit where the data determine it, else the
        members as given (the centres).

    Returns
    -------
    WeightFitResult
    """
    logits = list(logits) if not isinstance(logits, np.ndarray) else [logits]
    centres = np.zeros(len(logits))
    centres[0] = 1.0
    return fit_learned_weights(
        logits, y, sample_weight, names=names, prior=prior, centres=centres
    )


def fit_unweighted_weights(logits, y, sample_weight=None, *, names=None, prior=None):
    """Each member temperature-scaled alone, then averaged with equal weight.

    The paper's "unweighted" ablation: ``weights[m] = w_m / M`` where ``w_m`` is
    member ``m``'s own inverse temperature. ``n_iter`` and ``n_passes`` are
    those of the member fits summed (plus the pass that evaluates the
    combination), ``kkt_residual`` their maximum; ``nll`` and ``gradient`` are
    the combination's.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        NumPy arrays, memory maps or dask arrays.
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None
    names : sequence of str, default=None
        Names of the members in messages.
    prior : 'auto', float or None, default=None
        None: each member's exact maximum-likelihood temperature; a strength:
        each with the weak prior at temperature 1 (:mod:`skduo._fit._prior`);
        ``'auto'``: each exact where the data determine it, else temperature 1.

    Returns
    -------
    WeightFitResult
    """
    data, y, sw = _validate_inputs(logits, y, sample_weight, names)
    spec = _prior_spec(prior, None, 1)
    singles = []
    for m in range(len(data.names)):
        single, notes = _fit(data.subset([m]), y, sw, 1e-8, 100, None, prior=spec)
        for message, category in notes:
            warnings.warn(message, category, stacklevel=2)
        singles.append(single)
    weights = np.concatenate([r.weights for r in singles]) / len(singles)
    f, g, _ = _Checked(data.objective(y, sw, True, None, None), data)(weights, order=1)
    return WeightFitResult(
        weights,
        float(f),
        g,
        _largest_residual(singles),
        sum(r.n_iter for r in singles),
        all(r.converged for r in singles),
        any(r.separable for r in singles),
        sum(r.n_passes for r in singles) + 1,
        singles[0].prior_strength,
        sum(r.penalty for r in singles),
    )


def _largest_residual(results):
    """The largest KKT residual of ``results``, those kept as given (NaN) aside."""
    residuals = [r.kkt_residual for r in results if not np.isnan(r.kkt_residual)]
    return max(residuals) if residuals else float("nan")


def fit_pooled_weights(logits, y, sample_weight=None, *, names=None, prior=None):
    """Pool-then-calibrate: the members' mean logits temperature-scaled.

    A deep ensemble (Rahaman & Thiery, 2021): every weight is ``w / M`` where
    ``w`` is the inverse temperature fitted on the mean logits (computed row
    chunk by row chunk, never stored whole). ``gradient`` is that of the
    one-member fit.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        NumPy arrays, memory maps or dask arrays.
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None
    names : sequence of str, default=None
        Names of the members in messages.
    prior : 'auto', float or None, default=None
        None: the exact maximum-likelihood temperature; a strength: the weak
        prior at temperature 1 of the mean logits (:mod:`skduo._fit._prior`);
        ``'auto'``: exact where the data determine it, else temperature 1.

    Returns
    -------
    WeightFitResult
    """
    data = _members(logits, names)
    n_members = len(data.names)
    if isinstance(data, _Members):
        pooled = _MeanLogits(data.logits, data.names)
    else:
        pooled = data.mean_logits()
    res, notes = _fit(
        *_validate_inputs([pooled], y, sample_weight, ["The members' mean logits"]),
        1e-8,
        100,
        None,
        prior=_prior_spec(prior, None, 1),
    )
    for message, category in notes:
        warnings.warn(message, category, stacklevel=2)
    return WeightFitResult(
        np.full(n_members, float(res.weights[0]) / n_members),
        res.nll,
        res.gradient,
        res.kkt_residual,
        res.n_iter,
        res.converged,
        res.separable,
        res.n_passes,
        res.prior_strength,
        res.penalty,
    )


#: The fit of each ``mode`` (:data:`skduo._vocabulary.FIT_MODES`); a mode
#: missing here is a KeyError, never a silent default.
FITS_BY_MODE = {
    "temperature": fit_learned_weights,
    "asymmetric": fit_duo_weights,
    "uq_only": fit_duo_weights,
    "unweighted": fit_unweighted_weights,
    "learned": fit_learned_weights,
    "pooled": fit_pooled_weights,
}
