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

1. a start on a deterministic row subsample (which also gives each member's
   logit spread, its normalisation and whether it is degenerate);
2. an approach on all rows in float32 (reductions in float64): third-order
   (Chebyshev) steps, and after a short step a Hessian extrapolated with the
   third derivatives instead of re-evaluated (usually two data passes, the
   second without curvature terms);
3. a float64 evaluation at the result that certifies the KKT tolerance (and
   takes further Newton steps, from the float32 curvature, if it is not met);
   with ``skduo[fast]`` on large problems a compiled one, whose error bound
   (:mod:`skduo._fit._compiled`) is the NumPy one's with a 56-ulp exponential.

The logits are read only by these passes: there is no separate finiteness
scan. Non-finite logits make every evaluation non-finite (the gradient
multiplies every logit by a probability, and ``0 * inf`` is NaN), so the first
evaluation that is not finite triggers one counting pass and the error. Logits
may be NumPy arrays of any numeric dtype, memory maps (read in row chunks,
never copied whole) or dask arrays (the passes then run on the dask workers,
see :mod:`skduo._fit._dask`; dask is imported only for them).

Degenerate cases are detected, never fitted silently: members whose rows are
constant up to rounding get weight 0 (with a warning), members of extreme
scale (spread beyond ``2**+-20``) are normalised by an exact power of two, and
separation -- a direction of the weights along which the NLL decreases without
bound, every sample (separation) or every sample but ties (quasi-separation)
ranked correctly -- raises a :class:`SeparationWarning`.
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skduo._fit._checks import (
    _WEIGHT_CAP,
    SeparationWarning,
    _member_scales,
    _normalisation,
    _recession_direction,
    _separation_message,
)
from skduo._fit._inputs import (
    _Checked,
    _raise_non_finite,
    _validate_inputs,
)
from skduo._fit._newton import kkt_residual, newton, scalar_search
from skduo._fit._objective import Objective, fit_kernel
from skduo._fit._prior import (
    Penalised,
    Prior,
    effective_rows,
    relative_standard_errors,
    resolve_strength,
    scale_is_determined,
)

__all__ = [
    "SeparationWarning",
    "WeightFitResult",
    "fit_logit_weights",
    "nll",
]

#: Size (rows x classes) of the deterministic subsample used to find a starting
#: point; at least 256 rows, at least 1/32 of the data (a better start saves a
#: data pass), at most :data:`_SUBSAMPLE_MAX_ELEMENTS` (memory of the caller).
_SUBSAMPLE_ELEMENTS = 2**18
_SUBSAMPLE_MAX_ELEMENTS = 2**25


@dataclass(frozen=True)
class WeightFitResult:
    """Outcome of :func:`fit_logit_weights`.

    Attributes
    ----------
    weights : ndarray of shape (n_members,)
        The fitted non-negative weights.
    nll : float
        Weighted mean negative log-likelihood at ``weights`` (without the
        prior's penalty).
    gradient : ndarray of shape (n_members,)
        Gradient of the objective minimised (the NLL plus ``penalty``) at
        ``weights``.
    kkt_residual : float
        Scale-free KKT residual of the objective minimised:
        ``max_m |projected_gradient_m| / scale_m`` divided by ``max(1, nll +
        penalty)``, where ``scale_m`` is the spread of member ``m``'s logits.
        NaN where nothing was minimised (``prior='auto'`` keeping the members
        as given).
    n_iter : int
        Newton iterations taken, all phases together (the start on the
        subsample, the float32 approach and the float64 certificate).
    converged : bool
        Whether ``kkt_residual <= tol``.
    separable : bool
        Whether the members separate or quasi-separate the data (no finite
        minimiser; see :class:`SeparationWarning`).
    n_passes : int
        Passes over the full data (objective evaluations and scans), each
        reading every member's logits once.
    prior_strength : float
        The prior's strength ``c`` in validation rows (see
        :mod:`skduo._fit._prior`); 0 for the exact maximum-likelihood fit.
    penalty : float
        The prior's penalty ``(c / n) * sum_m phi_m(w_m)`` at ``weights``:
        the objective minimised is ``nll + penalty``.
    scale_se : float
        With ``prior='auto'``: the largest relative standard error among the
        exact maximum-likelihood fit's positive weights and their overall
        scale (``1 / sqrt(n * w' H w)``, ``H`` the Hessian of the mean NLL at
        them, ``n`` the effective rows); ``inf`` when that fit does not exist
        (separable data, no convergence). The adaptive default's test (see
        :func:`skduo._fit._prior.scale_is_determined`); NaN when not computed.
    weight_se : ndarray of shape (n_members,) or None
        With ``prior='auto'``: each weight's relative standard error in that
        maximum-likelihood fit (``inf`` at weight 0); None when not computed.
    """

    weights: np.ndarray
    nll: float
    gradient: np.ndarray
    kkt_residual: float
    n_iter: int
    converged: bool
    separable: bool
    n_passes: int = 0
    prior_strength: float = 0.0
    penalty: float = 0.0
    scale_se: float = float("nan")
    weight_se: np.ndarray | None = None


# --------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------


def _subsample(sw, n, k):
    positive = np.flatnonzero(sw > 0)
    elements = min(_SUBSAMPLE_MAX_ELEMENTS, max(_SUBSAMPLE_ELEMENTS, n * k // 32))
    n_sub = max(256, elements // k)
    if len(positive) > n_sub:
        return np.sort(np.random.default_rng(0).choice(positive, n_sub, replace=False))
    return positive


#: Subsamples of at least this many rows start on every 8th of their rows.
_START_STAGE_ROWS = 1024


def _start(
    logits,
    y,
    sw,
    scales,
    upper,
    factors,
    n_threads,
    max_iter=100,
    kernel="numpy",
    prior=None,
):
    """Starting weights fitted on the subsample.

    Equal normalised weights scaled by a 1-D grid search, then float32 Newton
    iterations; on large subsamples first on every 8th of its rows (eight times
    cheaper per iteration), so that the whole subsample only sees the last one
    or two iterations. Returns ``(u, iterations, fourth derivatives or None)``.
    ``kernel`` is the float32 kernel (see :class:`Objective`); ``prior`` a
    :class:`~skduo._fit._prior.Prior` added to the objective, or None.
    """
    stages = [(logits, y, sw)]
    if len(y) >= _START_STAGE_ROWS:
        every_8th = [np.ascontiguousarray(z[::8]) for z in logits]
        stages.insert(0, (every_8th, y[::8], sw[::8]))
    u, n_iter = None, 0
    for stage_logits, stage_y, stage_sw in stages:
        obj = Objective(
            stage_logits, stage_y, stage_sw, n_threads, False, factors, kernel
        )
        if prior is not None:
            obj = Penalised(obj, prior)
        if u is None:
            u = scalar_search(obj, 1.0 / (len(logits) * scales), upper)
        # steps below 1e-3 are far below the subsample's statistical error
        u, _, _, _, it, _ = newton(obj, u, upper, scales, 1e-6, max_iter, 1e-3)
        n_iter += it
    # the subsample's fourth derivatives (a few % off the full data's) refine
    # the full-data third-order steps by one order
    fourth = obj(u, order=4)[2][2] if obj.max_order == 3 else None
    return u, n_iter, fourth


def _weighted_spread(z, sw):
    """RMS of the row-centred logits ``z`` (rows weighted by ``sw``)."""
    total = 0.0
    step = max(1, 2**20 // max(1, z.shape[1]))
    for start in range(0, len(z), step):  # row blocks: no float64 copy of z
        block = np.asarray(z[start : start + step], dtype=np.float64)
        block = block - block.mean(axis=1, keepdims=True)
        total += float(sw[start : start + step] @ np.mean(block * block, axis=1))
    return float(np.sqrt(total / sw.sum()))


def _fit(
    data,
    y,
    sw,
    tol,
    max_iter,
    n_threads,
    compare_singles=True,
    prior=None,
    scale_check=False,
):
    """The fit; returns ``(WeightFitResult, [(message, category), ...])``.

    ``prior`` is None (the exact maximum-likelihood fit) or ``(strength,
    centres, adaptive)``: the objective is then penalised by a
    :class:`~skduo._fit._prior.Prior` (see :mod:`skduo._fit._prior`); with
    ``adaptive`` (``prior='auto'``) only where the maximum-likelihood weights'
    scale is not determined by the data (:func:`_adaptive`).
    ``scale_check`` computes the maximum-likelihood fit's ``scale_se``.
    """
    if prior is not None and prior[2]:
        return _adaptive(data, y, sw, tol, max_iter, n_threads, prior[1])
    if prior is not None and prior[0] <= 0:
        prior = None
    n, k = data.shape
    n_members = len(data.names)
    notes = []
    sub = _subsample(sw, n, k)
    sub_logits = data.take(sub)
    if not all(np.isfinite(zs).all() for zs in sub_logits if zs.dtype.kind == "f"):
        _raise_non_finite(data)
    scales = _member_scales(data, sub_logits, y[sub], sw[sub])

    informative = scales > 0
    if not informative.all():
        for m in np.flatnonzero(~informative):
            notes.append(
                (
                    f"{data.names[m]}: every row is constant up to rounding (a "
                    "per-row offset carries no information), so its weight is 0.",
                    UserWarning,
                )
            )
        return _fit_without(
            data,
            y,
            sw,
            informative,
            tol,
            max_iter,
            n_threads,
            notes,
            prior,
            scale_check,
        )

    sigmas = scales
    factors, scales = _normalisation(scales)
    upper = _WEIGHT_CAP / scales
    penalty = None
    if prior is not None:
        strength, centres, _ = prior
        # the sidekicks' spreads weighted by the sample weights (a weight k is
        # the row repeated k times)
        sigmas = np.array(
            [
                _weighted_spread(z, sw[sub]) if c == 0 else s_m
                for z, c, s_m in zip(sub_logits, centres, sigmas)
            ]
        )
        penalty = Prior(strength, centres, sigmas, effective_rows(sw), factors)

    def penalised(objective):
        return objective if penalty is None else Penalised(objective, penalty)

    # the compiled float32 kernel on large problems, where numba is installed
    kernel = fit_kernel(n * k * n_members)

    # 1. starting point on a small deterministic subsample
    u, it_start, fourth = _start(
        sub_logits,
        y[sub],
        sw[sub],
        scales,
        upper,
        factors,
        n_threads,
        max_iter,
        kernel,
        penalty,
    )

    # 2. approach on all rows in float32 (third-order steps)
    fast = penalised(
        _Checked(data.objective(y, sw, False, factors, n_threads, kernel), data)
    )
    u, _, _, curvature, it_fast, _ = newton(
        fast, u, upper, scales, 1e-9, max_iter, 1e-4, fourth=fourth
    )

    # 3. float64 Newton iterations to the tolerance (usually one evaluation; a
    #    step, if needed, starts from the float32 phase's curvature)
    #    (the compiled certificate where the float32 phase ran compiled)
    precise = penalised(
        _Checked(data.objective(y, sw, True, factors, n_threads, kernel), data)
    )
    u, f, g, last, it_precise, converged = newton(
        precise, u, upper, scales, tol, max_iter, lazy_hessian=True, curvature=curvature
    )
    curvature = curvature if last is None else last
    n_iter = it_start + it_fast + it_precise
    kkt = kkt_residual(u, g, upper, scales, f)
    capped = bool(np.any((u >= upper) & (g < 0)))
    pen = 0.0 if penalty is None else penalty.terms(u, 0)[0]
    if penalty is not None:
        # the penalised objective always has a finite minimiser (the prior's
        # terms grow without bound, the NLL is >= 0): no separation to detect
        separated, recession = False, None
    else:
        # Every weighted sample has a loss below log 2 (so p_y > 1/2: correctly
        # classified with a positive margin) iff f * sum(s) < log(2) * min(s);
        # then scaling the weights up drives the NLL to 0: no finite minimiser.
        separated = f * sw.sum() < np.log(2.0) * sw[sw > 0].min()
        recession = None
        if not separated:
            recession = _recession_direction(data, y, sw, u, curvature, scales, factors)
    separable = bool(capped or separated or recession is not None)
    scale_se, weight_se = float("nan"), None
    if scale_check:
        scale_se, weight_se = np.inf, np.full(n_members, np.inf)
        if converged and not separable:
            _, _, h = precise(u, order=2)
            weight_se, scale_se = relative_standard_errors(u, h, effective_rows(sw))
            scale_se = max(scale_se, float(weight_se[u > 0].max(initial=0.0)))
    w = u if factors is None else u * factors
    g = g if factors is None else g / factors
    result = WeightFitResult(
        w,
        f - pen,
        g,
        kkt,
        n_iter,
        bool(converged or capped),
        separable,
        fast.n_evaluations + precise.n_evaluations + data.n_passes,
        0.0 if penalty is None else penalty.strength,
        pen,
        scale_se,
        weight_se,
    )
    if separable:
        quasi = recession is not None and not capped
        notes.append(
            (
                _separation_message(quasi, data.names, *(recession or (None, None))),
                SeparationWarning,
            )
        )
        if compare_singles and n_members > 1 and penalty is None:
            result = _best_of_singles(data, y, sw, result, tol, max_iter, n_threads)
    elif not converged:
        notes.append(
            (
                f"The weight fit stopped after {n_iter} Newton iterations with a KKT "
                f"residual of {kkt:.3g} > tol={tol:g}.",
                ConvergenceWarning,
            )
        )
    return result, notes


def _fit_without(
    data, y, sw, informative, tol, max_iter, n_threads, notes, prior, scale_check
):
    """Weight 0 for the degenerate members, the others fitted."""
    n_members = len(informative)
    keep = np.flatnonzero(informative)
    w = np.zeros(n_members)
    sub, n_iter, converged, separable = None, 0, True, False
    if len(keep):
        sub_prior = None
        if prior is not None:
            sub_prior = (prior[0], np.asarray(prior[1])[keep], prior[2])
        sub, sub_notes = _fit(
            data.subset(keep),
            y,
            sw,
            tol,
            max_iter,
            n_threads,
            prior=sub_prior,
            scale_check=scale_check,
        )
        notes.extend(sub_notes)
        w[keep] = sub.weights
        n_iter, converged, separable = sub.n_iter, sub.converged, sub.separable
    precise = _Checked(data.objective(y, sw, True, None, n_threads), data)
    f, g, _ = precise(w, order=1)
    if sub is not None:
        # the degenerate members' gradients are rounding noise: not part of the KKT
        kkt = sub.kkt_residual
    else:
        kkt = 0.0
    passes = precise.n_evaluations + data.n_passes + (sub.n_passes if sub else 0)
    strength, pen = (sub.prior_strength, sub.penalty) if sub else (0.0, 0.0)
    if sub is not None:
        g = g.copy()
        g[keep] = sub.gradient  # the penalised gradient of the fitted members
    scale_se, weight_se = float("nan"), None
    if scale_check:  # no member carries information: no maximum-likelihood scale
        scale_se, weight_se = np.inf, np.full(n_members, np.inf)
    if sub is not None and sub.weight_se is not None:
        scale_se, weight_se[keep] = sub.scale_se, sub.weight_se
    result = WeightFitResult(
        w,
        f,
        g,
        kkt,
        n_iter,
        converged,
        separable,
        passes,
        strength,
        pen,
        scale_se,
        weight_se,
    )
    return result, notes


def _adaptive(data, y, sw, tol, max_iter, n_threads, centres):
    """``prior='auto'``: the exact MLE of the largest model the data determine.

    The maximum-likelihood fit of all members first; where the data determine
    it (:func:`~skduo._fit._prior.scale_is_determined` of its ``scale_se``) it
    is the answer, with its messages. Otherwise one member is dropped (weight
    0; :func:`_least_determined`) and the others refitted, until a fit is
    determined. When none is -- every member alone separates the data or
    leaves its scale open -- the validation data give no evidence for any
    weights, and the members are kept as given: the weights are the prior's
    ``centres`` (a duo's large member untempered and no sidekick, a
    temperature of 1, the plain logit average), with a warning that says so
    (``kkt_residual`` NaN: nothing was minimised).
    The result reports the first fit's ``scale_se`` and ``weight_se``, and the
    passes and iterations of every fit made.
    """
    kept = np.ones(len(data.names), dtype=bool)
    first, passes, n_iter = None, 0, 0
    while kept.any():
        if kept.all():
            fit, notes = _fit(data, y, sw, tol, max_iter, n_threads, False, None, True)
        else:
            fit, notes = _fit_without(
                data, y, sw, kept, tol, max_iter, n_threads, [], None, True
            )
        if first is None:
            first, first_notes = fit, notes
        passes, n_iter = passes + fit.n_passes, n_iter + fit.n_iter
        if scale_is_determined(fit.scale_se):
            return replace(fit, n_iter=n_iter, n_passes=passes), notes
        kept[_least_determined(fit, kept, centres)] = False
    w = np.array(centres, dtype=np.float64)
    precise = _Checked(data.objective(y, sw, True, None, n_threads), data)
    f, g, _ = precise(w, order=1)
    result = WeightFitResult(
        w,
        f,
        g,
        float("nan"),  # nothing was minimised: no KKT residual
        n_iter,
        True,
        first.separable,
        passes + precise.n_evaluations + data.n_passes,
        0.0,
        0.0,
        first.scale_se,
        first.weight_se,
    )
    # the first fit's notes on degenerate members (constant rows) still hold
    notes = [note for note in first_notes if note[1] is UserWarning]
    return result, [*notes, (_as_given_message(data.names, w), UserWarning)]


def _as_given_message(names, weights):
    """The warning of a fit that keeps the members as given (no evidence)."""
    if len(names) == 1:
        what = f"the temperature of {names[0]}"
        kept = "the temperature stays at 1, the model as given"
    else:
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        shown = ", ".join(f"{w:g}" for w in weights)
        what = f"the weights of {listed}"
        kept = f"the weights stay at [{shown}], the members as given"
    return (
        f"The validation data do not determine {what} (each fit separates the "
        "rows or leaves its scale open: its Wald 95 % interval reaches 0), so "
        f"{kept}: no evidence for a change. prior=<c> fits "
        "the weak prior's posterior mode instead, prior=None the exact "
        "maximum-likelihood weights."
    )


def _least_determined(fit, kept, centres):
    """The member an undetermined maximum-likelihood fit drops next.

    Among the ``kept`` members: one at weight 0 first (it adds nothing to a
    finite MLE), then the largest relative standard error; among equal errors
    (none could be computed: no finite MLE, whose weights where the fit
    stopped say nothing) a sidekick first (prior centre 0: no sidekick unless
    the data ask for one); ties go to the last member.
    """
    order = sorted(
        np.flatnonzero(kept),
        key=lambda m: (
            fit.weights[m] == 0.0 and not fit.separable,
            fit.weight_se[m] if fit.weight_se is not None else np.inf,
            centres[m] == 0.0,
            m,
        ),
    )
    return order[-1]


def _best_of_singles(data, y, sw, result, tol, max_iter, n_threads):
    """The better of ``result`` and each member's own fit (separable data only).

    Without a finite minimiser the fit stops where the gradient meets the
    tolerance, which depends on the path: a member fitted alone can stop at a
    lower NLL. Its weights are feasible for the joint fit, so the joint NLL is
    never above any member's own.
    """
    best, passes, n_iter = result, result.n_passes, result.n_iter
    for m in range(len(data.names)):
        single, _ = _fit(data.subset([m]), y, sw, tol, max_iter, n_threads, False)
        passes += single.n_passes
        n_iter += single.n_iter
        if single.nll < best.nll:
            w = np.zeros(len(data.names))
            w[m] = single.weights[0]
            f, g, _ = data.objective(y, sw, True, None, n_threads)(w, order=1)
            passes += 1
            if f < best.nll:
                best = WeightFitResult(w, f, g, single.kkt_residual, 0, True, True, 0)
    return WeightFitResult(
        best.weights,
        best.nll,
        best.gradient,
        best.kkt_residual,
        n_iter,
        best.converged,
        True,
        passes,
    )


def fit_logit_weights(
    logits,
    y,
    sample_weight=None,
    *,
    tol=1e-8,
    max_iter=100,
    n_threads=None,
    return_result=False,
    names=None,
    prior=None,
    prior_centres=None,
):
    """Non-negative weights minimising the NLL of ``sum_m w_m * logits[m]``.

    By default the exact maximum-likelihood weights; with a number ``prior``
    the NLL plus a weak prior's penalty (a MAP fit that stays finite on small
    or separable data), with ``prior='auto'`` the exact fit where the data
    determine it (see :mod:`skduo._fit._prior`).

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
        One array per member: NumPy arrays of any numeric dtype or memory maps
        (read in row chunks, never copied whole), or dask arrays (the fit then
        runs on the dask workers; only per-chunk sums travel).
    y : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    tol : float, default=1e-8
        Tolerance on the scale-free KKT residual (see :class:`WeightFitResult`).
    max_iter : int, default=100
        Maximum Newton iterations per phase.
    n_threads : int, default=None
        Threads used to evaluate the objective in memory (default: up to 4,
        the CPU count).
    return_result : bool, default=False
        Return a :class:`WeightFitResult` instead of the weights alone.
    names : sequence of str, default=None
        Names of the members in messages (default ``"Logits of member m"``).
    prior : 'auto', float or None, default=None
        None: the exact maximum-likelihood fit. A number ``c >= 0``: the
        prior's strength in validation rows; the objective is then ``nll + (c
        / n) * sum_m phi_m(w_m)``. ``'auto'``: the exact maximum-likelihood
        fit of the most members the data determine (see
        :func:`~skduo._fit._prior.scale_is_determined`), else the members as
        given (the weights ``prior_centres``, with a warning).
    prior_centres : array-like of shape (n_members,), default=None
        Where the prior is centred: ``> 0`` a Gamma prior with that mode, ``0``
        an exponential prior in units of the member's logit spread (a sidekick).
        Default ``1 / n_members`` for every member (one member: temperature 1).

    Returns
    -------
    weights : ndarray of shape (n_members,) or WeightFitResult

    Raises
    ------
    ValueError
        For non-finite logits (``"{name} contains {n_nan} NaN and {n_inf}
        infinite value(s); ..."``), bad shapes, labels or sample weights.

    Warns
    -----
    SeparationWarning
        When the members separate or quasi-separate the data (the NLL
        decreases without bound along a direction of the weights); the returned
        weights are then bounded, and the NLL is never above that of any member
        fitted alone by this function.
    ConvergenceWarning
        When the KKT tolerance is not met (the result says so, too).
    UserWarning
        For a member whose rows are constant up to rounding (weight 0); with
        ``prior='auto'``, when the data determine no fit and the members are
        kept as given.

    Notes
    -----
    The NLL of a certified fit is that of the exact optimum up to
    ``O(tol**2)``: in particular never above that of any member alone (its
    weights are feasible) by more than rounding, ~1e-13 relative. On
    separable data that comparison is made explicitly.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._fit._weight_fit import fit_logit_weights
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> z = rng.normal(size=(500, 3)) + 2 * np.eye(3)[y]
    >>> res = fit_logit_weights([z, rng.normal(size=(500, 3))], y, return_result=True)
    >>> bool(res.converged), bool(res.weights[1] < 0.1 * res.weights[0])
    (True, True)
    """
    data, y, sw = _validate_inputs(logits, y, sample_weight, names)
    spec = _prior_spec(prior, prior_centres, len(data.names))
    result, notes = _fit(data, y, sw, tol, max_iter, n_threads, prior=spec)
    for message, category in notes:
        warnings.warn(message, category, stacklevel=2)
    return result if return_result else result.weights


def _prior_spec(prior, centres, n_members):
    """``(strength, centres, adaptive)`` of a ``prior`` parameter, or None.

    None: the exact MLE; ``adaptive`` for ``prior='auto'`` (see
    :mod:`skduo._fit._prior`).
    """
    strength = resolve_strength(prior)  # None: 'auto'
    if strength == 0.0:
        return None
    if centres is None:
        centres = np.full(n_members, 1.0 / n_members)
    centres = np.asarray(centres, dtype=np.float64)
    if centres.shape != (n_members,) or not (centres >= 0).all():
        raise ValueError(
            f"prior_centres must be {n_members} non-negative numbers; got {centres!r}."
        )
    if not (centres > 0).any():
        raise ValueError("prior_centres must centre at least one member above 0.")
    return strength, centres, strength is None


def nll(logits, y, weights=None, sample_weight=None):
    """Weighted mean NLL of ``combine_logits(logits, weights)`` (float64, chunked).

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes), or one array
        NumPy arrays, memory maps or dask arrays (as :func:`fit_logit_weights`).
    y : array-like of shape (n_samples,)
        Integer class indices.
    weights : array-like of shape (n_members,), default=None
        Defaults to all ones.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    data, y, sw = _validate_inputs(logits, y, sample_weight)
    w = np.ones(len(data.names)) if weights is None else np.asarray(weights, float)
    # with the gradient: every logit then enters a value that must be finite
    return _Checked(data.objective(y, sw, True, None, None), data)(w, order=1)[0]
