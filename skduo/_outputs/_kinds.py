"""Model outputs as logits: which kind an array holds, and its conversion.

Saved model outputs may be logits, probabilities or log-probabilities
(:data:`skduo._vocabulary.OUTPUT_KINDS`). :func:`detect_output_kind`
recognises which (on a few evenly spaced rows, never the whole array);
:func:`as_logits` turns them into logits: probabilities are checked and
logged, log-probabilities checked and their ``-inf`` clipped, 1-D binary
outputs made two columns. The block converters
(:func:`proba_block_to_logits`, :func:`log_proba_block_to_logits`) are the
one conversion of a block of rows, also used for members' outputs
(:mod:`skduo._outputs._member`). Every conversion works in row blocks
(temporaries of one block); dask arrays are converted lazily, block by block,
without this module importing dask unless it is given a dask array.
"""

import warnings

import numpy as np

from skduo._outputs._logit_ops import check_finite, is_dask_array, proba_tolerance
from skduo._vocabulary import OUTPUT_KINDS
from skduo.utils._arrays import float_dtype, row_blocks

__all__ = [
    "FlooredLogits",
    "as_logits",
    "detect_output_kind",
    "floor_zeros",
    "log_proba_block_to_logits",
    "log_proba_to_logits",
    "proba_block_to_logits",
    "proba_to_logits",
    "zero_floor",
]


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
    for rows in row_blocks(sample.shape):
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


def _rows_note(rows):
    return "" if rows is None else f" (in rows {rows.start}..{rows.stop - 1})"


def _check_2d(values, what):
    if np.dtype(values.dtype).kind not in "fiu":
        raise TypeError(f"{what} must be numeric; got dtype {values.dtype}.")
    if values.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_samples, n_classes); got {values.shape}."
        )


def _nonfinite_error(block, what, rows=None):
    n_nan, n_inf = int(np.isnan(block).sum()), int(np.isinf(block).sum())
    return ValueError(
        f"{what} contains {n_nan} NaN and {n_inf} infinite value(s)"
        f"{_rows_note(rows)}; member outputs must be finite."
    )


def proba_block_to_logits(block, tol, tiny, what, rows=None, out=None):
    """Checked log-probabilities of one block of probability rows.

    Returns ``(log_p, n_saturated)``: a float64 block (zeros clipped at
    ``tiny``; written into ``out`` when given) and the number of its rows
    that hold an exact 0 or 1.
    """
    if out is None:
        p = np.array(block, dtype=np.float64)
    else:
        p = out
        np.copyto(p, block)
    if not np.isfinite(p).all():
        raise _nonfinite_error(p, what, rows)
    if p.size:
        lo, hi = float(p.min()), float(p.max())
        worst = float(np.abs(p.sum(axis=1) - 1.0).max())
        if lo < -tol or hi > 1.0 + tol or worst > tol:
            raise ValueError(
                f"{what} is not a probability{_rows_note(rows)}: values span "
                f"[{lo:.4g}, {hi:.4g}] and row sums deviate from 1 by up to "
                f"{worst:.3g}. If these are logits (e.g. a skorch net trained with "
                "NLLLoss returns its module's raw output from predict_proba), "
                "declare the member's response_method as 'decision_function' or "
                "let skduo read the net's logits (response_method='auto'); on "
                "arrays, declare outputs='logits'."
            )
    saturated = int(np.count_nonzero((p <= 0.0).any(axis=1) | (p >= 1.0).any(axis=1)))
    np.clip(p, tiny, None, out=p)
    np.log(p, out=p)
    return p, saturated


#: log of the smallest positive normal float64: where ``-inf`` log-probabilities
#: (probability exactly 0) are clipped.
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
_LOG_TINY_TEXT = "log(2.23e-308)"
_LOG_ZERO_DETAIL = "hold log-probabilities of -inf, probability 0"


def log_proba_block_to_logits(
    block, what, rows=None, check=True, out=None, shifted=False
):
    """Checked log-probabilities of one block, ``-inf`` clipped.

    Returns ``(log_p, n_zero)``: a float64 block (written into ``out`` when
    given, else ``block`` itself when it is float64 without ``-inf``) and the
    number of its rows that held ``-inf``. ``check=False`` skips the test that
    rows log-sum-exp to 0 (any logits pass then; NaN and ``+inf`` are still
    refused). ``shifted=True`` (a member's ``predict_log_proba``) accepts
    log-probabilities up to any per-row shift -- a model that normalises in
    float32 is off by up to ``eps * |joint log-likelihood|`` (GaussianNB on
    float32 digits: 0.3), and softmax ignores the shift -- and refuses only
    blocks that are something else: probabilities (every row in ``[0, 1]``,
    summing to 1).
    """
    if out is None:
        lp = np.asarray(block, dtype=np.float64)
    else:
        lp = out
        np.copyto(lp, block)
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise ValueError(f"{what} contains NaN or +inf values{_rows_note(rows)}.")
    zero = np.isneginf(lp)
    n_zero = int(np.count_nonzero(zero.any(axis=1)))
    if n_zero:
        if out is None:
            lp = np.where(zero, _LOG_TINY, lp)
        else:
            np.copyto(lp, _LOG_TINY, where=zero)
    if check and shifted and lp.size:
        tol = proba_tolerance(block.dtype, lp.shape[1])
        in_unit = (lp.min() >= -tol) and (lp.max() <= 1.0 + tol)
        if in_unit and np.all(np.abs(lp.sum(axis=1) - 1.0) <= tol):
            raise ValueError(
                f"{what} is not a log-probability{_rows_note(rows)}: every row is "
                "in [0, 1] and sums to 1, like probabilities. Declare the member's "
                "response_method as 'predict_proba' if these are probabilities."
            )
    elif check and lp.size:
        # A sanity check that these look like log-probabilities (not logits):
        # loose, because a per-row offset does not change the duo and models
        # that work in float32 (GaussianNB on float32 X) normalise to ~1e-2.
        top = lp.max(axis=1)
        lse = np.abs(top + np.log(np.exp(lp - top[:, None]).sum(axis=1)))
        if float(top.max()) > 0.1 or float(lse.max()) > 0.1:
            raise ValueError(
                f"{what} is not a log-probability{_rows_note(rows)}: values reach "
                f"{float(top.max()):.4g} and rows log-sum-exp to up to "
                f"{float(lse.max()):.3g} instead of 0. Declare the member's "
                "response_method as 'decision_function' (on arrays, "
                "outputs='logits') if these are logits."
            )
    return lp, n_zero


def _workspace(shape):
    """A float64 buffer of one row block of an array of ``shape``.

    Reusing it keeps the block loops from allocating (and page-faulting) a
    fresh block each time, which made them up to 6x slower than one pass.
    """
    rows = row_blocks(shape)
    return np.empty((rows[0].stop if rows else 0, *shape[1:]))


def warn_saturated(frac, saturation_warn, what, detail, clip, *, scope, stacklevel):
    """The one warning that rows of probabilities are saturated.

    Issued when the fraction ``frac`` of saturated rows exceeds
    ``saturation_warn``; ``stacklevel`` counts from the caller.
    """
    if frac > saturation_warn:
        warnings.warn(
            f"{frac:.1%} of the {scope} of {what[:1].lower() + what[1:]} are "
            f"saturated ({detail}); their log-probabilities are clipped at {clip} "
            "and the true logits cannot be recovered. Prefer a member output that "
            "gives logits (decision_function, predict_log_proba, or the net's "
            "logits).",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def proba_to_logits(
    proba,
    what="predict_proba output",
    saturation_warn=0.01,
    *,
    dtype=np.float64,
    stacklevel=3,
):
    """Log-probabilities from probabilities, checked and safely clipped.

    Rows must be finite, in ``[0, 1]`` and sum to one (within a tolerance that
    grows with the dtype's resolution and the number of classes). Exact zeros are
    clipped to the smallest positive normal number of the input dtype (the finest
    probability that dtype can hold), so no ``-inf`` appears; a warning says when
    more than ``saturation_warn`` of the rows are saturated (hold an exact 0 or 1),
    because their true logits cannot be recovered. Computed in row blocks (one
    pass; the result is the only ``n x K`` array). A dask array is converted
    lazily: its inspected rows (:func:`detect_output_kind`) are checked now,
    every block when it is computed.

    Parameters
    ----------
    proba : array-like or dask array of shape (n_samples, n_classes)
    what : str
        Name used in messages.
    saturation_warn : float
        Fraction of saturated rows above which a ``UserWarning`` is issued.
    dtype : numpy dtype, default=np.float64
        Dtype of the result.
    stacklevel : int, default=3
        Of the warning, counted from this function.

    Returns
    -------
    ndarray (or dask array) of shape (n_samples, n_classes), of ``dtype``
    """
    lazy = is_dask_array(proba)
    if not lazy:
        proba = np.asarray(proba)
    _check_2d(proba, what)
    in_dtype = proba.dtype if proba.dtype.kind == "f" else np.dtype(np.float64)
    tol = proba_tolerance(in_dtype, proba.shape[1])
    tiny = float(np.finfo(in_dtype).tiny)
    if lazy:
        proba = proba.rechunk({1: -1})
        sample = _inspected_rows(proba)
        _, n_sat = proba_block_to_logits(sample, tol, tiny, what)
        n_rows, scope = len(sample), "inspected rows"
        out = proba.map_blocks(
            _proba_chunk,
            tol=tol,
            tiny=tiny,
            what=what,
            out_dtype=np.dtype(dtype),
            dtype=np.dtype(dtype),
            meta=np.empty((0, 0), dtype=dtype),
        )
    else:
        out = np.empty(proba.shape, dtype=dtype)
        work = _workspace(proba.shape)  # reused: no allocation per block
        n_sat = 0
        for rows in row_blocks(proba.shape):
            block = work[: rows.stop - rows.start]
            _, n = proba_block_to_logits(proba[rows], tol, tiny, what, rows, block)
            out[rows] = block
            n_sat += n
        n_rows, scope = proba.shape[0], "rows"
    frac = n_sat / n_rows if n_rows else 0.0
    warn_saturated(
        frac,
        saturation_warn,
        what,
        f"hold an exact 0 or 1 in {in_dtype}",
        f"log({tiny:.3g})",
        scope=scope,
        stacklevel=stacklevel,
    )
    return out


def _proba_chunk(block, tol, tiny, what, out_dtype):
    return proba_block_to_logits(block, tol, tiny, what)[0].astype(out_dtype)


def _log_proba_chunk(block, what, out_dtype):
    return log_proba_block_to_logits(block, what)[0].astype(out_dtype)


def log_proba_to_logits(
    log_proba,
    what="predict_log_proba output",
    saturation_warn=0.01,
    *,
    dtype=np.float64,
    copy=True,
    stacklevel=3,
):
    """Check log-probabilities and clip ``-inf`` (probability exactly 0).

    ``-inf`` entries are replaced by the log of the smallest positive normal
    float64, so no ``-inf`` propagates. Rows must be at most 0.1 and
    log-sum-exp to 0 within 0.1 (a loose check that the values are
    log-probabilities and not logits; a per-row offset does not change a
    duo). Checked in row blocks; a dask array is converted lazily (its
    inspected rows checked now).

    Parameters
    ----------
    log_proba : array-like or dask array of shape (n_samples, n_classes)
    what : str
        Name used in messages.
    saturation_warn : float
        Fraction of rows holding ``-inf`` above which a ``UserWarning`` is issued.
    dtype : numpy dtype, default=np.float64
        Dtype of the result when one is written.
    copy : bool, default=True
        ``False`` returns ``log_proba`` itself when it holds no ``-inf``.
    stacklevel : int, default=3
        Of the warning, counted from this function.

    Returns
    -------
    ndarray (or dask array) of shape (n_samples, n_classes)
    """
    lazy = is_dask_array(log_proba)
    lp = log_proba if lazy else np.asarray(log_proba)
    _check_2d(lp, what)
    if lazy:
        lp = lp.rechunk({1: -1})
        sample = _inspected_rows(lp)
        _, n_zero = log_proba_block_to_logits(sample, what)
        n_rows, scope = len(sample), "inspected rows"
        out = lp.map_blocks(
            _log_proba_chunk,
            what=what,
            out_dtype=np.dtype(dtype),
            dtype=np.dtype(dtype),
            meta=np.empty((0, 0), dtype=dtype),
        )
    else:
        out, n_zero = None, 0
        work = _workspace(lp.shape)  # reused: no allocation per block
        for rows in row_blocks(lp.shape):
            block = work[: rows.stop - rows.start]
            _, n = log_proba_block_to_logits(lp[rows], what, rows, out=block)
            n_zero += n
            if out is None and (copy or n):
                out = np.empty(lp.shape, dtype=dtype)
                out[: rows.start] = lp[: rows.start]
            if out is not None:
                out[rows] = block
        out = lp if out is None else out
        n_rows, scope = lp.shape[0], "rows"
    frac = n_zero / n_rows if n_rows else 0.0
    warn_saturated(
        frac,
        saturation_warn,
        what,
        _LOG_ZERO_DETAIL,
        _LOG_TINY_TEXT,
        scope=scope,
        stacklevel=stacklevel,
    )
    return out


def _binary_as_logits(values, kind, what, dtype, stacklevel):
    """1-D binary outputs (score, probability or log-probability of class 1)."""
    if is_dask_array(values):
        import dask.array as xp
    else:
        xp = np
    values = values.astype(np.float64)
    if kind == "logits":
        return xp.stack([xp.zeros_like(values), values], axis=1).astype(dtype)
    if kind == "proba":
        both = xp.stack([1.0 - values, values], axis=1)
        return proba_to_logits(both, what, dtype=dtype, stacklevel=stacklevel)
    with np.errstate(divide="ignore"):  # log1p(-1) = -inf where p = 1: clipped
        other = xp.log1p(-xp.exp(xp.minimum(values, 0.0)))
    both = xp.stack([other, values], axis=1)
    return log_proba_to_logits(both, what, dtype=dtype, stacklevel=stacklevel)


def as_logits(
    values, outputs="auto", what="logits", *, stacklevel=2, return_kind=False
):
    """Model outputs as logits: probabilities and log-probabilities logged.

    A duo fitted on the logarithm of probabilities equals the duo fitted on the
    logits (softmax ignores per-row shifts), up to the clipping of exact zeros;
    fitted on the probabilities themselves it is simply wrong. So
    probabilities are never used as logits.

    Parameters
    ----------
    values : array-like or dask array of shape (n_samples, n_classes) or \
(n_samples,)
        Saved model outputs; 1-D: binary outputs for class 1 (the score ``s``,
        the probability or the log-probability of class 1).
    outputs : {'auto', 'logits', 'proba', 'log_proba'}, default='auto'
        What ``values`` hold. ``'auto'`` recognises probabilities and
        log-probabilities (:func:`detect_output_kind`) and converts them with a
        warning that says how to declare them; the other values are taken as
        declared (probabilities and log-probabilities are checked).
    what : str, default='logits'
        Name of the array in messages.
    stacklevel : int, default=2
        Of the warnings: 1 is the caller of this function.
    return_kind : bool, default=False
        Also return the kind used (``outputs``, or the detected kind).

    Returns
    -------
    logits : ndarray or dask array
        2-D ``values`` unchanged (not copied) for logits, and for
        log-probabilities without ``-inf``; otherwise log-probabilities in
        the input's float dtype (float32 stays float32; float16 and integers
        become float32 and float64). 1-D ``values`` become two columns: the
        score ``s`` becomes ``(0, s)``, a probability ``p`` becomes
        ``(log(1 - p), log(p))``. Dask arrays are converted lazily.
    kind : {'logits', 'proba', 'log_proba'}
        Only with ``return_kind=True``.
    """
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"outputs must be one of {OUTPUT_KINDS}; got {outputs!r}.")
    if not is_dask_array(values):
        values = np.asarray(values)
    kind = outputs
    if outputs == "auto":
        kind = detect_output_kind(values)
        if kind != "logits":
            warnings.warn(
                _detected_message(what, kind, values.ndim),
                UserWarning,
                stacklevel=stacklevel + 1,
            )
    dtype = float_dtype(values.dtype)
    if values.ndim == 1:
        out = _binary_as_logits(values, kind, what, dtype, stacklevel + 3)
    elif kind == "proba":
        out = proba_to_logits(values, what, dtype=dtype, stacklevel=stacklevel + 2)
    elif kind == "log_proba":
        out = log_proba_to_logits(
            values, what, dtype=dtype, copy=False, stacklevel=stacklevel + 2
        )
    else:
        out = values
    return (out, kind) if return_kind else out


def _detected_message(what, kind, ndim):
    if kind == "proba":
        test = "is in [0, 1] and sums to 1" if ndim == 2 else "is in [0, 1]"
        use = "using their logarithm, which gives the same duo as the logits would"
        name = "probabilities"
    else:
        test = "log-sum-exps to 0"
        use = "using them as logits (which they are, up to a per-row shift)"
        name = "log-probabilities"
    return (
        f"{what} look like {name} (every inspected row {test}), not logits: {use}. "
        f"Declare outputs={kind!r} to silence this warning, or outputs='logits' if "
        "they really are logits."
    )


# -- members' outputs: columns re-ordered and converted in row blocks --


def _blockwise(arr, columns, dtype, convert, canonical, in_place=False):
    """``convert`` applied to row blocks of ``arr[:, columns]``, into ``dtype``.

    With ``dtype=None`` the blocks are only checked (nothing is stored); with
    ``in_place`` (no re-ordering, same dtype) the blocks are written back into
    ``arr``. A ``ValueError`` from a block is replaced by ``canonical()``'s
    (the check on the whole array, whose message reports the whole array).
    """
    n_rows = arr.shape[0]
    n_columns = arr.shape[1] if columns is None else len(columns)
    if in_place and columns is None and dtype == arr.dtype:
        out = arr
    else:
        out = None if dtype is None else np.empty((n_rows, n_columns), dtype=dtype)
    for rows in row_blocks((n_rows, n_columns)):
        block = arr[rows] if columns is None else arr[rows][:, columns]
        try:
            converted = convert(block)
        except ValueError:
            canonical()
            raise
        if out is not None:
            out[rows] = converted
    return out


class LogProbaView:
    """Log-probabilities of checked probabilities, computed row block by block.

    What the weight fit reads from a member that returns probabilities: the
    fit takes rows (``view[rows]``) chunk by chunk, so no ``n x K`` array of
    log-probabilities is ever stored. ``view[rows]`` equals the same rows of
    the array :func:`member_logits` returns (zeros clipped at the smallest
    normal number of the input dtype, the logarithm taken in float64 and
    stored in the output dtype).
    """

    ndim = 2
    #: read by the weight fit like an array (``view[rows]``, chunk by chunk)
    row_view = True

    def __init__(self, proba, columns):
        self.proba = proba
        self.columns = columns
        self.dtype = float_dtype(proba.dtype)
        n_columns = proba.shape[1] if columns is None else len(columns)
        self.shape = (proba.shape[0], n_columns)
        self._tiny = float(np.finfo(proba.dtype).tiny)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        block = self.proba[rows]
        if self.columns is not None:
            block = block[..., self.columns]
        p = np.array(block, dtype=np.float64)
        np.clip(p, self._tiny, None, out=p)
        np.log(p, out=p)
        return p.astype(self.dtype, copy=False)


def proba_member_logits(
    arr, columns, what, saturation_warn, in_place=False, lazy=False
):
    """Checked probabilities -> log-probabilities, in the input's float dtype.

    With ``in_place`` (a fresh array the member returned) the logarithm
    overwrites the probabilities: no second array of the output's size.
    """
    _check_2d(arr, what)
    in_dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    n_columns = arr.shape[1] if columns is None else len(columns)
    tol = proba_tolerance(in_dtype, n_columns)
    tiny = float(np.finfo(in_dtype).tiny)
    saturated = 0

    def convert(block):
        nonlocal saturated
        log_p, n_saturated = proba_block_to_logits(block, tol, tiny, what)
        saturated += n_saturated
        return log_p

    out = _blockwise(
        arr,
        columns,
        None if lazy else float_dtype(arr.dtype),
        convert,
        lambda: proba_to_logits(arr, what, 1.0),
        in_place=in_place,
    )
    if lazy:
        out = LogProbaView(arr, columns)
    detail = f"hold an exact 0 or 1 in {arr.dtype}"
    frac = saturated / max(1, len(arr))
    warn_saturated(
        frac,
        saturation_warn,
        what,
        detail,
        f"log({tiny:.3g})",
        scope="rows",
        stacklevel=3,
    )
    return out


def log_proba_member_logits(arr, columns, what, saturation_warn):
    """Checked log-probabilities; a copy only if -inf, re-ordering or dtype."""
    _check_2d(arr, what)
    n_zero_rows = 0

    def check(block):
        nonlocal n_zero_rows
        # -inf is a legitimate log-probability (probability 0); NaN/+inf are not
        check_finite(np.where(np.isneginf(block), 0.0, block), what)
        log_p, n_zero = log_proba_block_to_logits(block, what, shifted=True)
        n_zero_rows += n_zero
        return log_p

    def canonical():
        # the whole array's NaN/inf counts; else the block's own error stands
        check_finite(np.where(np.isneginf(arr), 0.0, arr), what)

    _blockwise(arr, columns, None, check, canonical)
    frac = n_zero_rows / max(1, len(arr))
    warn_saturated(
        frac,
        saturation_warn,
        what,
        _LOG_ZERO_DETAIL,
        _LOG_TINY_TEXT,
        scope="rows",
        stacklevel=3,
    )
    dtype = float_dtype(arr.dtype)
    if n_zero_rows == 0 and columns is None and dtype == arr.dtype:
        return arr
    return _blockwise(arr, columns, dtype, check, canonical)


def reordered_logits(arr, columns):
    """Logits ``arr[:, columns]`` as float32/float64; ``arr`` itself if possible."""
    dtype = float_dtype(arr.dtype)
    if columns is None and dtype == arr.dtype:
        return arr
    return _blockwise(arr, columns, dtype, lambda block: block, lambda: None)


# --------------------------------------------------------------------------------
# exact zeros: a data-driven floor instead of the float's limit
# --------------------------------------------------------------------------------


def _zero_logits(dtype):
    """The values an exact-zero probability becomes (the clip at the dtype's tiny).

    ``log(tiny)`` of float64 (probabilities, or ``-inf`` log-probabilities)
    and of float32 (float32 probabilities), each as stored in ``dtype``.
    """
    dtype = np.dtype(dtype)
    values = (_LOG_TINY, float(np.log(np.float64(np.finfo(np.float32).tiny))))
    return np.array(values, dtype=dtype)


def _zero_mask(block):
    zeros = _zero_logits(block.dtype)
    return (block == zeros[0]) | (block == zeros[1])


def zero_floor(logits):
    """The data-driven logit of a member's exact-zero probabilities, or None.

    A probability of exactly 0 (a random forest where no tree votes for a
    class, a k-NN without a neighbour of it) says "below this member's
    resolution"; its logarithm is first clipped at the smallest float (about
    -708), so any weight but 1 would move it by hundreds of nats. The floor is
    half the smallest positive probability the member gives on these data
    (its resolution): ``min(logits not at the clip) - log(2)``, one pass in row
    blocks. None when the member gives no exact zero (logits, smooth
    probabilities), so its logits are used as they are.

    Parameters
    ----------
    logits : ndarray or row view of shape (n_samples, n_classes)
        The member's validation logits (log-probabilities, exact zeros at the
        clip of :func:`proba_block_to_logits`).

    Returns
    -------
    float or None
    """
    if not (isinstance(logits, np.ndarray) or getattr(logits, "row_view", False)):
        return None  # dask arrays: used as they are
    if np.dtype(logits.dtype).kind != "f":
        return None
    any_zero, low = False, np.inf
    for rows in row_blocks(logits.shape):
        block = np.asarray(logits[rows])
        zero = _zero_mask(block)
        if zero.any():
            any_zero = True
        if not zero.all():
            low = min(low, float(block[~zero].min()))
    if not any_zero:
        return None
    if not np.isfinite(low):  # every value is an exact zero: a degenerate member
        return None
    return low - float(np.log(2.0))


def floor_zeros(logits, floor):
    """``logits`` with every exact-zero value (see :func:`zero_floor`) at ``floor``.

    Returns ``logits`` itself when ``floor`` is None or it holds no exact zero,
    else a new array of the same dtype.
    """
    if floor is None or not (
        isinstance(logits, np.ndarray) or getattr(logits, "row_view", False)
    ):
        return logits
    arr = logits if isinstance(logits, np.ndarray) else logits[:]
    zero = _zero_mask(arr)
    if not zero.any():
        return logits
    return np.where(zero, arr.dtype.type(floor), arr)


class FlooredLogits:
    """Rows of a member's logits with exact zeros at a floor, on demand.

    What the weight fit reads (``view[rows]``, chunk by chunk; never a copy of
    the whole array): the rows of :func:`floor_zeros` ``(logits, floor)``.
    """

    ndim = 2
    #: read by the weight fit like an array (``view[rows]``, chunk by chunk)
    row_view = True

    def __init__(self, logits, floor):
        self.logits = logits
        self.floor = floor
        self.shape = tuple(logits.shape)
        self.dtype = np.dtype(logits.dtype)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        block = np.asarray(self.logits[rows])
        zero = _zero_mask(block)
        if zero.any():
            block = np.where(zero, self.dtype.type(self.floor), block)
        return block
