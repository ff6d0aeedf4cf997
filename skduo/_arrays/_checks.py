"""Checks of the array API's inputs: shapes, dtypes and labels, never values.

Nothing here reads a whole array of logits: NumPy arrays and ``np.memmap`` are
only viewed (``np.asarray`` makes no copy), dask arrays stay lazy. Whether the
values are finite is checked where the data is read anyway: by the weight fit
(:func:`skduo._fit._weight_fit.fit_logit_weights`) and in the row blocks of the
predictions (:mod:`skduo._arrays._predict`). Labels are small: they are
computed (dask) and checked in full.
"""

import numpy as np

from skduo._outputs._logit_ops import is_dask_array

__all__ = ["as_array", "check_labels", "check_member", "check_members", "n_columns"]


def as_array(values):
    """``values`` as an array without copying it: dask arrays stay lazy."""
    return values if is_dask_array(values) else np.asarray(values)


def n_columns(arr):
    """Columns of a member's logits: 2 for 1-D binary scores ``s`` -> ``(0, s)``."""
    return 2 if arr.ndim == 1 else arr.shape[1]


def check_member(values, what, n_classes=None):
    """One member's outputs as a checked 1-D or 2-D array, never copied.

    Any float or integer dtype is kept (the weight fit converts row chunks
    itself; the predictions work in float64 row blocks). 1-D arrays are binary
    scores (two classes).
    """
    arr = as_array(values)
    if np.dtype(arr.dtype).kind not in "fiu":
        raise TypeError(f"{what} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{what} must be a 2-D array of shape (n_samples, n_classes), or 1-D "
            f"binary scores; got shape {arr.shape}."
        )
    if any(np.isnan(size) for size in arr.shape):
        raise ValueError(
            f"{what} has unknown chunk sizes {arr.shape}; call its "
            "compute_chunk_sizes() first."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{what} has 0 rows.")
    k = n_columns(arr)
    if n_classes is None and k < 2:
        raise ValueError(f"{what} has {k} column(s); at least 2 needed.")
    if n_classes is not None and k != n_classes:
        if arr.ndim == 1:
            raise ValueError(
                f"{what} is 1-D (binary scores, 2 classes); the fitted model has "
                f"{n_classes} classes: pass 2-D arrays of shape (n_samples, "
                f"{n_classes})."
            )
        raise ValueError(
            f"{what} has {k} columns; the fitted model has {n_classes} classes."
        )
    return arr


def check_members(values, names, what="Validation logits"):
    """Every member checked (:func:`check_member`), of matching shapes.

    Parameters
    ----------
    values : sequence of array-like
        The members' outputs.
    names : sequence of str
        Their names in messages.
    what : str
        Name of the whole in messages.

    Returns
    -------
    list of arrays
    """
    if not len(values):
        raise ValueError(f"{what}: at least one member is needed.")
    out = [check_member(z, name) for z, name in zip(values, names)]
    if len({n_columns(z) for z in out}) != 1:
        flat = [name for z, name in zip(out, names) if z.ndim == 1]
        if flat:
            raise ValueError(
                f"{flat[0]} is 1-D (binary scores s, read as logits (0, s)) but "
                f"other members have {max(n_columns(z) for z in out)} columns: pass "
                "2-D arrays of shape (n_samples, n_classes)."
            )
    if len({(z.shape[0], n_columns(z)) for z in out}) != 1:
        raise ValueError(
            f"{what}: all members must have the same shape; got "
            f"{[z.shape for z in out]}."
        )
    return out


def check_labels(y, n_samples, n_classes, what="y_val"):
    """Integer class indices ``0 .. n_classes - 1``, at least two classes."""
    y = np.asarray(y.compute() if is_dask_array(y) else y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"{what} must have shape ({n_samples},) to match the logits; got {y.shape}."
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{what} must hold integer class indices.")
        y = y.astype(np.intp)
    elif y.dtype.kind not in "iu":
        raise ValueError(
            f"{what} must hold integer class indices 0..{n_classes - 1}; got dtype "
            f"{y.dtype}. Encode string labels first (e.g. with LabelEncoder)."
        )
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(
            f"{what} holds class indices {int(y.min())}..{int(y.max())}, outside "
            f"0..{n_classes - 1} (the logits have {n_classes} columns)."
        )
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"{what} contains a single class; fitting needs at least 2 classes."
        )
    return y.astype(np.intp, copy=False)
