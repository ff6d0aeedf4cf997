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
   takes further Newton steps, from the float32 curvature, if it is not met).

The logits are read only by these passes: there is no separate finiteness
scan. Non-finite logits make every evaluation non-finite (the gradient
multiplies every logit by a probability, and ``0 * inf`` is NaN), so the first
evaluation that is not finite triggers one counting pass and the error. Logits
may be NumPy arrays of any numeric dtype, memory maps (read in row chunks,
never copied whole) or dask arrays (the passes then run on the dask workers,
see :mod:`skduo._dask`; dask is imported only for them).

Degenerate cases are detected, never fitted silently: members whose rows are
constant up to rounding get weight 0 (with a warning), members of extreme
scale (spread beyond ``2**+-20``) are normalised by an exact power of two, and
separation -- a direction of the weights along which the NLL decreases without
bound, every sample (separation) or every sample but ties (quasi-separation)
ranked correctly -- raises a :class:`SeparationWarning`.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skduo._newton import kkt_residual, newton, scalar_search
from skduo._objective import Objective, row_chunks, scan_rows

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
#: point; at least 256 rows, at least 1/32 of the data (a better start saves a
#: data pass), at most :data:`_SUBSAMPLE_MAX_ELEMENTS` (memory of the caller).
_SUBSAMPLE_ELEMENTS = 2**18
_SUBSAMPLE_MAX_ELEMENTS = 2**25

#: Upper bound of each weight in units of ``1 / scale(z_m)``; only reached when the
#: members separate the validation set (no finite optimum).
_WEIGHT_CAP = 1e4

#: A row whose spread (max - min) is at most this many units in the last place
#: of its largest magnitude is constant up to rounding.
_DEGENERATE_ULPS = 64

#: Members whose spread is outside ``2**+-_NORMAL_EXPONENT`` are normalised.
_NORMAL_EXPONENT = 20

#: Normalised curvature below which a member's direction is tested for a
#: recession direction (quasi-separation).
_FLAT_CURVATURE = 1e-6


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
    """

    weights: np.ndarray
    nll: float
    gradient: np.ndarray
    kkt_residual: float
    n_iter: int
    converged: bool
    separable: bool
    n_passes: int = 0


# --------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------


def _is_dask(z):
    return type(z).__module__.split(".")[0] == "dask"


class _MeanLogits:
    """Rows of the members' mean logits, computed on demand (never ``n x K``).

    ``view[rows]`` is ``sum_m logits[m][rows] / M`` in float64, the same
    numbers as ``combine_logits(logits, 1 / M)``.
    """

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, logits, names):
        self.members = logits
        self.names = names
        self.shape = logits[0].shape
        self._weight = 1.0 / len(logits)

    def __getitem__(self, rows):
        out = np.multiply(self.members[0][rows], self._weight, dtype=np.float64)
        for z in self.members[1:]:
            out += np.multiply(z[rows], self._weight, dtype=np.float64)
        return out


class _Members:
    """In-memory members (arrays, memory maps or mean views): the fit's data.

    Everything the fit reads from the logits goes through :meth:`take` (rows of
    the subsample), :meth:`objective` (data passes) and :meth:`scan` (other
    chunk kernels); :class:`skduo._dask.DaskMembers` is the same for dask.
    """

    def __init__(self, logits, names):
        self.logits = logits
        self.names = names
        self.shape = logits[0].shape
        self.n_passes = 0

    def subset(self, keep):
        return type(self)([self.logits[m] for m in keep], [self.names[m] for m in keep])

    def take(self, rows):
        return [np.asarray(z[rows]) for z in self.logits]

    def objective(self, y, sw, precise, factors, n_threads):
        return Objective(self.logits, y, sw, n_threads, precise, factors)

    def scan(self, kernel, y, sw, *args):
        self.n_passes += 1
        return scan_rows(kernel, self.logits, y, sw, *args)

    def sources(self):
        """(name, array) of every stored array, for the non-finite counts."""
        for name, z in zip(self.names, self.logits):
            if isinstance(z, _MeanLogits):
                yield from zip(z.names, z.members)
            else:
                yield name, z

    def count_non_finite(self, z):
        n_nan = n_inf = 0
        for start, stop in row_chunks(*z.shape):
            block = np.asarray(z[start:stop])
            if block.dtype.kind == "f":
                n_nan += int(np.isnan(block).sum())
                n_inf += int(np.isinf(block).sum())
        return n_nan, n_inf


def _members(logits, names):
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        logits = [logits]
    logits = list(logits)
    if not logits:
        raise ValueError("At least one member's logits are required.")
    if names is None:
        names = [f"Logits of member {m}" for m in range(len(logits))]
    names = [str(name) for name in names]
    if len(names) != len(logits):
        raise ValueError(f"names has {len(names)} entries for {len(logits)} members.")
    dask = [_is_dask(z) for z in logits]
    logits = [
        z if d or isinstance(z, (np.ndarray, _MeanLogits)) else np.asarray(z)
        for z, d in zip(logits, dask)
    ]
    for name, z in zip(names, logits):
        if z.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_classes); got shape {z.shape}."
            )
        if np.dtype(z.dtype).kind not in "fiu":
            raise TypeError(f"{name} must be numeric; got dtype {z.dtype}.")
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1:
        raise ValueError(
            f"All members' logits must have the same shape; got {sorted(shapes)}."
        )
    if any(dask):
        from skduo._dask import DaskMembers  # dask only for dask input

        return DaskMembers(logits, names)
    return _Members(logits, names)


def _as_numpy(values):
    if _is_dask(values):
        return np.asarray(values.compute())
    return np.asarray(values)


def _validate_inputs(logits, y, sample_weight, names=None):
    data = _members(logits, names)
    n, k = data.shape
    if n == 0:
        raise ValueError("Cannot fit weights on 0 samples.")
    if k < 2:
        raise ValueError(f"At least 2 classes are needed; got {k}.")
    y = _as_numpy(y)
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
        sw = np.asarray(_as_numpy(sample_weight), dtype=np.float64)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},); got {sw.shape}.")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to 0: at least one positive weight.")
    return data, y, sw


def _raise_non_finite(data):
    """One counting pass over the members; raises the error for the first bad one."""
    for name, z in data.sources():
        n_nan, n_inf = data.count_non_finite(z)
        if n_nan or n_inf:
            raise ValueError(
                f"{name} contains {n_nan} NaN and {n_inf} infinite value(s); member "
                "outputs must be finite."
            )
    raise ValueError(
        "The weight fit overflowed although every logit is finite: within a member, "
        "logits differ by more than ~1e38 times the member's spread (float32 range). "
        "Such logits cannot be fitted; rescale or clip the outliers."
    )


class _Checked:
    """An objective whose every evaluation is checked for finiteness.

    Finite logits give finite values (the kernels shift and clip), so a value
    that is not finite means non-finite logits: counted once, then raised.
    """

    def __init__(self, objective, data):
        self.objective = objective
        self.data = data
        self.precise = objective.precise
        self.resolution = objective.resolution
        self.max_order = objective.max_order
        self.snap = objective.snap

    @property
    def n_evaluations(self):
        return self.objective.n_evaluations

    def __call__(self, weights, order=None):
        out = self.objective(weights, order)
        values = [out[0], out[1]]
        values += list(out[2]) if isinstance(out[2], tuple) else [out[2]]
        if not all(np.isfinite(v).all() for v in values if v is not None):
            _raise_non_finite(self.data)
        return out


# --------------------------------------------------------------------------------
# member spreads: scales, degenerate members, normalisation
# --------------------------------------------------------------------------------


def _spread_terms(logits, y, sw, start, stop, m, eps, pre):
    """(informative rows, their summed squared spreads, non-finite rows).

    A row is informative unless its spread (max - min) is at most
    :data:`_DEGENERATE_ULPS` units in the last place of its largest magnitude.
    The logits are multiplied by ``pre`` (a power of two: exactly) so that
    their squares neither overflow nor underflow.
    """
    # float32 logits stay float32 (the spread is a normalisation: 1e-6 is
    # plenty; max, min and their difference of nearby values are exact)
    single = logits[m].dtype == np.float32 and 2.0**-120 <= pre <= 2.0**120
    dtype = np.dtype(np.float32 if single else np.float64)
    block = np.multiply(logits[m][start:stop], dtype.type(pre), dtype=dtype)
    ptp = (block.max(axis=1) - block.min(axis=1)).astype(np.float64)
    bad = ~np.isfinite(ptp)
    informative = ptp > _DEGENERATE_ULPS * eps * np.abs(block).max(axis=1)
    block -= block.mean(axis=1, keepdims=True)
    np.square(block, out=block)
    spread2 = block.mean(axis=1, dtype=np.float64)
    return [informative.sum(), spread2[informative].sum(), bad.sum()]


def _member_scales(data, sub_logits, y, sw):
    """Spread of each member (0 for a degenerate one), one pass only if needed.

    The spread is the RMS of the row-centred logits of the subsample; a member
    whose subsample rows are all constant up to rounding is scanned whole (its
    spread is then that of its informative rows, 0 if there are none).
    """
    scales = np.zeros(len(sub_logits))
    for m, zs in enumerate(sub_logits):
        kind = np.dtype(zs.dtype)
        eps = float(np.finfo(kind).eps) if kind.kind == "f" else 0.0
        top = float(np.abs(zs).max()) if zs.size else 0.0
        pre = np.ldexp(1.0, -int(np.frexp(top)[1])) if top > 0 else 1.0
        n_info, total, _ = scan_rows(_spread_terms, [zs], y, sw, 0, eps, pre)
        if n_info > 0:
            scales[m] = np.sqrt(total / len(zs)) / pre
            continue
        n_info, total, n_bad = data.scan(_spread_terms, y, sw, m, eps, pre)
        if n_bad:
            _raise_non_finite(data)
        scales[m] = np.sqrt(total / n_info) / pre if n_info else 0.0
    return scales


def _normalisation(scales):
    """Powers of two bringing extreme spreads near 1 (1 for usual members)."""
    exponents = np.round(np.log2(scales)).astype(int)
    exponents[np.abs(exponents) <= _NORMAL_EXPONENT] = 0
    factors = np.ldexp(1.0, -exponents)
    return (factors if exponents.any() else None), scales * factors


# --------------------------------------------------------------------------------
# separation
# --------------------------------------------------------------------------------


def _recession_terms(logits, y, sw, start, stop, direction, factors):
    """(rows ranking the label below another class, rows ranking it strictly first).

    Along ``direction`` (combined logits ``b = sum_m d_m f_m z_m``) a row's loss
    grows without bound if its label is not a (weak) maximum of ``b``, and
    decreases strictly if it is the maximum and some class is below it. Rows of
    zero weight are ignored. Ties are exact for one member, and within a few
    rounding units of the summands for a mixture.
    """
    rows = np.arange(stop - start)
    yc, swc = y[start:stop], sw[start:stop]
    b = bound = None
    for d, z, f in zip(direction, logits, factors):
        if d == 0.0:
            continue
        block = np.asarray(z[start:stop], dtype=np.float64) * (d * f)
        b = block if b is None else b + block
        mag = np.abs(block).max(axis=1)
        bound = mag if bound is None else bound + mag
    label = b[rows, yc]
    top = b.max(axis=1)
    slack = 0.0 if np.count_nonzero(direction) == 1 else 8 * np.finfo(float).eps * bound
    positive = swc > 0
    below = positive & (label < top - slack)
    strict = positive & ~below & (b.min(axis=1) < label - slack)
    return [below.sum(), strict.sum()]


def _recession_direction(data, y, sw, u, curvature, scales, factors):
    """A direction along which the NLL decreases without bound, or None.

    Only tried along flat directions of the (normalised) curvature: each
    member whose own curvature is flat, and the flattest eigenvector when it
    is non-negative. Returns ``(direction, fraction of rows strictly ranked)``.
    """
    if curvature is None:
        return None
    hess = curvature[0] if isinstance(curvature, tuple) else curvature
    hess_n = hess / np.outer(scales, scales)
    candidates = [
        np.eye(len(u))[m] for m in np.flatnonzero(np.diag(hess_n) < _FLAT_CURVATURE)
    ]
    evals, evecs = np.linalg.eigh(hess_n)
    v = evecs[:, 0] * np.sign(evecs[:, 0].sum() or 1.0)
    v[np.abs(v) < 1e-3 * np.abs(v).max()] = 0.0
    if evals[0] < _FLAT_CURVATURE and (v >= 0).all() and np.count_nonzero(v) > 1:
        candidates.append(v / scales)
    f = np.ones(len(u)) if factors is None else factors
    n_positive = np.count_nonzero(sw)
    for d in candidates:
        below, strict = data.scan(_recession_terms, y, sw, d, f)
        if below == 0 and strict > 0:
            return d, strict / n_positive
    return None


def _separation_message(quasi, names, direction, fraction):
    if not quasi:
        what = (
            "The members separate the validation data (every sample is classified "
            "correctly with a margin): the NLL keeps decreasing as the weights grow"
        )
    else:
        used = [names[m] for m in np.flatnonzero(direction)]
        along = used[0] if len(used) == 1 else " + ".join(used)
        what = (
            "The members quasi-separate the validation data: along the weight of "
            f"{along}, every sample's true class is ranked first (strictly on "
            f"{fraction:.1%} of the samples, tied on the rest), so the NLL keeps "
            f"decreasing as {'that weight grows' if len(used) == 1 else 'they grow'}"
        )
    return (
        f"{what}, and it has no finite minimiser. The weights returned are where "
        "the NLL's gradient fell below the tolerance (at most "
        f"{_WEIGHT_CAP:g} / spread of each member's logits) and the predictions "
        "will be over-confident; use a larger or harder validation set (never the "
        "members' training data)."
    )


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


def _start(logits, y, sw, scales, upper, factors, n_threads, max_iter=100):
    """Starting weights fitted on the subsample.

    Equal normalised weights scaled by a 1-D grid search, then float32 Newton
    iterations; on large subsamples first on every 8th of its rows (eight times
    cheaper per iteration), so that the whole subsample only sees the last one
    or two iterations. Returns ``(u, iterations, fourth derivatives or None)``.
    """
    stages = [(logits, y, sw)]
    if len(y) >= _START_STAGE_ROWS:
        stages.insert(0, ([z[::8] for z in logits], y[::8], sw[::8]))
    u, n_iter = None, 0
    for stage_logits, stage_y, stage_sw in stages:
        obj = Objective(stage_logits, stage_y, stage_sw, n_threads, False, factors)
        if u is None:
            u = scalar_search(obj, 1.0 / (len(logits) * scales), upper)
        # steps below 1e-3 are far below the subsample's statistical error
        u, _, _, _, it, _ = newton(obj, u, upper, scales, 1e-6, max_iter, 1e-3)
        n_iter += it
    # the subsample's fourth derivatives (a few % off the full data's) refine
    # the full-data third-order steps by one order
    fourth = obj(u, order=4)[2][2] if obj.max_order == 3 else None
    return u, n_iter, fourth


def _fit(data, y, sw, tol, max_iter, n_threads, compare_singles=True):
    """The fit; returns ``(WeightFitResult, [(message, category), ...])``."""
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
        return _fit_without(data, y, sw, informative, tol, max_iter, n_threads, notes)

    factors, scales = _normalisation(scales)
    upper = _WEIGHT_CAP / scales

    # 1. starting point on a small deterministic subsample
    u, it_start, fourth = _start(
        sub_logits, y[sub], sw[sub], scales, upper, factors, n_threads, max_iter
    )

    # 2. approach on all rows in float32 (third-order steps)
    fast = _Checked(data.objective(y, sw, False, factors, n_threads), data)
    u, _, _, curvature, it_fast, _ = newton(
        fast, u, upper, scales, 1e-9, max_iter, 1e-4, fourth=fourth
    )

    # 3. float64 Newton iterations to the tolerance (usually one evaluation; a
    #    step, if needed, starts from the float32 phase's curvature)
    precise = _Checked(data.objective(y, sw, True, factors, n_threads), data)
    u, f, g, last, it_precise, converged = newton(
        precise, u, upper, scales, tol, max_iter, lazy_hessian=True, curvature=curvature
    )
    curvature = curvature if last is None else last
    n_iter = it_start + it_fast + it_precise
    kkt = kkt_residual(u, g, upper, scales, f)
    capped = bool(np.any((u >= upper) & (g < 0)))
    # Every weighted sample has a loss below log 2 (so p_y > 1/2: correctly
    # classified with a positive margin) iff f * sum(s) < log(2) * min(s); then
    # scaling the weights up drives the NLL to 0: there is no finite minimiser.
    separated = f * sw.sum() < np.log(2.0) * sw[sw > 0].min()
    recession = None
    if not separated:
        recession = _recession_direction(data, y, sw, u, curvature, scales, factors)
    separable = bool(capped or separated or recession is not None)
    w = u if factors is None else u * factors
    g = g if factors is None else g / factors
    result = WeightFitResult(
        w,
        f,
        g,
        kkt,
        n_iter,
        bool(converged or capped),
        separable,
        fast.n_evaluations + precise.n_evaluations + data.n_passes,
    )
    if separable:
        quasi = recession is not None and not capped
        notes.append(
            (
                _separation_message(quasi, data.names, *(recession or (None, None))),
                SeparationWarning,
            )
        )
        if compare_singles and n_members > 1:
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


def _fit_without(data, y, sw, informative, tol, max_iter, n_threads, notes):
    """Weight 0 for the degenerate members, the others fitted."""
    n_members = len(informative)
    keep = np.flatnonzero(informative)
    w = np.zeros(n_members)
    sub, n_iter, converged, separable = None, 0, True, False
    if len(keep):
        sub, sub_notes = _fit(data.subset(keep), y, sw, tol, max_iter, n_threads)
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
    result = WeightFitResult(w, f, g, kkt, n_iter, converged, separable, passes)
    return result, notes


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
):
    """Non-negative weights minimising the NLL of ``sum_m w_m * logits[m]``.

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
        For a member whose rows are constant up to rounding (weight 0).

    Notes
    -----
    The NLL of a certified fit is that of the exact optimum up to
    ``O(tol**2)``: in particular never above that of any member alone (its
    weights are feasible) by more than rounding, ~1e-13 relative. On
    separable data that comparison is made explicitly.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._weight_fit import fit_logit_weights
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> z = rng.normal(size=(500, 3)) + 2 * np.eye(3)[y]
    >>> res = fit_logit_weights([z, rng.normal(size=(500, 3))], y, return_result=True)
    >>> bool(res.converged), bool(res.weights[1] < 0.1 * res.weights[0])
    (True, True)
    """
    data, y, sw = _validate_inputs(logits, y, sample_weight, names)
    result, notes = _fit(data, y, sw, tol, max_iter, n_threads)
    for message, category in notes:
        warnings.warn(message, category, stacklevel=2)
    return result if return_result else result.weights


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


# --------------------------------------------------------------------------------
# One fit per way of combining members; each returns a WeightFitResult
# --------------------------------------------------------------------------------


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
