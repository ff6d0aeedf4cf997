"""Input validation shared by the metrics in :mod:`skduo.metrics`.

Every public metric funnels its inputs through the helpers below so that all
of them accept the same things and fail with the same messages:

* ``y_true`` is a 1-D array of labels (ints, strings, ...), never empty.
* ``y_proba`` is an ``(n_samples, n_classes)`` array of probabilities whose
  columns follow ``labels`` when given, else the sorted unique labels of
  ``y_true``. For two classes a 1-D array (or one column) is read as the
  probability of the second class, as in :func:`sklearn.metrics.log_loss`.
* ``sample_weight`` is a 1-D array of finite, non-negative weights with a
  positive sum.

Probability rows are checked with the tolerance of
:func:`skduo._outputs._logit_ops.proba_tolerance` (the one the estimators use too):
every entry must lie in ``[-tol, 1 + tol]`` and every row must sum to one
within ``tol``. The check runs in row blocks of about 1 MiB, in the dtype of
the input with float64 row sums, and never copies a floating ``y_proba``: a
float32 ``(100,000, 1,000)`` input costs a few per-row arrays of extra memory,
not a float64 copy. The same pass finds each row's arg-max and maximum, which
the top-label metrics reuse.
"""

import numbers
import os
from typing import NamedTuple

import numpy as np

from skduo._outputs._logit_ops import proba_tolerance
from skduo.utils._arrays import map_blocks, row_blocks

__all__ = []  # private module

#: Probability arrays of at least this many elements are validated by
#: :data:`_N_THREADS` threads, block by block (the results do not depend on it).
_THREADED_ELEMENTS = 2**22
_N_THREADS = min(4, os.cpu_count() or 1)


def _as_float_array(x, name, *, ndim=None, check_finite=True):
    """Convert ``x`` to a float64 array, refusing complex, object or bool junk.

    Returns the float64 array and the original floating dtype (float64 when
    the input was not floating), which callers use for dtype-aware tolerances.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must contain numbers; got {exc}.") from exc
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued; got a complex array.")
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise ValueError(f"{name} must contain numbers; got dtype {arr.dtype}.")
    orig_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else None
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim not in np.atleast_1d(ndim):
        raise ValueError(
            f"{name} must be {' or '.join(f'{d}-D' for d in np.atleast_1d(ndim))}; "
            f"got an array of shape {arr.shape}."
        )
    if check_finite and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr, (orig_dtype if orig_dtype is not None else np.dtype(np.float64))


def _check_y_true(y_true, name="y_true"):
    """Return ``y_true`` as a non-empty 1-D array of labels."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of labels; got an array of shape {y.shape}."
        )
    if y.shape[0] == 0:
        raise ValueError(f"Found empty input: {name} has 0 samples.")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return y


def _check_length(n_samples, arr, name):
    if arr.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"y_true has {n_samples} samples but {name} has {arr.shape[0]}."
        )


def _check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight``: 1-D, finite, non-negative, positive sum.

    Returns ``None`` when ``sample_weight`` is ``None``, else a float64 array.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sw, _ = _as_float_array(sample_weight, "sample_weight", ndim=1)
    _check_length(n_samples, sw, "sample_weight")
    if sw.min() < 0:
        raise ValueError(
            "Negative values in sample_weight are not allowed; got "
            f"{float(sw.min())!r}."
        )
    if not sw.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one must be positive.")
    return sw


def _check_labels(labels):
    """Validate an explicit ``labels`` argument: 1-D, unique, >= 2 labels."""
    classes = np.asarray(labels)
    if classes.ndim != 1:
        raise ValueError(f"labels must be 1-D; got an array of shape {classes.shape}.")
    if classes.shape[0] < 2:
        raise ValueError(
            "The labels array needs to contain at least two labels, "
            f"got {classes.tolist()}."
        )
    try:
        uniq = np.unique(classes)
    except TypeError as exc:
        raise ValueError(f"labels must be mutually comparable: {exc}") from exc
    if uniq.shape[0] != classes.shape[0]:
        raise ValueError(f"labels must be unique; got {classes.tolist()}.")
    return classes


def _encode_small_ints(values, classes):
    """Lookup-table encoding for integer labels in a small range, else None.

    Returns positions in ``classes``, with -1 for values not in ``classes``.
    """
    if not (
        np.issubdtype(values.dtype, np.integer)
        and np.issubdtype(classes.dtype, np.integer)
    ):
        return None
    lo = min(int(classes.min()), int(values.min()))
    hi = max(int(classes.max()), int(values.max()))
    if hi - lo > 4 * values.shape[0] + 1024:
        return None
    lut = np.full(hi - lo + 1, -1, dtype=np.intp)
    lut[classes - lo] = np.arange(classes.shape[0])
    return lut[values - lo]


def _encode(values, classes, *, name="y_true"):
    """Map ``values`` to their integer positions in ``classes`` (any order).

    Raises the same ``ValueError`` as :func:`sklearn.metrics.log_loss` when a
    value is not one of the classes.
    """
    values = np.asarray(values)
    fast = _encode_small_ints(values, classes)
    if fast is not None:
        if (fast < 0).any():
            unknown = set(values[fast < 0].tolist())
            raise ValueError(
                f"{name} contains values {unknown} not belonging to the passed "
                f"labels {classes.tolist()}."
            )
        return fast
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    try:
        pos = np.searchsorted(sorted_classes, values)
        pos = np.minimum(pos, sorted_classes.shape[0] - 1)
        found = sorted_classes[pos] == values
    except (TypeError, ValueError):
        # Incomparable types (e.g. str labels against int classes).
        found = np.zeros(values.shape[0], dtype=bool)
        pos = np.zeros(values.shape[0], dtype=np.intp)
    found = np.asarray(found, dtype=bool)
    if not found.all():
        unknown = set(np.asarray(values)[~found].tolist())
        raise ValueError(
            f"{name} contains values {unknown} not belonging to the passed "
            f"labels {classes.tolist()}."
        )
    return order[pos]


def _resolve_classes(y, labels):
    """Return ``(classes, y_encoded)`` from ``y_true`` and optional ``labels``."""
    if labels is not None:
        classes = _check_labels(labels)
        return classes, _encode(y, classes)
    if np.issubdtype(y.dtype, np.integer):
        lo = int(y.min())
        if int(y.max()) - lo <= 4 * y.shape[0] + 1024:
            # Small-range integers: a bincount replaces np.unique's sort.
            present = np.flatnonzero(np.bincount(y - lo))
            classes = (present + lo).astype(y.dtype)
            if classes.shape[0] > 1:
                return classes, _encode_small_ints(y, classes)
    try:
        classes, y_enc = np.unique(y, return_inverse=True)
    except TypeError as exc:
        raise ValueError(f"y_true labels must be mutually comparable: {exc}") from exc
    if classes.shape[0] == 1:
        raise ValueError(
            f"y_true contains only one label ({classes[0]}). Please provide the "
            "list of all expected class labels explicitly through the labels "
            "argument."
        )
    return classes, y_enc.ravel()


_BLOCK_BYTES = 1 << 20


def _row_blocks(arr):
    """Slices of about 1 MiB of rows of ``arr``: a block stays in cache while
    several reductions run over it, and temporaries stay block-sized."""
    return row_blocks(arr.shape, _BLOCK_BYTES // max(1, arr.itemsize))


class _Proba(NamedTuple):
    """Validated probabilities, with the row arg-max found while checking them.

    ``values`` is the caller's array in its own floating dtype (never copied
    for a floating array of shape ``(n_samples, n_classes)``); ``pred`` is the
    row-wise arg-max (first maximum) and ``top`` the row maximum in float64,
    or both None when not asked for.
    """

    values: np.ndarray
    dtype: np.dtype
    pred: np.ndarray
    top: np.ndarray


def _as_proba_array(y_proba, name):
    """``y_proba`` as an array of its own floating dtype (other numbers: float64)."""
    try:
        arr = np.asarray(y_proba)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    arr, _ = _as_float_array(arr, name, check_finite=False)
    return arr


def _refine_float32_sums(proba, row_sums, tol, neg):
    """Make float32 row sums decide ``|sum - 1| <= tol`` as float64 sums would.

    ``row_sums`` come from float32 BLAS; whatever the summation order, the
    error of a row is at most ``gamma * sum_k |p_k|`` with
    ``gamma = (K - 1) u / (1 - (K - 1) u)`` (``u`` the float32 unit roundoff),
    and ``sum_k |p_k| <= |sum| + error + 2 K neg`` where ``neg`` bounds the
    negative entries. Rows whose float32 sum is within that bound of the
    tolerance (rare: none for softmax outputs) are summed again, in float64.
    """
    n_classes = proba.shape[1]
    m = (n_classes - 1) * float(np.finfo(np.float32).eps) / 2
    gamma = m / (1.0 - m)
    biggest = float(np.abs(row_sums).max())
    margin = gamma * (biggest + 2.0 * n_classes * neg) / (1.0 - gamma)
    near = np.flatnonzero(np.abs(row_sums - 1.0) > tol - margin)
    step = max(1, _BLOCK_BYTES // max(1, proba.itemsize * n_classes))
    for start in range(0, near.shape[0], step):
        rows = near[start : start + step]
        row_sums[rows] = np.sum(proba[rows], axis=1, dtype=np.float64)


def _check_proba(
    y_proba, n_samples, classes, labels_given, *, name="y_proba", top=False
):
    """Validate probabilities without copying them; return a :class:`_Proba`.

    One pass in row blocks checks the range (in the input dtype, so NaN and
    infinity fail it too) and the row sums and, with ``top=True``, finds each
    row's arg-max and maximum (else ``pred`` and ``top`` are None). Row sums
    of float64 input are float64 BLAS dot products; float32 ones are float32
    BLAS dot products whose rounding error is bounded, with the few rows the
    bound cannot decide summed again in float64 (:func:`_refine_float32_sums`),
    so the verdict is that of float64 sums at float32 speed; other dtypes are
    summed in float64. The tolerance is
    :func:`skduo._outputs._logit_ops.proba_tolerance` of the input dtype.
    """
    proba = _as_proba_array(y_proba, name)
    dtype = proba.dtype
    if proba.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D or 2-D; got an array of shape {proba.shape}."
        )
    _check_length(n_samples, proba, name)
    if proba.ndim == 1 or proba.shape[1] == 1:
        # Binary, one column for the second class: n x 2 in float64, as cheap
        # as the input itself.
        p = proba.reshape(-1, 1).astype(np.float64)
        proba = np.concatenate([1.0 - p, p], axis=1)
    n_classes = classes.shape[0]
    if proba.shape[1] != n_classes:
        if not labels_given:
            raise ValueError(
                "y_true and y_proba contain different number of classes: "
                f"{n_classes} vs {proba.shape[1]}. Please provide the true labels "
                "explicitly through the labels argument. Classes found in y_true: "
                f"{classes.tolist()}"
            )
        raise ValueError(
            "The number of classes in labels is different from that in y_proba "
            f"({n_classes} vs {proba.shape[1]}). Classes found in labels: "
            f"{classes.tolist()}"
        )
    tol = proba_tolerance(dtype, n_classes)
    row_sums = np.empty(n_samples)
    pred = np.empty(n_samples, dtype=np.intp) if top else None
    maxima = np.empty(n_samples) if top else None
    blas = proba.dtype in (np.float32, np.float64)
    ones = np.ones(n_classes, dtype=proba.dtype) if blas else None

    blocks = list(_row_blocks(proba))
    # per block: the minimum, and the maximum (or the row maxima with ``top``)
    lows = np.empty(len(blocks))
    highs = None if top else np.empty(len(blocks))

    def scan(i):
        rows = blocks[i]
        block = proba[rows]
        # min/max propagate NaN, which then fails the range test (np.argmax
        # too: a NaN is the maximum of its row)
        lows[i] = block.min()
        if top:
            idx = np.argmax(block, axis=1)
            pred[rows] = idx
            maxima[rows] = block[np.arange(block.shape[0]), idx]
        else:
            highs[i] = block.max()
        if blas:
            np.matmul(block, ones, out=row_sums[rows])
        else:
            np.sum(block, axis=1, dtype=np.float64, out=row_sums[rows])

    # NumPy releases the GIL in these reductions: each thread checks one
    # contiguous run of blocks (~1.8x faster on 2 cores at 100,000 x 1,000)
    threaded = proba.size >= _THREADED_ELEMENTS
    map_blocks(scan, range(len(blocks)), _N_THREADS if threaded else 1)
    lo = np.min(lows, initial=np.inf)
    hi = maxima.max() if top else np.max(highs, initial=-np.inf)
    if proba.dtype == np.float32 and np.isfinite(lo) and np.isfinite(hi):
        _refine_float32_sums(proba, row_sums, tol, max(0.0, -float(lo)))
    if not (lo >= -tol and hi <= 1 + tol):
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or infinity.")
        bad = lo if lo < -tol else hi
        raise ValueError(
            f"{name} must contain probabilities in [0, 1] (tolerance {tol:.2g}); "
            f"found {float(bad)!r}. Did you pass logits or decision_function scores?"
        )
    dev = np.abs(row_sums - 1.0)
    worst = int(np.argmax(dev))
    if dev[worst] > tol:
        raise ValueError(
            f"Rows of {name} must sum to one (tolerance {tol:.2g}); row {worst} sums "
            f"to {float(row_sums[worst])!r}. Pass probabilities, e.g. predict_proba "
            "output."
        )
    return _Proba(proba, dtype, pred, maxima)


def _check_proba_inputs(y_true, y_proba, *, labels=None, sample_weight=None, top=False):
    """Validate the ``(y_true, y_proba, labels, sample_weight)`` quartet.

    Returns
    -------
    y_enc : ndarray of shape (n_samples,), int
        Position of each true label in ``classes``.
    proba : _Proba
        The probabilities in the caller's dtype (``proba.values``, not
        copied), their dtype and, with ``top=True``, each row's arg-max and
        maximum.
    classes : ndarray of shape (n_classes,)
    sample_weight : ndarray of shape (n_samples,) or None
    """
    y = _check_y_true(y_true)
    classes, y_enc = _resolve_classes(y, labels)
    proba = _check_proba(y_proba, y.shape[0], classes, labels is not None, top=top)
    sw = _check_sample_weight(sample_weight, y.shape[0])
    return y_enc, proba, classes, sw


def _weighted_mean(values, sample_weight):
    """Mean of ``values`` with optional weights, as a Python float.

    Clipped to ``[min(values), max(values)]``, where a mean lies: the
    weighted sum and the sum of the weights are rounded in different orders,
    so a mean of equal values could otherwise land one step off them.
    """
    if sample_weight is None:
        mean = np.mean(values)
    else:
        mean = np.dot(values, sample_weight) / sample_weight.sum()
    return float(np.clip(mean, values.min(), values.max()))
