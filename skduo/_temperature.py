"""Numerical core: member outputs to logits, and the convex weight fit.

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

The data are processed in row chunks (no ``n x K`` temporaries) on a small
thread pool.
"""

import itertools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear
from sklearn.exceptions import ConvergenceWarning

#: Elements (rows x classes) processed per chunk: 2**18 float64 = 2 MiB per
#: buffer (fewer, larger chunks cut the per-call overhead, ~25% at 50,000 x 1,000)
_CHUNK_ELEMENTS = 2**18

#: Chunks are at most this fraction of all elements, so that the few buffers per
#: thread stay well under one logits array on small problems (at least 2**15).
_CHUNK_FRACTION = 1 / 16

#: Size (rows x classes) of the deterministic subsample used to find a starting
#: point; at least 512 rows.
_SUBSAMPLE_ELEMENTS = 2**18

#: Upper bound of each weight in units of ``1 / scale(z_m)``; only reached when the
#: members separate the validation set (no finite optimum).
_WEIGHT_CAP = 1e4

#: Up to this many members, the float32 phase takes third-order steps (their
#: derivatives cost M(M+1)(M+2)/6 extra row sums per evaluation).
_THIRD_ORDER_MEMBERS = 3


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


# --------------------------------------------------------------------------------
# Logits helpers
# --------------------------------------------------------------------------------


def log_softmax(z):
    """Row-wise log-softmax in float64, stable for large logits."""
    z = np.asarray(z, dtype=np.float64)
    out = z - z.max(axis=1, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=1, keepdims=True))
    return out


def softmax(z):
    """Row-wise softmax in float64, stable for large logits."""
    out = np.asarray(z, dtype=np.float64)
    out = np.exp(out - out.max(axis=1, keepdims=True))
    out /= out.sum(axis=1, keepdims=True)
    return out


def combine_logits(logits, weights):
    """Weighted sum ``sum_m weights[m] * logits[m]`` in float64.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
    weights : array-like of shape (n_members,)

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64
    """
    weights = np.asarray(weights, dtype=np.float64)
    out = np.zeros(np.shape(logits[0]), dtype=np.float64)
    for w, z in zip(weights, logits):
        if w != 0.0:
            out += w * np.asarray(z, dtype=np.float64)
    return out


def binary_scores_to_logits(scores):
    """Turn 1-D binary scores ``s`` (logit of the positive class) into ``(0, s)``.

    ``softmax((0, s))[:, 1] == sigmoid(s)``, so a weight of 1 reproduces a member
    whose probability is ``sigmoid(s)`` exactly (sklearn's ``(-s, s)`` would double
    the scale).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    return np.column_stack([np.zeros_like(scores), scores])


def _lower_first(text):
    return text[:1].lower() + text[1:]


def _prob_tolerance(dtype, n_classes):
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else 1e-12
    return max(1e-6, 8.0 * n_classes * float(eps))


def check_finite(values, what):
    """Raise a ValueError naming ``what`` if ``values`` holds NaN or infinity."""
    values = np.asarray(values)
    if values.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be numeric; got dtype {values.dtype}.")
    # a sum is finite only if every term is (one fast pass); a non-finite sum
    # may be an overflow of finite values, so it is checked element-wise
    if (
        values.dtype.kind == "f"
        and not np.isfinite(np.add.reduce(values, axis=None))
        and not np.isfinite(values).all()
    ):
        n_nan = int(np.isnan(values).sum())
        n_inf = int(np.isinf(values).sum())
        raise ValueError(
            f"{what} contains {n_nan} NaN and {n_inf} infinite value(s); member "
            "outputs must be finite."
        )


def proba_to_logits(proba, what="predict_proba output", saturation_warn=0.01):
    """Log-probabilities from probabilities, checked and safely clipped.

    Rows must be finite, in ``[0, 1]`` and sum to one (within a tolerance that
    grows with the dtype's resolution and the number of classes). Exact zeros are
    clipped to the smallest positive normal number of the input dtype (the finest
    probability that dtype can hold), so no ``-inf`` appears; a warning says when
    more than ``saturation_warn`` of the rows are saturated (hold an exact 0 or 1),
    because their true logits cannot be recovered.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
    what : str
        Name used in messages.
    saturation_warn : float
        Fraction of saturated rows above which a ``UserWarning`` is issued.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64
    """
    proba = np.asarray(proba)
    check_finite(proba, what)
    if proba.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_samples, n_classes); got {proba.shape}."
        )
    dtype = proba.dtype if proba.dtype.kind == "f" else np.dtype(np.float64)
    tol = _prob_tolerance(dtype, proba.shape[1])
    p = proba.astype(np.float64)
    if p.size:
        lo, hi = float(p.min()), float(p.max())
        row_sums = p.sum(axis=1)
        worst = float(np.abs(row_sums - 1.0).max())
        if lo < -tol or hi > 1.0 + tol or worst > tol * max(1.0, p.shape[1] ** 0.5):
            raise ValueError(
                f"{what} is not a probability: values span [{lo:.4g}, {hi:.4g}] and "
                f"row sums deviate from 1 by up to {worst:.3g}. If these are logits "
                "(e.g. a skorch net trained with NLLLoss returns its module's raw "
                "output from predict_proba), declare the member's response_method as "
                "'decision_function' or let skduo read the net's logits "
                "(response_method='auto')."
            )
    tiny = float(np.finfo(dtype).tiny)
    saturated = (p <= 0.0).any(axis=1) | (p >= 1.0).any(axis=1)
    frac = float(saturated.mean()) if len(p) else 0.0
    if frac > saturation_warn:
        warnings.warn(
            f"{frac:.1%} of the rows of {_lower_first(what)} are "
            "saturated (hold an exact 0 or 1 "
            f"in {dtype}); their log-probabilities are clipped at log({tiny:.3g}) and "
            "the true logits cannot be recovered. Prefer a member output that gives "
            "logits (decision_function, predict_log_proba, or the net's logits).",
            UserWarning,
            stacklevel=3,
        )
    np.clip(p, tiny, None, out=p)
    np.log(p, out=p)
    return p


def log_proba_to_logits(
    log_proba, what="predict_log_proba output", saturation_warn=0.01
):
    """Check log-probabilities (finite after clipping ``-inf``) and return float64.

    ``-inf`` entries (probability exactly 0) are replaced by the log of the
    smallest positive normal float64, so no ``-inf`` propagates. Rows must be
    at most 0.1 and log-sum-exp to 0 within 0.1 (a loose check that the values
    are log-probabilities and not logits; a per-row offset does not change a
    duo).
    """
    lp = np.array(log_proba, dtype=np.float64)
    if lp.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_classes); got {lp.shape}.")
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise ValueError(f"{what} contains NaN or +inf values.")
    zero = np.isneginf(lp)
    frac = float(zero.any(axis=1).mean()) if len(lp) else 0.0
    if frac > saturation_warn:
        warnings.warn(
            f"{frac:.1%} of the rows of {_lower_first(what)} hold "
            "log-probabilities of -inf "
            "(probability 0); they are clipped at log(2.23e-308) and the true "
            "logits cannot be recovered.",
            UserWarning,
            stacklevel=3,
        )
    lp[zero] = np.log(np.finfo(np.float64).tiny)
    if lp.size:
        # A sanity check that these look like log-probabilities (not logits):
        # loose, because a per-row offset does not change the duo and models
        # that work in float32 (GaussianNB on float32 X) normalise to ~1e-2.
        lse = lp.max(axis=1) + np.log(
            np.exp(lp - lp.max(axis=1, keepdims=True)).sum(axis=1)
        )
        if float(lp.max()) > 0.1 or float(np.abs(lse).max()) > 0.1:
            raise ValueError(
                f"{what} is not a log-probability: values reach {float(lp.max()):.4g} "
                f"and rows log-sum-exp to up to {float(np.abs(lse).max()):.3g} instead "
                "of 0. Declare the member's response_method as 'decision_function' if "
                "these are logits."
            )
    return lp


# --------------------------------------------------------------------------------
# The objective, evaluated in chunks
# --------------------------------------------------------------------------------


def _row_chunks(n_samples, n_classes):
    elements = min(
        _CHUNK_ELEMENTS, max(2**15, int(n_samples * n_classes * _CHUNK_FRACTION))
    )
    step = max(1, elements // max(1, n_classes))
    return [
        (start, min(start + step, n_samples)) for start in range(0, n_samples, step)
    ]


def _member_chunks(logits, y, start, stop, dtype, shift=True):
    """Rows ``start:stop`` of every member as C-ordered ``dtype`` arrays.

    C order whatever the input layout, so the same numbers always give the same
    sums. With ``shift`` each row is shifted so that its label logit is 0
    (softmax is invariant to per-row shifts; this keeps the covariance terms free
    of cancellation); without it, the label logits are returned too.
    """
    rows = np.arange(stop - start)
    yc = y[start:stop]
    members, labels = [], []
    for z in logits:
        block = z[start:stop]
        if shift:
            # one fused pass: subtract in the input's precision, cast on output
            zc = np.empty(block.shape, dtype=dtype)
            np.subtract(
                block,
                block[rows, yc][:, None],
                out=zc,
                dtype=np.promote_types(block.dtype, dtype),
                casting="same_kind",
            )
        else:
            zc = np.array(block, dtype=dtype, order="C")
            labels.append(zc[rows, yc])
        members.append(zc)
    return members if shift else (members, labels)


def _combine_into(members, weights, out, tmp):
    """``out = sum_m weights[m] * members[m]``, members of weight 0 skipped."""
    parts = [(w, zc) for w, zc in zip(weights, members) if w != 0.0]
    if not parts:
        out.fill(0.0)
        return out
    np.multiply(parts[0][1], out.dtype.type(parts[0][0]), out=out)
    for w, zc in parts[1:]:
        np.multiply(zc, out.dtype.type(w), out=tmp)
        out += tmp
    return out


def _exp_clipped(x):
    """In-place ``exp`` of ``x <= 0``; float64 arguments clipped at ``log(tiny)``.

    Float64 ``exp`` is 2-3x slower on arguments whose result is subnormal or 0,
    common for confident members; such results (below ~2.2e-308) are negligible
    next to the row maximum's ``exp(0) = 1`` anyway. Float32 ``exp`` runs at the
    same speed on every argument (measured), so clipping would only add a pass.
    """
    if x.dtype == np.float64:
        np.maximum(x, np.log(np.finfo(np.float64).tiny), out=x)
    np.exp(x, out=x)
    return x


def _chunk_terms_first_order(logits, y, swc, weights, start, stop, order):
    """Float64 loss (and gradient with ``order=1``) over rows start:stop."""
    members, labels = _member_chunks(logits, y, start, stop, np.float64, False)
    comb = np.empty_like(members[0])
    _combine_into(members, weights, comb, np.empty_like(comb))
    label = sum(w * zy for w, zy in zip(weights, labels) if w != 0.0)
    mx = comb.max(axis=1)
    comb -= mx[:, None]
    _exp_clipped(comb)
    se = comb.sum(axis=1)
    loss = float(swc @ (np.log(se) + (mx - label)))
    if order == 0:
        return loss, None, None
    grad = np.array(
        [
            swc @ (np.einsum("ij,ij->i", comb, zc) / se - zy)
            for zc, zy in zip(members, labels)
        ]
    )
    return loss, grad, None


def _chunk_terms(logits, y, sw, weights, start, stop, order, dtype=np.float64):
    """Weighted sums of the loss and its derivatives over rows start:stop.

    ``dtype=np.float64`` is the evaluation that certifies the result (loss and
    gradient, ``order <= 1``, go to :func:`_chunk_terms_first_order`).
    ``dtype=np.float32`` approaches the optimum: every elementwise operation is
    float32 (the float32 exponential is ~4x faster than float64); row sums are
    pairwise (~1e-7 relative), sums over rows float64, which leaves the loss and
    gradient good to ~1e-9 relative at float32-representable weights (see
    :meth:`_Objective.snap`). ``order=3`` adds the third derivatives of the
    objective, which turn the Newton step into a third-order (Chebyshev) one;
    the Hessian is then returned as the pair ``(hessian, third_derivatives)``.
    """
    swc = sw[start:stop]
    if order <= 1 and dtype == np.float64:
        # no covariance terms: the label shift (two passes) is not needed
        return _chunk_terms_first_order(logits, y, swc, weights, start, stop, order)
    members = _member_chunks(logits, y, start, stop, dtype)
    comb = np.empty_like(members[0])
    tmp = np.empty_like(comb)
    _combine_into(members, weights, comb, tmp)
    mx = comb.max(axis=1)
    comb -= mx[:, None]
    _exp_clipped(comb)
    se = comb.sum(axis=1).astype(np.float64, copy=False)
    loss = float(swc @ (np.log(se) + mx))  # the label logit is 0 after the shift
    if order == 0:
        return loss, None, None
    n_members = len(members)
    # q_m = p * a_m is reused by the second moments sum_k p a_m a_k (two-operand
    # row dots are ~2x faster than three-operand ones)
    weighted = [np.multiply(comb, zc) for zc in members]
    means = np.column_stack([q.sum(axis=1) for q in weighted]) / se[:, None]
    grad = swc @ means
    if order == 1:
        return loss, grad, None
    # per-row second moments E_p[a_m a_k]
    second = np.empty((len(se), n_members, n_members))
    for m in range(n_members):
        for k in range(m, n_members):
            s = np.einsum("ij,ij->i", weighted[m], members[k]) / se
            second[:, m, k] = second[:, k, m] = s
    hess = np.einsum("i,imk->mk", swc, second) - np.einsum(
        "i,im,ik->mk", swc, means, means
    )
    if order == 2:
        return loss, grad, hess
    # third central moments E_p[(a_m - mu_m)(a_k - mu_k)(a_l - mu_l)]
    third = np.empty((n_members,) * 3)
    for m in range(n_members):
        for k in range(m, n_members):
            np.multiply(weighted[m], members[k], out=tmp)
            for q in range(k, n_members):
                mu_m, mu_k, mu_q = means[:, m], means[:, k], means[:, q]
                rows = (
                    np.einsum("ij,ij->i", tmp, members[q]) / se
                    - mu_m * second[:, k, q]
                    - mu_k * second[:, m, q]
                    - mu_q * second[:, m, k]
                    + 2.0 * mu_m * mu_k * mu_q
                )
                value = swc @ rows
                for idx in set(itertools.permutations((m, k, q))):
                    third[idx] = value
    return loss, grad, (hess, third)


class _Objective:
    """Chunked, threaded evaluation of the weighted NLL and its derivatives.

    ``precise=False`` evaluates in float32 (see :func:`_chunk_terms`); with at
    most :data:`_THIRD_ORDER_MEMBERS` members its default order is then 3 (the
    Hessian comes as the pair ``(hessian, third_derivatives)``). The float32
    kernel multiplies by ``float32(w)``: it is only accurate at weights that
    :meth:`snap` returns (elsewhere the gradient is biased by ~H * 6e-8 * w).
    """

    def __init__(self, logits, y, sample_weight, n_threads=None, precise=True):
        self.precise = precise
        # relative resolution of the loss value
        self.resolution = 1e-14 if precise else 1e-9
        self.logits = logits
        self.y = y
        self.sw = sample_weight
        self.total = float(sample_weight.sum())
        n, k = logits[0].shape
        self.chunks = _row_chunks(n, k)
        if n_threads is None:
            n_threads = min(len(self.chunks), os.cpu_count() or 1, 4)
        self.n_threads = max(1, n_threads)
        self.max_order = 3 if not precise and len(logits) <= _THIRD_ORDER_MEMBERS else 2

    def snap(self, weights):
        """The nearest weights this objective evaluates exactly."""
        if self.precise:
            return weights
        return np.asarray(weights, dtype=np.float32).astype(np.float64)

    def __call__(self, weights, order=None):
        order = self.max_order if order is None else min(order, self.max_order)
        dtype = np.float64 if self.precise else np.float32

        def work(bounds):
            return _chunk_terms(
                self.logits, self.y, self.sw, weights, *bounds, order, dtype
            )

        if self.n_threads > 1:
            with ThreadPoolExecutor(self.n_threads) as pool:
                parts = list(pool.map(work, self.chunks))
        else:
            parts = [work(c) for c in self.chunks]
        # summed in chunk order: deterministic whatever the thread timing
        loss = sum(p[0] for p in parts) / self.total
        if order == 0:
            return loss, None, None
        grad = np.sum([p[1] for p in parts], axis=0) / self.total
        if order == 1:
            return loss, grad, None
        if order == 2:
            return loss, grad, np.sum([p[2] for p in parts], axis=0) / self.total
        hess = np.sum([p[2][0] for p in parts], axis=0) / self.total
        third = np.sum([p[2][1] for p in parts], axis=0) / self.total
        return loss, grad, (hess, third)


# --------------------------------------------------------------------------------
# Projected Newton with exact box-constrained subproblems
# --------------------------------------------------------------------------------


def _qp_step(w, grad, hess, upper, scales):
    """Minimise the quadratic model over ``0 <= x <= upper`` exactly.

    ``min_x g'(x - w) + 1/2 (x - w)' H (x - w)`` is solved in the normalised
    variables ``u = x * scales`` (members with very different logit scales give
    Hessians whose entries differ by many orders of magnitude) and rewritten as
    the bounded least-squares problem ``min ||A u - b||`` with ``A' A = H_u``,
    solved by BVLS.
    """
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


def _step(w, grad, curvature, upper, scales):
    """Projected Newton step; third-order (Chebyshev) when ``curvature`` has it.

    With third derivatives ``T`` the gradient of the quadratic model is
    corrected by ``T[d, d] / 2`` for the Newton step ``d``, which makes the
    iteration converge cubically near the optimum (one full-data pass saved).
    """
    if not isinstance(curvature, tuple):
        return _qp_step(w, grad, curvature, upper, scales)
    hess, third = curvature
    x = _qp_step(w, grad, hess, upper, scales)
    d = x - w
    corrected = grad + 0.5 * np.einsum("mkq,k,q->m", third, d, d)
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


def _evaluate_after_step(objective, w, w_new, curvature, scales):
    """Objective at ``w_new``; after a short step, Hessian extrapolated from ``w``.

    With third derivatives ``T`` at ``w``, ``H(w_new) = H(w) + T[w_new - w]`` up
    to ``O(|w_new - w|^2)``: after a step shorter than :data:`_EXTRAPOLATE_STEP`
    of the weights, the next Newton step converges as well with it (the Hessian
    is only a preconditioner) and the evaluation skips all curvature terms.
    Returns ``(f, g, curvature, extrapolated)``.
    """
    if isinstance(curvature, tuple):
        size = np.max(np.abs(w_new - w) * scales)
        if size <= _EXTRAPOLATE_STEP * np.max(w * scales):
            f, g, _ = objective(w_new, order=1)
            hess, third = curvature
            hess = hess + np.einsum("mkq,q->mk", third, w_new - w)
            return f, g, (hess, third), True
    return (*objective(w_new), False)


def _kkt(w, grad, upper, scales, nll):
    """Scale-free KKT residual of ``min L(w)`` s.t. ``0 <= w <= upper``."""
    pg = grad.copy()
    at_lower = (w <= 0.0) & (grad > 0.0)
    at_upper = (w >= upper) & (grad < 0.0)
    pg[at_lower | at_upper] = 0.0
    return float(np.max(np.abs(pg) / scales)) / max(1.0, nll)


def _newton(
    objective,
    w,
    upper,
    scales,
    tol,
    max_iter,
    step_tol=0.0,
    lazy_hessian=False,
    curvature=None,
):
    """Projected Newton iterations from ``w``.

    Returns ``(w, f, g, curvature, n_iter, converged)``. With ``step_tol > 0``
    the iterations stop as soon as a full Newton step moves every weight by less
    than ``step_tol`` (relative to its scale); that step is taken without
    evaluating the objective there (``f`` and ``g`` are then stale): used by the
    float32 phase, whose resolution is exhausted at that point. ``curvature``
    (from an earlier phase, near ``w``) is used for the first step instead of an
    evaluation; like extrapolated Hessians, it is re-evaluated as soon as a
    full step with it fails to cut the KKT residual tenfold.
    """
    # with lazy_hessian the first evaluation skips the Hessian: a starting point
    # that already meets the tolerance (usual after the float32 phase) needs none
    w = np.minimum(objective.snap(w), upper)
    f, g, h = objective(w, order=1 if lazy_hessian else None)
    approximate = curvature is not None
    if approximate:
        h = curvature
    kkt = _kkt(w, g, upper, scales, f)
    for it in range(1, max_iter + 1):
        if kkt <= tol:
            return w, f, g, h, it - 1, True
        if h is None:
            f, g, h = objective(w)
            approximate = False
        x = _step(w, g, h, upper, scales)
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
                objective, w, x, h, scales
            )
            kkt_new = _kkt(x, g_new, upper, scales, f_new)
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
                objective, w, w_new, h, scales
            )
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        kkt_new = _kkt(w_new, g_new, upper, scales, f_new)
        h, approximate = _keep_curvature(h_new, approx_new, kkt_new, kkt)
        w, f, g, kkt = w_new, f_new, g_new, kkt_new
    return w, f, g, h, max_iter, kkt <= tol


def _keep_curvature(curvature, approximate, kkt_new, kkt_old):
    """An approximate curvature is dropped when its step cut the KKT < 10x."""
    if approximate and kkt_new > 0.1 * kkt_old:
        return None, False
    return curvature, approximate


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
        for start, stop in _row_chunks(n, logits[m].shape[1]):
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
        f, g, _ = _Objective(logits, y, sw, n_threads)(w, order=1)
        g_kept = g.copy()
        g_kept[~informative] = 0.0
        kkt = _kkt(
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
    start_obj = _Objective(
        sub_logits, y[sub], sw[sub], n_threads=n_threads, precise=False
    )
    direction = 1.0 / (n_members * scales)
    w = _scalar_search(start_obj, direction, upper)
    w, *_ = _newton(start_obj, w, upper, scales, 1e-6, max_iter, 1e-4)

    # 2. approach on all rows in float32 (third-order steps)
    fast_obj = _Objective(logits, y, sw, n_threads, precise=False)
    w, _, _, curvature, _, _ = _newton(fast_obj, w, upper, scales, 1e-9, max_iter, 1e-4)

    # 3. float64 Newton iterations to the tolerance (usually one evaluation; a
    #    step, if needed, starts from the float32 phase's curvature)
    objective = _Objective(logits, y, sw, n_threads)
    w, f, g, _, n_iter, converged = _newton(
        objective,
        w,
        upper,
        scales,
        tol,
        max_iter,
        lazy_hessian=True,
        curvature=curvature,
    )
    kkt = _kkt(w, g, upper, scales, f)
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


def _fit_method_weights(logits, y, sample_weight, method):
    """Weights of a named combination method; ``(weights, nll, n_iter, converged)``.

    ``'unweighted'``: each member temperature-scaled alone, then averaged with
    equal weight (the paper's ablation; ``n_iter`` is 0). ``'pooled'``: the
    members' mean logits temperature-scaled (a deep ensemble). Any other method:
    one learned weight per member (:func:`fit_logit_weights`).
    """
    if method == "unweighted":
        weights = np.concatenate(
            [fit_logit_weights([z], y, sample_weight) for z in logits]
        ) / len(logits)
        return weights, nll(logits, y, weights, sample_weight), 0, True
    if method == "pooled":
        m = len(logits)
        pooled = combine_logits(logits, np.full(m, 1.0 / m))
        res = fit_logit_weights([pooled], y, sample_weight, return_result=True)
        weights = np.full(m, float(res.weights[0]) / m)
    else:
        res = fit_logit_weights(logits, y, sample_weight, return_result=True)
        weights = res.weights
    return weights, float(res.nll), int(res.n_iter), bool(res.converged)


def _scalar_search(objective, direction, upper):
    """Best ``t * direction`` on a log-spaced grid of ``t`` (a starting point)."""
    best_w, best_f = None, np.inf
    for t in np.logspace(-2, 2, 5):
        w = np.minimum(objective.snap(t * direction), upper)
        f = objective(w, order=0)[0]
        if f < best_f:
            best_w, best_f = w, f
    return best_w


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
    return _Objective(logits, y, sw)(w, order=0)[0]
