"""Compiled (numba) row kernel of the calibration / refinement decomposition.

An optional leaf (``pip install skduo[fast]``): imported only by
:func:`skduo.metrics._decomposition._load_compiled`, never by ``import skduo``.
:func:`row_terms` computes, for a row block, what
:func:`skduo.metrics._decomposition._beta_terms` computes from
:func:`skduo.metrics._decomposition._centred` (the reference, and the code
that runs without numba): the per-row NLL and Brier terms of
``softmax(beta * z)`` and their first two derivatives in ``beta``.

Where the NumPy code makes a dozen passes over a block in memory (the
combination ``w1 z1 + w2 z2`` in float64, the arg-max, the centring, the
squares, the exponential, one row dot product per moment), this reads each
row of the members once, forms the combination on the fly into a buffer of
``K`` values, finds its maximum, and accumulates in one loop (per score)
the sums it needs over the classes other than the first maximum ``t``, with
``x = z - max z`` and ``e = exp(beta x)``::

    s0 = sum e,    s1 = sum e x,    s2 = sum e x^2,
    t0 = sum e^2,  t1 = sum e^2 x,  t2 = sum e^2 x^2   (Brier only)

(the maximum adds ``e = 1``, ``x = 0``). With ``D = 1 + s0``, the softmax
mean and variance of ``x`` are ``m = s1 / D`` and ``v = s2 / D - m^2``,
``sum_k p_k^2 = (1 + t0) / D^2`` and ``sum_k p_k^2 x_k^j = t_j / D^2``: the
moments of :func:`_beta_terms`, taken from the same raw sums about the
row's maximum (so a large common offset cannot cancel them), and the values
as there (``log1p(s0) - beta x_y`` for the NLL).

Precision
---------
- ``precise=True`` (the float64 passes that give the decomposition): the
  combination, the centring and every sum are float64; the exponential is
  :func:`skduo._fit._compiled._exp64` (within ~1 ulp, see that module); sums
  over a row are reassociated into SIMD lanes (each order errs by at most
  ``g_(K-1) sum |terms|``, as NumPy's pairwise sums and ``einsum`` do). The
  per-row terms agree with the NumPy reference to ~1e-15 relative
  (``tests/metrics/test_decomposition.py``); no ``afn``/``arcp``, and no
  ``nnan``/``ninf`` (non-finite logits give non-finite terms, as there).
- ``precise=False`` (the float32 steering passes): the combination is
  float64 rounded to float32 (as the reference's float32 blocks), the
  centring, :func:`skduo._fit._compiled._exp32` and the row sums float32,
  the per-row moments from those sums float64. These passes only choose
  where the float64 passes start.
"""

import numba
import numpy as np

from skduo._fit._compiled import _CERTIFICATE_FLAGS, _FLAGS, _exp32, _exp64

__all__ = ["row_terms", "warm_up"]


#: The combination's loop: a max reduction vectorises only without NaN
#: (``nnan``); the logits are checked finite before (the zoo when a model is
#: added, the public function on its input), and the combination is rounded
#: as NumPy's (no ``contract``).
_COMBINE_FLAGS = {"nnan", "ninf", "nsz"}


@numba.njit(fastmath=_COMBINE_FLAGS, nogil=True, cache=True)
def _combine64(a, b, wa, wb, two, i, buf):
    """Row ``i`` of ``wa a (+ wb b)`` in float64 into ``buf``; its maximum."""
    m = -np.inf
    if two:
        for j in range(buf.shape[0]):
            c = np.float64(a[i, j]) * wa + np.float64(b[i, j]) * wb
            buf[j] = c
            m = max(m, c)
    else:
        for j in range(buf.shape[0]):
            c = np.float64(a[i, j]) * wa
            buf[j] = c
            m = max(m, c)
    return m


@numba.njit(fastmath=_COMBINE_FLAGS, nogil=True, cache=True)
def _combine32(a, b, wa, wb, two, i, buf):
    """Row ``i`` of ``wa a (+ wb b)`` in float64, rounded to float32 into
    ``buf``; its maximum."""
    m = np.float32(-np.inf)
    if two:
        for j in range(buf.shape[0]):
            c = np.float32(np.float64(a[i, j]) * wa + np.float64(b[i, j]) * wb)
            buf[j] = c
            m = max(m, c)
    else:
        for j in range(buf.shape[0]):
            c = np.float32(np.float64(a[i, j]) * wa)
            buf[j] = c
            m = max(m, c)
    return m


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def _sums64(buf, m, beta, brier):
    """Raw sums over the row ``buf`` with maximum ``m`` (float64).

    The sums over the classes other than one maximum, see the module
    docstring: the maxima (``x = 0``) are counted apart (each adds ``e = 1``
    to ``s0`` and ``t0``, nothing to the others), so that no class is
    singled out in the vectorised loop.
    """
    n0 = 0.0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    t0 = 0.0
    t1 = 0.0
    t2 = 0.0
    if brier:
        for j in range(buf.shape[0]):
            x = buf[j] - m
            top = x == 0.0
            e = 0.0 if top else _exp64(beta * x)
            n0 += 1.0 if top else 0.0
            ex = e * x
            s0 += e
            s1 += ex
            s2 += ex * x
            t0 += e * e
            t1 += e * ex
            t2 += ex * ex
    else:
        for j in range(buf.shape[0]):
            x = buf[j] - m
            top = x == 0.0
            e = 0.0 if top else _exp64(beta * x)
            n0 += 1.0 if top else 0.0
            ex = e * x
            s0 += e
            s1 += ex
            s2 += ex * x
    return s0 + (n0 - 1.0), s1, s2, t0 + (n0 - 1.0), t1, t2


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def _sums32(buf, m, beta, brier):
    """Raw sums over the row ``buf`` with maximum ``m`` (float32, as
    :func:`_sums64`), returned as float64."""
    n0 = np.float32(0.0)
    s0 = np.float32(0.0)
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    t0 = np.float32(0.0)
    t1 = np.float32(0.0)
    t2 = np.float32(0.0)
    if brier:
        for j in range(buf.shape[0]):
            x = buf[j] - m
            top = x == np.float32(0.0)
            e = np.float32(0.0) if top else _exp32(beta * x)
            n0 += np.float32(1.0) if top else np.float32(0.0)
            ex = e * x
            s0 += e
            s1 += ex
            s2 += ex * x
            t0 += e * e
            t1 += e * ex
            t2 += ex * ex
    else:
        for j in range(buf.shape[0]):
            x = buf[j] - m
            top = x == np.float32(0.0)
            e = np.float32(0.0) if top else _exp32(beta * x)
            n0 += np.float32(1.0) if top else np.float32(0.0)
            ex = e * x
            s0 += e
            s1 += ex
            s2 += ex * x
    ties = np.float64(n0) - 1.0
    return (
        np.float64(s0) + ties,
        np.float64(s1),
        np.float64(s2),
        np.float64(t0) + ties,
        np.float64(t1),
        np.float64(t2),
    )


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def _finish(s, beta, x_y, e_y, nll, brier, out, row):
    """The per-row values and derivatives in beta from the raw sums ``s``.

    ``out[0:3, row]`` the NLL's, ``out[3:6, row]`` the Brier score's (only
    those asked for), with the formulas of ``_beta_terms``.
    """
    s0, s1, s2, t0, t1, t2 = s
    d = 1.0 + s0
    m = s1 / d
    v = s2 / d - m * m
    if nll:
        out[0, row] = np.log1p(s0) - beta * x_y
        out[1, row] = m - x_y
        out[2, row] = v
    if brier:
        d2 = d * d
        sq = (1.0 + t0) / d2
        q1 = t1 / d2
        q2 = t2 / d2
        p_y = e_y / d
        dy = x_y - m
        p2_dev = q1 - m * sq  # sum_k p_k^2 (x_k - m)
        p2_dev2 = q2 - 2.0 * m * q1 + m * m * sq  # sum_k p_k^2 (x_k - m)^2
        out[3, row] = sq - 2.0 * p_y + 1.0
        out[4, row] = 2.0 * p2_dev - 2.0 * p_y * dy
        out[5, row] = 2.0 * (2.0 * p2_dev2 - v * sq) - 2.0 * p_y * (dy * dy - v)


@numba.njit(fastmath=_CERTIFICATE_FLAGS, nogil=True, cache=True)
def _rows64(a, b, wa, wb, two, y, beta_nll, beta_brier, nll, brier, out, start):
    """Float64 per-row terms of ``wa a (+ wb b)`` into ``out[:, start + i]``."""
    n, k = a.shape
    buf = np.empty(k, np.float64)
    same = nll and brier and beta_nll == beta_brier
    for i in range(n):
        m = _combine64(a, b, wa, wb, two, i, buf)
        yi = y[i]
        x_y = buf[yi] - m
        row = start + i
        for score in range(2):
            if score == 0 and (not nll or same):
                continue
            if score == 1 and not brier:
                continue
            beta = beta_nll if score == 0 else beta_brier
            s = _sums64(buf, m, beta, score == 1)
            e_y = 1.0 if x_y == 0.0 else _exp64(beta * x_y)
            _finish(s, beta, x_y, e_y, score == 0 or same, score == 1, out, row)


@numba.njit(fastmath=_FLAGS, nogil=True, cache=True)
def _rows32(a, b, wa, wb, two, y, beta_nll, beta_brier, nll, brier, out, start):
    """Float32 per-row terms of ``wa a (+ wb b)`` into ``out[:, start + i]``."""
    n, k = a.shape
    buf = np.empty(k, np.float32)
    same = nll and brier and beta_nll == beta_brier
    for i in range(n):
        m = _combine32(a, b, wa, wb, two, i, buf)
        yi = y[i]
        x_y32 = buf[yi] - m
        x_y = np.float64(x_y32)
        row = start + i
        for score in range(2):
            if score == 0 and (not nll or same):
                continue
            if score == 1 and not brier:
                continue
            beta = beta_nll if score == 0 else beta_brier
            beta32 = np.float32(beta)
            s = _sums32(buf, m, beta32, score == 1)
            e_y = 1.0 if x_y32 == 0.0 else np.float64(_exp32(beta32 * x_y32))
            _finish(s, beta, x_y, e_y, score == 0 or same, score == 1, out, row)


def _kernel_array(block):
    """A row block as a C-ordered float32 or float64 array the kernel reads.

    Float32 and float64 rows are read in place (converted exactly in the
    kernel); others (integers, float16, row views) become float64 here.
    """
    block = np.asarray(block)
    if block.dtype in (np.float32, np.float64) and block.flags.c_contiguous:
        return block
    return np.ascontiguousarray(block, dtype=np.float64)


def row_terms(parts, y, betas, precise, out, start):
    """Per-row terms of ``sum_m w_m z_m`` at ``betas`` into ``out[:, start:]``.

    Parameters
    ----------
    parts : list of (float, ndarray)
        One or two ``(weight, rows)`` of the members (the same rows of each).
    y : ndarray of shape (n_rows,)
        The rows' encoded labels.
    betas : dict
        ``{score: beta}`` for ``'nll'`` and/or ``'brier'``.
    precise : bool
        Float64 (True) or the float32 steering precision (False).
    out : ndarray of shape (6, n)
        ``out[0:3]`` the NLL's value, d1, d2 (in beta) per row,
        ``out[3:6]`` the Brier score's; rows ``start:start + n_rows`` are
        written (only those of the scores in ``betas``).
    start : int
    """
    (wa, a), *rest = parts
    a = _kernel_array(a)
    two = bool(rest)
    wb, b = rest[0] if two else (0.0, a)
    b = _kernel_array(b)
    ys = np.ascontiguousarray(y, dtype=np.intp)
    kernel = _rows64 if precise else _rows32
    kernel(
        a,
        b,
        float(wa),
        float(wb),
        two,
        ys,
        float(betas.get("nll", 1.0)),
        float(betas.get("brier", 1.0)),
        "nll" in betas,
        "brier" in betas,
        out,
        int(start),
    )


def warm_up():
    """Compile (or load from numba's cache) the kernels for the usual inputs.

    One and two members of float32 and of float64 rows, both precisions, so
    that compilation (and any failure of it) happens here, not in the
    threads of a pass.
    """
    y = np.zeros(1, dtype=np.intp)
    out = np.empty((6, 1))
    for dtype in (np.float32, np.float64):
        z = np.zeros((1, 2), dtype=dtype)
        for parts in ([(1.0, z)], [(1.0, z), (1.0, z)]):
            for precise in (False, True):
                row_terms(parts, y, {"nll": 1.0, "brier": 2.0}, precise, out, 0)
