"""One weight fit per way of combining members, and the fit of each mode.

Every function takes the members' logits (NumPy arrays, memory maps or dask
arrays), labels and sample weights and returns a
:class:`~skduo._fit._weight_fit.WeightFitResult`: the joint learned fit (the duo),
the paper's unweighted ablation (each member temperature-scaled alone, then
averaged) and pool-then-calibrate (a deep ensemble). :data:`FITS_BY_MODE` maps
each ``mode`` of :data:`skduo._vocabulary.FIT_MODES` to its fit.
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
from skduo._fit._weight_fit import WeightFitResult, _fit, fit_logit_weights

__all__ = [
    "FITS_BY_MODE",
    "fit_learned_weights",
    "fit_pooled_weights",
    "fit_unweighted_weights",
]


def fit_learned_weights(logits, y, sample_weight=None, *, names=None):
    """One learned non-negative weight per member (the duo, or its M-member form).

    The joint convex fit of :func:`fit_logit_weights`.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        NumPy arrays, memory maps or dask arrays.
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None
    names : sequence of str, default=None
        Names of the members in messages.

    Returns
    -------
    WeightFitResult
    """
    return fit_logit_weights(logits, y, sample_weight, return_result=True, names=names)


def fit_unweighted_weights(logits, y, sample_weight=None, *, names=None):
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

    Returns
    -------
    WeightFitResult
    """
    data, y, sw = _validate_inputs(logits, y, sample_weight, names)
    singles = []
    for m in range(len(data.names)):
        single, notes = _fit(data.subset([m]), y, sw, 1e-8, 100, None)
        for message, category in notes:
            warnings.warn(message, category, stacklevel=2)
        singles.append(single)
    weights = np.concatenate([r.weights for r in singles]) / len(singles)
    f, g, _ = _Checked(data.objective(y, sw, True, None, None), data)(weights, order=1)
    return WeightFitResult(
        weights,
        float(f),
        g,
        max(r.kkt_residual for r in singles),
        sum(r.n_iter for r in singles),
        all(r.converged for r in singles),
        any(r.separable for r in singles),
        sum(r.n_passes for r in singles) + 1,
    )


def fit_pooled_weights(logits, y, sample_weight=None, *, names=None):
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
    )


#: The fit of each ``mode`` (:data:`skduo._vocabulary.FIT_MODES`); a mode
#: missing here is a KeyError, never a silent default.
FITS_BY_MODE = {
    "temperature": fit_learned_weights,
    "asymmetric": fit_learned_weights,
    "uq_only": fit_learned_weights,
    "unweighted": fit_unweighted_weights,
    "learned": fit_learned_weights,
    "pooled": fit_pooled_weights,
}
