"""Projected Newton iterations with exact box-constrained subproblems.

Minimises a convex objective (an :class:`skduo._fit._objective.Objective`) over
``0 <= w <= upper``: each step solves the quadratic model exactly over the box
(bounded least squares, BVLS), third-order (Chebyshev) when the objective
returns third derivatives; an Armijo line search that knows the objective's
resolution; Hessians extrapolated after short steps.
"""

import numpy as np
from scipy.optimize import lsq_linear

__all__ = ["kkt_residual", "newton", "scalar_search"]


def _qp_step(w, grad, hess, upper, scales):
    """Minimise the quadratic model over ``0 <= x <= upper`` exactly.

    ``min_x g'(x - w) + 1/2 (x - w)' H (x - w)`` is solved in the normalised
    variables ``u = x * scales`` (members with very different logit scales give
    Hessians whose entries differ by many orders of magnitude) and rewritten as
    the bounded least-squares problem ``min ||A u - b||`` with ``A' A = H_u``,
    solved by BVLS.
    """
    if not (np.isfinite(hess).all() and np.isfinite(grad).all()):
        raise ValueError(
            "The weight fit's Newton step got a non-finite gradient or Hessian "
            "(the objective overflowed)."
        )
    d = 1.0 / scales
    hess_u = hess * d[:, None] * d[None, :]
    u = w * scales
    evals, evecs = np.linalg.eigh(hess_u)
    floor = max(float(evals.max()), 0.0) * 1e-13 + 1e-300
    evals = np.maximum(evals, floor)
    a = np.sqrt(evals)[:, None] * evecs.T
    # A'b = H_u u - g_u  =>  b = diag(1/sqrt(ev)) V' (H_u u - g_u)
    rhs = hess_u @ u - grad * d
    b = (evecs.T @ rhs) / np.sqrt(evals)
    res = lsq_linear(a, b, bounds=(np.zeros_like(u), upper * scales), method="bvls")
    return np.clip(res.x * d, 0.0, upper)


def _step(w, grad, curvature, upper, scales, fourth=None):
    """Projected Newton step; third-order (Chebyshev) when ``curvature`` has it.

    With third derivatives ``T`` the gradient of the quadratic model is
    corrected by ``T[d, d] / 2`` for the Newton step ``d``, which makes the
    iteration converge cubically near the optimum (one full-data pass saved);
    with (approximate) fourth derivatives ``Q`` also by ``Q[d, d, d] / 6``,
    the correction iterated once more.
    """
    if not isinstance(curvature, tuple):
        return _qp_step(w, grad, curvature, upper, scales)
    hess, third = curvature
    x = _qp_step(w, grad, hess, upper, scales)
    d = x - w
    x3 = x
    for _ in range(1 if fourth is None else 2):
        d3 = x3 - w
        corrected = grad + 0.5 * np.einsum("mkq,k,q->m", third, d3, d3)
        if fourth is not None:
            corrected += np.einsum("mkqj,k,q,j->m", fourth, d3, d3, d3) / 6.0
        x3 = _qp_step(w, corrected, hess, upper, scales)
    # keep the correction only while it is a descent direction and smaller than
    # the Newton step itself (far from the optimum the cubic term misleads)
    d3 = x3 - w
    if grad @ d3 < 0.0 and np.all(np.abs(d3 - d) <= np.abs(d)):
        return x3
    return x


#: Largest step (relative to the weights, in normalised units) after which the
#: Hessian is extrapolated with the third derivatives instead of re-evaluated.
_EXTRAPOLATE_STEP = 0.05


def _evaluate_after_step(objective, w, w_new, curvature, scales, fourth=None):
    """Objective at ``w_new``; after a short step, Hessian extrapolated from ``w``.

    With third derivatives ``T`` at ``w``, ``H(w_new) = H(w) + T[w_new - w]`` up
    to ``O(|w_new - w|^2)`` (that term too with fourth derivatives ``Q``:
    ``+ Q[d, d] / 2``, and ``T`` moves by ``Q[d]``): after a step shorter than
    :data:`_EXTRAPOLATE_STEP` of the weights, the next Newton step converges as
    well with it (the Hessian is only a preconditioner) and the evaluation
    skips all curvature terms. Returns ``(f, g, curvature, extrapolated)``.
    """
    if isinstance(curvature, tuple):
        size = np.max(np.abs(w_new - w) * scales)
        if size <= _EXTRAPOLATE_STEP * np.max(w * scales):
            f, g, _ = objective(w_new, order=1)
            hess, third = curvature
            d = w_new - w
            hess = hess + np.einsum("mkq,q->mk", third, d)
            if fourth is not None:
                hess = hess + 0.5 * np.einsum("mkqj,q,j->mk", fourth, d, d)
                third = third + np.einsum("mkqj,j->mkq", fourth, d)
            return f, g, (hess, third), True
    return (*objective(w_new), False)


def kkt_residual(w, grad, upper, scales, nll):
    """Scale-free KKT residual of ``min L(w)`` s.t. ``0 <= w <= upper``."""
    pg = grad.copy()
    at_lower = (w <= 0.0) & (grad > 0.0)
    at_upper = (w >= upper) & (grad < 0.0)
    pg[at_lower | at_upper] = 0.0
    return float(np.max(np.abs(pg) / scales)) / max(1.0, nll)


def newton(
    objective,
    w,
    upper,
    scales,
    tol,
    max_iter,
    step_tol=0.0,
    lazy_hessian=False,
    curvature=None,
    fourth=None,
):
    """Projected Newton iterations from ``w``.

    Returns ``(w, f, g, curvature, n_iter, converged)``. With ``step_tol > 0``
    the iterations stop as soon as a full Newton step moves every weight by less
    than ``step_tol`` (relative to its scale); that step is taken without
    evaluating the objective there (``f`` and ``g`` are then stale): used by the
    float32 phase, whose resolution is exhausted at that point. ``curvature``
    (from an earlier phase, near ``w``) is used for the first step instead of an
    evaluation; like extrapolated Hessians, it is re-evaluated as soon as a
    full step with it fails to cut the KKT residual tenfold. ``fourth``
    (approximate fourth derivatives, e.g. from a subsample) refines the
    third-order steps and the Hessian extrapolations.
    """
    # with lazy_hessian the first evaluation skips the Hessian: a starting point
    # that already meets the tolerance (usual after the float32 phase) needs none
    w = np.minimum(objective.snap(w), upper)
    f, g, h = objective(w, order=1 if lazy_hessian else None)
    approximate = curvature is not None
    if approximate:
        h = curvature
    kkt = kkt_residual(w, g, upper, scales, f)
    for it in range(1, max_iter + 1):
        if kkt <= tol:
            return w, f, g, h, it - 1, True
        if h is None:
            f, g, h = objective(w)
            approximate = False
        x = _step(w, g, h, upper, scales, fourth)
        d = x - w
        if step_tol and float(np.max(np.abs(d) * scales)) <= step_tol:
            return x, f, g, h, it, False
        slope = float(g @ d)
        if slope >= 0.0 or not np.any(d):
            if approximate:  # retry with the exact Hessian
                h = None
                continue
            # no descent direction within floating-point resolution
            return w, f, g, h, it - 1, False
        # decreases below the objective's resolution cannot be verified
        noise = objective.resolution * max(1.0, abs(f))
        step = 1.0
        if -slope <= noise:
            # the full step's decrease is below the loss's resolution
            if step_tol:  # approach phase: take the Newton step unverified
                return x, f, g, h, it, False
            # verify by the gradient instead: accept if the KKT residual drops
            f_new, g_new, h_new, approx_new = _evaluate_after_step(
                objective, w, x, h, scales, fourth
            )
            kkt_new = kkt_residual(x, g_new, upper, scales, f_new)
            if kkt_new < kkt:
                h, approximate = _keep_curvature(h_new, approx_new, kkt_new, kkt)
                w, f, g, kkt = x, f_new, g_new, kkt_new
                continue
            if approximate:
                h = None
                continue
            return w, f, g, h, it - 1, False
        while True:
            if -step * slope <= noise:
                return w, f, g, h, it - 1, False
            w_new = np.minimum(objective.snap(np.clip(w + step * d, 0.0, upper)), upper)
            f_new, g_new, h_new, approx_new = _evaluate_after_step(
                objective, w, w_new, h, scales, fourth
            )
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        kkt_new = kkt_residual(w_new, g_new, upper, scales, f_new)
        h, approximate = _keep_curvature(h_new, approx_new, kkt_new, kkt)
        w, f, g, kkt = w_new, f_new, g_new, kkt_new
    return w, f, g, h, max_iter, kkt <= tol


def _keep_curvature(curvature, approximate, kkt_new, kkt_old):
    """An approximate curvature is dropped when its step cut the KKT < 10x."""
    if approximate and kkt_new > 0.1 * kkt_old:
        return None, False
    return curvature, approximate


def scalar_search(objective, direction, upper):
    """Best ``t * direction`` on a log-spaced grid of ``t`` (a starting point)."""
    best_w, best_f = None, np.inf
    for t in np.logspace(-2, 2, 5):
        w = np.minimum(objective.snap(t * direction), upper)
        f = objective(w, order=0)[0]
        if f < best_f:
            best_w, best_f = w, f
    return best_w
