"""The convex weight fit: non-negative logit weights minimising the NLL.

Pure NumPy/SciPy functions on arrays; no estimator code. Everything here works for
any number of members ``M``: one member is single-model temperature scaling, two
members are an (asymmetric) duo, more members are a learned-weight ensemble.

The objective, for member logits ``z_m`` of shape ``(n, K)``, labels ``y`` and
non-negative sample weights ``s``::

    L(w) = sum_i s_i [logsumexp_k(c[i, k]) - c[i, y_i]] / sum_i s_i,
    c = sum_m w_m z_m

is a log-sum-exp of an affine function of ``w`` minus a linear function of ``w``,
hence convex in ``w``. It is minimised over ``w >= 0`` by a projected Newton method
whose quadratic subproblems are solved exactly (bounded least squares), with an
Armijo line search, in three phases:

1. a start on a deterministic row subsample;
2. an approach on all rows in float32 (reductions in float64): third-order
   (Chebyshev) steps, and after a short step a Hessian extrapolated with the
   third derivatives instead of re-evaluated (usually two data passes, the
   second without curvature terms);
3. a float64 evaluation at the result that certifies the KKT tolerance (and
   takes further Newton steps, from the float32 curvature, if it is not met).
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skduo._logit_ops import check_finite, combine_logits
from skduo._newton import kkt_residual, newton, scalar_search
from skduo._objective import Objective, row_chunks

__all__ = [
    "FITS_BY_MODE",
    "SeparationWarning",
    "WeightFitResult",
    "fit_learned_weights",
    "fit_logit_weights",
    "fit_pooled_weights",
    "fit_unweighted_weights",
    "nll",
]

#: Size (rows x classes) of the deterministic subsample used to find a starting
#: point; at least 512 rows.
_SUBSAMPLE_ELEMENTS = 2**18

#: Upper bound of each weight in units of ``1 / scale(z_m)``; only reached when the
#: members separate the validation set (no finite optimum).
_WEIGHT_CAP = 1e4


class SeparationWarning(UserWarning):
    """The members separate the validation set: the NLL has no finite minimiser."""


@dataclass(frozen=True)
class WeightFitResult:
    """Outcome of :func:`fit_logit_weights`.

    Attributes
    ----------
    weights : ndarray of shape (n_members,)
        The fitted non-negative weights.
    nll : float
        Weighted mean negative log-likelihood at ``weights``.
    gradient : ndarray of shape (n_members,)
        Gradient of the NLL at ``weights``.
    kkt_residual : float
        Scale-free KKT residual: ``max_m |projected_gradient_m| / scale_m`` divided by
        ``max(1, nll)``, where ``scale_m`` is the spread of member ``m``'s logits.
    n_iter : int
        Newton iterations on the full data.
    converged : bool
        Whether ``kkt_residual <= tol``.
    separable : bool
        Whether the members separate the data (no finite minimiser; see
        :class:`SeparationWarning`).
    """

    weights: np.ndarray
    nll: float
    gradient: np.ndarray
    kkt_residual: float
    n_iter: int
    converged: bool
    separable: bool


def _logit_scale(z):
    """Spread of a member's logits: RMS of row-centred logits (of a row sample)."""
    zs = np.array(z, dtype=np.float64)  # a copy, centred and squared in place
    zs -= zs.mean(axis=1, keepdims=True)
    np.square(zs, out=zs)
    return float(np.sqrt(np.mean(zs))) if zs.size else 0.0


def _validate_inputs(logits, y, sample_weight):
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        logits = [logits]
    logits = list(logits)
    if not logits:
        raise ValueError("At least one member's logits are required.")
    shapes = {np.shape(z) for z in logits}
    if len(shapes) != 1:
        raise ValueError(
            f"All members' logits must have the same shape; got {sorted(shapes)}."
        )
    out = []
    for m, z in enumerate(logits):
        z = np.asarray(z)
        if z.ndim != 2:
            raise ValueError(
                f"Logits of member {m} must be 2-D (n_samples, n_classes); got "
                f"shape {z.shape}."
            )
        check_finite(z, f"Logits of member {m}")
        out.append(z)
    n, k = out[0].shape
    if n == 0:
        raise ValueError("Cannot fit weights on 0 samples.")
    if k < 2:
        raise ValueError(f"At least 2 classes are needed; got {k}.")
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must be integer class indices of shape ({n},); got dtype {y.dtype} "
            f"and shape {y.shape}."
        )
    if y.min() < 0 or y.max() >= k:
        raise ValueError(
            f"y must hold class indices in [0, {k}); got {y.min()}..{y.max()}."
        )
    y = y.astype(np.intp, copy=False)
    if sample_weight is None:
        sw = np.ones(n)
    else:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},); got {sw.shape}.")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to 0: at least one positive weight.")
    return out, y, sw


def fit_logit_weights(
    logits,
    y,
    sample_weight=None,
    *,
    tol=1e-8,
    max_iter=100,
    n_threads=None,
    return_result=False,
):
    """Non-negative weights minimising the NLL of ``sum_m w_m * logits[m]``.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        One array per member (any float dtype; never copied whole).
    y : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    tol : float, default=1e-8
        Tolerance on the scale-free KKT residual (see :class:`WeightFitResult`).
    max_iter : int, default=100
        Maximum Newton iterations on the full data.
    n_threads : int, default=None
        Threads used to evaluate the objective (default: up to 4, the CPU count).
    return_result : bool, default=False
        Return a :class:`WeightFitResult` instead of the weights alone.

    Returns
    -------
    weights : ndarray of shape (n_members,) or WeightFitResult

    Warns
    -----
    SeparationWarning
        When the members separate the data (the NLL decreases without bound as
        the weights grow); the returned weights are then capped.
    ConvergenceWarning
        When the KKT tolerance is not met (the result says so, too).
    """
    logits, y, sw = _validate_inputs(logits, y, sample_weight)
    n, k = logits[0].shape
    n_members = len(logits)

    # deterministic subsample (positive weights only) for scales and the start
    positive = np.flatnonzero(sw > 0)
    # a larger start sample for large data: it saves a full-data iteration
    n_sub = max(256, max(_SUBSAMPLE_ELEMENTS, n * k // 32) // k)
    if len(positive) > n_sub:
        sub = np.sort(np.random.default_rng(0).choice(positive, n_sub, replace=False))
    else:
        sub = positive
    sub_logits = [z[sub] for z in logits]
    scales = np.array([_logit_scale(zs) for zs in sub_logits])
    for m in np.flatnonzero(scales == 0):
        # constant rows on the subsample: check every row before giving up on it
        for start, stop in row_chunks(n, logits[m].shape[1]):
            block = np.asarray(logits[m][start:stop], dtype=np.float64)
            if np.ptp(block, axis=1).max() > 0:
                scales[m] = _logit_scale(block)
                break
    informative = scales > 0
    if not informative.all():
        # a member whose logits are constant within every row carries no
        # information (softmax ignores it): its weight is 0, fit the others
        w = np.zeros(n_members)
        if informative.any():
            keep = np.flatnonzero(informative)
            sub_res = fit_logit_weights(
                [logits[m] for m in keep],
                y,
                sw,
                tol=tol,
                max_iter=max_iter,
                n_threads=n_threads,
                return_result=True,
            )
            w[keep] = sub_res.weights
        f, g, _ = Objective(logits, y, sw, n_threads)(w, order=1)
        g_kept = g.copy()
        g_kept[~informative] = 0.0
        kkt = kkt_residual(
            w, g_kept, np.full(n_members, np.inf), np.where(informative, scales, 1.0), f
        )
        result = WeightFitResult(
            w,
            f,
            g,
            kkt,
            sub_res.n_iter if informative.any() else 0,
            sub_res.converged if informative.any() else True,
            sub_res.separable if informative.any() else False,
        )
        return result if return_result else w
    upper = _WEIGHT_CAP / scales

    # 1. starting point on a small deterministic subsample: equal normalised
    #    weights scaled by a 1-D grid search, then Newton iterations
    start_obj = Objective(
        sub_logits, y[sub], sw[sub], n_threads=n_threads, precise=False
    )
    direction = 1.0 / (n_members * scales)
    w = scalar_search(start_obj, direction, upper)
    w, *_ = newton(start_obj, w, upper, scales, 1e-6, max_iter, 1e-4)

    # 2. approach on all rows in float32 (third-order steps)
    fast_obj = Objective(logits, y, sw, n_threads, precise=False)
    w, _, _, curvature, _, _ = newton(fast_obj, w, upper, scales, 1e-9, max_iter, 1e-4)

    # 3. float64 Newton iterations to the tolerance (usually one evaluation; a
    #    step, if needed, starts from the float32 phase's curvature)
    objective = Objective(logits, y, sw, n_threads)
    w, f, g, _, n_iter, converged = newton(
        objective,
        w,
        upper,
        scales,
        tol,
        max_iter,
        lazy_hessian=True,
        curvature=curvature,
    )
    kkt = kkt_residual(w, g, upper, scales, f)
    capped = bool(np.any((w >= upper) & (g < 0)))
    # Every weighted sample has a loss below log 2 (so p_y > 1/2: correctly
    # classified with a positive margin) iff f * sum(s) < log(2) * min(s); then
    # scaling the weights up drives the NLL to 0: there is no finite minimiser.
    separable = capped or f * sw.sum() < np.log(2.0) * sw[positive].min()
    if separable:
        warnings.warn(
            "The members separate the validation data (every sample is classified "
            "correctly with a margin): the NLL keeps decreasing as the weights "
            "grow, so it has no finite minimiser. The weights returned are where "
            f"the NLL fell below the tolerance (at most {_WEIGHT_CAP:g} / spread of "
            "each member's logits) and the predictions will be over-confident; use "
            "a larger or harder validation set (never the members' training data).",
            SeparationWarning,
            stacklevel=2,
        )
    elif not converged:
        warnings.warn(
            f"The weight fit stopped after {n_iter} Newton iterations with a KKT "
            f"residual of {kkt:.3g} > tol={tol:g}.",
            ConvergenceWarning,
            stacklevel=2,
        )
    result = WeightFitResult(w, f, g, kkt, n_iter, converged or capped, separable)
    return result if return_result else w


def nll(logits, y, weights=None, sample_weight=None):
    """Weighted mean NLL of ``combine_logits(logits, weights)`` (float64, chunked).

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes), or one array
    y : array-like of shape (n_samples,)
        Integer class indices.
    weights : array-like of shape (n_members,), default=None
        Defaults to all ones.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    logits, y, sw = _validate_inputs(logits, y, sample_weight)
    w = np.ones(len(logits)) if weights is None else np.asarray(weights, float)
    return Objective(logits, y, sw)(w, order=0)[0]


# --------------------------------------------------------------------------------
# One fit per way of combining members; each returns a WeightFitResult
# --------------------------------------------------------------------------------


def fit_learned_weights(logits, y, sample_weight=None):
    """One learned non-negative weight per member (the duo, or its M-member form).

    The joint convex fit of :func:`fit_logit_weights`.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    WeightFitResult
    """
    return fit_logit_weights(logits, y, sample_weight, return_result=True)


def fit_unweighted_weights(logits, y, sample_weight=None):
    """Each member temperature-scaled alone, then averaged with equal weight.

    The paper's "unweighted" ablation: ``weights[m] = w_m / M`` where ``w_m`` is
    member ``m``'s own inverse temperature. ``n_iter`` and ``kkt_residual``
    are those of the member fits (summed, and their maximum); ``nll`` and
    ``gradient`` are the combination's.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    WeightFitResult
    """
    singles = [fit_learned_weights([z], y, sample_weight) for z in logits]
    weights = np.concatenate([r.weights for r in singles]) / len(singles)
    valid_logits, valid_y, sw = _validate_inputs(logits, y, sample_weight)
    f, g, _ = Objective(valid_logits, valid_y, sw)(weights, order=1)
    return WeightFitResult(
        weights,
        float(f),
        g,
        max(r.kkt_residual for r in singles),
        0,
        all(r.converged for r in singles),
        any(r.separable for r in singles),
    )


def fit_pooled_weights(logits, y, sample_weight=None):
    """Pool-then-calibrate: the members' mean logits temperature-scaled.

    A deep ensemble (Rahaman & Thiery, 2021): every weight is ``w / M`` where
    ``w`` is the inverse temperature fitted on the mean logits. ``gradient``
    is that of the one-member fit.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
    y : array-like of shape (n_samples,)
        Integer class indices.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    WeightFitResult
    """
    n_members = len(logits)
    pooled = combine_logits(logits, np.full(n_members, 1.0 / n_members))
    res = fit_learned_weights([pooled], y, sample_weight)
    return replace(res, weights=np.full(n_members, float(res.weights[0]) / n_members))


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
