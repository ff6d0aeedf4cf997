"""Predictions from members' logits in row blocks: NumPy, memmap and dask.

:class:`~skduo.LogitEnsemble`'s methods all come down to one loop: for each
block of rows, combine the members' logits (converting probabilities or
log-probabilities the ensemble was fitted on, checking that the values are
finite), then write that block of the requested output. So the only array of
the size of the data is the output itself (none at all for :meth:`predict` and
:meth:`confidence`, whose outputs are 1-D), the inputs are read once, and
``np.memmap`` inputs stream from disk. Dask inputs give dask outputs, computed
lazily by the same loop on each row chunk (``map_blocks``).
"""

from functools import partial

import numpy as np

from skduo._outputs._kinds import (
    detect_output_kind,
    log_proba_block_to_logits,
    proba_block_to_logits,
)
from skduo._outputs._logit_ops import is_dask_array, proba_tolerance
from skduo.metrics._selective import _confidence_from_proba
from skduo.utils._arrays import row_blocks

__all__ = ["OUTPUTS", "predict_rows"]

#: What :func:`predict_rows` computes: combined logits, probabilities,
#: log-probabilities (2-D), the predicted class and its confidence (1-D).
OUTPUTS = ("decision", "proba", "log_proba", "predict", "confidence")


def predict_rows(
    arrays,
    weights,
    kinds,
    names,
    n_classes,
    output,
    *,
    confidence="msp",
    uq_only=False,
    stacklevel=3,
):
    """One output of a linear combination of logits, computed in row blocks.

    Parameters
    ----------
    arrays : list of ndarray, np.memmap or dask array
        The members' checked outputs, of shape ``(n, n_classes)`` or ``(n,)``
        (binary scores ``s``: logits ``(0, s)``).
    weights : ndarray of shape (n_members,)
        Non-negative finite weights.
    kinds : sequence of {'logits', 'proba', 'log_proba'}
        What each member's arrays hold: probabilities are checked and logged,
        log-probabilities have their ``-inf`` clipped.
    names : sequence of str
        The members' names in messages.
    n_classes : int
    output : {'decision', 'proba', 'log_proba', 'predict', 'confidence'}
    confidence : {'msp', 'margin', 'neg_entropy'}, default='msp'
        The confidence score (``output='confidence'``).
    uq_only : bool, default=False
        Predict the first member's class (and score the confidence in it).
    stacklevel : int, default=3
        Of the warnings, counted from this function.

    Returns
    -------
    ndarray or dask array
        ``(n, n_classes)`` float64 for ``'decision'``, ``'proba'`` and
        ``'log_proba'``; ``(n,)`` intp for ``'predict'``, float64 for
        ``'confidence'``. A dask array (lazy) when any input is one.
    """
    kw = dict(
        weights=np.asarray(weights, dtype=np.float64),
        kinds=tuple(kinds),
        names=tuple(names),
        n_classes=n_classes,
        output=output,
        confidence=confidence,
        uq_only=uq_only,
    )
    if any(is_dask_array(z) for z in arrays):
        return _dask_predict(arrays, **kw)
    return _numpy_predict(arrays, **kw, stacklevel=stacklevel + 1)


def _warn_if_probabilities(arrays, kinds, names, stacklevel):
    import warnings

    for z, kind, name in zip(arrays, kinds, names):
        if kind != "proba" and z.ndim == 2 and detect_output_kind(z) == "proba":
            warnings.warn(
                f"{name} look like probabilities (every inspected row is in [0, 1] "
                f"and sums to 1), but the ensemble was fitted on {kind} for this "
                "member: they are used as logits, which gives wrong predictions. "
                "Pass logits (or log-probabilities), or fit on the probabilities "
                "(outputs='proba') so that predictions take their logarithm.",
                UserWarning,
                stacklevel=stacklevel + 1,
            )


def _member_block(z, kind, rows, name, offset, work):
    """One member's rows as logits: raw for logits, else float64 in ``work``."""
    block = z[rows]
    where = slice(rows.start + offset, rows.stop + offset)
    if block.ndim == 1:
        s = np.asarray(block, dtype=np.float64)
        if kind == "logits":
            block = np.zeros((len(s), 2))
            block[:, 1] = s
        elif kind == "proba":
            block = np.stack([1.0 - s, s], axis=1)
        else:
            with np.errstate(divide="ignore"):  # log(1 - 1) = -inf: clipped
                block = np.stack([np.log1p(-np.exp(np.minimum(s, 0.0))), s], axis=1)
    if kind == "proba":
        dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
        tol = proba_tolerance(dtype, block.shape[1])
        tiny = float(np.finfo(dtype).tiny)
        return proba_block_to_logits(block, tol, tiny, name, where, work)[0]
    if kind == "log_proba":
        # -inf clipped; logits pass too (log-probabilities up to a row shift)
        return log_proba_block_to_logits(block, name, where, False, work)[0]
    return block


def _all_finite(block):
    # a sum is finite only if every term is (one fast pass); a non-finite sum
    # may be an overflow of finite values, so it is checked element-wise
    return bool(
        block.dtype.kind != "f"
        or np.isfinite(np.add.reduce(block, axis=None))
        or np.isfinite(block).all()
    )


def _combine_into(z, work, arrays, weights, kinds, names, rows, offset, first_class):
    """Write ``sum_m w_m z_m[rows]`` (float64) into ``z``.

    ``work`` (two more blocks of ``z``'s shape) holds the temporaries, so
    nothing is allocated per block. Returns member 0's arg-max (its predicted
    classes) when ``first_class``, else None.
    """
    filled, first = False, None
    for m, (arr, w, kind) in enumerate(zip(arrays, weights, kinds)):
        block = _member_block(arr, kind, rows, names[m], offset, work[1])
        if m == 0 and first_class:
            first = np.argmax(block, axis=1)
        if w == 0.0:
            if not _all_finite(block):
                _raise_nonfinite(block, names[m], rows, offset)
        elif not filled:
            np.multiply(block, w, out=z, dtype=np.float64)
            filled = True
        else:
            z += np.multiply(block, w, out=work[0], dtype=np.float64)
    if not filled:
        z[...] = 0.0
    if not _all_finite(z):
        for m, (arr, kind) in enumerate(zip(arrays, kinds)):
            block = _member_block(arr, kind, rows, names[m], offset, work[1])
            if not _all_finite(block):
                _raise_nonfinite(block, names[m], rows, offset)
        raise ValueError(
            f"The combined logits overflow float64 in rows {rows.start + offset}.."
            f"{rows.stop + offset - 1}: the weights times the logits exceed 1.8e308."
        )
    return first


def _raise_nonfinite(block, name, rows, offset):
    block = np.asarray(block)
    n_nan, n_inf = int(np.isnan(block).sum()), int(np.isinf(block).sum())
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s) (in rows "
        f"{rows.start + offset}..{rows.stop + offset - 1}); member outputs must be "
        "finite."
    )


def _numpy_predict(
    arrays,
    *,
    weights,
    kinds,
    names,
    n_classes,
    output,
    confidence,
    uq_only,
    offset=0,
    stacklevel=3,
    warn=True,
):
    # dask row chunks of 1-D members arrive as (r, 1) columns
    arrays = [z[:, 0] if z.ndim == 2 and z.shape[1] == 1 else z for z in arrays]
    if warn:
        _warn_if_probabilities(arrays, kinds, names, stacklevel + 1)
    n = arrays[0].shape[0]
    two_d = output in ("decision", "proba", "log_proba")
    if two_d:
        out = np.empty((n, n_classes))
    else:
        out = np.empty(n, dtype=np.intp if output == "predict" else np.float64)
    blocks = row_blocks((n, n_classes))
    # three blocks of workspace, reused: the combined block, a temporary, and
    # the conversion of probabilities (allocating blocks anew each time is up
    # to 6x slower: fresh pages)
    step = blocks[0].stop if blocks else 0
    space = np.empty((2 if two_d else 3, step, n_classes))
    for rows in blocks:
        r = rows.stop - rows.start
        z = out[rows] if two_d else space[2, :r]
        work = space[:2, :r]
        first = _combine_into(
            z, work, arrays, weights, kinds, names, rows, offset, uq_only and not two_d
        )
        if output == "decision":
            continue
        if output in ("predict", "confidence"):
            pred = first if uq_only else np.argmax(z, axis=1)
            if output == "predict":
                out[rows] = pred
                continue
            out[rows] = _confidence_from_logits(z, pred, confidence, work[0])
            continue
        z -= z.max(axis=1, keepdims=True)
        tmp = np.exp(z, out=work[0])
        total = tmp.sum(axis=1, keepdims=True)
        if output == "log_proba":
            z -= np.log(total)
        else:
            np.divide(tmp, total, out=z)
    return out


def _confidence_from_logits(z, pred, confidence, tmp):
    """The confidence in class ``pred`` of each row of the logits ``z``.

    ``z`` is overwritten, ``tmp`` (of its shape) is workspace. Each row is
    sorted first, so that its sums run in an order set by its values alone: a
    row and any permutation of its columns get the same confidence to the last
    bit (and tie in a ranking by confidence).
    """
    z_pred = z[np.arange(z.shape[0]), pred]
    z.sort(axis=1)
    # the predicted class's place in its sorted row (the first of its value)
    place = np.count_nonzero(z < z_pred[:, None], axis=1)
    z -= z[:, -1:].copy()
    np.exp(z, out=tmp)
    total = tmp.sum(axis=1, keepdims=True)
    if confidence == "neg_entropy":
        # from the log-probabilities: exact where probabilities underflow
        tmp /= total
        z -= np.log(total)
        return np.multiply(tmp, z, out=tmp).sum(axis=1)
    np.divide(tmp, total, out=z)
    return _confidence_from_proba(z, place, confidence)


def _chunk_predict(*blocks, block_info=None, **kw):
    offset = 0 if not block_info else block_info[0]["array-location"][0][0]
    return _numpy_predict(list(blocks), offset=offset, **kw)


def _dask_predict(arrays, **kw):
    import dask.array as da

    row_chunks = next(z for z in arrays if is_dask_array(z)).chunks[0]
    members = []
    for z in arrays:
        z = z[:, None] if z.ndim == 1 else z
        if is_dask_array(z):
            members.append(z.rechunk((row_chunks, -1)))
        else:
            members.append(da.from_array(z, chunks=(row_chunks, -1)))
    func = partial(_chunk_predict, **kw)
    if kw["output"] in ("decision", "proba", "log_proba"):
        return da.map_blocks(
            func,
            *members,
            dtype=np.float64,
            chunks=(row_chunks, (kw["n_classes"],)),
            meta=np.empty((0, 0)),
        )
    dtype = np.dtype(np.intp if kw["output"] == "predict" else np.float64)
    return da.map_blocks(
        func,
        *members,
        dtype=dtype,
        chunks=(row_chunks,),
        drop_axis=1,
        meta=np.empty((0,), dtype=dtype),
    )
