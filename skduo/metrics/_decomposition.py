r"""Calibration without bins: the calibration / refinement split of a proper
score, and the smooth ECE.

:func:`calibration_refinement_decomposition` splits the NLL or the Brier score
of a classifier into what an optimal temperature would remove (calibration)
and what no temperature can (refinement), so that a gain can be told apart
from mere recalibration. :func:`smooth_ece` is a calibration error that does
not move with a choice of bins.
"""

import warnings
from collections import namedtuple

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from skduo._fit._modes import fit_learned_weights
from skduo.metrics._base import (
    _as_float_array,
    _check_length,
    _check_proba_inputs,
    _check_sample_weight,
    _check_y_true,
    _resolve_classes,
)
from skduo.metrics._classification import _nll_from_logits
from skduo.metrics._kernel_choice import compiled_kernel, load_compiled
from skduo.utils._arrays import map_blocks, row_blocks
from skduo.utils._sklearn_compat import StrOptions, validate_params

__all__ = [
    "ScoreDecomposition",
    "calibration_refinement_decomposition",
    "smooth_ece",
]

ScoreDecomposition = namedtuple(
    "ScoreDecomposition", ["score", "calibration", "refinement", "temperature"]
)
ScoreDecomposition.__doc__ = """\
A proper score split as ``score = calibration + refinement``.

Attributes
----------
score : float
    The score of the predictions as given.
calibration : float
    The part an optimal temperature removes (>= 0).
refinement : float
    The score after that temperature: what no recalibration removes.
temperature : float
    The optimal temperature on these data (``inf`` when the best is to
    predict the uniform distribution).

Examples
--------
>>> from skduo.metrics import ScoreDecomposition
>>> d = ScoreDecomposition(0.5, 0.1, 0.4, 1.7)
>>> d.calibration + d.refinement == d.score
True
"""


def _logits_input(y_true, y_proba, logits, labels, sample_weight):
    """``(y_enc, log-probabilities or logits, sample_weight)`` from either input."""
    if (y_proba is None) == (logits is None):
        raise ValueError("Pass exactly one of y_proba or logits.")
    if logits is None:
        y_enc, checked, _, sw = _check_proba_inputs(
            y_true, y_proba, labels=labels, sample_weight=sample_weight
        )
        proba = np.asarray(checked.values, dtype=np.float64)
        tiny = float(np.finfo(checked.dtype).tiny)
        return y_enc, np.log(np.maximum(proba, tiny)), sw
    y = _check_y_true(y_true)
    classes, y_enc = _resolve_classes(y, labels)
    z, _ = _as_float_array(logits, "logits", ndim=2)
    _check_length(y.shape[0], z, "logits")
    if z.shape[1] != classes.shape[0]:
        raise ValueError(
            f"logits have {z.shape[1]} columns but there are {classes.shape[0]} "
            "classes; pass labels= with every class."
        )
    return y_enc, z, _check_sample_weight(sample_weight, y.shape[0])


def _mean(values, sw):
    return float(np.mean(values) if sw is None else np.dot(values, sw) / sw.sum())


def _nll(z, y_enc, sw):
    return _mean(_nll_from_logits(z, y_enc), sw)


def _brier_terms(z, y_enc, sw, beta=1.0, order=0):
    """The Brier score of ``softmax(beta * z)`` and its derivatives in ``beta``.

    One pass over ``z`` in row blocks (float64 temporaries of one block, no
    ``n x K`` copy), the terms of :func:`_beta_terms`. Returns ``(score, d1,
    d2)``; the derivatives are 0.0 below ``order``.
    """
    z = np.asarray(z)
    n = z.shape[0]
    terms = [np.empty(n) for _ in range(3)]
    for rows in row_blocks(z.shape):
        zc, zc2, top_col = _centred(np.asarray(z[rows], dtype=np.float64))
        idx = np.arange(zc.shape[0])
        found = _beta_terms(zc, zc2, top_col, y_enc[rows], idx, beta, False, True)
        for target, values in zip(terms, found["brier"]):
            target[rows] = values
    score = _mean(terms[0], sw)
    d1 = _mean(terms[1], sw) if order >= 1 else 0.0
    d2 = _mean(terms[2], sw) if order >= 2 else 0.0
    return score, d1, d2


def _brier(z, y_enc, sw):
    return _brier_terms(z, y_enc, sw)[0]


def _nll_fit(z, y_enc, sw):
    """``(beta, nll)`` of the NLL-optimal inverse temperature on these rows."""
    with warnings.catch_warnings():
        # separable data: the NLL has no finite minimiser; the capped weight
        # gives a refinement part within rounding of its limit
        warnings.simplefilter("ignore")
        fit = fit_learned_weights([z], y_enc, sw)
    beta = float(fit.weights[0])
    return beta, min(float(fit.nll), _nll(beta * z, y_enc, sw))


def _newton_in_bracket(terms, lo, hi, d_lo, tol=1e-10, max_iter=50):
    """A root of the slope in ``log beta`` in ``[lo, hi]`` (``d_lo`` at ``lo``).

    Safeguarded Newton (rtsafe): a Newton step from the second derivative
    when it stays inside the bracket, bisection otherwise; the bracket
    shrinks at every step. ``terms(log_beta)`` gives the score and its first
    two derivatives in ``log beta``. Returns ``(log_beta, score)``.
    """
    x = 0.5 * (lo + hi)
    best = (np.inf, x)
    for _ in range(max_iter):
        value, d1, d2 = terms(x)
        best = min(best, (value, x))
        if d1 == 0.0:
            break
        if (d1 < 0) == (d_lo < 0):
            lo, d_lo = x, d1
        else:
            hi = x
        step = x - d1 / d2 if d2 > 0 else np.nan
        x_new = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(x_new - x) <= tol * max(1.0, abs(x)) or hi - lo <= tol:
            x = x_new
            break
        x = x_new
    value, _, _ = terms(x)
    return min(best, (value, x))[::-1]


def _brier_fit(z, y_enc, sw, beta_nll):
    """``(beta, brier)`` of the Brier-optimal inverse temperature (beta >= 0)."""

    def terms(log_beta, order=2):
        # the score and its derivatives in log beta (chain rule)
        beta = float(np.exp(log_beta))
        value, d1, d2 = _brier_terms(z, y_enc, sw, beta, order)
        return value, beta * d1, beta * d1 + beta * beta * d2

    def brier(log_beta):
        return terms(log_beta, order=0)[0]

    # the Brier score is smooth but not convex in beta: a grid around the
    # NLL-optimal beta (value and slope at each point, one pass each), then
    # the minimum next to the best grid point -- a safeguarded Newton search
    # where the slope changes sign around it, else a bounded search
    centre = np.log(beta_nll) if beta_nll > 0 else 0.0
    grid = centre + np.log(2.0) * np.arange(-5, 6)
    values, slopes = zip(*(terms(g, order=1)[:2] for g in grid))
    i = int(np.argmin(values))
    lo_i, hi_i = max(i - 1, 0), min(i + 1, len(grid) - 1)
    if slopes[i] > 0 and i > 0 and slopes[i - 1] < 0:
        lo_i, hi_i = i - 1, i
    elif slopes[i] < 0 and i < len(grid) - 1 and slopes[i + 1] > 0:
        lo_i, hi_i = i, i + 1
    else:
        lo_i = hi_i = None
    if lo_i is not None:
        x, fun = _newton_in_bracket(terms, grid[lo_i], grid[hi_i], slopes[lo_i])
    else:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        res = minimize_scalar(
            brier, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
        )
        x, fun = res.x, float(res.fun)
    best, beta = min((values[i], np.exp(grid[i])), (float(fun), np.exp(x)))
    uniform = float(1.0 - 1.0 / z.shape[1])  # beta = 0
    if uniform < best:
        return 0.0, uniform
    return float(beta), float(best)


#: Above this many rows, the optimal temperatures are found by Newton passes
#: over all rows from beta = 1 (a few passes instead of the grid's dozen, the
#: Brier minimum checked against a coarse grid on :data:`_CHECK_ROWS` rows);
#: below, the direct search.
_DIRECT_MAX_ROWS = 8192
_CHECK_ROWS = 512

#: The float64 pass accepts its point when the Newton step from it is at most
#: this (in log beta): the minimum of the local quadratic model is then the
#: score's minimum up to (third derivative) * step**3 / 6, ~1e-12 relative.
_STEP_TOL = 2e-4

#: Float32 steering passes stop once their Newton step is below this: one
#: step from there leaves the point within ~C * 1e-2**2 of the optimum.
_ROUGH_TOL = 1e-2


def _centred(zb):
    """A block's logits minus each row's maximum, their squares, the arg-max.

    Softmax and every derivative below are unchanged by the shift; centred
    logits (all <= 0, 0 at the maximum) keep the raw moments of
    :func:`_beta_terms` free of cancellation when logits carry a large
    common offset.
    """
    top_col = np.argmax(zb, axis=1)
    zc = zb - zb[np.arange(zb.shape[0]), top_col][:, None]
    return zc, zc * zc, top_col


def _beta_terms(zc, zc2, top_col, yb, idx, beta, nll, brier):
    """Per-row NLL and Brier terms of ``softmax(beta * z)`` and derivatives.

    ``zc``, ``zc2`` and ``top_col`` are :func:`_centred` of a block (shared
    by the temperatures of a pass). Returns ``{score: (value, d1, d2)}``
    with per-row arrays; the derivatives are in ``beta``. With ``p =
    softmax(beta * z)``, ``m = E_p[z]`` and ``v = Var_p(z)``:

    - NLL: ``beta * (max - z_y) + log1p(sum of the other classes' terms)``
      (as :func:`_nll_from_logits`: tiny losses keep their relative
      precision), derivatives ``m - z_y`` and ``v``;
    - Brier: ``sum_k p_k^2 - 2 p_y + 1``, derivatives ``2 sum_k p_k^2 (z_k -
      m) - 2 p_y (z_y - m)`` and ``2 sum_k p_k^2 (2 (z_k - m)^2 - v) - 2 p_y
      ((z_y - m)^2 - v)``.

    The derivatives come from raw moments of the centred logits; the values
    are computed directly. Works in ``zc``'s dtype (float32 for the steering
    passes) with float64 row results.
    """
    e = zc * zc.dtype.type(beta)
    np.exp(e, out=e)
    e[idx, top_col] = 0.0
    others = e.sum(axis=1, dtype=np.float64)
    e[idx, top_col] = 1.0
    p = e
    p /= (1.0 + others)[:, None].astype(zc.dtype)
    m = np.einsum("ij,ij->i", p, zc).astype(np.float64)
    v = np.einsum("ij,ij->i", p, zc2).astype(np.float64) - m * m
    z_y = zc[idx, yb].astype(np.float64)  # minus the gap to the maximum
    out = {}
    if nll:
        out["nll"] = (np.log1p(others) - beta * z_y, m - z_y, v)
    if brier:
        p_y = p[idx, yb].astype(np.float64)
        dy = z_y - m
        sq = np.einsum("ij,ij->i", p, p).astype(np.float64)
        p *= p  # p^2
        q1 = np.einsum("ij,ij->i", p, zc).astype(np.float64)
        q2 = np.einsum("ij,ij->i", p, zc2).astype(np.float64)
        p2_dev = q1 - m * sq  # sum_k p_k^2 (z_k - m)
        p2_dev2 = q2 - 2.0 * m * q1 + m * m * sq  # sum_k p_k^2 (z_k - m)^2
        d1 = 2.0 * p2_dev - 2.0 * p_y * dy
        d2 = 2.0 * (2.0 * p2_dev2 - v * sq) - 2.0 * p_y * (dy * dy - v)
        out["brier"] = (sq - 2.0 * p_y + 1.0, d1, d2)
    return out


#: With ``SKDUO_FIT_KERNEL=auto`` (the default) and numba installed, the
#: Newton passes over at least this many logits (rows x classes) run the
#: compiled kernel (:mod:`skduo.metrics._compiled`): below, loading numba
#: (~0.5 s once per process) costs more than it saves.
_COMPILED_MIN_ELEMENTS = 2**23

#: Once numba is loaded in this process (the zoo report loads it for its
#: fits), from this many.
_WARM_MIN_ELEMENTS = 2**20


def _import_kernel():
    from skduo.metrics import _compiled

    return _compiled


def _load_compiled(forced):
    """The compiled decomposition kernel's module, or None (see
    :func:`skduo.metrics._kernel_choice.load_compiled`)."""
    return load_compiled(_import_kernel, "decomposition", forced)


def _compiled_kernel(n_elements):
    """The compiled kernel's module for logits ``n_elements``, or None.

    :func:`skduo.metrics._kernel_choice.compiled_kernel` from
    :data:`_COMPILED_MIN_ELEMENTS` (:data:`_WARM_MIN_ELEMENTS` once numba is
    loaded in the process).
    """
    return compiled_kernel(
        _import_kernel,
        "decomposition",
        n_elements,
        _COMPILED_MIN_ELEMENTS,
        _WARM_MIN_ELEMENTS,
    )


def _block_parts(z, rows):
    """``[(weight, rows of a member)]`` whose weighted sum is ``z[rows]``.

    An array is its own one part; a block source with ``parts`` (the zoo
    report's combination of one or two members' logits,
    :class:`skduo.evaluation._fits._Combined`) gives its members' rows, so
    that the compiled kernel forms the combination without a float64 block;
    any other source gives its float64 block.
    """
    if isinstance(z, np.ndarray):
        return [(1.0, z[rows])]
    parts = getattr(z, "parts", None)
    if parts is not None and 1 <= len(parts) <= 2:
        return [(float(w), np.asarray(member[rows])) for w, member in parts]
    return [(1.0, np.asarray(z[rows], dtype=np.float64))]


def _pass_terms(z, y_enc, sw, betas, dtype=np.float64, compiled=None):
    """``{score: (value, d1, d2)}`` in log beta at ``betas[score]``: one pass.

    Row blocks are spread over threads (NumPy and the compiled kernel
    release the GIL); ``dtype`` is the working precision of the blocks.
    ``compiled`` (the module :func:`_compiled_kernel` gives, or None for
    NumPy) computes each block's per-row terms in one read of its rows
    instead of :func:`_centred` and :func:`_beta_terms`.
    """
    n = z.shape[0]
    terms = np.empty((6, n))  # per row: the NLL's value, d1, d2, the Brier's
    per_row = {"nll": terms[0:3], "brier": terms[3:6]}
    same = len(set(betas.values())) == 1

    def numpy_work(rows):
        block = _centred(np.asarray(z[rows], dtype=dtype))
        idx = np.arange(block[0].shape[0])
        yb = y_enc[rows]
        if same:
            beta = next(iter(betas.values()))
            found = _beta_terms(*block, yb, idx, beta, "nll" in betas, "brier" in betas)
        else:
            found = {}
            for score, beta in betas.items():
                found.update(
                    _beta_terms(*block, yb, idx, beta, score == "nll", score == "brier")
                )
        for score in betas:
            for target, values in zip(per_row[score], found[score]):
                target[rows] = values

    def compiled_work(rows):
        precise = np.dtype(dtype) == np.float64
        parts = _block_parts(z, rows)
        compiled.row_terms(parts, y_enc[rows], betas, precise, terms, rows.start)

    map_blocks(numpy_work if compiled is None else compiled_work, row_blocks(z.shape))
    out = {}
    for score, beta in betas.items():
        value, d1, d2 = (_mean(a, sw) for a in per_row[score])
        # chain rule to log beta
        out[score] = (value, beta * d1, beta * d1 + beta * beta * d2)
    return out


def _refine(z, y_enc, sw, starts, compiled=None):
    """Newton steps in log beta over all rows from starting points.

    ``starts`` maps each score to its starting beta (> 0). Float32 passes
    steer until the Newton step is below :data:`_ROUGH_TOL`; float64 passes
    then step until it is below :data:`_STEP_TOL`, and the minimum of the
    last pass's quadratic model is the score's minimum. Both scores share
    each pass. A score whose curvature is not positive where it is
    evaluated, that leaves a factor 32 around its start, or whose value
    rises, gets None (the caller falls back to the direct search). Returns
    ``{score: (beta, value) or None}``. ``compiled``: as :func:`_pass_terms`.
    """
    x = {s: float(np.log(b)) for s, b in starts.items()}
    x0 = dict(x)
    out = {}

    def step_of(score, d1, d2, rough=False):
        if not np.isfinite(d1):
            return None
        if d2 > 0:
            step = -d1 / d2
        elif rough and d1 != 0:
            # not convex in log beta here (far from the minimum): a factor 2
            # downhill, then Newton again
            step = -np.sign(d1) * np.log(2.0)
        else:
            return None
        if abs(x[score] + step - x0[score]) > np.log(32.0):
            return None
        return step

    rough = set(x)
    for _ in range(12):
        if not rough:
            break
        betas = {s: float(np.exp(x[s])) for s in rough}
        found = _pass_terms(z, y_enc, sw, betas, np.float32, compiled)
        for score, (_, d1, d2) in found.items():
            step = step_of(score, d1, d2, rough=True)
            if step is None:
                out[score] = None
                del x[score]
                rough.discard(score)
                continue
            x[score] += float(np.clip(step, -np.log(2.0), np.log(2.0)))
            if abs(step) <= _ROUGH_TOL:
                rough.discard(score)
    last = {}
    for _ in range(10):
        if not x:
            break
        betas = {s: float(np.exp(x[s])) for s in x}
        found = _pass_terms(z, y_enc, sw, betas, np.float64, compiled)
        for score, (value, d1, d2) in found.items():
            step = step_of(score, d1, d2)
            if step is None or (
                score in last and value > last[score] + 1e-12 * abs(last[score])
            ):
                out[score] = None
                del x[score]
                continue
            last[score] = value
            if abs(step) <= _STEP_TOL:
                # the minimum of the quadratic model: value - d1^2 / (2 d2)
                out[score] = (float(np.exp(x[score] + step)), value + 0.5 * d1 * step)
                del x[score]
                continue
            x[score] += float(np.clip(step, -np.log(2.0), np.log(2.0)))
    for score in x:  # not converged in the passes allowed
        out[score] = None
    return out


def _single_basin(z, y_enc, sw, beta, compiled=None):
    """Whether no point of a coarse grid beats the Brier minimum at ``beta``.

    The Brier score is not convex in beta; the grid ``beta * 2**k`` (``k =
    +-2, +-3``) is scored on a strided subsample of :data:`_CHECK_ROWS` rows
    (paired: the same rows at every point). A far point scoring lower than
    ``beta`` there sends the caller to the direct search. The subsample is
    read (and centred) once for the five points; ``compiled``: as
    :func:`_pass_terms`.
    """
    n = z.shape[0]
    idx = np.arange(0, n, max(1, n // _CHECK_ROWS))
    y_sub, sw_sub = y_enc[idx], None if sw is None else sw[idx]
    if compiled is not None:
        parts = _block_parts(z, idx)
        terms = np.empty((6, idx.shape[0]))

        def brier(b):
            compiled.row_terms(parts, y_sub, {"brier": b}, True, terms, 0)
            return _mean(terms[3], sw_sub)

    else:
        block = _centred(np.asarray(z[idx], dtype=np.float64))
        rows = np.arange(idx.shape[0])

        def brier(b):
            found = _beta_terms(*block, y_sub, rows, b, False, True)
            return _mean(found["brier"][0], sw_sub)

    at = brier(beta)
    far = [brier(beta * 2.0**k) for k in (-3, -2, 2, 3)]
    return min(far) >= at


def _located(z, y_enc, sw, scores, compiled=None):
    """Optimal betas and scores by Newton passes over all rows from beta = 1.

    Returns ``{score: (beta, value)}`` for the scores it could settle, and
    nothing for the others (left to the direct search). ``compiled``: as
    :func:`_pass_terms`.
    """
    found = _refine(z, y_enc, sw, dict.fromkeys(scores, 1.0), compiled)
    brier = found.get("brier")
    if brier is not None and not _single_basin(z, y_enc, sw, brier[0], compiled):
        found["brier"] = None
    return {s: r for s, r in found.items() if r is not None}


def _decompose(y_enc, z, sw, scores=("nll", "brier"), totals=None):
    """Both decompositions of validated inputs, sharing the NLL fit.

    ``z`` is an array or any object with ``shape`` and row indexing (slices
    and index arrays) that gives logits blocks: it is read in row blocks.
    ``totals`` (``{score: value}`` of ``z`` as given), when the caller has
    them, saves a pass. Above :data:`_DIRECT_MAX_ROWS` rows, the passes run
    the compiled kernel where :func:`_compiled_kernel` gives it.
    """
    located = {}
    compiled = None
    if z.shape[0] > _DIRECT_MAX_ROWS:
        compiled = _compiled_kernel(z.shape[0] * z.shape[1])
        located = _located(z, y_enc, sw, scores, compiled)
    if set(scores) <= set(located):
        out = {}
        if totals is None:
            totals = {
                score: terms[0]
                for score, terms in _pass_terms(
                    z, y_enc, sw, dict.fromkeys(scores, 1.0), np.float64, compiled
                ).items()
            }
        for score in scores:
            total = totals[score]
            beta, ref = located[score]
            if score == "brier":
                uniform = float(1.0 - 1.0 / z.shape[1])  # beta = 0
                if uniform < ref:
                    beta, ref = 0.0, uniform
            out[score] = _split(total, beta, ref)
        return out
    if not isinstance(z, np.ndarray):
        z = np.asarray(z[:], dtype=np.float64)
    beta_nll, nll_ref = _nll_fit(z, y_enc, sw)
    out = {}
    for score in scores:
        if score == "nll":
            total, beta, ref = _nll(z, y_enc, sw), beta_nll, nll_ref
        else:
            total = _brier(z, y_enc, sw)
            beta, ref = _brier_fit(z, y_enc, sw, beta_nll)
        out[score] = _split(total, beta, ref)
    return out


def _split(total, beta, ref):
    """The decomposition of ``total`` by the optimum ``(beta, ref)``."""
    ref = min(ref, total)  # beta = 1 is a candidate
    return ScoreDecomposition(
        score=float(total),
        calibration=float(total - ref),
        refinement=float(ref),
        temperature=float(np.inf if beta == 0 else 1.0 / beta),
    )


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like", None],
        "logits": ["array-like", None],
        "score": [StrOptions({"nll", "brier"})],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def calibration_refinement_decomposition(
    y_true, y_proba=None, *, logits=None, score="nll", labels=None, sample_weight=None
):
    r"""Split a proper score into a calibration part and a refinement part.

    The refinement part is the score after the best temperature for these very
    rows (so it cannot be improved by any temperature); the calibration part
    is the rest. For two models, a lower refinement part means predictions
    that separate the classes better -- information a recalibration of the
    other model cannot supply -- while a lower calibration part alone means
    only better-tuned confidence.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes), default=None
        Predicted probabilities (their logarithms are used as logits).

    logits : array-like of shape (n_samples, n_classes), default=None
        Logits; pass exactly one of ``y_proba`` and ``logits``.

    score : {'nll', 'brier'}, default='nll'
        The proper score: negative log-likelihood or the multi-class Brier
        score (summed over classes, as :func:`multiclass_brier_score`).

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    ScoreDecomposition
        ``score``, ``calibration``, ``refinement`` and the optimal
        ``temperature``; ``score == calibration + refinement``.

    See Also
    --------
    nll_loss, multiclass_brier_score : The two scores.
    smooth_ece : A binning-free calibration error.

    Notes
    -----
    With logits :math:`z_i` and a proper score :math:`S`,

    .. math::

        \mathrm{REF} = \min_{\beta \ge 0} \frac{1}{W} \sum_i w_i\,
        S\bigl(\mathrm{softmax}(\beta z_i), y_i\bigr), \qquad
        \mathrm{CAL} = S(z) - \mathrm{REF} \ge 0,

    the decomposition of a proper score into calibration and refinement
    (DeGroot & Fienberg 1983) estimated with temperature scaling as the
    recalibration map, as in Berta et al. (2025) and their ``probmetrics``
    package. For the NLL the minimiser is the exact convex fit of
    :func:`skduo.fit_temperature` (on these rows); for the Brier score it is
    searched in :math:`\log\beta` (that score is not convex in
    :math:`\beta`), starting from the NLL's optimum. ``temperature`` is
    :math:`1/\beta`. Both parts depend on the rows they are computed on; a
    temperature fitted on other rows (a validation split) gives a score at or
    above ``refinement``.

    When the rows are separable (every row's largest logit is its label),
    the NLL's refinement part is the limit 0, reached only as the temperature
    goes to 0; the value returned is that of the largest weight the fit
    allows.

    References
    ----------
    .. [1] DeGroot & Fienberg, "The Comparison and Evaluation of
       Forecasters", The Statistician 32, 1983.
    .. [2] Berta, Holzmüller, Jordan & Bach, "Rethinking Early Stopping:
       Refine, Then Calibrate", arXiv:2501.19195, 2025.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.metrics import calibration_refinement_decomposition
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 1000)
    >>> z = 2 * (rng.normal(size=(1000, 3)) + 2.0 * np.eye(3)[y])
    >>> fair = calibration_refinement_decomposition(y, logits=z)
    >>> hot = calibration_refinement_decomposition(y, logits=3 * z)
    >>> round(fair.temperature, 2), round(hot.temperature, 2)
    (1.02, 3.07)
    >>> round(fair.calibration, 4), round(hot.calibration, 4)  # hot: overconfident
    (0.0001, 0.2605)
    >>> round(hot.refinement, 4) == round(fair.refinement, 4)  # the same ranking
    True
    """
    y_enc, z, sw = _logits_input(y_true, y_proba, logits, labels, sample_weight)
    return _decompose(y_enc, z, sw, (score,))[score]


# --------------------------------------------------------------------------
# Smooth ECE (Blasiok & Nakkiran)
# --------------------------------------------------------------------------
def _grid_masses(f, r, w, n_points):
    """Linear binning of the weighted residuals ``w * r`` at ``f`` on a grid."""
    pos = np.clip(f, 0.0, 1.0) * (n_points - 1)
    left = np.minimum(pos.astype(np.intp), n_points - 2)
    frac = pos - left
    mass = np.bincount(left, weights=w * r * (1.0 - frac), minlength=n_points)
    mass += np.bincount(left + 1, weights=w * r * frac, minlength=n_points)
    return mass


def _even_extension(mass):
    """The masses and their mirror images on the period-2 grid.

    A mass at ``t_l`` has its mirror image at ``2 - t_l`` (and ``-t_l``);
    the kernel at ``f`` is ``phi(t - f) + phi(t + f)`` summed over periods.
    At the end points the image falls on the point itself, so the masses at
    0 and 1 count twice -- ``K(t, 1) = 2 sum_k phi(t - 1 - 2k)`` -- while the
    interior points appear once on each side.
    """
    ext = np.concatenate([mass, mass[-2:0:-1]])
    ext[0] *= 2.0
    ext[mass.shape[0] - 1] *= 2.0
    return ext


def _smoothed_at(spectrum, n_points, sigma):
    """``int_0^1 |sum_l mass_l K(t, t_l)| dt`` with the reflected Gaussian ``K``.

    ``spectrum`` is the real FFT of the masses' even extension (period 2,
    :func:`_even_extension`): reflection at 0 and 1 makes the kernel the
    period-2 sum of Gaussians, whose Fourier coefficients are
    ``exp(-(pi sigma m)^2 / 2)`` (the grid is at least 20 points per sigma,
    so sampling aliases nothing).
    """
    h = 1.0 / (n_points - 1)
    m = np.arange(spectrum.shape[0])
    kernel = np.exp(-0.5 * (np.pi * sigma * m) ** 2) / h
    smooth = np.fft.irfft(spectrum * kernel, n=2 * (n_points - 1))
    values = np.abs(smooth[:n_points])
    return float(h * (values.sum() - 0.5 * (values[0] + values[-1])))


def _smooth_ece(conf, residual, w):
    """smECE and its width from top-label confidences and residuals (w sums to 1)."""
    spectra = {}

    def at(sigma):
        n_points = 2001  # refined 4x while the grid step exceeds sigma / 20
        while n_points - 1 < 20.0 / sigma:
            n_points = 4 * (n_points - 1) + 1
        if n_points not in spectra:
            mass = _grid_masses(conf, residual, w, n_points)
            spectra[n_points] = np.fft.rfft(_even_extension(mass))
        return _smoothed_at(spectra[n_points], n_points, sigma)

    lo, hi = 1e-3, 1.0
    if at(lo) <= lo:
        sigma = lo
    elif at(hi) >= hi:
        sigma = hi
    else:  # smECE_sigma - sigma decreases: one root, found by Brent's method
        sigma = brentq(lambda s: at(s) - s, lo, hi, xtol=1e-9, rtol=1e-7)
    return at(sigma), sigma


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
        "return_sigma": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def smooth_ece(y_true, y_proba, *, labels=None, sample_weight=None, return_sigma=False):
    r"""Smooth expected calibration error (smECE) of the top-label confidence.

    A calibration error without bins: the residuals ``correct - confidence``
    are smoothed with a Gaussian kernel reflected at 0 and 1, and the kernel
    width is the data's own fixed point (Błasiok & Nakkiran 2023). Unlike the
    binned :func:`expected_calibration_error`, it does not jump when a
    confidence crosses a bin edge, and it is a consistent estimator of the
    distance to calibration.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``).

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    return_sigma : bool, default=False
        Also return the kernel width :math:`\sigma^*`.

    Returns
    -------
    smece : float
        In :math:`[0, 1]`; lower is better.
    sigma : float
        Only with ``return_sigma``: the fixed-point width :math:`\sigma^*`.

    See Also
    --------
    expected_calibration_error : The binned ECE.

    Notes
    -----
    With top-label confidences :math:`f_i = \max_k p_{ik}`, residuals
    :math:`r_i = \mathbb{1}[\arg\max_k p_{ik} = y_i] - f_i` and the reflected
    Gaussian kernel
    :math:`\tilde K_\sigma(t, f) = \sum_{k \in \mathbb{Z}} \phi_\sigma(t - f
    - 2k) + \phi_\sigma(t + f - 2k)`,

    .. math::

        \mathrm{smECE}_\sigma = \int_0^1 \Bigl| \frac{1}{W} \sum_i w_i\,
        \tilde K_\sigma(t, f_i)\, r_i \Bigr|\, dt, \qquad
        \mathrm{smECE} = \mathrm{smECE}_{\sigma^*} \text{ with }
        \mathrm{smECE}_{\sigma^*} = \sigma^* .

    :math:`\mathrm{smECE}_\sigma` decreases in :math:`\sigma`, so the fixed
    point is the one root of :math:`\mathrm{smECE}_\sigma - \sigma` on
    :math:`[10^{-3}, 1]` (Brent's method) (below
    :math:`10^{-3}`, the value at :math:`10^{-3}` is returned, as in the
    authors' ``relplot``). The integral is computed on a grid of at least
    :math:`20/\sigma` points (the residuals are linearly binned onto it and
    convolved with the kernel by FFT); the value agrees with a direct
    quadrature of the formula to about :math:`10^{-5}`. A constant
    confidence :math:`c` with accuracy :math:`a` gives :math:`|c - a|`,
    like the ECE.

    References
    ----------
    .. [1] Błasiok & Nakkiran, "Smooth ECE: Principled Reliability Diagrams
       via Kernel Smoothing", ICLR 2024 (arXiv:2309.12236, 2023).

    Examples
    --------
    >>> from skduo.metrics import smooth_ece
    >>> y_true = [0, 0, 0, 1]
    >>> y_proba = [[0.9, 0.1]] * 4  # confidence 0.9, accuracy 0.75
    >>> round(smooth_ece(y_true, y_proba), 4)
    0.15
    """
    y_enc, checked, _, sw = _check_proba_inputs(
        y_true, y_proba, labels=labels, sample_weight=sample_weight, top=True
    )
    pred, conf = checked.pred, checked.top
    w = np.ones(conf.shape[0]) if sw is None else sw
    value, sigma = _smooth_ece(conf, (pred == y_enc) - conf, w / w.sum())
    return (value, sigma) if return_sigma else value
