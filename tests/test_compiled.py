"""The compiled float32 kernel (skduo/_fit/_compiled.py) and its selection."""

import importlib.util

import numpy as np
import pytest
from scipy.special import softmax

pytest.importorskip("numba")

import skduo._fit._objective as objective  # noqa: E402
from skduo._fit import _compiled  # noqa: E402
from skduo._fit._kernel import _chunk_terms  # noqa: E402
from skduo._fit._weight_fit import fit_logit_weights  # noqa: E402


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
    covariance, third derivatives the third central moments of the members
    under ``p = softmax(c)``, summed over rows with the sample weights and laid
    out as the packed terms.
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
    # float32 np.exp is within 2e-7 on the same points (half an ulp is 6e-8)
    assert rel.max() < 1.5e-7
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
@pytest.mark.parametrize("order", [0, 1, 2, 3])
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
    got = _compiled.chunk_terms(logits, y, sw, w, 100, 600, 3)
    loss, grad, (hess, third) = _chunk_terms(logits, y, sw, w, 100, 600, 3, np.float32)
    expected = np.concatenate([[loss], grad, hess.ravel(), third.ravel()])
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
