"""The weight fit's objective, evaluated in row chunks on a small thread pool.

For member logits ``z_m`` of shape ``(n, K)``, labels ``y`` and non-negative
sample weights ``s``, :class:`Objective` evaluates

    L(w) = sum_i s_i [logsumexp_k(c[i, k]) - c[i, y_i]] / sum_i s_i,
    c = sum_m w_m z_m

and its gradient, Hessian and (in float32) third derivatives in ``w``, without
``n x K`` temporaries: rows are processed in chunks of at most
:data:`_CHUNK_ELEMENTS` elements, and the per-chunk terms (a loss, ``M``
gradient entries, an ``M x M`` Hessian, ``M^3`` third derivatives) are summed
in chunk order, so the result does not depend on thread timing.
"""

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["Objective", "row_chunks"]

#: Elements (rows x classes) processed per chunk: 2**18 float64 = 2 MiB per
#: buffer (fewer, larger chunks cut the per-call overhead, ~25% at 50,000 x 1,000)
_CHUNK_ELEMENTS = 2**18

#: Chunks are at most this fraction of all elements, so that the few buffers per
#: thread stay well under one logits array on small problems (at least 2**15).
_CHUNK_FRACTION = 1 / 16

#: Up to this many members, the float32 phase takes third-order steps (their
#: derivatives cost M(M+1)(M+2)/6 extra row sums per evaluation).
_THIRD_ORDER_MEMBERS = 3


def row_chunks(n_samples, n_classes):
    elements = min(
        _CHUNK_ELEMENTS, max(2**15, int(n_samples * n_classes * _CHUNK_FRACTION))
    )
    step = max(1, elements // max(1, n_classes))
    return [
        (start, min(start + step, n_samples)) for start in range(0, n_samples, step)
    ]


def _member_chunks(logits, y, start, stop, dtype, shift=True):
    """Rows ``start:stop`` of every member as C-ordered ``dtype`` arrays.

    C order whatever the input layout, so the same numbers always give the same
    sums. With ``shift`` each row is shifted so that its label logit is 0
    (softmax is invariant to per-row shifts; this keeps the covariance terms free
    of cancellation); without it, the label logits are returned too.
    """
    rows = np.arange(stop - start)
    yc = y[start:stop]
    members, labels = [], []
    for z in logits:
        block = z[start:stop]
        if shift:
            # one fused pass: subtract in the input's precision, cast on output
            zc = np.empty(block.shape, dtype=dtype)
            np.subtract(
                block,
                block[rows, yc][:, None],
                out=zc,
                dtype=np.promote_types(block.dtype, dtype),
                casting="same_kind",
            )
        else:
            zc = np.array(block, dtype=dtype, order="C")
            labels.append(zc[rows, yc])
        members.append(zc)
    return members if shift else (members, labels)


def _combine_into(members, weights, out, tmp):
    """``out = sum_m weights[m] * members[m]``, members of weight 0 skipped."""
    parts = [(w, zc) for w, zc in zip(weights, members) if w != 0.0]
    if not parts:
        out.fill(0.0)
        return out
    np.multiply(parts[0][1], out.dtype.type(parts[0][0]), out=out)
    for w, zc in parts[1:]:
        np.multiply(zc, out.dtype.type(w), out=tmp)
        out += tmp
    return out


def _exp_clipped(x):
    """In-place ``exp`` of ``x <= 0``; float64 arguments clipped at ``log(tiny)``.

    Float64 ``exp`` is 2-3x slower on arguments whose result is subnormal or 0,
    common for confident members; such results (below ~2.2e-308) are negligible
    next to the row maximum's ``exp(0) = 1`` anyway. Float32 ``exp`` runs at the
    same speed on every argument (measured), so clipping would only add a pass.
    """
    if x.dtype == np.float64:
        np.maximum(x, np.log(np.finfo(np.float64).tiny), out=x)
    np.exp(x, out=x)
    return x


def _chunk_terms_first_order(logits, y, swc, weights, start, stop, order):
    """Float64 loss (and gradient with ``order=1``) over rows start:stop."""
    members, labels = _member_chunks(logits, y, start, stop, np.float64, False)
    comb = np.empty_like(members[0])
    _combine_into(members, weights, comb, np.empty_like(comb))
    label = sum(w * zy for w, zy in zip(weights, labels) if w != 0.0)
    mx = comb.max(axis=1)
    comb -= mx[:, None]
    _exp_clipped(comb)
    se = comb.sum(axis=1)
    loss = float(swc @ (np.log(se) + (mx - label)))
    if order == 0:
        return loss, None, None
    grad = np.array(
        [
            swc @ (np.einsum("ij,ij->i", comb, zc) / se - zy)
            for zc, zy in zip(members, labels)
        ]
    )
    return loss, grad, None


def _chunk_terms(logits, y, sw, weights, start, stop, order, dtype=np.float64):
    """Weighted sums of the loss and its derivatives over rows start:stop.

    ``dtype=np.float64`` is the evaluation that certifies the result (loss and
    gradient, ``order <= 1``, go to :func:`_chunk_terms_first_order`).
    ``dtype=np.float32`` approaches the optimum: every elementwise operation is
    float32 (the float32 exponential is ~4x faster than float64); row sums are
    pairwise (~1e-7 relative), sums over rows float64, which leaves the loss and
    gradient good to ~1e-9 relative at float32-representable weights (see
    :meth:`Objective.snap`). ``order=3`` adds the third derivatives of the
    objective, which turn the Newton step into a third-order (Chebyshev) one;
    the Hessian is then returned as the pair ``(hessian, third_derivatives)``.
    """
    swc = sw[start:stop]
    if order <= 1 and dtype == np.float64:
        # no covariance terms: the label shift (two passes) is not needed
        return _chunk_terms_first_order(logits, y, swc, weights, start, stop, order)
    members = _member_chunks(logits, y, start, stop, dtype)
    comb = np.empty_like(members[0])
    tmp = np.empty_like(comb)
    _combine_into(members, weights, comb, tmp)
    mx = comb.max(axis=1)
    comb -= mx[:, None]
    _exp_clipped(comb)
    se = comb.sum(axis=1).astype(np.float64, copy=False)
    loss = float(swc @ (np.log(se) + mx))  # the label logit is 0 after the shift
    if order == 0:
        return loss, None, None
    n_members = len(members)
    # q_m = p * a_m is reused by the second moments sum_k p a_m a_k (two-operand
    # row dots are ~2x faster than three-operand ones)
    weighted = [np.multiply(comb, zc) for zc in members]
    means = np.column_stack([q.sum(axis=1) for q in weighted]) / se[:, None]
    grad = swc @ means
    if order == 1:
        return loss, grad, None
    # per-row second moments E_p[a_m a_k]
    second = np.empty((len(se), n_members, n_members))
    for m in range(n_members):
        for k in range(m, n_members):
            s = np.einsum("ij,ij->i", weighted[m], members[k]) / se
            second[:, m, k] = second[:, k, m] = s
    hess = np.einsum("i,imk->mk", swc, second) - np.einsum(
        "i,im,ik->mk", swc, means, means
    )
    if order == 2:
        return loss, grad, hess
    # third central moments E_p[(a_m - mu_m)(a_k - mu_k)(a_l - mu_l)]
    third = np.empty((n_members,) * 3)
    for m in range(n_members):
        for k in range(m, n_members):
            np.multiply(weighted[m], members[k], out=tmp)
            for q in range(k, n_members):
                mu_m, mu_k, mu_q = means[:, m], means[:, k], means[:, q]
                rows = (
                    np.einsum("ij,ij->i", tmp, members[q]) / se
                    - mu_m * second[:, k, q]
                    - mu_k * second[:, m, q]
                    - mu_q * second[:, m, k]
                    + 2.0 * mu_m * mu_k * mu_q
                )
                value = swc @ rows
                for idx in set(itertools.permutations((m, k, q))):
                    third[idx] = value
    return loss, grad, (hess, third)


class Objective:
    """Chunked, threaded evaluation of the weighted NLL and its derivatives.

    ``precise=False`` evaluates in float32 (see :func:`_chunk_terms`); with at
    most :data:`_THIRD_ORDER_MEMBERS` members its default order is then 3 (the
    Hessian comes as the pair ``(hessian, third_derivatives)``). The float32
    kernel multiplies by ``float32(w)``: it is only accurate at weights that
    :meth:`snap` returns (elsewhere the gradient is biased by ~H * 6e-8 * w).
    """

    def __init__(self, logits, y, sample_weight, n_threads=None, precise=True):
        self.precise = precise
        # relative resolution of the loss value
        self.resolution = 1e-14 if precise else 1e-9
        self.logits = logits
        self.y = y
        self.sw = sample_weight
        self.total = float(sample_weight.sum())
        n, k = logits[0].shape
        self.chunks = row_chunks(n, k)
        if n_threads is None:
            n_threads = min(len(self.chunks), os.cpu_count() or 1, 4)
        self.n_threads = max(1, n_threads)
        self.max_order = 3 if not precise and len(logits) <= _THIRD_ORDER_MEMBERS else 2

    def snap(self, weights):
        """The nearest weights this objective evaluates exactly."""
        if self.precise:
            return weights
        return np.asarray(weights, dtype=np.float32).astype(np.float64)

    def __call__(self, weights, order=None):
        order = self.max_order if order is None else min(order, self.max_order)
        dtype = np.float64 if self.precise else np.float32

        def work(bounds):
            return _chunk_terms(
                self.logits, self.y, self.sw, weights, *bounds, order, dtype
            )

        if self.n_threads > 1:
            with ThreadPoolExecutor(self.n_threads) as pool:
                parts = list(pool.map(work, self.chunks))
        else:
            parts = [work(c) for c in self.chunks]
        # summed in chunk order: deterministic whatever the thread timing
        loss = sum(p[0] for p in parts) / self.total
        if order == 0:
            return loss, None, None
        grad = np.sum([p[1] for p in parts], axis=0) / self.total
        if order == 1:
            return loss, grad, None
        if order == 2:
            return loss, grad, np.sum([p[2] for p in parts], axis=0) / self.total
        hess = np.sum([p[2][0] for p in parts], axis=0) / self.total
        third = np.sum([p[2][1] for p in parts], axis=0) / self.total
        return loss, grad, (hess, third)
