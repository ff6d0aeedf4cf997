"""The compiled kernels (skduo/_fit/_compiled.py): float32, the float64
certificate, and their selection."""

import importlib.util

import numpy as np
import pytest
from scipy.special import softmax

pytest.importorskip("numba")

import skduo._fit._objective as objective  # noqa: E402
from skduo._fit import _compiled  # noqa: E402
from skduo._fit._kernel import _chunk_terms  # noqa: E402
from skduo._fit._newton import newton  # noqa: E402
from skduo._fit._weight_fit import fit_logit_weights  # noqa: E402

U = 2.0**-53  # float64 unit roundoff


@pytest.fixture(autouse=True)
def _fresh_loader():
    objective._load_compiled.cache_clear()
    yield
    objective._load_compiled.cache_clear()


def _problem(rng, n=700, k=23, m=2):
    base = 2.0 * rng.normal(size=(n, k))
    logits = [(base + rng.normal(size=(n, k))).astype(np.float32) for _ in range(m)]
    y = rng.integers(0, k, n)
    sw = rng.random(n)
    return logits, y, sw


def _reference_terms(logits, y, sw, weights, order):
    """Independent float64 terms: softmax moments of the label-shifted members.

    Loss ``logsumexp(c) - c_y``, gradient ``E_p[z_m - z_my]``, Hessian the
    covariance, third derivatives the third central moments, fourth
    derivatives the fourth cumulants of the members under ``p = softmax(c)``,
    summed over rows with the sample weights and laid out as the packed terms.
    """
    rows = np.arange(len(y))
    z = [np.asarray(a, dtype=np.float64) for a in logits]
    z = [a - a[rows, y][:, None] for a in z]
    c = sum(float(w) * a for w, a in zip(weights, z))
    top = c.max(axis=1)
    loss = np.log(np.exp(c - top[:, None]).sum(axis=1)) + top
    p = softmax(c, axis=1)
    mean = [(p * a).sum(axis=1) for a in z]
    centred = [a - mu[:, None] for a, mu in zip(z, mean)]
    parts = [[sw @ loss]]
    if order >= 1:
        parts.append([sw @ mu for mu in mean])
    if order >= 2:
        parts.append([sw @ (p * a * b).sum(axis=1) for a in centred for b in centred])
    if order >= 3:
        parts.append(
            [
                sw @ (p * a * b * d).sum(axis=1)
                for a in centred
                for b in centred
                for d in centred
            ]
        )
    if order >= 4:
        # fourth cumulants: E[abde] - E[ab]E[de] - E[ad]E[be] - E[ae]E[bd]
        def cov(a, b):
            return (p * a * b).sum(axis=1)

        parts.append(
            [
                sw
                @ (
                    (p * a * b * d * e).sum(axis=1)
                    - cov(a, b) * cov(d, e)
                    - cov(a, d) * cov(b, e)
                    - cov(a, e) * cov(b, d)
                )
                for a in centred
                for b in centred
                for d in centred
                for e in centred
            ]
        )
    return np.concatenate([np.asarray(q, dtype=np.float64) for q in parts])


# --------------------------------------------------------------------------------
# the exponential
# --------------------------------------------------------------------------------


def test_exponential_is_accurate_to_float32_resolution():
    x = np.concatenate(
        [np.linspace(-87.0, 0.0, 2_000_001), -np.logspace(-30, 1.9, 100_001)]
    ).astype(np.float32)
    got = _compiled.exp32(x).astype(np.float64)
    rel = np.abs(got / np.exp(x.astype(np.float64)) - 1.0)
    # float32 np.exp is within 2e-7 on the same points (half an ulp is 6e-8);
    # 8.3e-8 measured (the two-constant reduction in float32)
    assert rel.max() < 1e-7
    assert _compiled.exp32(np.array([0.0], dtype=np.float32))[0] == 1.0


def test_exponential_clips_far_tails_and_propagates_nan():
    x = np.array([-200.0, -np.inf, np.nan], dtype=np.float32)
    got = _compiled.exp32(x)
    # below -87 the argument is clipped: exp(-87) = 1.6e-38, negligible next to 1
    np.testing.assert_allclose(got[:2], np.exp(-87.0), rtol=1e-6)
    assert np.isnan(got[2])


# --------------------------------------------------------------------------------
# the chunk terms
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_terms_match_an_independent_float64_implementation(rng, m, order):
    logits, y, sw = _problem(rng, m=m)
    w = np.array([1.3, 0.4][:m], dtype=np.float32)
    got = _compiled.chunk_terms(logits, y, sw, w, 0, len(y), order)
    expected = _reference_terms(logits, y, sw, w, order)
    # float32 elementwise arithmetic (~6e-8 relative per element, ~1e-6 on
    # combined logits of ~10): far below 1e-5 of the row-summed terms' scale
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("m", [1, 2])
def test_terms_agree_with_the_numpy_float32_kernel(rng, m):
    logits, y, sw = _problem(rng, m=m)
    w = np.array([0.9, 0.6][:m], dtype=np.float32).astype(np.float64)
    got = _compiled.chunk_terms(logits, y, sw, w, 100, 600, 4)
    terms = _chunk_terms(logits, y, sw, w, 100, 600, 4, np.float32)
    loss, grad, (hess, third, fourth) = terms
    expected = np.concatenate([[loss], grad, hess, third, fourth], axis=None)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)


def test_every_input_dtype_runs_the_same_code(rng, tmp_path):
    logits, y, sw = _problem(rng)
    ints = np.round(4 * logits[1]).astype(np.int16)
    w = [0.75, 0.25]
    as_f64 = _compiled.chunk_terms([logits[0], ints * 1.0], y, sw, w, 0, 700, 3)
    as_int = _compiled.chunk_terms([logits[0], ints], y, sw, w, 0, 700, 3)
    f32 = ints.astype(np.float32)
    as_f32 = _compiled.chunk_terms([logits[0], f32], y, sw, w, 0, 700, 3)
    mm = np.lib.format.open_memmap(tmp_path / "z.npy", "w+", np.float32, f32.shape)
    mm[:] = f32
    as_mmap = _compiled.chunk_terms([logits[0], mm], y, sw, w, 0, 700, 3)
    strided = np.asfortranarray(f32)
    as_fortran = _compiled.chunk_terms([logits[0], strided], y, sw, w, 0, 700, 3)
    # the shifted float32 rows are the same numbers (integers are exact), so
    # are the terms
    for other in (as_int, as_f32, as_mmap, as_fortran):
        np.testing.assert_array_equal(other, as_f64)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("order", [1, 3])
def test_a_non_finite_logit_makes_the_terms_non_finite(rng, bad, order):
    logits, y, sw = _problem(rng)
    logits[1][5, (y[5] + 1) % 23] = bad
    got = _compiled.chunk_terms(logits, y, sw, [1.0, 0.5], 0, 10, order)
    assert not np.isfinite(got).all()
    # the other rows are unaffected
    assert np.isfinite(_compiled.chunk_terms(logits, y, sw, [1.0, 0.5], 6, 10, 3)).all()


# --------------------------------------------------------------------------------
# the float64 certificate
# --------------------------------------------------------------------------------


def test_float64_exponential_is_within_two_ulps_of_the_exact_one():
    mpmath = pytest.importorskip("mpmath")
    x = np.concatenate([np.linspace(-708.0, 0.0, 1_000_001), -np.logspace(-30, 2.85)])
    got = _compiled.exp64(x)
    # np.exp (libm or NumPy's SIMD exp, each within ~1 ulp): 2.22e-16 measured
    assert np.abs(got / np.exp(x) - 1.0).max() <= 4 * U
    # 60-digit exponentials on every 500th point: 1.12 ulp measured, the
    # proven bound (module docstring) is 56 ulp
    mpmath.mp.dps = 60
    worst = max(
        abs(mpmath.mpf(float(g)) / mpmath.exp(mpmath.mpf(float(v))) - 1)
        for g, v in zip(got[::500], x[::500])
    )
    assert float(worst) <= 2 * U
    assert _compiled.exp64(np.zeros(1))[0] == 1.0


def test_float64_exponential_clips_far_tails_and_propagates_nan():
    got = _compiled.exp64(np.array([-709.0, -1e4, -np.inf, np.nan]))
    # below -708 the argument is raised to -708 (exp = 3.3e-308, still normal)
    np.testing.assert_allclose(got[:3], np.exp(-708.0), rtol=4 * U)
    assert np.isnan(got[3])


def _gamma(n):
    return n * U / (1 - n * U)


def _certificate_bound(logits, weights, sw):
    """The proven bound on the compiled certificate's gradient error, summed.

    Per row (module docstrings of skduo/_fit/_kernel.py and _compiled.py):
    ``(4 t + 2 g_(K+2)) max_k |z_mk|`` with ``t = g_M A + u D + 56u``, ``A``
    the largest ``sum_m |w_m z_mk|``, ``D`` the spread of the combined row;
    weighted by the sample weights, plus the compensated row sum's ``2u``.
    """
    z = [np.asarray(a, dtype=np.float64) for a in logits]
    c = sum(w * a for w, a in zip(weights, z))
    big_a = sum(abs(w) * np.abs(a) for w, a in zip(weights, z)).max(axis=1)
    big_d = c.max(axis=1) - c.min(axis=1)
    t = _gamma(len(z)) * big_a + U * big_d + 56 * U
    k = c.shape[1]
    return np.array(
        [sw @ ((4 * t + 2 * _gamma(k + 2)) * np.abs(a).max(axis=1)) for a in z]
    )


def _exact_terms(logits, y, sw, weights):
    """Loss and gradient sums in extended precision (80-bit long double)."""
    rows = np.arange(len(y))
    z = [np.asarray(a, dtype=np.float64).astype(np.longdouble) for a in logits]
    c = sum(np.longdouble(w) * a for w, a in zip(weights, z))
    top = c.max(axis=1, keepdims=True)
    e = np.exp(c - top)
    se = e.sum(axis=1)
    swl = np.asarray(sw, dtype=np.longdouble)
    loss = swl @ (np.log(se) + top[:, 0] - c[rows, y])
    grad = [swl @ ((e * a).sum(axis=1) / se - a[rows, y]) for a in z]
    return np.array([loss, *grad])


def _certificate_cases(rng, n=400, k=37):
    base = 2.0 * rng.normal(size=(n, k))
    z1 = base + rng.normal(size=(n, k))
    z2 = base + 1.5 * rng.normal(size=(n, k))
    y = rng.integers(0, k, n)
    far = 2000.0 * np.eye(k)[(y + 1) % k]  # gaps of 2000: exponentials clipped
    offset = 1e4 * rng.normal(size=(n, 1))  # rows offset by ~1e4 spreads
    return {
        "random": ([z1, z2], [1.3, 0.4]),
        "far gaps": ([z1 + far, z2], [1.0, 0.5]),
        "row offsets": ([z1 + offset, z2 - offset], [0.8, 0.6]),
        "tiny scale": ([1e-6 * z1, 1e-6 * z2], [1.3e6, 4e5]),
        "huge scale": ([1e6 * z1, 1e6 * z2], [1.3e-6, 4e-7]),
    }, y


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps > 1e-18, reason="needs an 80-bit long double"
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize(
    "case", ["random", "far gaps", "row offsets", "tiny scale", "huge scale"]
)
def test_certificate_is_within_its_proven_bound(rng, dtype, m, case):
    cases, y = _certificate_cases(rng)
    logits, weights = cases[case]
    logits = [np.asarray(z, dtype=dtype) for z in logits[:m]]
    weights = np.array(weights[:m])
    sw = rng.random(len(y))
    sw[::7] = 0.0
    exact = _exact_terms(logits, y, sw, weights)
    got = _compiled.certificate_terms(logits, y, sw, weights, 0, len(y), 1)
    loss, grad, _ = _chunk_terms(logits, y, sw, weights, 0, len(y), 1, np.float64)
    numpy = np.concatenate([[loss], grad])
    bound = _certificate_bound(logits, weights, sw) + 2 * U * np.abs(got[1:])
    # the gradient (what the KKT residual reads) within the proven bound of
    # the exact one, and so within twice the bound of the NumPy certificate
    assert np.all(np.abs(got[1:] - exact[1:].astype(np.float64)) <= bound)
    assert np.all(np.abs(got[1:] - numpy[1:]) <= 2 * bound)
    # the loss: rounding of log, of the row maximum and the label logit
    scale = sw @ np.abs(sum(w * np.asarray(z, float) for w, z in zip(weights, logits)))
    assert abs(got[0] - float(exact[0])) <= 1e-14 * scale.max() + 1e-13 * abs(got[0])
    assert got[0] == pytest.approx(loss, rel=1e-13, abs=1e-14 * scale.max())


@pytest.mark.parametrize("order", [0, 1])
def test_certificate_orders_and_chunks_agree(rng, order):
    logits, y, sw = _problem(rng)
    w = [0.9, 0.6]
    whole = _compiled.certificate_terms(logits, y, sw, w, 0, 700, order)
    assert whole.shape == (1 + 2 * order,)
    parts = sum(
        _compiled.certificate_terms(logits, y, sw, w, a, b, order)
        for a, b in [(0, 250), (250, 251), (251, 700)]
    )
    np.testing.assert_allclose(parts, whole, rtol=1e-14)
    if order == 0:
        first = _compiled.certificate_terms(logits, y, sw, w, 0, 700, 1)
        assert whole[0] == first[0]  # the loss is the same computation


def test_certificate_reads_every_input_dtype_exactly(rng, tmp_path):
    logits, y, sw = _problem(rng)
    ints = np.round(4 * logits[1]).astype(np.int16)
    w = [0.75, 0.25]
    f32 = ints.astype(np.float32)
    mm = np.lib.format.open_memmap(tmp_path / "z.npy", "w+", np.float32, f32.shape)
    mm[:] = f32
    inputs = [ints, f32, ints.astype(np.float64), mm, np.asfortranarray(f32)]
    terms = [
        _compiled.certificate_terms([logits[0], z], y, sw, w, 0, 700, 1) for z in inputs
    ]
    # the same float64 numbers (integers and float32 are exact in float64):
    # float32 and float64 arrays run differently compiled code, which may
    # fuse other multiply-adds, so within a few rounding units
    for other in terms[1:]:
        np.testing.assert_allclose(other, terms[0], rtol=1e-14)
    np.testing.assert_array_equal(terms[3], terms[1])  # memmap: the same code


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_logit_makes_the_certificate_non_finite(rng, bad):
    logits, y, sw = _problem(rng)
    logits[1][5, (y[5] + 1) % 23] = bad
    got = _compiled.certificate_terms(logits, y, sw, [1.0, 0.5], 0, 10, 1)
    assert not np.isfinite(got).all()
    got = _compiled.certificate_terms(logits, y, sw, [1.0, 0.5], 6, 10, 1)
    assert np.isfinite(got).all()


def test_precise_objective_runs_the_certificate_and_numpy_for_the_hessian(rng):
    logits, y, sw = _problem(rng, n=3000, k=40)
    w = np.array([0.9, 0.6])
    fast = objective.Objective(logits, y, sw, 1, True, kernel="numba")
    ref = objective.Objective(logits, y, sw, 1, True, kernel="numpy")
    assert fast._compiled is _compiled.certificate_terms
    f, g, _ = fast(w, order=1)
    f_ref, g_ref, _ = ref(w, order=1)
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12)
    # order 2 (a Newton step of the certificate phase): the NumPy kernel
    for got, expected in zip(fast(w), ref(w)):
        np.testing.assert_array_equal(got, expected)
    # the dask path's per-block terms take the same kernel
    packed = objective.block_terms(logits, y, sw, w, 1, np.float64, None, "numba")
    np.testing.assert_array_equal(packed / sw.sum(), np.concatenate([[f], g]))


def _model_problem(rng, n=6000, k=60, dtype=np.float32):
    """Two members, labels drawn from softmax(1.2 z_1 + 0.5 z_2), sample weights."""
    base = 2.0 * rng.normal(size=(n, k))
    logits = [(base + s * rng.normal(size=(n, k))).astype(dtype) for s in (1, 1.5)]
    p = softmax(1.2 * logits[0].astype(float) + 0.5 * logits[1], axis=1)
    y = np.minimum((p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    return logits, y, rng.random(n)


def test_certificate_newton_steps_agree_with_numpy(rng):
    # the certificate phase alone, from a start far off the optimum and with
    # a tight tolerance, so that it takes float64 Newton steps with gradients
    # from each kernel: both reach the same (interior) optimum
    logits, y, sw = _model_problem(rng, n=3000, k=40)
    scales = np.ones(2)
    upper = np.full(2, 1e4)
    results = []
    for kernel in ("numpy", "numba"):
        obj = objective.Objective(logits, y, sw, 1, True, kernel=kernel)
        w0 = np.array([0.5, 0.2])
        w, f, g, _, it, ok = newton(obj, w0, upper, scales, 1e-12, 50)
        assert ok and it >= 3
        results.append(w)
    assert np.all(results[0] > 0.3)
    # measured: within 1e-15
    np.testing.assert_allclose(results[1], results[0], rtol=1e-11)


# --------------------------------------------------------------------------------
# fits with the compiled kernel
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2])
def test_fit_with_the_compiled_kernel_agrees_with_numpy(rng, monkeypatch, m):
    # 6,000 x 60: the start subsample and every phase run (3 data passes)
    logits, y, sw = _problem(rng, n=6000, k=60, m=m)
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    ref = fit_logit_weights(logits, y, sw, return_result=True)
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    got = fit_logit_weights(logits, y, sw, return_result=True)
    assert objective._load_compiled.cache_info().currsize == 1  # it ran
    assert got.converged and got.kkt_residual <= 1e-8
    assert got.n_passes == ref.n_passes
    # both certified to the KKT tolerance 1e-8 by the same float64 kernel
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-7)
    assert got.nll == pytest.approx(ref.nll, rel=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2])
def test_fitted_weights_agree_to_1e_9_with_and_without_numba(
    rng, monkeypatch, dtype, m
):
    # labels drawn from 1.2 z_1 + 0.5 z_2, sample weights; tol=1e-11 so that
    # both fits end where their float64 certificates put the optimum (at the
    # default tol=1e-8 they may stop anywhere the tolerance allows: weights
    # 2-7e-9 apart, measured, from the different float32 approaches)
    logits, y, sw = _model_problem(rng, dtype=dtype)
    logits = logits[:m]
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    ref = fit_logit_weights(logits, y, sw, tol=1e-11, return_result=True)
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    got = fit_logit_weights(logits, y, sw, tol=1e-11, return_result=True)
    assert ref.converged and got.converged
    assert np.all(got.weights > 0.1)
    # measured: 1e-14 or closer
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-9)
    assert got.nll == pytest.approx(ref.nll, rel=1e-14)


def test_fit_with_the_compiled_kernel_is_thread_count_invariant(rng, monkeypatch):
    logits, y, sw = _problem(rng, n=4000, k=60)
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    one = fit_logit_weights(logits, y, sw, n_threads=1)
    three = fit_logit_weights(logits, y, sw, n_threads=3)
    np.testing.assert_array_equal(one, three)


def test_where_the_compiled_kernel_does_not_apply_numpy_runs(rng, monkeypatch):
    # three members, or a member normalised by a power of two (spread ~1e-9)
    logits, y, sw = _problem(rng, n=3000, k=30, m=3)
    tiny = [logits[0], logits[1] * 1e-9]
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    refs = [fit_logit_weights(z, y, sw) for z in (logits, tiny)]
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    for z, ref in zip((logits, tiny), refs):
        np.testing.assert_array_equal(fit_logit_weights(z, y, sw), ref)
    assert objective._load_compiled.cache_info().currsize == 0


def test_non_finite_logits_are_reported_as_with_numpy(rng, monkeypatch):
    logits, y, sw = _problem(rng, n=3000, k=30)
    logits[1][2999, 4] = np.nan
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    with pytest.raises(ValueError, match="1 NaN"):
        fit_logit_weights(logits, y, sw)


# --------------------------------------------------------------------------------
# selection: SKDUO_FIT_KERNEL, and a kernel that fails to load
# --------------------------------------------------------------------------------


def test_kernel_choice_follows_the_environment(monkeypatch):
    big = objective._COMPILED_MIN_ELEMENTS
    monkeypatch.delenv("SKDUO_FIT_KERNEL", raising=False)
    assert objective.fit_kernel(big - 1) == "numpy"
    assert objective.fit_kernel(big) == "auto"
    monkeypatch.setenv("SKDUO_FIT_KERNEL", " NumPy ")
    assert objective.fit_kernel(big) == "numpy"
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    assert objective.fit_kernel(10) == "numba"
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "cuda")
    with pytest.raises(ValueError, match="one of auto, numpy, numba; got 'cuda'"):
        objective.fit_kernel(10)


def test_without_numba_auto_is_numpy_and_numba_an_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        objective.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "numba" else real(name, *a),
    )
    monkeypatch.delenv("SKDUO_FIT_KERNEL", raising=False)
    assert objective.fit_kernel(objective._COMPILED_MIN_ELEMENTS) == "numpy"
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    with pytest.raises(ImportError, match=r"pip install 'skduo\[fast\]'"):
        objective.fit_kernel(10)


def test_a_kernel_that_fails_to_load_falls_back_or_raises(rng, monkeypatch):
    # e.g. numba broken, or no writable cache directory
    def broken(n_members):
        raise RuntimeError("cannot cache function '_terms2': no locator available")

    monkeypatch.setattr(_compiled, "warm_up", broken)
    logits, y, sw = _problem(rng, n=2000, k=20)
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    ref = fit_logit_weights(logits, y, sw)
    with pytest.warns(RuntimeWarning, match="failed to load.*no locator.*NumPy"):
        obj = objective.Objective(logits, y, sw, precise=False, kernel="auto")
    assert obj._compiled is None
    # warned once per process: the fit now runs the NumPy kernel silently
    monkeypatch.setattr(objective, "fit_kernel", lambda n: "auto")
    np.testing.assert_array_equal(fit_logit_weights(logits, y, sw), ref)
    with pytest.raises(RuntimeError, match="SKDUO_FIT_KERNEL=numba, but the"):
        objective.Objective(logits, y, sw, precise=False, kernel="numba")
