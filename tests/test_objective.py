"""Tests of the objective and its chunk kernel (skduo/_fit/: _objective, _kernel)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from skduo._fit._kernel import _chunk_terms, row_chunks
from skduo._fit._objective import (
    Objective,
    block_terms,
    packed_size,
    scan_rows,
    unpack_terms,
)


def _reference(weights, logits, y, sw):
    """Independent NLL and gradient with scipy's logsumexp on the whole matrix."""
    z = sum(w * np.asarray(m, dtype=np.float64) for w, m in zip(weights, logits))
    lse = logsumexp(z, axis=1)
    rows = np.arange(len(y))
    loss = np.average(lse - z[rows, y], weights=sw)
    p = np.exp(z - lse[:, None])
    grad = [
        np.average((p * m).sum(axis=1) - m[rows, y], weights=sw)
        for m in (np.asarray(m, dtype=np.float64) for m in logits)
    ]
    return loss, np.array(grad)


def _problem(rng, n=500, k=7):
    z1 = 2.0 * rng.normal(size=(n, k))
    z2 = z1 + rng.normal(size=(n, k))
    y = rng.integers(0, k, n)
    sw = rng.random(n)
    return [z1, z2], y, sw


def test_float64_matches_reference(rng):
    logits, y, sw = _problem(rng)
    w = np.array([0.7, 0.4])
    f, g, _ = Objective(logits, y, sw)(w, order=1)
    f_ref, g_ref = _reference(w, logits, y, sw)
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-11)


def test_float64_clips_only_negligible_exponentials(rng):
    # gaps of ~2000 between classes: exp underflows to 0 (the chunk is clipped
    # at log(tiny)); those classes are negligible, the label's term is not
    n, k = 200, 5
    y = rng.integers(0, k, n)
    z = rng.normal(size=(n, k)) + 2000.0 * np.eye(k)[(y + 1) % k]
    z[::3] += 2000.0 * np.eye(k)[y[::3]]  # every third row: label far on top
    f, g, _ = Objective([z], y, np.ones(n))(np.array([1.0]), order=1)
    f_ref, g_ref = _reference([1.0], [z], y, np.ones(n))
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12)


def test_chunked_and_blocked_sums_agree(rng):
    # the threaded objective and the per-block sums a dask worker returns
    logits, y, sw = _problem(rng, n=3000, k=40)
    w = np.array([0.3, 0.9])
    for precise, order in ((True, 1), (False, 3), (False, 1), (True, 2)):
        dtype = np.float64 if precise else np.float32
        obj = Objective(logits, y, sw, n_threads=2, precise=precise)
        expected = obj(w, order=order)
        blocks = [(0, 1234), (1234, 1235), (1235, 3000), (3000, 3000)]
        total = sum(
            block_terms([z[a:b] for z in logits], y[a:b], sw[a:b], w, order, dtype)
            for a, b in blocks
        )
        assert len(total) == packed_size(order, 2)
        got = unpack_terms(total, order, 2, sw.sum())
        assert got[0] == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-9, atol=1e-12)
        if order >= 2:
            h_got = got[2][0] if order == 3 else got[2]
            h_exp = expected[2][0] if order == 3 else expected[2]
            # float32 partial sums over other block partitions differ by a
            # few 1e-9 (measured 2.1e-9 with NumPy 1.24)
            np.testing.assert_allclose(h_got, h_exp, rtol=1e-8 if not precise else 1e-9)


def test_power_of_two_factors_are_exact(rng):
    # normalising a member by 2**-40 multiplies its weight by 2**40 exactly
    logits, y, sw = _problem(rng)
    big = [logits[0] * 2.0**40, logits[1]]
    factors = np.array([2.0**-40, 1.0])
    u = np.array([0.75, 0.375])  # float32 numbers: both kernels exact there
    for precise in (True, False):
        order = 1
        plain = Objective(logits, y, sw, precise=precise)(u, order=order)
        scaled = Objective(big, y, sw, precise=precise, factors=factors)(u, order)
        assert scaled[0] == plain[0]
        np.testing.assert_array_equal(scaled[1], plain[1])


def test_scan_rows_sums_in_chunk_order(rng):
    logits, y, sw = _problem(rng, n=5000, k=100)
    chunks = row_chunks(5000, 100)
    assert len(chunks) > 1 and chunks[-1][1] == 5000

    def count(logits, y, sw, start, stop):
        return [stop - start, sw[start:stop].sum()]

    n, total = scan_rows(count, logits, y, sw)
    assert n == 5000 and total == pytest.approx(sw.sum(), rel=1e-13)


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**31 - 1),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    member=st.integers(0, 1),
    at_label=st.booleans(),
    zero_weight=st.booleans(),
    zero_sample_weight=st.booleans(),
    precise=st.booleans(),
)
def test_any_non_finite_logit_makes_the_gradient_non_finite(
    seed, value, member, at_label, zero_weight, zero_sample_weight, precise
):
    # the invariant behind the fit's single finiteness check: the first data
    # pass (order >= 1) is non-finite iff some logit is, wherever it is
    rng = np.random.default_rng(seed)
    logits, y, sw = _problem(rng, n=50, k=4)
    row = int(rng.integers(50))
    col = int(y[row]) if at_label else int((y[row] + 1) % 4)
    logits[member][row, col] = value
    if zero_sample_weight:
        sw[row] = 0.0
    w = np.array([0.5, 0.0 if zero_weight else 0.25])
    for order in (1, 2) if precise else (1, 3):
        loss, grad, _ = Objective(logits, y, sw, precise=precise)(w, order=order)
        assert not (np.isfinite(loss) and np.isfinite(grad).all())


def test_finite_logits_give_finite_terms(rng):
    logits, y, sw = _problem(rng)
    for precise in (True, False):
        for order in (0, 1, 2, 3):
            terms = _chunk_terms(
                logits,
                y,
                sw,
                np.array([3.0, 0.0]),
                0,
                500,
                order,
                np.float64 if precise else np.float32,
            )
            assert np.isfinite(terms[0])


def test_fourth_derivatives_match_finite_differences(rng):
    logits, y, sw = _problem(rng, n=400, k=6)
    logits = [z.astype(np.float32) for z in logits]
    obj = Objective(logits, y, sw, precise=False)
    w = np.array([0.5, 0.25])
    _, _, (hess, third, fourth) = obj(w, order=4)
    exact = Objective(logits, y, sw)  # float64 Hessians, differenced twice
    eps = 1e-3
    for m in range(2):
        for k in range(2):
            e_m, e_k = np.eye(2)[m] * eps, np.eye(2)[k] * eps
            fd = (
                exact(w + e_m + e_k, order=2)[2]
                - exact(w + e_m - e_k, order=2)[2]
                - exact(w - e_m + e_k, order=2)[2]
                + exact(w - e_m - e_k, order=2)[2]
            ) / (4 * eps**2)
            np.testing.assert_allclose(fourth[:, :, m, k], fd, rtol=2e-3, atol=1e-5)
    np.testing.assert_array_equal(fourth, fourth.transpose(1, 0, 2, 3))
    np.testing.assert_array_equal(fourth, fourth.transpose(0, 2, 1, 3))
    np.testing.assert_array_equal(fourth, fourth.transpose(0, 1, 3, 2))
    assert len(third) == 2 and hess.shape == (2, 2)
