"""Operations on logits: softmax, combination and value checks, in row blocks.

Pure NumPy on arrays; no estimator code. Combined logits become probabilities
here, binary scores ``s`` become ``(0, s)``, and the one tolerance for "these
rows are probabilities" lives here (:func:`proba_tolerance`), shared by the
estimators, the array API and the metrics. Every row-wise operation works in
row blocks (:func:`skduo.utils._arrays.row_blocks`), so its temporaries stay
at one block. The conversion of probabilities and log-probabilities to logits
is in :mod:`skduo._outputs._kinds`.
"""

import sys

import numpy as np

from skduo.utils._arrays import row_blocks

__all__ = [
    "binary_scores_to_logits",
    "check_finite",
    "combine_logits",
    "is_dask_array",
    "log_softmax",
    "proba_tolerance",
    "softmax",
]


def is_dask_array(values):
    """Whether ``values`` is a dask array (without importing dask)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(values, da.Array)


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
    for rows in row_blocks(z.shape):
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
    for rows in row_blocks(z.shape):
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
    for rows in row_blocks(out.shape):
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
