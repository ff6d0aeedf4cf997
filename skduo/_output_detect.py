"""Which kind of model outputs an array holds: logits, probabilities, log-probs.

:func:`detect_output_kind` inspects a few evenly spaced rows (of a dask array,
rows of a few of its row chunks only) and never the whole array;
:mod:`skduo._output_kinds` converts what it finds into logits.
"""

import numpy as np

from skduo._logit_ops import _row_blocks, is_dask_array, proba_tolerance

__all__ = ["detect_output_kind"]


#: Rows inspected by :func:`detect_output_kind` (evenly spaced, deterministic).
_DETECT_ROWS = 2048

#: Row chunks of a dask array that :func:`detect_output_kind` computes.
_DETECT_CHUNKS = 4


def _inspected_rows(values):
    """Up to :data:`_DETECT_ROWS` evenly spaced rows, as a NumPy array or view.

    A dask array computes only rows of at most :data:`_DETECT_CHUNKS` of its
    row chunks (the first, the last and evenly spaced ones between).
    """
    if is_dask_array(values):
        sizes = values.chunks[0]
        bounds = np.cumsum((0, *sizes))
        picked = np.unique(
            np.linspace(0, len(sizes) - 1, min(len(sizes), _DETECT_CHUNKS)).round()
        ).astype(np.intp)
        idx = np.concatenate([np.arange(bounds[c], bounds[c + 1]) for c in picked])
        if len(idx) > _DETECT_ROWS:
            pos = np.linspace(0, len(idx) - 1, _DETECT_ROWS).round().astype(np.intp)
            idx = idx[np.unique(pos)]
        return np.asarray(values[idx].compute())
    step = max(1, values.shape[0] // _DETECT_ROWS)
    return values[::step][:_DETECT_ROWS]


def _looks_like(sample, dtype):
    """``'proba'``, ``'log_proba'`` or ``'logits'`` for 2-D inspected rows."""
    tol = proba_tolerance(dtype, sample.shape[1])
    proba = log_proba = True
    one_hot = True
    for rows in _row_blocks(sample.shape):
        b = np.array(sample[rows], dtype=np.float64)
        if np.isnan(b).any() or np.isposinf(b).any():
            return "logits"  # NaN / +inf: the finiteness checks report them
        if proba:
            proba = bool(
                b.min() >= -tol
                and b.max() <= 1.0 + tol
                and np.abs(b.sum(axis=1) - 1.0).max() <= tol
            )
            one_hot = proba and one_hot and bool(((b == 0.0) | (b == 1.0)).all())
        if log_proba:
            top = b.max(axis=1, keepdims=True)
            log_proba = bool(top.max() <= tol and np.isfinite(top).all())
            if log_proba:
                b -= top
                np.exp(b, out=b)
                lse = top[:, 0] + np.log(b.sum(axis=1))
                log_proba = bool(np.abs(lse).max() <= 1e-3)
        if not (proba or log_proba):
            return "logits"
    if proba and not one_hot:
        return "proba"
    return "log_proba" if log_proba and not proba else "logits"


def detect_output_kind(values):
    """Whether an array of model outputs holds logits, probabilities or log-probs.

    Inspects up to :data:`_DETECT_ROWS` evenly spaced rows (never the whole
    array; of a dask array, only rows of a few of its row chunks are
    computed): ``'proba'`` when every entry is in ``[0, 1]`` and every row
    sums to one (within :func:`proba_tolerance`), unless every inspected row
    is one-hot (exact zeros and ones, as well read as logits: their logarithm
    is the same up to a scale); ``'log_proba'`` when every entry is at most 0
    and every row's log-sum-exp is 0 (within ``1e-3``); otherwise
    ``'logits'``. Real logits essentially never pass either test on thousands
    of rows. A 1-D array (binary scores) is ``'proba'`` when every inspected
    value is in ``[0, 1]`` and not all are exactly 0 or 1, else ``'logits'``.

    Parameters
    ----------
    values : array-like or dask array of shape (n_samples, n_classes) or \
(n_samples,)

    Returns
    -------
    {'logits', 'proba', 'log_proba'}
    """
    arr = values if is_dask_array(values) else np.asarray(values)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0 or arr.dtype.kind not in "fiu":
        return "logits"
    if arr.ndim == 2 and arr.shape[1] < 2:
        return "logits"
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    sample = _inspected_rows(arr)
    if arr.ndim == 2:
        return _looks_like(sample, dtype)
    s = np.asarray(sample, dtype=np.float64)
    tol = proba_tolerance(dtype, 2)
    in_range = bool(np.isfinite(s).all() and s.min() >= -tol and s.max() <= 1 + tol)
    return "proba" if in_range and not ((s == 0.0) | (s == 1.0)).all() else "logits"
