"""Compiled (numba) kernel of the bootstrap: every metric of each resample.

An optional leaf (``pip install skduo[fast]``): imported only by
:func:`skduo.metrics._bootstrap_engine._load_compiled`, never by ``import
skduo``. :func:`distribution` scores batches of integer resample counts
(no ``sample_weight``) as :func:`skduo.metrics._bootstrap_engine._metric_values`
does (the reference, and the code that runs without numba), with the same
values bit for bit, but without its ``(resamples x columns)`` temporaries:
for each resample, one pass over the rows in row order gives the weighted
sums of the mean metrics, the ECE's bins and the F1's classes, and one pass
over the rows in decreasing confidence gives, group by group, what the
selective metrics need.

Exactness
---------
Every count and every sum of counts is an integer below ``2**53`` (the
resample weights are counts), so it is exact in any order, as in the
reference. The floating sums are taken in the reference's order: the weighted
sums of the mean metrics and of the ECE's bins row after row from ``0.0``
(as scipy's sparse product, ``y += a * x`` per stored value, rows ascending),
and the row sums of the ECE's bin gaps, the F1's classes and the AURC's
group terms by :func:`_pairwise`, NumPy's pairwise summation (the
``np.add.reduce`` of a contiguous row). No ``fastmath`` (no reassociation,
no contraction into fused multiply-adds), ``error_model='numpy'`` (a
division by zero gives inf or NaN, as NumPy's).
"""

import numba
import numpy as np

__all__ = ["distribution", "warm_up"]

#: Slots of the kernel's output, in this order.
SLOTS = (
    "accuracy",
    "nll",
    "brier",
    "ece",
    "f1_macro",
    "correctness_auroc",
    "aurc",
    "eaurc",
    "augrc",
    "coverage_at_accuracy",
)

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def _block_sum(a, lo, n):
    """NumPy's sum of a block of at most 128 values (eight accumulators)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(**_JIT)
def _pairwise(a, lo, n):
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (``DOUBLE_pairwise_sum``).

    Its recursion (halves rounded down to a multiple of 8, blocks of at most
    128 summed by :func:`_block_sum`) on explicit stacks: numba cannot cache
    a recursive function.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    # tasks: (lo, n, combine?) -- post-order; values: the partial sums
    t_lo = np.empty(192, dtype=np.intp)
    t_n = np.empty(192, dtype=np.intp)
    t_join = np.empty(192, dtype=np.bool_)
    values = np.empty(192)
    top, depth = 0, 0
    t_lo[0], t_n[0], t_join[0] = lo, n, False
    top = 1
    while top > 0:
        top -= 1
        lo_, n_, join = t_lo[top], t_n[top], t_join[top]
        if join:
            depth -= 1
            values[depth - 1] = values[depth - 1] + values[depth]
        elif n_ <= 128:
            values[depth] = _block_sum(a, lo_, n_)
            depth += 1
        else:
            n2 = n_ // 2
            n2 -= n2 % 8
            t_lo[top], t_n[top], t_join[top] = lo_, n_, True
            t_lo[top + 1], t_n[top + 1], t_join[top + 1] = lo_ + n2, n_ - n2, False
            t_lo[top + 2], t_n[top + 2], t_join[top + 2] = lo_, n2, False
            top += 3
    return values[0]


@numba.njit(**_JIT)
def _row_sum(a):
    """``np.add.reduce`` of a contiguous 1-D float64 array."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


@numba.njit(**_JIT)
def _sum(a, pairwise):
    """A row sum as the reference's ``np.add.reduce`` takes it.

    Pairwise (:func:`_row_sum`) for a contiguous row; along a row of an
    F-ordered batch (the sparse product's sums), NumPy adds column after
    column: from ``0.0``, one value after the other.
    """
    if pairwise:
        return _row_sum(a)
    res = 0.0
    for i in range(a.shape[0]):
        res += a[i]
    return res


@numba.njit(**_JIT)
def _maximum(a, b):
    """``np.maximum`` of two floats (NaN propagates)."""
    if a >= b or a != a:
        return a
    return b


#: Resamples scored together: each row's counts of a tile are one short
#: contiguous vector (the tile is transposed into a buffer), so every
#: per-resample sum runs in a lane of its own (SIMD across resamples, each
#: lane adding its rows in the reference's order).
_TILE = 8


@numba.njit(**_JIT)
def _scores(
    counts,
    start,
    out,
    do,
    means,
    ece_bin,
    ece_gap,
    n_bins,
    y,
    correct,
    pred,
    n_classes,
    order,
    err_starts,
    err_ends,
    wrong_sorted,
    mixed,
    h_table,
    f_table,
    target,
):
    """Every metric of each resample of ``counts`` into ``out[:, start:]``."""
    n_res, n = counts.shape
    R = _TILE
    n_groups = err_starts.shape[0]
    buf = np.zeros((n, R))
    total = np.zeros(R)
    s0 = np.zeros(R)
    s1 = np.zeros(R)
    s2 = np.zeros(R)
    bins = np.zeros((n_bins, R))
    gaps = np.zeros(n_bins)
    support = np.zeros((n_classes, R))
    tp = np.zeros((n_classes, R))
    predicted = np.zeros((n_classes, R))
    f1 = np.zeros(n_classes)
    f1_sum = np.zeros(R)
    present = np.zeros(R)
    drop = np.zeros((R, n_groups))
    cum = np.zeros(R)
    k = np.zeros(R)
    e = np.zeros(R)
    e_before = np.zeros(R)
    twice = np.zeros(R)
    num_a = np.zeros(R)
    num_b = np.zeros(R)
    best = np.zeros(R)
    before = np.zeros(R)
    found = np.zeros(R, dtype=np.bool_)
    # the reference's per-bin and per-class sums come F-ordered (b, columns)
    # from its sparse product, and NumPy sums their rows column after
    # column; a batch of one resample is a C row, summed pairwise
    pairwise = n_res == 1
    for t0 in range(0, n_res, R):
        m = min(R, n_res - t0)
        # the tile's counts, row-major (lanes past m stay 0 and are unused)
        for q in range(m):
            row = counts[t0 + q]
            for i in range(n):
                buf[i, q] = row[i]
        for q in range(m, R):
            for i in range(n):
                buf[i, q] = 0.0
        total[:] = 0.0
        for i in range(n):
            for q in range(R):
                total[q] += buf[i, q]
        # ---- mean metrics, ECE bins, F1 classes: rows in order
        if do[0] or do[1] or do[2]:
            s0[:] = 0.0
            s1[:] = 0.0
            s2[:] = 0.0
            for i in range(n):
                a0, a1, a2 = means[0, i], means[1, i], means[2, i]
                for q in range(R):
                    x = buf[i, q]
                    s0[q] += a0 * x
                    s1[q] += a1 * x
                    s2[q] += a2 * x
            for q in range(m):
                if do[0]:
                    out[0, start + t0 + q] = s0[q] / total[q]
                if do[1]:
                    out[1, start + t0 + q] = s1[q] / total[q]
                if do[2]:
                    out[2, start + t0 + q] = s2[q] / total[q]
        if do[3]:
            bins[:, :] = 0.0
            for i in range(n):
                b = ece_bin[i]
                a = ece_gap[i]
                for q in range(R):
                    bins[b, q] += a * buf[i, q]
            for q in range(m):
                for b in range(n_bins):
                    gaps[b] = abs(bins[b, q])
                out[3, start + t0 + q] = _sum(gaps, pairwise) / total[q]
        if do[4]:
            support[:, :] = 0.0
            tp[:, :] = 0.0
            predicted[:, :] = 0.0
            for i in range(n):
                c_y, c_p, ok = y[i], pred[i], correct[i]
                for q in range(R):
                    x = buf[i, q]
                    support[c_y, q] += x
                    predicted[c_p, q] += x
                if ok:
                    for q in range(R):
                        tp[c_y, q] += buf[i, q]
            if pairwise:
                present_1 = 0
                for c in range(n_classes):
                    denom = support[c, 0] + predicted[c, 0]
                    if denom > 0:
                        f1[c] = 2.0 * tp[c, 0] / denom
                        present_1 += 1
                    else:
                        f1[c] = 0.0
                out[4, start + t0] = _row_sum(f1) / np.float64(present_1)
            else:
                f1_sum[:] = 0.0
                present[:] = 0.0
                for c in range(n_classes):
                    for q in range(R):
                        denom = support[c, q] + predicted[c, q]
                        if denom > 0:
                            f1_sum[q] += 2.0 * tp[c, q] / denom
                            present[q] += 1.0
                        else:
                            f1_sum[q] += 0.0
                for q in range(m):
                    out[4, start + t0 + q] = f1_sum[q] / present[q]
        if not do[5]:
            continue
        # ---- selective metrics: error groups by decreasing confidence
        cum[:] = 0.0
        e_before[:] = 0.0
        twice[:] = 0.0
        num_a[:] = 0.0
        num_b[:] = 0.0
        best[:] = 0.0
        before[:] = 0.0
        found[:] = False
        pos = 0
        for g in range(n_groups):
            lo, hi = err_starts[g], err_ends[g]
            for j in range(pos, lo):
                r = order[j]
                for q in range(R):
                    cum[q] += buf[r, q]
            k[:] = 0.0
            e[:] = 0.0
            for j in range(lo, hi):
                r = order[j]
                if wrong_sorted[j]:
                    for q in range(R):
                        k[q] += buf[r, q]
                        e[q] += buf[r, q]
                else:
                    for q in range(R):
                        k[q] += buf[r, q]
            pos = hi
            for q in range(R):
                kq, eq, cb, eb = k[q], e[q], cum[q], e_before[q]
                c = cb + kq
                d = f_table[np.intp(c)] - f_table[np.intp(cb)]
                if mixed:
                    d = d * (eq / kq if kq > 0 else 0.0)
                drop[q, g] = d
                twice[q] += eq * (2.0 * total[q] - 2.0 * c + kq)
                num_a[q] += eq * (cb - eb)
                num_b[q] += (kq - eq) * eq
                if g == 0 or (not found[q] and eq > 0):
                    before[q] = cb - eb
                    found[q] = eq > 0
                # coverage candidates: just before the group, and the group
                if cb > 0 and (cb - eb) >= target * cb:
                    best[q] = max(best[q], cb)
                ea = eb + eq
                if c > 0 and (c - ea) >= target * c:
                    best[q] = max(best[q], c)
                e_before[q] = ea
                cum[q] = c
        for q in range(m):
            col = start + t0 + q
            wt = total[q]
            errors = e_before[q]
            correct_w = wt - errors
            bq = correct_w if n_groups == 0 else before[q]
            h_total = h_table[np.intp(wt)]
            dsum = _row_sum(drop[q])
            aurc = _maximum((errors * (1.0 + h_total) - dsum) / wt, 0.0)
            out[6, col] = aurc
            tail = h_total - h_table[np.intp(correct_w)]
            optimal = (errors - correct_w * tail) / wt if errors > 0 else 0.0
            perfect = errors == 0 or correct_w == 0 or correct_w - bq <= 0.0
            out[7, col] = 0.0 if perfect else _maximum(aurc - optimal, 0.0)
            out[8, col] = twice[q] / (2.0 * (wt * wt))
            if correct_w > 0 and errors > 0:
                out[5, col] = (num_a[q] + 0.5 * num_b[q]) / (correct_w * errors)
            else:
                out[5, col] = np.nan
            bst = best[q]
            if wt > 0 and (wt - errors) >= target * wt:
                bst = max(bst, wt)
            out[9, col] = bst / wt


def distribution(batches, n_resamples, data, out=None):
    """Every metric of each resample: float64 array (len(SLOTS), n_resamples).

    Parameters
    ----------
    batches : iterable of (int, ndarray)
        ``(start, counts)``: integer resample counts of shape (b, n).
    n_resamples : int
    data : dict
        :func:`skduo.metrics._bootstrap_engine._kernel_data` of the
        predictions (every array the kernel reads, and ``do``, the slots to
        compute).
    out : ndarray, default=None
        Where to write (rows of slots not computed are left as they are).
    """
    if out is None:
        out = np.full((len(SLOTS), n_resamples), np.nan)
    for start, counts in batches:
        _scores(counts, int(start), out, *_arguments(data))
    return out


def _arguments(d):
    return (
        d["do"],
        d["means"],
        d["ece_bin"],
        d["ece_gap"],
        d["n_bins"],
        d["y"],
        d["correct"],
        d["pred"],
        d["n_classes"],
        d["order"],
        d["err_starts"],
        d["err_ends"],
        d["wrong_sorted"],
        d["mixed"],
        d["h_table"],
        d["f_table"],
        d["target"],
    )


def warm_up():
    """Compile (or load from numba's cache) the kernel for uint8 and int64 counts.

    So that compilation (and any failure of it) happens here, not in the
    bootstrap's thread.
    """
    n = 2
    data = {
        "do": np.ones(6, dtype=np.bool_),
        "means": np.zeros((3, n)),
        "ece_bin": np.zeros(n, dtype=np.intp),
        "ece_gap": np.zeros(n),
        "n_bins": 1,
        "y": np.zeros(n, dtype=np.intp),
        "correct": np.ones(n, dtype=np.bool_),
        "pred": np.zeros(n, dtype=np.intp),
        "n_classes": 1,
        "order": np.arange(n, dtype=np.intp),
        "err_starts": np.zeros(0, dtype=np.intp),
        "err_ends": np.zeros(0, dtype=np.intp),
        "wrong_sorted": np.zeros(n, dtype=np.bool_),
        "mixed": False,
        "h_table": np.zeros(n + 1),
        "f_table": np.zeros(n + 1),
        "target": 0.5,
    }
    for dtype in (np.uint8, np.int64):
        distribution([(0, np.ones((1, n), dtype=dtype))], 1, data)
