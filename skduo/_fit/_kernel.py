"""The weight fit's chunk kernel: the NLL and its derivatives over a row chunk.

:func:`_chunk_terms` evaluates, over rows ``start:stop`` of the member logits
``z_m``, the weighted sums of

    l_i(w) = logsumexp_k(c[i, k]) - c[i, y_i],    c = sum_m w_m f_m z_m

and of its gradient, Hessian and (in float32) third and fourth derivatives in
``w``, with buffers reused from chunk to chunk (:class:`_Workspace`). It is the
one kernel of the objective: :class:`skduo._fit._objective.Objective` runs it on a
thread pool in memory, and :func:`skduo._fit._objective.block_terms` on dask
workers.

Precision
---------
``precise=True`` (float64) is the evaluation that certifies a fit: every
elementwise operation and every sum is float64 (float32 and integer logits
are converted exactly). With ``u = 2**-53``, ``g_n = n u / (1 - n u)``, the
exponential accurate to 4 units in the last place, and for one row
``A = max_k sum_m |w_m z_mk|`` (largest combined logit) and
``D = max_k (max_j c_j - c_k)`` (its spread), every computed probability is
within a relative ``2t``, ``t = g_M A + u D + 4u``, of the exact one (the row
maximum's rounding is common to every class and cancels), and the computed
gradient term ``E_p[z_m] - z_m[y]`` within (to first order in ``u``)

    2 t E_p|z_m - E_p z_m| + g_{K+2} (E_p|z_m| + |z_m[y]|)
    <= (4 t + 2 g_{K+2}) max_k |z_m[k]|

of the exact one, so the KKT residual (gradient / spread ``s_m``) computed in
float64 is within ``(4 t + 2 g_{K+2}) max|z_m| / s_m`` of the exact residual.
For ``K = 1000`` classes, combined logits up to ``A = D = 100`` and logits
within ``1000`` spreads of 0 this is ``3.6e-10``, 28x below the KKT tolerance
``1e-8``; it grows linearly with ``K``, ``A`` and ``max|z| / s``, and only
logits offset by ~1e5 spreads or more (which the float32 approach would not
fit either) approach the tolerance. The compiled certificate
(:func:`skduo._fit._compiled.certificate_terms`, ``skduo[fast]``) makes the
same operations in another order; its bound is this one with the
exponential's ``4u`` replaced by ``56u`` (3.8e-10 in the example).

``precise=False`` (float32) approaches the optimum: the elementwise
operations, exponentials and row dot products are float32 (the float32
exponential is ~3x faster than the float64 one, and the data move at half the
bytes); each row is shifted so that its label logit is 0 (no cancellation in
the moments), sums over rows are float64. Its rounding errors (~1e-7 per row)
average out over rows to ~1e-9 relative in the loss and gradient at weights
that are float32 numbers (see :meth:`skduo._fit._objective.Objective.snap`), which
is what the approach needs; a float32 value never certifies anything.
"""

import itertools

import numpy as np

__all__ = ["row_chunks"]

#: Elements (rows x classes) processed per chunk: 2**18 float64 = 2 MiB per
#: buffer (fewer, larger chunks cut the per-call overhead, ~25% at 50,000 x 1,000)
_CHUNK_ELEMENTS = 2**18

#: Chunks are at most this fraction of all elements, so that the few buffers per
#: thread stay well under one logits array on small problems (at least 2**15).
_CHUNK_FRACTION = 1 / 16

#: Exponent arguments below this give subnormal float64 results, on which
#: ``np.exp`` is ~10x slower; they are negligible next to ``exp(0) = 1``.
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))


def row_chunks(n_samples, n_classes):
    elements = min(
        _CHUNK_ELEMENTS, max(2**15, int(n_samples * n_classes * _CHUNK_FRACTION))
    )
    step = max(1, elements // max(1, n_classes))
    return [
        (start, min(start + step, n_samples)) for start in range(0, n_samples, step)
    ]


def _rowdot(a, b):
    """Row-wise dot products ``sum_k a[i, k] * b[i, k]`` (batched BLAS dots).

    About 3x faster than ``np.einsum('ij,ij->i', a, b)`` and 1.5x faster than a
    product followed by a row sum; accumulates in the arrays' dtype.
    """
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


class _Workspace:
    """Chunk buffers reused from chunk to chunk (one workspace per thread).

    Allocating a dozen 1-2 MiB arrays per chunk costs page faults wherever
    large allocations are not recycled by ``malloc`` (dask worker processes
    set ``MALLOC_TRIM_THRESHOLD_``: the kernel ran ~1.7x slower there); the
    buffers are sized for the largest chunk and sliced for smaller ones.
    """

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        dtype = np.dtype(dtype)
        key = (name, dtype)
        buf = self._buffers.get(key)
        if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:]:
            buf = self._buffers[key] = np.empty(shape, dtype=dtype)
        return buf[: shape[0]]


def _member_rows(logits, y, start, stop, dtype, factors, shift, ws=None):
    """Rows ``start:stop`` of every member as C-ordered ``dtype`` arrays.

    Each member is multiplied by its normalising factor (a power of two, so
    exactly) when that is not 1. With ``shift`` each row is shifted so that its
    label logit is 0 (softmax is invariant to per-row shifts; this keeps the
    moments free of cancellation); without it, the label logits are returned
    too (float64). Float64 input rows without a factor are used in place
    (never written to).
    """
    ws = _Workspace() if ws is None else ws
    rows = np.arange(stop - start)
    yc = y[start:stop]
    members, labels = [], []
    for m, z in enumerate(logits):
        block = z[start:stop]
        factor = 1.0 if factors is None else float(factors[m])
        if factor != 1.0:
            # scale first (in float64, so that no float32 cast overflows); one
            # buffer per member: without the label shift it is the member's rows
            wide = ws.get(("wide", m), block.shape, np.float64)
            block = np.multiply(block, factor, out=wide, dtype=np.float64)
        in_place = not shift and block.dtype == dtype and block.flags.c_contiguous
        out = block if in_place else ws.get(("member", m), block.shape, dtype)
        if shift:
            # one fused pass: subtract in the input's precision, cast on output
            np.subtract(
                block,
                block[rows, yc][:, None],
                out=out,
                dtype=np.promote_types(block.dtype, dtype),
                casting="same_kind",
            )
        else:
            if not in_place:
                out[...] = block
            labels.append(np.asarray(out[rows, yc], dtype=np.float64))
        members.append(out)
    return members, labels


def _combine(members, weights, ws):
    """``sum_m weights[m] * members[m]`` (weights 0 skipped), and a spare buffer."""
    comb = ws.get("comb", members[0].shape, members[0].dtype)
    tmp = ws.get("tmp", members[0].shape, members[0].dtype)
    parts = [(w, a) for w, a in zip(weights, members) if w != 0.0]
    if not parts:
        comb.fill(0.0)
        return comb, tmp
    np.multiply(parts[0][1], comb.dtype.type(parts[0][0]), out=comb)
    for w, a in parts[1:]:
        np.multiply(a, comb.dtype.type(w), out=tmp)
        comb += tmp
    return comb, tmp


def _exp_rows(comb):
    """In place: ``comb`` becomes ``exp(comb - rowmax)``; returns the row maxima.

    Float64 arguments below :data:`_LOG_TINY` are clipped (only when the chunk
    has any: a chunk minimum is ~3x cheaper than clipping); float32 ``exp``
    runs at the same speed on every argument (measured).
    """
    mx = comb.max(axis=1)
    comb -= mx[:, None]
    if comb.dtype == np.float64 and comb.size and comb.min() < _LOG_TINY:
        np.maximum(comb, _LOG_TINY, out=comb)
    np.exp(comb, out=comb)
    return mx.astype(np.float64, copy=False)


def _first_order_terms(logits, y, swc, weights, start, stop, order, factors, ws):
    """Float64 loss (and gradient with ``order=1``) over rows start:stop.

    No label shift (not needed without second moments): members are used as
    float64 arrays (float64 input without a copy).
    """
    members, labels = _member_rows(
        logits, y, start, stop, np.float64, factors, shift=False, ws=ws
    )
    comb, _ = _combine(members, weights, ws)
    label = None
    for w, zy in zip(weights, labels):
        if w != 0.0:  # the same operations as in _combine: the same numbers
            label = w * zy if label is None else label + w * zy
    mx = _exp_rows(comb)
    se = comb @ np.ones(comb.shape[1])
    shift = mx if label is None else mx - label
    loss = float(swc @ (np.log(se) + shift))
    if order == 0:
        return loss, None, None
    grad = np.array(
        [swc @ (_rowdot(comb, a) / se - zy) for a, zy in zip(members, labels)]
    )
    return loss, grad, None


def _chunk_terms(
    logits,
    y,
    sw,
    weights,
    start,
    stop,
    order,
    dtype=np.float64,
    factors=None,
    ws=None,
):
    """Weighted sums of the loss and its derivatives over rows start:stop.

    The one kernel of the objective (in memory, threaded, and on dask workers).
    ``dtype=np.float64`` is the evaluation that certifies the result (loss and
    gradient, ``order <= 1``, without the label shift). ``dtype=np.float32``
    approaches the optimum (see the module docstring). ``order=3`` adds the
    third derivatives of the objective, which turn the Newton step into a
    third-order (Chebyshev) one; the Hessian is then returned as the pair
    ``(hessian, third_derivatives)``; ``order=4`` adds the fourth derivatives
    (the triple ``(hessian, third, fourth)``). ``ws`` (a :class:`_Workspace`)
    supplies the chunk buffers.
    """
    ws = _Workspace() if ws is None else ws
    swc = sw[start:stop]
    if order <= 1 and dtype == np.float64:
        return _first_order_terms(
            logits, y, swc, weights, start, stop, order, factors, ws
        )
    members, _ = _member_rows(logits, y, start, stop, dtype, factors, shift=True, ws=ws)
    comb, tmp = _combine(members, weights, ws)
    mx = _exp_rows(comb)
    ones = np.ones(comb.shape[1], dtype=comb.dtype)
    # pairwise row sums (~log2(K) rounding units, ~1/3 of a BLAS dot's error):
    # the loss and gradient here are what the float32 approach ends on
    se = comb.sum(axis=1).astype(np.float64)
    loss = float(swc @ (np.log(se) + mx))  # the label logit is 0 after the shift
    if order == 0:
        return loss, None, None
    n_members = len(members)
    if order == 1:
        grad = np.array(
            [(swc / se) @ np.multiply(comb, a, out=tmp).sum(axis=1) for a in members]
        )
        return loss, grad, None
    # q_m = p * a_m is reused by the moments sum_k p a_m a_k ...
    weighted = [
        np.multiply(comb, a, out=ws.get(("q", m), a.shape, a.dtype))
        for m, a in enumerate(members)
    ]
    means = np.column_stack([q @ ones for q in weighted]) / se[:, None]
    grad = swc @ means
    # per-row second moments E_p[a_m a_k]
    second = np.empty((len(se), n_members, n_members))
    # ... and in third order r_m = q_m * a_m by sum_k p a_m a_m a_l
    squares = []
    for m in range(n_members):
        if order >= 3:
            out = ws.get(("r", m), comb.shape, comb.dtype)
            squares.append(np.multiply(weighted[m], members[m], out=out))
            second[:, m, m] = (squares[m] @ ones) / se
        else:
            second[:, m, m] = _rowdot(weighted[m], members[m]) / se
        for k in range(m + 1, n_members):
            s = _rowdot(weighted[m], members[k]) / se
            second[:, m, k] = second[:, k, m] = s
    hess = np.einsum("i,imk->mk", swc, second) - np.einsum(
        "i,im,ik->mk", swc, means, means
    )
    if order == 2:
        return loss, grad, hess
    # third central moments E_p[(a_m - mu_m)(a_k - mu_k)(a_l - mu_l)]
    third = np.empty((n_members,) * 3)
    for m, k, q in itertools.combinations_with_replacement(range(n_members), 3):
        if m == k:
            raw = _rowdot(squares[m], members[q])
        elif k == q:
            raw = _rowdot(squares[k], members[m])
        else:
            np.multiply(weighted[m], members[k], out=tmp)
            raw = _rowdot(tmp, members[q])
        mu_m, mu_k, mu_q = means[:, m], means[:, k], means[:, q]
        rows = (
            raw / se
            - mu_m * second[:, k, q]
            - mu_k * second[:, m, q]
            - mu_q * second[:, m, k]
            + 2.0 * mu_m * mu_k * mu_q
        )
        value = swc @ rows
        for idx in set(itertools.permutations((m, k, q))):
            third[idx] = value
    if order == 3:
        return loss, grad, (hess, third)
    fourth = _fourth_cumulants(members, comb, se, means, swc)
    return loss, grad, (hess, third, fourth)


def _fourth_cumulants(members, comb, se, means, swc):
    """Fourth derivatives: summed fourth cumulants of the members under ``p``.

    ``kappa_4(m, k, l, j) = E[a_m a_k a_l a_j] - E[a_m a_k] E[a_l a_j] - ...``
    (centred ``a``), on row-centred copies in the kernel's precision: used on
    the start subsample only (it corrects the approach's third-order steps and
    Hessian extrapolations by the next order), where a few % is accurate
    enough.
    """
    n_members = len(members)
    dtype = comb.dtype
    p = (comb / se[:, None]).astype(dtype, copy=False)
    centred = [(a - means[:, m][:, None]).astype(dtype) for m, a in enumerate(members)]
    pairs, weighted_pairs = {}, {}
    for m in range(n_members):
        for k in range(m, n_members):
            pairs[m, k] = centred[m] * centred[k]
            weighted_pairs[m, k] = p * pairs[m, k]
    ones = np.ones(comb.shape[1], dtype=dtype)
    c2 = {key: (q @ ones).astype(np.float64) for key, q in weighted_pairs.items()}

    def second(m, k):
        return c2[min(m, k), max(m, k)]

    fourth = np.empty((n_members,) * 4)
    for idx in itertools.combinations_with_replacement(range(n_members), 4):
        m, k, q, j = idx
        raw = _rowdot(weighted_pairs[m, k], pairs[q, j]).astype(np.float64)
        rows = (
            raw
            - second(m, k) * second(q, j)
            - second(m, q) * second(k, j)
            - second(m, j) * second(k, q)
        )
        value = swc @ rows
        for perm in set(itertools.permutations(idx)):
            fourth[perm] = value
    return fourth
