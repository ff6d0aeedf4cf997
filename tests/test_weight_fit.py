"""Tests of the numerical core: the convex weight fit and its objective."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

from skduo._fit._objective import Objective
from skduo._fit._weight_fit import SeparationWarning, fit_logit_weights
from skduo._outputs._kinds import proba_to_logits
from skduo._outputs._logit_ops import log_softmax, softmax


def _reference_nll(weights, logits, y, sample_weight=None):
    """Independent NLL: scipy's logsumexp on the full combined matrix."""
    z = sum(w * np.asarray(m, dtype=np.float64) for w, m in zip(weights, logits))
    per_row = logsumexp(z, axis=1) - z[np.arange(len(y)), y]
    return float(np.average(per_row, weights=sample_weight))


def _reference_fit(logits, y, sample_weight=None):
    """Independent optimum: L-BFGS-B with w >= 0 on the reference NLL, tight tol."""
    m = len(logits)
    res = minimize(
        _reference_nll,
        np.full(m, 0.5),
        args=(logits, y, sample_weight),
        method="L-BFGS-B",
        bounds=[(0, None)] * m,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000},
    )
    return res.x, res.fun


def _sample_labels(rng, z):
    p = softmax(z)
    u = rng.random(len(z))[:, None]
    return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), z.shape[1] - 1)


def _duo_problem(rng, n=600, k=6, w=(1.2, 0.5), noise_small=1.5):
    base = rng.normal(size=(n, k)) * 2
    z_l = base + rng.normal(size=(n, k))
    z_s = base + noise_small * rng.normal(size=(n, k))
    y = _sample_labels(rng, w[0] * z_l + w[1] * z_s)
    return z_l, z_s, y


# --------------------------------------------------------------------------------
# optimality and agreement with an independent implementation
# --------------------------------------------------------------------------------


def test_matches_independent_optimiser(rng):
    z_l, z_s, y = _duo_problem(rng)
    res = fit_logit_weights([z_l, z_s], y, return_result=True)
    w_ref, f_ref = _reference_fit([z_l, z_s], y)
    assert res.converged and res.kkt_residual <= 1e-8
    np.testing.assert_allclose(res.weights, w_ref, rtol=1e-5)
    # the independent NLL at our weights is not above the reference optimum
    assert _reference_nll(res.weights, [z_l, z_s], y) <= f_ref + 1e-12
    assert res.nll == pytest.approx(_reference_nll(res.weights, [z_l, z_s], y), 1e-12)


def test_gradient_and_hessian_match_finite_differences(rng):
    z_l, z_s, y = _duo_problem(rng, n=200)
    sw = rng.random(200)
    obj = Objective([z_l, z_s], y, sw)
    w = np.array([0.7, 0.3])
    f, g, h = obj(w)
    eps = 1e-6
    for m in range(2):
        e = np.zeros(2)
        e[m] = eps
        fp, gp, _ = obj(w + e)
        fm, gm, _ = obj(w - e)
        assert g[m] == pytest.approx((fp - fm) / (2 * eps), rel=1e-6)
        np.testing.assert_allclose(h[:, m], (gp - gm) / (2 * eps), rtol=1e-5)
    assert f == pytest.approx(_reference_nll(w, [z_l, z_s], y, sw), rel=1e-13)


def test_float32_evaluation_is_close_to_float64(rng):
    z_l, z_s, y = _duo_problem(rng, n=300)
    z32 = [z_l.astype(np.float32), z_s.astype(np.float32)]
    w = np.array([0.9, 0.4])
    f64, g64, h64 = Objective(z32, y, np.ones(300))(w)
    f32, g32, (h32, t32) = Objective(z32, y, np.ones(300), precise=False)(w)
    assert f32 == pytest.approx(f64, rel=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h32, h64, rtol=1e-3)
    # third derivatives: central differences of the float64 Hessian
    obj = Objective(z32, y, np.ones(300))
    eps = 1e-5
    for m in range(2):
        e = np.zeros(2)
        e[m] = eps
        fd = (obj(w + e)[2] - obj(w - e)[2]) / (2 * eps)
        np.testing.assert_allclose(t32[:, :, m], fd, rtol=1e-3, atol=1e-6)
    # the third-derivative tensor is symmetric
    np.testing.assert_array_equal(t32, t32.transpose(1, 0, 2))
    np.testing.assert_array_equal(t32, t32.transpose(0, 2, 1))


def test_float32_evaluation_is_accurate_at_snapped_weights(rng):
    # the float32 kernel multiplies by float32(w): at weights that are not
    # float32 numbers its gradient is biased by ~H * 6e-8 * w, so the float32
    # phase only evaluates at snapped weights, where the kernel is ~1e-9 exact
    z_l, z_s, y = _duo_problem(rng, n=2000, k=30)
    obj64 = Objective([z_l, z_s], y, np.ones(2000))
    obj32 = Objective([z_l, z_s], y, np.ones(2000), precise=False)
    w = np.array([1 / 3, np.pi / 7])
    w_snapped = obj32.snap(w)
    assert np.all(w_snapped != w) and np.all(obj64.snap(w) == w)
    np.testing.assert_array_equal(w_snapped, w.astype(np.float32))

    def rel_errors(at):
        f64, g64, _ = obj64(at, order=1)
        f32, g32, _ = obj32(at, order=1)
        return abs(f32 / f64 - 1), np.abs(g32 - g64).max() / np.abs(g64).max()

    # measured: 1.8e-9 (loss), 1.9e-9 (gradient) at snapped weights; 1.1e-8
    # and 2.9e-8 at the unsnapped ones
    assert max(rel_errors(w_snapped)) < 4e-9
    assert rel_errors(w)[1] > 1e-8


def test_nll_never_above_either_member_temperature_scaled(rng):
    z_l, z_s, y = _duo_problem(rng)
    duo = fit_logit_weights([z_l, z_s], y, return_result=True)
    for z in (z_l, z_s):
        single = fit_logit_weights([z], y, return_result=True)
        assert duo.nll <= single.nll + 1e-9


def test_deterministic(rng):
    z_l, z_s, y = _duo_problem(rng, n=3000, k=20)
    a = fit_logit_weights([z_l, z_s], y)
    b = fit_logit_weights([z_l, z_s], y)
    np.testing.assert_array_equal(a, b)


def test_large_problem_uses_subsample_and_fast_phase(rng):
    # above the subsample size, all three phases run; result still exact
    z_l, z_s, y = _duo_problem(rng, n=6000, k=300)
    z32 = [z_l.astype(np.float32), z_s.astype(np.float32)]
    res = fit_logit_weights(z32, y, return_result=True)
    assert res.kkt_residual <= 1e-8
    # the float32 phase ends within the float64 tolerance: no float64 Newton
    # iteration was needed (measured KKT residual 8.3e-10): two float32 passes
    # and the float64 one; n_iter counts every phase's iterations (contract C1)
    assert res.n_passes == 3
    assert res.n_iter >= 1
    w_ref, f_ref = _reference_fit(z32, y)
    np.testing.assert_allclose(res.weights, w_ref, rtol=1e-5)


# --------------------------------------------------------------------------------
# invariances (hypothesis)
# --------------------------------------------------------------------------------

seeds = st.integers(min_value=0, max_value=2**31 - 1)


@given(seed=seeds, shift_scale=st.sampled_from([1.0, 1e2, 1e4]))
def test_row_shift_invariance(seed, shift_scale):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=150, k=4)
    w = fit_logit_weights([z_l, z_s], y)
    shifted = [
        z_l + shift_scale * rng.normal(size=(150, 1)),
        z_s + shift_scale * rng.normal(size=(150, 1)),
    ]
    np.testing.assert_allclose(fit_logit_weights(shifted, y), w, rtol=1e-6)


@given(seed=seeds)
def test_class_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=150, k=5)
    perm = rng.permutation(5)
    inverse = np.argsort(perm)
    w = fit_logit_weights([z_l, z_s], y)
    w_perm = fit_logit_weights([z_l[:, perm], z_s[:, perm]], inverse[y])
    np.testing.assert_allclose(w_perm, w, rtol=1e-6)


@given(seed=seeds)
def test_member_swap_swaps_weights(seed):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=150, k=4)
    w = fit_logit_weights([z_l, z_s], y)
    np.testing.assert_allclose(fit_logit_weights([z_s, z_l], y), w[::-1], rtol=1e-6)


@given(seed=seeds)
def test_integer_sample_weight_equals_repeated_rows(seed):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=80, k=3)
    counts = rng.integers(0, 4, size=80)
    counts[0] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        weighted = fit_logit_weights([z_l, z_s], y, counts, return_result=True)
        rep = np.repeat(np.arange(80), counts)
        repeated = fit_logit_weights([z_l[rep], z_s[rep]], y[rep], return_result=True)
    # separable draws (about 1 in 1,000 seeds, e.g. 224) have no finite optimum:
    # their weights are where the NLL met the tolerance, not a unique point
    assume(not (weighted.separable or repeated.separable))
    # a weight near 0 is known to the KKT tolerance only (~1e-8 of the scale)
    atol = 1e-6 * float(np.max(repeated.weights))
    np.testing.assert_allclose(weighted.weights, repeated.weights, rtol=1e-6, atol=atol)


@given(seed=seeds, scale=st.sampled_from([1e-3, 1e-2, 1.0, 1e2, 1e3]))
def test_logit_scale_equivariance(seed, scale):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=150, k=4)
    w = fit_logit_weights([z_l, z_s], y)
    w_scaled = fit_logit_weights([z_l * scale, z_s], y)
    np.testing.assert_allclose(w_scaled * [scale, 1.0], w, rtol=1e-6)


# --------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------


def test_duplicated_member_sums_to_single_temperature(rng):
    z_l, _, y = _duo_problem(rng)
    single = fit_logit_weights([z_l], y)
    both = fit_logit_weights([z_l, z_l.copy()], y)
    assert both.sum() == pytest.approx(single[0], rel=1e-7)


def test_noise_sidekick_gets_no_weight(rng):
    n, k = 3000, 10
    z_l = 2 * rng.normal(size=(n, k))
    y = _sample_labels(rng, 1.3 * z_l)
    noise = rng.normal(size=(n, k))  # independent of the labels
    w = fit_logit_weights([z_l, noise], y)
    assert w[1] / w[0] < 0.05
    assert w[0] == pytest.approx(1.3, rel=0.05)


def test_weight_exactly_zero_on_the_boundary(rng):
    # a misleading sidekick (it scores the true label 2 lower than the others):
    # the derivative at w_small = 0 is positive, so the optimum is w_small = 0
    n, k = 2000, 6
    z_l = 2 * rng.normal(size=(n, k))
    y = _sample_labels(rng, 1.3 * z_l)
    sidekick = -2.0 * np.eye(k)[y] + rng.normal(size=(n, k))
    w = fit_logit_weights([z_l, sidekick], y)
    assert w[1] == 0.0
    w_ref, _ = _reference_fit([z_l, sidekick], y)
    assert w_ref[1] < 1e-6
    assert w[0] == pytest.approx(fit_logit_weights([z_l], y)[0], rel=1e-7)


def test_recovers_generating_weights(rng):
    n, k = 20000, 5
    z_l = rng.normal(size=(n, k)) * 2
    z_s = rng.normal(size=(n, k)) * 2
    y = _sample_labels(rng, 0.8 * z_l + 0.3 * z_s)
    w = fit_logit_weights([z_l, z_s], y)
    np.testing.assert_allclose(w, [0.8, 0.3], rtol=0.06)


def test_log_probabilities_give_the_same_weights(rng):
    z_l, z_s, y = _duo_problem(rng)
    w = fit_logit_weights([z_l, z_s], y)
    w_lp = fit_logit_weights([log_softmax(z_l), log_softmax(z_s)], y)
    np.testing.assert_allclose(w_lp, w, rtol=1e-7)
    w_p = fit_logit_weights(
        [proba_to_logits(softmax(z_l)), proba_to_logits(softmax(z_s))], y
    )
    np.testing.assert_allclose(w_p, w, rtol=1e-6)


def test_single_member_matches_sklearn_temperature_scaling(rng):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    options = CalibratedClassifierCV._parameter_constraints["method"][0].options
    if "temperature" not in options:
        pytest.skip(f"sklearn {sklearn.__version__} has no temperature scaling")

    z, _, y = _duo_problem(rng, n=800)

    class Logits(ClassifierMixin, BaseEstimator):
        """A fitted 'classifier' whose decision_function returns given rows."""

        classes_ = np.arange(z.shape[1])

        def __sklearn_is_fitted__(self):
            return True

        def fit(self, X, y):
            return self

        def decision_function(self, X):
            return z[np.asarray(X).ravel().astype(int)]

        def predict(self, X):
            return self.decision_function(X).argmax(1)

    idx = np.arange(len(y)).reshape(-1, 1)
    ccv = CalibratedClassifierCV(FrozenEstimator(Logits()), method="temperature")
    ccv.fit(idx, y)
    p_sk = ccv.predict_proba(idx)
    nll_sk = float(-np.log(p_sk[np.arange(len(y)), y]).mean())
    w = fit_logit_weights([z], y, return_result=True)
    assert w.nll <= nll_sk + 1e-9
    assert w.nll == pytest.approx(nll_sk, abs=1e-6)


# --------------------------------------------------------------------------------
# degenerate data
# --------------------------------------------------------------------------------


def test_separable_data_warns_and_returns_bounded_weights(rng):
    n, k = 200, 3
    y = rng.integers(0, k, n)
    z = np.eye(k)[y] * 3.0  # every row ranks its label first: separable
    with pytest.warns(SeparationWarning, match="separate the validation data"):
        res = fit_logit_weights([z, rng.normal(size=(n, k))], y, return_result=True)
    assert res.separable
    assert np.isfinite(res.weights).all() and (res.weights >= 0).all()
    assert np.isfinite(res.nll) and res.nll < 1e-6


def test_constant_member_gets_zero_weight(rng):
    z_l, _, y = _duo_problem(rng)
    const = np.ones_like(z_l) * 5.0
    w = fit_logit_weights([z_l, const], y)
    assert w[1] == 0.0
    assert w[0] == pytest.approx(fit_logit_weights([z_l], y)[0], rel=1e-7)


def test_huge_logits(rng):
    z_l, z_s, y = _duo_problem(rng, n=300)
    w = fit_logit_weights([z_l, z_s], y)
    big = fit_logit_weights([z_l * 1e3 + 1e4, z_s], y)
    np.testing.assert_allclose(big * [1e3, 1.0], w, rtol=1e-6)


def test_never_negative_even_for_tiny_scales(rng):
    # probabilities mistaken for logits (scale ~0.02): the official procedure can
    # return a negative temperature here; we return the non-negative optimum
    z_l, z_s, y = _duo_problem(rng)
    res = fit_logit_weights([z_l, softmax(z_s)], y, return_result=True)
    assert (res.weights >= 0).all() and res.kkt_residual <= 1e-8
    w_ref, f_ref = _reference_fit([z_l, softmax(z_s)], y)
    assert res.nll <= f_ref + 1e-10


def test_convergence_warning_when_iterations_run_out(rng):
    z_l, z_s, y = _duo_problem(rng, n=8000, k=40)
    with pytest.warns(ConvergenceWarning, match="KKT residual"):
        res = fit_logit_weights([z_l, z_s], y, max_iter=0, return_result=True)
    assert not res.converged


# --------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda z, y: ([z, z[:-1]], y, None), ValueError, "same shape"),
        (lambda z, y: ([np.where(z > 2, np.nan, z)], y, None), ValueError, "NaN"),
        (lambda z, y: ([np.where(z > 2, np.inf, z)], y, None), ValueError, "infinite"),
        (lambda z, y: ([z], y + 100, None), ValueError, "class indices"),
        (lambda z, y: ([z], y, -np.ones(len(y))), ValueError, "non-negative"),
        (lambda z, y: ([z], y, np.zeros(len(y))), ValueError, "sums to 0"),
        (lambda z, y: ([z[:0]], y[:0], None), ValueError, "0 samples"),
        (lambda z, y: ([z[:, :1]], y * 0, None), ValueError, "2 classes"),
        (lambda z, y: ([], y, None), ValueError, "At least one"),
    ],
)
def test_bad_input(rng, make, error, match):
    z, _, y = _duo_problem(rng, n=50, k=3)
    logits, yy, sw = make(z, y)
    with pytest.raises(error, match=match):
        fit_logit_weights(logits, yy, sw)


# --------------------------------------------------------------------------------
# inputs: names, non-finite logits in any position, memory maps, dtypes
# --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["label", "other", "zero_sample_weight", "outside_subsample", "second_member"],
)
def test_non_finite_logits_name_the_member_and_count(rng, where):
    # the fit has no separate finiteness scan: whichever row and member holds the
    # bad value, the first data pass is non-finite and one counting pass names it
    z_l, z_s, y = _duo_problem(rng, n=20000, k=20)  # above the subsample size
    sw = np.ones(len(y))
    bad = z_s if where == "second_member" else z_l
    row = 7
    if where == "outside_subsample":
        from skduo._fit._weight_fit import _subsample

        row = int(np.setdiff1d(np.arange(len(y)), _subsample(sw, *z_l.shape))[0])
    col = y[row] if where == "label" else (y[row] + 1) % 20
    bad[row, col] = -np.inf
    bad[row + 1, col] = np.nan
    if where == "zero_sample_weight":
        sw[[row, row + 1]] = 0.0
    name = "small" if where == "second_member" else "large"
    with pytest.raises(
        ValueError, match=f"^{name} contains 1 NaN and 1 infinite value"
    ):
        fit_logit_weights([z_l, z_s], y, sw, names=["large", "small"])


def test_default_names_in_messages(rng):
    z_l, z_s, y = _duo_problem(rng, n=100, k=3)
    z_s[3, 1] = np.inf
    with pytest.raises(ValueError, match="^Logits of member 1 contains 0 NaN and 1"):
        fit_logit_weights([z_l, z_s], y)


def test_memmap_and_integer_logits(rng, tmp_path):
    z_l, z_s, y = _duo_problem(rng, n=3000, k=30)
    z32 = z_l.astype(np.float32)
    mm = np.lib.format.open_memmap(tmp_path / "z.npy", "w+", np.float32, z32.shape)
    mm[:] = z32
    mm.flush()
    loaded = np.load(tmp_path / "z.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        fit_logit_weights([loaded, z_s], y), fit_logit_weights([z32, z_s], y)
    )
    ints = np.round(4 * z_s).astype(np.int16)
    np.testing.assert_allclose(
        fit_logit_weights([z_l, ints], y),
        fit_logit_weights([z_l, ints.astype(np.float64)], y),
        rtol=1e-9,
    )


def test_pooled_fit_streams_the_mean(rng, monkeypatch):
    # the pooled mode reads the mean row chunk by row chunk: no n x K float64
    # array (the old combine_logits copy alone was 1x one float64 array)
    import tracemalloc

    import skduo._fit._objective
    from skduo._fit._modes import fit_pooled_weights
    from skduo._outputs._logit_ops import combine_logits

    monkeypatch.setattr(skduo._fit._objective.os, "cpu_count", lambda: 1)  # 1 thread
    z_l, z_s, y = _duo_problem(rng, n=100000, k=50)
    z_l, z_s = z_l.astype(np.float32), z_s.astype(np.float32)
    single = fit_logit_weights([combine_logits([z_l, z_s], [0.5, 0.5])], y)
    tracemalloc.start()
    res = fit_pooled_weights([z_l, z_s], y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(res.weights, [single[0] / 2] * 2, rtol=1e-12)
    # one thread's chunk buffers only: measured 0.24x one float64 n x K array
    assert peak < 0.4 * z_l.size * 8


# --------------------------------------------------------------------------------
# extreme and degenerate members (issue 11, items 4, 6, 7, 8)
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [8e12, 1e15, 1e100, 1e300, 1e-300])
def test_extreme_logit_scales_are_fitted(rng, scale):
    # the problem is scale-free: w(scale * z) = w(z) / scale; float32 third
    # derivatives overflowed at max |z| ~ 8e12 (LinAlgError in the QP step)
    z_l, z_s, y = _duo_problem(rng, n=400)
    w = fit_logit_weights([z_l, z_s], y)
    res = fit_logit_weights([z_l * scale, z_s], y, return_result=True)
    assert res.converged and res.kkt_residual <= 1e-8
    np.testing.assert_allclose(res.weights * [scale, 1.0], w, rtol=1e-6)
    both = fit_logit_weights([z_l * scale, z_s * scale], y)
    np.testing.assert_allclose(both * scale, w, rtol=1e-6)


def _small_problem_with_interior_optimum():
    # n=16, K=2: the optimum has both weights > 0 (large ~2.11, small ~0.015)
    rng = np.random.default_rng(43)
    y = rng.integers(0, 2, 16)
    z = [rng.normal(size=(16, 2)) + rng.uniform(0, 0.7) * np.eye(2)[y] for _ in "ls"]
    return z, y


def _reference_gradient(weights, logits, y):
    """Independent float64 gradient of the NLL: mean over rows of (p - onehot) . z_m."""
    c = sum(w * m for w, m in zip(weights, logits))
    p = np.exp(c - logsumexp(c, axis=1, keepdims=True)) - np.eye(c.shape[1])[y]
    return np.array([np.mean(np.sum(p * m, axis=1)) for m in logits])


_EXPONENTS = [-300, -100, -25, -20, -10, -6, 0, 6, 10, 20, 29, 100, 300]


def test_certificate_holds_on_a_grid_of_per_member_scales():
    # issue 22 item 4: with both members normalised (spread beyond 2**+-20) the
    # float64 pass used one scaling buffer for both members, so its NLL and
    # gradient were those of the second member twice: weights 2.4e-4 above the
    # optimum in NLL certified (converged, KKT 6e-10, no warning), and false
    # ConvergenceWarnings at the optimum. Reference (provenance): scipy's
    # L-BFGS-B on the unscaled float64 problem (_reference_fit), whose optimum
    # is scale-free (w_m(s_m z_m) = w_m(z_m) / s_m), and the gradient in the
    # user's units dL/dw_m = s_m * (dL/dv_m at v = w * s) from
    # _reference_gradient on the unscaled logits.
    z, y = _small_problem_with_interior_optimum()
    w_ref, f_ref = _reference_fit(z, y)
    assert (w_ref > 1e-3).all()
    for e_l in _EXPONENTS:
        for e_s in _EXPONENTS:
            s = np.array([10.0**e_l, 10.0**e_s])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                res = fit_logit_weights(
                    [z[0] * s[0], z[1] * s[1]], y, return_result=True
                )
            where = f"scales 1e{e_l}, 1e{e_s}"
            assert res.converged and res.kkt_residual <= 1e-8, where
            assert abs(res.nll - f_ref) <= 1e-9 * f_ref, where
            np.testing.assert_allclose(res.weights * s, w_ref, rtol=1e-4, err_msg=where)
            g_ref = _reference_gradient(res.weights * s, z, y)
            np.testing.assert_allclose(
                res.gradient / s, g_ref, atol=1e-9, err_msg=where
            )


def test_float32_logits_near_their_range(rng):
    z_l, z_s, y = _duo_problem(rng, n=400)
    w = fit_logit_weights([z_l, z_s], y)
    big = (z_l * 1e37).astype(np.float32)  # max |z| ~ 1e38 (float32 max 3.4e38)
    got = fit_logit_weights([big, z_s], y)
    np.testing.assert_allclose(got * [1e37, 1.0], w, rtol=1e-5)


def test_quasi_separation_is_detected(rng):
    # a sidekick that fires on 5% of the rows and is always right there: along
    # its weight the NLL decreases without bound (the other rows are ties)
    n, k = 4000, 10
    z_l = 2 * rng.normal(size=(n, k))
    y = _sample_labels(rng, z_l)
    fire = rng.random(n) < 0.05
    z_s = np.zeros((n, k))
    z_s[fire, y[fire]] = 1.0
    with pytest.warns(SeparationWarning, match=r"quasi-separate .* small.* 5\.\d%"):
        res = fit_logit_weights([z_l, z_s], y, return_result=True, names=["l", "small"])
    assert res.separable
    assert np.isfinite(res.weights).all() and (res.weights >= 0).all()
    # a bounded weight, still where the gradient vanishes (before: w_small ~21.5,
    # converged, separable=False, no warning)
    assert res.weights[1] > 10 and res.kkt_residual <= 1e-8


def test_no_quasi_separation_for_an_informative_sidekick(rng):
    # a sidekick that is confident but wrong somewhere is no recession direction
    import warnings

    n, k = 4000, 10
    z_l = 2 * rng.normal(size=(n, k))
    y = _sample_labels(rng, z_l)
    fire = rng.random(n) < 0.05
    z_s = np.zeros((n, k))
    z_s[fire, y[fire]] = 1.0
    z_s[np.flatnonzero(fire)[:3], (y[fire][:3] + 1) % k] = 2.0  # 3 wrong firings
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        res = fit_logit_weights([z_l, z_s], y, return_result=True)
    assert not res.separable and res.converged


def test_member_constant_up_to_rounding_gets_zero_weight(rng):
    # rows constant up to a per-row offset plus a few rounding units: the old fit
    # read a "scale" of ~3e-19 and gave this member a weight of 1e11-3e16, then
    # one-hot predictions once it moved by 1e-3
    z_l, _, y = _duo_problem(rng, n=2000)
    offset = 3e-3 * rng.random((len(y), 1))
    noise = np.spacing(offset) * rng.integers(-2, 3, size=z_l.shape)
    degenerate = offset + noise
    with pytest.warns(UserWarning, match="^side: every row is constant up to round"):
        res = fit_logit_weights(
            [z_l, degenerate], y, return_result=True, names=["large", "side"]
        )
    assert res.weights[1] == 0.0
    single = fit_logit_weights([z_l], y, return_result=True)
    assert res.weights[0] == single.weights[0] and res.nll == single.nll
    # moving the degenerate member changes nothing
    moved = res.weights[0] * z_l + res.weights[1] * (degenerate + 1e-3)
    np.testing.assert_array_equal(moved, res.weights[0] * z_l)


def test_separable_fit_never_above_a_member_fitted_alone(rng):
    # with separable data the fit stops where the gradient meets the tolerance;
    # measured before the fix: the duo's NLL 0.5-3.9e-9 above the large member's
    # own fit on 30 of 30 such problems
    import warnings

    from skduo._fit._weight_fit import _fit, _validate_inputs

    for seed in range(3):
        r = np.random.default_rng(seed)
        n, k = 300, 4
        y = r.integers(0, k, n)
        z_l = r.normal(size=(n, k)) + 4.0 * np.eye(k)[y]
        z_l[np.arange(n), y] = z_l.max(axis=1) + 0.5  # the label always on top
        z_s = r.normal(size=(n, k)) + np.eye(k)[y]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SeparationWarning)
            duo = fit_logit_weights([z_l, z_s], y, return_result=True)
            single = fit_logit_weights([z_l], y, return_result=True)
            raw, _ = _fit(
                *_validate_inputs([z_l, z_s], y, None), 1e-8, 100, None, False
            )
        assert duo.separable and raw.separable
        assert raw.nll > single.nll  # the fit without the comparison
        assert duo.nll <= single.nll


@given(seed=seeds)
def test_nll_not_above_a_member_alone_beyond_rounding(seed):
    rng = np.random.default_rng(seed)
    z_l, z_s, y = _duo_problem(rng, n=200, k=5)
    duo = fit_logit_weights([z_l, z_s], y, return_result=True)
    for z in (z_l, z_s):
        single = fit_logit_weights([z], y, return_result=True)
        assert duo.nll <= single.nll * (1 + 1e-13)


# --------------------------------------------------------------------------------
# iteration counts (issue 12, item 5)
# --------------------------------------------------------------------------------


def test_n_iter_counts_every_phase(rng):
    from skduo._fit._modes import fit_unweighted_weights

    z_l, z_s, y = _duo_problem(rng, n=3000, k=20)
    res = fit_logit_weights([z_l, z_s], y, return_result=True)
    assert res.n_iter >= 1  # was 0 on almost every fit (last phase only)
    unweighted = fit_unweighted_weights([z_l, z_s], y)
    singles = [fit_logit_weights([z], y, return_result=True) for z in (z_l, z_s)]
    assert all(s.n_iter >= 1 for s in singles)
    assert unweighted.n_iter == sum(s.n_iter for s in singles)
