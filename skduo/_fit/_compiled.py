"""Compiled (numba) float32 kernels of the weight fit's approach phase.

An optional leaf beside :mod:`skduo._fit._kernel` (``pip install skduo[fast]``):
imported only by :func:`skduo._fit._objective.compiled_kernel`, never by
``import skduo``. For one or two members it evaluates, over a row chunk, the
same packed terms as the float32 NumPy kernel
(:func:`skduo._fit._kernel._chunk_terms` with ``dtype=np.float32``, orders 0-3):
the loss, gradient, Hessian and third derivatives of the NLL at float32
weights. Where the NumPy kernel makes a dozen passes over a chunk in memory
(combination, maximum, exponential, one row dot product per moment), this one
reads each row once into a float32 buffer of ``K`` values and accumulates
every moment in the same loop, with a vectorisable exponential; at 50,000 x
1,000 its gradient evaluation costs 0.4 of the reference log-sum-exp pass
instead of 1.1, its third-order evaluation 0.6 instead of 1.55
(``benchmarks/bench_fit.py --passes``).

Only the approach uses it: like every float32 value, its results never
certify a fit (the float64 NumPy kernel does, see :mod:`skduo._fit._kernel`), so a
compiled kernel changes the speed of a fit, not its result beyond the KKT
tolerance.

Accuracy
--------
Rows are shifted so that the label logit is 0 (as in the NumPy kernel).
:func:`_exp32` is a range reduction to ``[-ln 2 / 2, ln 2 / 2]`` (in float64,
so that reassociation cannot lose it) and a degree-6 polynomial (the Cephes
``expf`` coefficients): relative error below ``1.5e-7`` on ``[-87, 0]``
(measured against float64 ``np.exp`` in the tests; float32 ``np.exp`` is
within ``2e-7`` there); arguments below ``-87`` give ``exp(-87) = 1.6e-38``
instead of a smaller number, negligible next to the row maximum's
``exp(0) = 1``. Sums over
a row are float32 (reassociated into SIMD lanes, like a BLAS dot), the
per-row central moments and the sums over rows float64.

The floating-point flags allow reassociation and contraction but not
``nnan``/``ninf``: a non-finite logit makes the terms non-finite, as in the
NumPy kernel, which is how the fit detects it.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["chunk_terms"]

#: No ``nnan``/``ninf``: NaN and infinity propagate (the fit relies on it).
_FLAGS = {"reassoc", "contract", "nsz", "arcp", "afn"}

_LOG2E = np.float32(1.4426950408889634)
_LN2 = np.float64(0.6931471805599453)
_EXP_MIN = np.float32(-87.0)


@intrinsic
def _bits_to_float32(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@numba.njit(inline="always", fastmath=_FLAGS)
def _exp32(x):
    """``exp(x)`` for float32 ``x <= 0`` (vectorisable; see the module docs)."""
    x = max(x, _EXP_MIN)
    k = np.floor(x * _LOG2E + np.float32(0.5))
    # the reduction in float64 (one constant; reassociation cannot split it)
    r = np.float32(np.float64(x) - np.float64(k) * _LN2)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1.0)
    return p * _bits_to_float32((np.int32(k) + np.int32(127)) << np.int32(23))


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def exp32(x):
    """:func:`_exp32` elementwise over a 1-D float32 array (for the tests)."""
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = _exp32(x[j])
    return out


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def _terms1(a, y, sw, w0, order, out):
    """Packed terms of one member over the rows of ``a`` (added to ``out``)."""
    n, k = a.shape
    buf = np.empty(k, np.float32)
    for i in range(n):
        ay = a[i, y[i]]
        m = np.float32(-np.inf)
        for j in range(k):
            c = w0 * np.float32(a[i, j] - ay)
            buf[j] = c
            m = max(m, c)
        s0 = np.float32(0.0)
        s1 = np.float32(0.0)
        s2 = np.float32(0.0)
        s3 = np.float32(0.0)
        if order == 0:
            for j in range(k):
                s0 += _exp32(buf[j] - m)
        elif order == 1:
            for j in range(k):
                e = _exp32(buf[j] - m)
                s0 += e
                s1 += e * np.float32(a[i, j] - ay)
        else:
            for j in range(k):
                e = _exp32(buf[j] - m)
                da = np.float32(a[i, j] - ay)
                ea = e * da
                s0 += e
                s1 += ea
                s2 += ea * da
                s3 += ea * da * da
        s = sw[i]
        t0 = np.float64(s0)
        out[0] += s * (np.log(t0) + np.float64(m))
        if order >= 1:
            mu = s1 / t0
            out[1] += s * mu
        if order >= 2:
            e2 = s2 / t0
            out[2] += s * (e2 - mu * mu)
        if order >= 3:
            out[3] += s * (s3 / t0 - 3.0 * mu * e2 + 2.0 * mu * mu * mu)


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def _terms2(a, b, y, sw, w0, w1, order, out):
    """Packed terms of two members over the rows of ``a``, ``b`` (into ``out``)."""
    n, k = a.shape
    buf = np.empty(k, np.float32)
    for i in range(n):
        ay = a[i, y[i]]
        by = b[i, y[i]]
        m = np.float32(-np.inf)
        for j in range(k):
            c = w0 * np.float32(a[i, j] - ay) + w1 * np.float32(b[i, j] - by)
            buf[j] = c
            m = max(m, c)
        s0 = np.float32(0.0)
        sa = np.float32(0.0)
        sb = np.float32(0.0)
        saa = np.float32(0.0)
        sab = np.float32(0.0)
        sbb = np.float32(0.0)
        saaa = np.float32(0.0)
        saab = np.float32(0.0)
        sabb = np.float32(0.0)
        sbbb = np.float32(0.0)
        if order == 0:
            for j in range(k):
                s0 += _exp32(buf[j] - m)
        elif order == 1:
            for j in range(k):
                e = _exp32(buf[j] - m)
                s0 += e
                sa += e * np.float32(a[i, j] - ay)
                sb += e * np.float32(b[i, j] - by)
        elif order == 2:
            for j in range(k):
                e = _exp32(buf[j] - m)
                da = np.float32(a[i, j] - ay)
                db = np.float32(b[i, j] - by)
                ea = e * da
                eb = e * db
                s0 += e
                sa += ea
                sb += eb
                saa += ea * da
                sab += ea * db
                sbb += eb * db
        else:
            for j in range(k):
                e = _exp32(buf[j] - m)
                da = np.float32(a[i, j] - ay)
                db = np.float32(b[i, j] - by)
                ea = e * da
                eb = e * db
                eaa = ea * da
                ebb = eb * db
                s0 += e
                sa += ea
                sb += eb
                saa += eaa
                sab += ea * db
                sbb += ebb
                saaa += eaa * da
                saab += eaa * db
                sabb += ebb * da
                sbbb += ebb * db
        s = sw[i]
        t0 = np.float64(s0)
        out[0] += s * (np.log(t0) + np.float64(m))
        if order == 0:
            continue
        ma = sa / t0
        mb = sb / t0
        out[1] += s * ma
        out[2] += s * mb
        if order == 1:
            continue
        eaa = saa / t0
        eab = sab / t0
        ebb = sbb / t0
        cab = s * (eab - ma * mb)
        out[3] += s * (eaa - ma * ma)
        out[4] += cab
        out[5] += cab
        out[6] += s * (ebb - mb * mb)
        if order == 2:
            continue
        # third central moments E[(a-ma)^p (b-mb)^q], p + q = 3
        taaa = saaa / t0 - 3.0 * ma * eaa + 2.0 * ma * ma * ma
        taab = saab / t0 - 2.0 * ma * eab - mb * eaa + 2.0 * ma * ma * mb
        tabb = sabb / t0 - 2.0 * mb * eab - ma * ebb + 2.0 * ma * mb * mb
        tbbb = sbbb / t0 - 3.0 * mb * ebb + 2.0 * mb * mb * mb
        out[7] += s * taaa
        out[8] += s * taab
        out[9] += s * taab
        out[10] += s * tabb
        out[11] += s * taab
        out[12] += s * tabb
        out[13] += s * tabb
        out[14] += s * tbbb


def _rows(z, y, start, stop):
    """Rows ``start:stop`` of ``z`` as a C-ordered float32 array for the kernel.

    Float32 arrays (memory maps included) are read in place (the kernel
    subtracts each row's label logit, in float32). Other rows (float64,
    integers, float16, row views such as the pooled mode's mean) are shifted
    here, in ``promote_types(dtype, float32)``, and then rounded to float32, as
    the NumPy kernel does; their label logits are then 0 and the kernel's
    subtraction leaves them unchanged. Every input thus runs the same compiled
    code, and inputs whose shifted float32 rows agree (float64 and integer
    copies of the same logits) get the same terms.
    """
    block = np.asarray(z[start:stop])
    if block.dtype == np.float32 and block.flags.c_contiguous:
        return block
    label = block[np.arange(len(block)), y][:, None]
    dtype = np.promote_types(block.dtype, np.float32)
    out = np.empty(block.shape, dtype=np.float32)
    np.subtract(block, label, out=out, dtype=dtype, casting="same_kind")
    return out


def chunk_terms(logits, y, sw, weights, start, stop, order):
    """Packed float32 terms over rows ``start:stop`` (see the module docstring).

    ``logits`` are one or two members (arrays, memory maps or row views, without
    normalising factors; see :func:`_rows`), ``y`` integer labels, ``sw``
    sample weights, ``weights`` float32 numbers, ``order`` 0 to 3; the result
    is laid out as :func:`skduo._fit._objective._pack`'s.
    """
    n_members = len(logits)
    size = 1 + sum(n_members**j for j in range(1, order + 1))
    ys = np.ascontiguousarray(y[start:stop], dtype=np.intp)
    sws = np.ascontiguousarray(sw[start:stop], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float32)
    a = _rows(logits[0], ys, start, stop)
    if n_members == 1:
        packed = np.zeros(4)
        _terms1(a, ys, sws, w[0], order, packed)
    else:
        b = _rows(logits[1], ys, start, stop)
        packed = np.zeros(15)
        _terms2(a, b, ys, sws, w[0], w[1], order, packed)
    return packed[:size].copy()


def warm_up(n_members):
    """Compile (or load from numba's cache) the kernel of ``n_members`` members.

    Run on one row of two classes, so that compilation (and any failure of it)
    happens here rather than in a fit's threads.
    """
    logits = [np.zeros((1, 2), dtype=np.float32)] * n_members
    y = np.zeros(1, dtype=np.intp)
    chunk_terms(logits, y, np.ones(1), [1.0] * n_members, 0, 1, 3)
