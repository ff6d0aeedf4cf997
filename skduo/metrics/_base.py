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
:func:`skduo._logit_ops.proba_tolerance` (the one the estimators use too):
every entry must lie in ``[-tol, 1 + tol]`` and every row must sum to one
within ``tol``.
"""

import numbers

import numpy as np

from skduo._logit_ops import proba_tolerance

__all__ = []  # private module


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


def _check_proba(y_proba, n_samples, classes, labels_given, *, name="y_proba"):
    """Validate probabilities and return ``(proba, input_dtype)``.

    ``proba`` is a float64 ``(n_samples, n_classes)`` array (a copy only when
    needed); ``input_dtype`` is the floating dtype the user passed.
    """
    # NaN and inf are caught by the range check below (cheaper than isfinite).
    proba, dtype = _as_float_array(y_proba, name, ndim=(1, 2), check_finite=False)
    _check_length(n_samples, proba, name)
    if proba.ndim == 1:
        proba = proba[:, None]
    if proba.shape[1] == 1:
        proba = np.concatenate([1.0 - proba, proba], axis=1)
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
    lo, hi = proba.min(), proba.max()
    if not (lo >= -tol and hi <= 1 + tol):
        if not np.isfinite(proba).all():
            raise ValueError(f"{name} contains NaN or infinity.")
        bad = lo if lo < -tol else hi
        raise ValueError(
            f"{name} must contain probabilities in [0, 1] (tolerance {tol:.2g}); "
            f"found {float(bad)!r}. Did you pass logits or decision_function scores?"
        )
    row_sums = proba @ np.ones(n_classes)
    dev = np.abs(row_sums - 1.0)
    worst = int(np.argmax(dev))
    if dev[worst] > tol:
        raise ValueError(
            f"Rows of {name} must sum to one (tolerance {tol:.2g}); row {worst} sums "
            f"to {float(row_sums[worst])!r}. Pass probabilities, e.g. predict_proba "
            "output."
        )
    return proba, dtype


def _check_proba_inputs(y_true, y_proba, *, labels=None, sample_weight=None):
    """Validate the ``(y_true, y_proba, labels, sample_weight)`` quartet.

    Returns
    -------
    y_enc : ndarray of shape (n_samples,), int
        Position of each true label in ``classes``.
    proba : ndarray of shape (n_samples, n_classes), float64
    classes : ndarray of shape (n_classes,)
    sample_weight : ndarray of shape (n_samples,) or None
    input_dtype : numpy dtype
        Floating dtype of ``y_proba`` as given (float64 for non-float input).
    """
    y = _check_y_true(y_true)
    classes, y_enc = _resolve_classes(y, labels)
    proba, dtype = _check_proba(y_proba, y.shape[0], classes, labels is not None)
    sw = _check_sample_weight(sample_weight, y.shape[0])
    return y_enc, proba, classes, sw, dtype


def _weighted_mean(values, sample_weight):
    """Mean of ``values`` with optional weights, as a Python float."""
    if sample_weight is None:
        return float(np.mean(values))
    return float(np.dot(values, sample_weight) / sample_weight.sum())


def _row_argmax_max(proba):
    """Row-wise argmax (first maximum) and maximum of a 2-D float array."""
    idx = np.argmax(proba, axis=1)
    return idx, proba[np.arange(proba.shape[0]), idx]
