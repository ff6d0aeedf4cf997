"""Compiled (numba) kernels of the weight fit: the float32 approach, the certificate.

An optional leaf beside :mod:`skduo._fit._kernel` (``pip install skduo[fast]``):
imported only by :func:`skduo._fit._objective._load_compiled`, never by
``import skduo``. For one or two members it evaluates, over a row chunk, the
same packed terms as the NumPy kernel (:func:`skduo._fit._kernel._chunk_terms`):

- :func:`chunk_terms`, in float32 (orders 0-4, as ``dtype=np.float32``): the
  loss, gradient, Hessian, third and fourth derivatives of the NLL at float32
  weights, which the start (fourth derivatives on its subsample) and the
  approach phase use;
- :func:`certificate_terms`, in float64 (orders 0-1, as ``dtype=np.float64``):
  the loss and gradient that certify a fit's KKT residual.

Where the NumPy kernels make a dozen passes over a chunk in memory
(combination, maximum, exponential, one row dot product per moment), these
read each row once into a buffer of ``K`` values and accumulate every moment
in the same loop, with a vectorisable exponential. At 50,000 x 1,000 the
float32 gradient evaluation costs ~0.3 of the reference log-sum-exp pass
instead of ~0.9, the third-order one ~0.5 instead of ~1.25, and the float64
certificate ~0.6 instead of ~1.75 (``benchmarks/bench_fit.py
--evaluations``, 2026-12-07).

Accuracy of the float32 kernel
------------------------------
Rows are shifted so that the label logit is 0 (as in the NumPy kernel).
:func:`_exp32` is a range reduction to ``[-ln 2 / 2, ln 2 / 2]`` (Cephes'
two-constant split of ``ln 2``, compiled without reassociation, see
:func:`_exp64`) and a degree-6 polynomial (the Cephes ``expf``
coefficients): relative error below ``1.5e-7`` (``8.4e-8`` measured) on
``[-87, 0]``
(measured against float64 ``np.exp`` in the tests; float32 ``np.exp`` is
within ``2e-7`` there); arguments below ``-87`` give ``exp(-87) = 1.6e-38``
instead of a smaller number, negligible next to the row maximum's
``exp(0) = 1``. Sums over
a row are float32 (reassociated into SIMD lanes, like a BLAS dot), the
per-row central moments and the sums over rows float64. Like every float32
value, these terms never certify a fit.

Accuracy of the float64 certificate
-----------------------------------
:func:`certificate_terms` makes the operations of the NumPy certificate
(:func:`skduo._fit._kernel._first_order_terms`: no label shift, float32 and
float64 logits read exactly as float64), in a different order, and the bound
stated in :mod:`skduo._fit._kernel` holds for it with the exponential's error
``4u`` replaced by ``eps_exp = 56u`` (``u = 2**-53``):

- combined logits ``c_k = w_0 a_k + w_1 b_k`` (fused or not): within
  ``g_2 A`` of the exact ones, as there;
- :func:`_exp64` of ``x = c_k - max_j c_j`` (exactly 0 for the maximum,
  within ``u D`` of the exact difference):
  arguments below ``-708`` are raised to ``-708`` (their exponentials,
  ``< 3.4e-308``, change a row sum ``>= 1`` by less than ``K * 3.4e-308``
  relative); ``k = floor(x log2(e) + 1/2)`` makes ``|r| <= 0.35``; ``r = (x - k
  LN2_HI) - k LN2_LO`` with the fdlibm split of ``ln 2`` is within ``0.36u``
  of ``x - k ln 2``: ``LN2_HI`` has 32 significant bits, so ``k LN2_HI`` is
  exact for ``|k| <= 1022``, and ``x - k LN2_HI`` is exact (for ``k != 0``,
  ``|x| > 0.34`` is a multiple of ``2**-54``, as is ``k LN2_HI``, and their
  difference is below ``1/2``); the degree-13 Taylor polynomial of ``exp(r)``
  has a remainder below ``|r|^14 / 14! e^|r| < 1e-17 exp(r)``, and Horner's
  rule in floating point (fused or not) with the rounded coefficients errs by
  at most ``g_27 sum_j |r|^j / j! <= g_27 e^(2 |r|) exp(r) < 54.4u exp(r)``;
  the scaling by ``2**k`` (bits built directly, ``k >= -1021``: no
  subnormals) is exact: in all ``< 55u``, stated as ``56u``. Measured: within
  1.12 units in the last place of the exact (mpmath) exponential;
- sums over a row are float64 in any order (LLVM splits them into SIMD lanes):
  every summation order errs by at most ``g_(K-1) sum |terms|`` (Higham,
  *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 4.4), the
  ``g_(K+2)`` term of the bound with room to spare;
- one division and one subtraction of the label logit per row and member (no
  ``arcp``: the division is not replaced by a reciprocal), as there, and one
  multiplication by the row's sample weight (``u``, i.e. ``g_(K+2)`` becomes
  ``g_(K+3)``);
- the sample-weighted sums over a chunk's rows are compensated (Neumaier), so
  they add ``2u`` of the result plus ``O(n u^2)``, instead of ``g_n`` times
  the sum of absolute values of a plain sum.

With ``A = D = 100``, ``K = 1000`` and logits within 1000 spreads of 0 the
bound on the KKT residual's error is then ``3.8e-10`` instead of ``3.6e-10``,
still 26x below the tolerance ``1e-8``; it is the same for float32 and float64
inputs (both are exact in float64), and sample weights only weight the rows'
terms. The exponential's own arithmetic is compiled without ``reassoc``
(:func:`_exp64` is a separate function with only ``contract``; LLVM keeps each
instruction's flags when it inlines it), so that no rewriting can merge
``LN2_HI`` and ``LN2_LO``; the compensated sums are compiled without any
fast-math flag. Only ``reassoc``, ``contract`` and ``nsz`` are allowed in the
certificate's row loops: no ``afn`` (approximate functions), no ``arcp``, and
no ``nnan``/``ninf``, so that NaN and infinity propagate.

The floating-point flags of the float32 kernel allow reassociation and
contraction but not ``nnan``/``ninf``: a non-finite logit makes the terms
non-finite, as in the NumPy kernel, which is how the fit detects it.
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["certificate_terms", "chunk_terms"]

#: No ``nnan``/``ninf``: NaN and infinity propagate (the fit relies on it).
_FLAGS = {"reassoc", "contract", "nsz", "arcp", "afn"}

_LOG2E = np.float32(1.4426950408889634)
#: Cephes' split of ln 2 for float32: 9 significant bits (k * _LN2_HI32 is
#: exact for |k| <= 126), and the rest
_LN2_HI32 = np.float32(0.693359375)
_LN2_LO32 = np.float32(-2.12194440e-4)
_EXP_MIN = np.float32(-87.0)


#: The certificate's row loops: sums reassociated into SIMD lanes, fused
#: multiply-adds; nothing that changes a result's error bound (no ``afn``,
#: ``arcp``) or drops NaN and infinity (no ``nnan``, ``ninf``).
_CERTIFICATE_FLAGS = {"reassoc", "contract", "nsz"}

_LOG2E64 = 1.4426950408889634
#: fdlibm's split of ln 2: 32 significant bits, and the rest
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
#: arguments below are raised to it: exp(-708) = 3.3e-308 is still normal
_EXP64_MIN = -708.0
#: Taylor coefficients 1 / j!, j = 2..13 (correctly rounded)
(_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = (
    1.0 / math.factorial(j) for j in range(2, 14)
)


@intrinsic
def _bits_to_float64(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _bits_to_float32(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@numba.njit(fastmath={"contract"}, nogil=True, cache=True)
def _exp32(x):
    """``exp(x)`` for float32 ``x <= 0`` (vectorisable; see the module docs).

    Like :func:`_exp64`, not inlined by numba and compiled without
    ``reassoc``, so that the two-constant reduction stays as written where
    LLVM inlines it into the kernels' loops.
    """
    x = max(x, _EXP_MIN)
    k = np.floor(x * _LOG2E + np.float32(0.5))
    r = (x - k * _LN2_HI32) - k * _LN2_LO32
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


@numba.njit(fastmath={"contract"}, nogil=True, cache=True)
def _exp64(x):
    """``exp(x)`` for float64 ``x <= 0``, to ~1 ulp (see the module docstring).

    Not inlined by numba and compiled without ``reassoc``: LLVM inlines it
    into the certificate's loops (and vectorises it there) with these flags,
    so the two-constant reduction stays as written.
    """
    x = max(x, _EXP64_MIN)
    k = np.floor(x * _LOG2E64 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_to_float64((np.int64(k) + np.int64(1023)) << np.int64(52))


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def exp64(x):
    """:func:`_exp64` elementwise over a 1-D float64 array, inlined as in the
    certificate (same flags: for the tests)."""
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = _exp64(x[j])
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
                if order == 4:
                    buf[j] = e  # for the centred second pass
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
        if order >= 4:
            # fourth cumulant E[c^4] - 3 E[c^2]^2 of the centred c = a - mu,
            # from the row's exponentials (a second pass over the cached row)
            mu32 = np.float32(mu)
            c2 = np.float32(0.0)
            c4 = np.float32(0.0)
            for j in range(k):
                c = np.float32(a[i, j] - ay) - mu32
                pc2 = buf[j] * c * c
                c2 += pc2
                c4 += pc2 * c * c
            m2 = c2 / t0
            out[4] += s * (c4 / t0 - 3.0 * m2 * m2)


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def _terms2(a, b, y, sw, w0, w1, order, out):
    """Packed terms of two members over the rows of ``a``, ``b`` (into ``out``)."""
    n, k = a.shape
    buf = np.empty(k, np.float32)
    kappa4 = np.empty(5)
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
                if order == 4:
                    buf[j] = e  # for the centred second pass
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
        if order == 3:
            continue
        # fourth cumulants of the centred members (a second pass over the
        # cached row): kappa4[q] for q indices of b among the four
        ma32 = np.float32(ma)
        mb32 = np.float32(mb)
        caa = np.float32(0.0)
        cab = np.float32(0.0)
        cbb = np.float32(0.0)
        f0 = np.float32(0.0)
        f1 = np.float32(0.0)
        f2 = np.float32(0.0)
        f3 = np.float32(0.0)
        f4 = np.float32(0.0)
        for j in range(k):
            ca = np.float32(a[i, j] - ay) - ma32
            cb = np.float32(b[i, j] - by) - mb32
            pa = buf[j] * ca
            pb = buf[j] * cb
            paa = pa * ca
            pbb = pb * cb
            caa += paa
            cab += pa * cb
            cbb += pbb
            f0 += paa * ca * ca
            f1 += paa * ca * cb
            f2 += paa * cb * cb
            f3 += pbb * cb * ca
            f4 += pbb * cb * cb
        m2aa = caa / t0
        m2ab = cab / t0
        m2bb = cbb / t0
        kappa4[0] = f0 / t0 - 3.0 * m2aa * m2aa
        kappa4[1] = f1 / t0 - 3.0 * m2aa * m2ab
        kappa4[2] = f2 / t0 - m2aa * m2bb - 2.0 * m2ab * m2ab
        kappa4[3] = f3 / t0 - 3.0 * m2ab * m2bb
        kappa4[4] = f4 / t0 - 3.0 * m2bb * m2bb
        for idx in range(16):  # (m, k, q, j) -> m * 8 + k * 4 + q * 2 + j
            q = (idx >> 3) + ((idx >> 2) & 1) + ((idx >> 1) & 1) + (idx & 1)
            out[15 + idx] += s * kappa4[q]


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def _certificate1(a, y, sw, w0, order, rows):
    """Float64 per-row terms of one member (weighted) into ``rows[:, i]``."""
    n, k = a.shape
    buf = np.empty(k, np.float64)
    for i in range(n):
        m = -np.inf
        for j in range(k):
            c = w0 * np.float64(a[i, j])
            buf[j] = c
            m = max(m, c)
        s0 = 0.0
        sa = 0.0
        if order == 0:
            for j in range(k):
                s0 += _exp64(buf[j] - m)
        else:
            for j in range(k):
                e = _exp64(buf[j] - m)
                s0 += e
                sa += e * np.float64(a[i, j])
        s = sw[i]
        yi = y[i]
        rows[0, i] = s * (np.log(s0) + (m - buf[yi]))
        if order >= 1:
            rows[1, i] = s * (sa / s0 - np.float64(a[i, yi]))


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def _certificate2(a, b, y, sw, w0, w1, order, rows):
    """Float64 per-row terms of two members (weighted) into ``rows[:, i]``."""
    n, k = a.shape
    buf = np.empty(k, np.float64)
    for i in range(n):
        m = -np.inf
        for j in range(k):
            c = w0 * np.float64(a[i, j]) + w1 * np.float64(b[i, j])
            buf[j] = c
            m = max(m, c)
        s0 = 0.0
        sa = 0.0
        sb = 0.0
        if order == 0:
            for j in range(k):
                s0 += _exp64(buf[j] - m)
        else:
            for j in range(k):
                e = _exp64(buf[j] - m)
                s0 += e
                sa += e * np.float64(a[i, j])
                sb += e * np.float64(b[i, j])
        s = sw[i]
        yi = y[i]
        # the label's combined logit is the very number its exponential used
        rows[0, i] = s * (np.log(s0) + (m - buf[yi]))
        if order >= 1:
            rows[1, i] = s * (sa / s0 - np.float64(a[i, yi]))
            rows[2, i] = s * (sb / s0 - np.float64(b[i, yi]))


@numba.njit(nogil=True, cache=True)
def _compensated_sums(rows, out):
    """``out[t] = sum_i rows[t, i]``, Neumaier-compensated (no fast-math)."""
    for t in range(rows.shape[0]):
        total = 0.0
        comp = 0.0
        for i in range(rows.shape[1]):
            v = rows[t, i]
            nxt = total + v
            if abs(total) >= abs(v):
                comp += (total - nxt) + v
            else:
                comp += (v - nxt) + total
            total = nxt
        out[t] = total + comp


def _certificate_rows(z, start, stop):
    """Rows ``start:stop`` of ``z`` as a C-ordered float32 or float64 array.

    Float32 and float64 rows are read in place (converted to float64 exactly
    in the kernel); any other rows (integers, float16, Fortran order, row
    views) are converted to float64 here, as the NumPy certificate converts
    them.
    """
    block = np.asarray(z[start:stop])
    if block.dtype in (np.float32, np.float64) and block.flags.c_contiguous:
        return block
    return np.ascontiguousarray(block, dtype=np.float64)


def certificate_terms(logits, y, sw, weights, start, stop, order):
    """Packed float64 terms (loss, gradient) over rows ``start:stop``.

    The compiled counterpart of the NumPy certificate (``_chunk_terms`` with
    ``dtype=np.float64``, ``order`` 0 or 1, without normalising factors); its
    error bound is in the module docstring. Laid out as
    :func:`skduo._fit._objective._pack`'s.
    """
    n_members = len(logits)
    ys = np.ascontiguousarray(y[start:stop], dtype=np.intp)
    sws = np.ascontiguousarray(sw[start:stop], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    rows = np.empty((1 + n_members * (order >= 1), stop - start))
    a = _certificate_rows(logits[0], start, stop)
    if n_members == 1:
        _certificate1(a, ys, sws, w[0], order, rows)
    else:
        b = _certificate_rows(logits[1], start, stop)
        _certificate2(a, b, ys, sws, w[0], w[1], order, rows)
    packed = np.empty(len(rows))
    _compensated_sums(rows, packed)
    return packed


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
    sample weights, ``weights`` float32 numbers, ``order`` 0 to 4 (4: the
    fourth cumulants too, which the start takes on its subsample); the result
    is laid out as :func:`skduo._fit._objective._pack`'s.
    """
    n_members = len(logits)
    size = 1 + sum(n_members**j for j in range(1, order + 1))
    ys = np.ascontiguousarray(y[start:stop], dtype=np.intp)
    sws = np.ascontiguousarray(sw[start:stop], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float32)
    a = _rows(logits[0], ys, start, stop)
    if n_members == 1:
        packed = np.zeros(5)
        _terms1(a, ys, sws, w[0], order, packed)
    else:
        b = _rows(logits[1], ys, start, stop)
        packed = np.zeros(31)
        _terms2(a, b, ys, sws, w[0], w[1], order, packed)
    return packed[:size].copy()


def warm_up(n_members):
    """Compile (or load from numba's cache) the kernels of ``n_members`` members.

    Run on one row of two classes of float32 logits (the float32 kernel and
    the certificate), so that compilation (and any failure of it) happens here
    rather than in a fit's threads; other input dtypes of the certificate
    (float64) compile when first used.
    """
    logits = [np.zeros((1, 2), dtype=np.float32)] * n_members
    y = np.zeros(1, dtype=np.intp)
    chunk_terms(logits, y, np.ones(1), [1.0] * n_members, 0, 1, 3)
    certificate_terms(logits, y, np.ones(1), [1.0] * n_members, 0, 1, 1)
