"""Operations on logits: softmax, combination, conversion and value checks.

Pure NumPy on arrays; no estimator code. Member outputs become logits here
(probabilities and log-probabilities are checked and logged, binary scores
``s`` become ``(0, s)``), and combined logits become probabilities. The one
tolerance for "these rows are probabilities" lives here too
(:func:`proba_tolerance`), shared by the estimators, the array API and the
metrics.
"""

import warnings

import numpy as np

__all__ = [
    "as_logits",
    "binary_scores_to_logits",
    "detect_output_kind",
    "check_finite",
    "combine_logits",
    "log_proba_to_logits",
    "log_softmax",
    "proba_to_logits",
    "proba_tolerance",
    "softmax",
]


#: Elements (rows x classes) per block of the row-wise operations: their
#: temporaries stay at one block, never an ``n x K`` array.
_BLOCK_ELEMENTS = 2**18


def _row_blocks(shape):
    """Row slices of at most :data:`_BLOCK_ELEMENTS` elements."""
    n_rows = shape[0]
    step = max(1, _BLOCK_ELEMENTS // max(1, int(np.prod(shape[1:]))))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def _output(z, out):
    if out is None:
        return np.empty(np.shape(z), dtype=np.float64)
    if out.shape != np.shape(z) or out.dtype.kind != "f":
        raise ValueError(
            f"out must be a float array of shape {np.shape(z)}; got {out.dtype} "
            f"{out.shape}."
        )
    return out


def log_softmax(z, *, out=None):
    """Row-wise log-softmax in float64, stable for large logits.

    Computed in row blocks: the only ``n x K`` array is the result. ``out``
    (a float array of ``z``'s shape, ``z`` itself for in-place) receives it.
    """
    z = np.asarray(z)
    out = _output(z, out)
    for rows in _row_blocks(z.shape):
        block = np.array(z[rows], dtype=np.float64)
        block -= block.max(axis=1, keepdims=True)
        block -= np.log(np.exp(block).sum(axis=1, keepdims=True))
        out[rows] = block
    return out


def softmax(z, *, out=None):
    """Row-wise softmax in float64, stable for large logits.

    Computed in row blocks: the only ``n x K`` array is the result. ``out``
    (a float array of ``z``'s shape, ``z`` itself for in-place) receives it.
    """
    z = np.asarray(z)
    out = _output(z, out)
    for rows in _row_blocks(z.shape):
        block = np.array(z[rows], dtype=np.float64)
        block -= block.max(axis=1, keepdims=True)
        np.exp(block, out=block)
        block /= block.sum(axis=1, keepdims=True)
        out[rows] = block
    return out


def combine_logits(logits, weights, *, out=None):
    """Weighted sum ``sum_m weights[m] * logits[m]`` in float64.

    Computed in row blocks (members of weight 0 are never read): the only
    ``n x K`` array is the result, written into ``out`` when given.

    Parameters
    ----------
    logits : sequence of array-like of shape (n_samples, n_classes)
    weights : array-like of shape (n_members,)
    out : ndarray of shape (n_samples, n_classes), default=None
        Float array receiving the result.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64 unless ``out`` is given
    """
    weights = np.asarray(weights, dtype=np.float64)
    arrays = [np.asarray(z) for z in logits]
    out = _output(arrays[0], out)
    parts = [(w, z) for w, z in zip(weights, arrays) if w != 0.0]
    for rows in _row_blocks(out.shape):
        if not parts:
            out[rows] = 0.0
            continue
        block = np.multiply(parts[0][1][rows], parts[0][0], dtype=np.float64)
        for w, z in parts[1:]:
            block += np.multiply(z[rows], w, dtype=np.float64)
        out[rows] = block
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


#: Smallest tolerance of the probability checks (see :func:`proba_tolerance`).
PROBA_MIN_TOL = 1e-5


def proba_tolerance(dtype, n_classes=1):
    """Tolerance of "these rows are probabilities" for a dtype and class count.

    Every entry must lie in ``[-tol, 1 + tol]`` and every row must sum to one
    within ``tol``, where ``tol = max(1e-5, sqrt(eps), 8 * n_classes * eps)``
    and ``eps`` is the machine epsilon of the input's floating dtype (float64
    for other dtypes): ``1e-5`` for float64, ``3.5e-4`` for float32 (``9.5e-4``
    at 1,000 classes) and ``0.031`` for float16. Loose enough for softmax
    outputs computed in that precision (also after a cast to float64), tight
    enough to reject logits or unnormalised scores.

    Parameters
    ----------
    dtype : numpy dtype
        The dtype the probabilities were computed in.
    n_classes : int, default=1
        Number of columns (a row sum accumulates one rounding error each).

    Returns
    -------
    float
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    eps = float(np.finfo(dtype).eps)
    return max(PROBA_MIN_TOL, eps**0.5, 8.0 * n_classes * eps)


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
    tol = proba_tolerance(dtype, proba.shape[1])
    p = proba.astype(np.float64)
    if p.size:
        lo, hi = float(p.min()), float(p.max())
        row_sums = p.sum(axis=1)
        worst = float(np.abs(row_sums - 1.0).max())
        if lo < -tol or hi > 1.0 + tol or worst > tol:
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


#: Rows inspected by :func:`detect_output_kind` (evenly spaced, deterministic).
_DETECT_ROWS = 2048


def detect_output_kind(values):
    """Whether an array of model outputs holds logits, probabilities or log-probs.

    Inspects up to :data:`_DETECT_ROWS` evenly spaced rows (never the whole
    array): ``'proba'`` when every entry is in ``[0, 1]`` and every row sums to
    one (within :func:`proba_tolerance`), ``'log_proba'`` when every entry is
    at most 0 and every row's log-sum-exp is 0 (within ``1e-3``), otherwise
    ``'logits'``. Real logits essentially never pass either test on thousands
    of rows.

    Parameters
    ----------
    values : array-like of shape (n_samples, n_classes)

    Returns
    -------
    {'logits', 'proba', 'log_proba'}
    """
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        return "logits"
    step = max(1, arr.shape[0] // _DETECT_ROWS)
    rows = np.asarray(arr[::step][:_DETECT_ROWS], dtype=np.float64)
    if not np.isfinite(rows[~np.isneginf(rows)]).all():
        return "logits"  # NaN / +inf: the finiteness checks report them
    tol = proba_tolerance(arr.dtype, arr.shape[1])
    if rows.min() >= -tol and rows.max() <= 1.0 + tol:
        if np.abs(rows.sum(axis=1) - 1.0).max() <= tol:
            return "proba"
    if rows.max() <= tol:
        top = rows.max(axis=1, keepdims=True)
        if np.isfinite(top).all():
            lse = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
            if np.abs(lse).max() <= 1e-3:
                return "log_proba"
    return "logits"


def as_logits(values, outputs="auto", what="logits"):
    """Model outputs as logits: probabilities and log-probabilities logged.

    A duo fitted on the logarithm of probabilities equals the duo fitted on the
    logits (softmax ignores per-row shifts), up to the clipping of exact zeros;
    fitted on the probabilities themselves it is simply wrong. So
    probabilities are never used as logits.

    Parameters
    ----------
    values : array-like of shape (n_samples, n_classes)
        Saved model outputs.
    outputs : {'auto', 'logits', 'proba', 'log_proba'}, default='auto'
        What ``values`` hold. ``'auto'`` recognises probabilities and
        log-probabilities (:func:`detect_output_kind`) and converts them with a
        warning that says how to declare them; the other values are taken as
        declared (probabilities and log-probabilities are checked).
    what : str, default='logits'
        Name of the array in messages.

    Returns
    -------
    ndarray
        ``values`` unchanged (not copied) for logits; float64
        log-probabilities otherwise.
    """
    if outputs not in ("auto", "logits", "proba", "log_proba"):
        raise ValueError(
            "outputs must be one of ('auto', 'logits', 'proba', 'log_proba'); "
            f"got {outputs!r}."
        )
    kind = outputs
    if outputs == "auto":
        kind = detect_output_kind(values)
        if kind != "logits":
            name = "probabilities" if kind == "proba" else "log-probabilities"
            warnings.warn(
                f"{what} look like {name} (every inspected row "
                + (
                    "is in [0, 1] and sums to 1"
                    if kind == "proba"
                    else "log-sum-exps to 0"
                )
                + "), not logits: using their logarithm, which gives the same duo "
                "as the logits would. Declare outputs="
                f"{kind!r} to silence this warning, or outputs='logits' if they "
                "really are logits.",
                UserWarning,
                stacklevel=3,
            )
    if kind == "proba":
        return proba_to_logits(values, what)
    if kind == "log_proba":
        return log_proba_to_logits(values, what)
    return values
