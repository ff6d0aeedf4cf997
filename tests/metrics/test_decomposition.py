"""Calibration / refinement split of NLL and Brier; the smooth ECE."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from scipy.stats import norm

from skduo import fit_temperature
from skduo.metrics import (
    calibration_refinement_decomposition,
    multiclass_brier_score,
    nll_loss,
    smooth_ece,
)

decompose = calibration_refinement_decomposition


def _logits(seed, n=400, k=3, signal=2.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return y, rng.normal(size=(n, k)) + signal * np.eye(k)[y]


def test_uniform_is_optimal_for_uninformative_logits():
    # one right and one wrong row with the same logits: the best temperature
    # is infinite (uniform), refinement log 2 and 1 - 1/2; score by hand:
    # (log(1 + e^-1) + log(1 + e)) / 2
    y, z = np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]])
    nll = decompose(y, logits=z)
    assert nll.score == pytest.approx((np.log1p(np.exp(-1)) + np.log1p(np.e)) / 2)
    assert nll.refinement == pytest.approx(np.log(2), rel=1e-9)
    assert nll.temperature == np.inf
    brier = decompose(y, logits=z, score="brier")
    assert brier.refinement == pytest.approx(0.5) and brier.temperature == np.inf


def test_literal_values_against_an_independent_minimisation():
    y = np.array([0, 1, 1, 0, 1])
    z = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [-1.0, 1.0]])

    def nll(beta):
        return -log_softmax(beta * z, axis=1)[np.arange(5), y].mean()

    def brier(beta):
        p = np.exp(log_softmax(beta * z, axis=1))
        return ((p - np.eye(2)[y]) ** 2).sum(1).mean()

    for score, func, literal in (
        # literals: this function's output, confirmed by scipy's bounded
        # minimisation of the score in beta below
        ("nll", nll, 0.5646002397471634),
        ("brier", brier, 0.3912206838470068),
    ):
        ref = minimize_scalar(
            func, bounds=(0.01, 10), method="bounded", options={"xatol": 1e-10}
        )
        got = decompose(y, logits=z, score=score)
        assert got.refinement == pytest.approx(ref.fun, abs=1e-9)
        assert got.refinement == pytest.approx(literal, abs=1e-12)
        assert got.temperature == pytest.approx(1 / ref.x, rel=1e-4)
        assert got.score == pytest.approx(func(1.0))


@settings(max_examples=25)
@given(
    seed=st.integers(0, 10**6),
    scale=st.floats(0.1, 8.0),
    score=st.sampled_from(["nll", "brier"]),
)
def test_parts_sum_to_the_total(seed, scale, score):
    y, z = _logits(seed, n=120)
    d = decompose(y, logits=scale * z, score=score)
    assert d.calibration + d.refinement == pytest.approx(d.score, abs=1e-12)
    assert d.calibration >= 0 and d.refinement >= 0
    if score == "nll":
        assert d.score == pytest.approx(nll_loss(y, logits=scale * z))
    else:
        p = np.exp(log_softmax(scale * z, axis=1))
        assert d.score == pytest.approx(multiclass_brier_score(y, p))


@pytest.mark.parametrize("score", ["nll", "brier"])
def test_temperature_scaling_leaves_the_refinement_unchanged(score):
    # a 6x overconfident model: temperature scaling fitted on a validation
    # split removes calibration error, never refinement
    y_val, z_val = _logits(0)
    y_test, z_test = _logits(1)
    hot_val, hot_test = 6.0 * z_val, 6.0 * z_test
    ts = fit_temperature(hot_val, y_val)
    scaled = ts.decision_logits(hot_test)
    raw = decompose(y_test, logits=hot_test, score=score)
    after = decompose(y_test, logits=scaled, score=score)
    assert raw.refinement == pytest.approx(after.refinement, rel=1e-6)
    assert raw.refinement == pytest.approx(
        decompose(y_test, logits=z_test, score=score).refinement, rel=1e-6
    )
    assert after.calibration < 0.1 * raw.calibration
    assert raw.temperature == pytest.approx(
        6.0 * decompose(y_test, logits=z_test, score=score).temperature, rel=1e-4
    )


def test_probabilities_are_their_logarithms():
    y, z = _logits(2, n=100)
    p = np.exp(log_softmax(z, axis=1))
    a, b = decompose(y, p), decompose(y, logits=z)
    assert a.score == pytest.approx(b.score) and a.refinement == pytest.approx(
        b.refinement
    )
    with pytest.raises(ValueError, match="exactly one"):
        decompose(y, p, logits=z)


def _direct_smece(conf, resid, sigma):
    """The definition, integrated by quadrature (independent of the FFT grid)."""

    def integrand(t):
        k = sum(
            norm.pdf(t - conf - 2 * j, scale=sigma)
            + norm.pdf(t + conf - 2 * j, scale=sigma)
            for j in range(-3, 4)
        )
        return abs(np.mean(k * resid))

    return quad(integrand, 0, 1, points=sorted(set(conf)), limit=1000)[0]


def test_smooth_ece_constant_confidence_is_the_gap():
    # confidence 0.9 on every row, accuracy 3/4: |0.9 - 0.75|
    assert smooth_ece([0, 0, 0, 1], [[0.9, 0.1]] * 4) == pytest.approx(0.15, abs=1e-6)


def test_smooth_ece_matches_the_definition():
    conf = np.array([0.2, 0.4, 0.7, 0.9])  # top-label confidences (binary)
    y = np.array([0, 1, 1, 1])
    proba = np.column_stack([1 - conf, conf])
    pred = proba.argmax(1)
    value, sigma = smooth_ece(y, proba, return_sigma=True)
    top = proba.max(1)
    resid = (pred == y) - top
    assert value == pytest.approx(_direct_smece(top, resid, sigma), abs=1e-6)
    assert value == pytest.approx(sigma, abs=1e-6)  # the fixed point
    # literal: the fixed point of the quadrature above, to the 1e-7 relative
    # tolerance of the root search
    assert value == pytest.approx(0.1320880, abs=1e-6)


def test_smooth_ece_mass_at_confidence_one_has_full_weight():
    # issue #22: the reflected kernel at f = 1 is 2 sum_k phi(t - 1 - 2k) (the
    # point is its own mirror image); the FFT's even extension counted it once.
    # Two wrong rows at confidence 1: residual -1 everywhere, and the kernel
    # integrates to 1 over [0, 1] for any width, so smECE_sigma = 1 for every
    # sigma and the fixed point is the bound sigma = 1 (exact; relplot gives
    # 0.9997; the half-weight bug gave 0.5).
    value, sigma = smooth_ece(
        [0, 0], [[0, 1], [0, 1]], labels=[0, 1], return_sigma=True
    )
    assert value == pytest.approx(1.0, abs=1e-9) and sigma == 1.0
    assert _direct_smece(np.ones(2), -np.ones(2), 1.0) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("top", [1.0, 1.0 - 1e-4])  # at 1, and within a grid step
def test_smooth_ece_with_most_rows_at_confidence_one_matches_the_quadrature(top):
    # the realistic case of issue #22: n = 200, 60 % of rows at confidence 1
    rng = np.random.default_rng(0)
    conf = np.concatenate([np.full(120, top), rng.uniform(0.5, 1.0, 80)])
    correct = rng.uniform(size=200) < np.concatenate([np.full(120, 0.9), conf[120:]])
    y = np.where(correct, 0, 1)
    value, sigma = smooth_ece(y, np.column_stack([conf, 1 - conf]), return_sigma=True)
    # the definition by quadrature at the returned width, and its fixed point
    assert value == pytest.approx(_direct_smece(conf, correct - conf, sigma), abs=1e-6)
    assert value == pytest.approx(sigma, abs=1e-6)
    if top == 1.0:
        # literal: the root of _direct_smece(conf, correct - conf, s) - s by
        # scipy.optimize.brentq on [1e-3, 1] (xtol = rtol = 1e-12, quad limit
        # 1000): 0.12769188794321 (the half-weight bug gave 0.0780)
        assert value == pytest.approx(0.1276918879432, abs=1e-9)


def test_smooth_ece_mass_at_zero_has_full_weight():
    # the other end point, through the private core (a top-label confidence
    # is never 0): against the quadrature of the definition
    from skduo.metrics._decomposition import _smooth_ece

    conf = np.array([0.0, 0.0, 0.3, 0.5])
    resid = np.array([0.5, 0.2, -0.1, 0.3])
    value, sigma = _smooth_ece(conf, resid, np.full(4, 0.25))
    assert value == pytest.approx(_direct_smece(conf, resid, sigma), abs=1e-6)
    assert value == pytest.approx(sigma, abs=1e-6)


def test_smooth_ece_weights_are_repetitions_and_calibrated_is_small():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 300)
    correct = rng.uniform(size=300) < conf  # calibrated by construction
    y = np.where(correct, 0, 1)
    proba = np.column_stack([conf, 1 - conf])
    w = rng.integers(1, 4, 300)
    weighted = smooth_ece(y, proba, sample_weight=w)
    repeated = smooth_ece(np.repeat(y, w), np.repeat(proba, w, axis=0))
    assert weighted == pytest.approx(repeated, abs=1e-12)
    assert smooth_ece(y, proba) < 0.06
    # 3x sharper logits: overconfident, clearly larger
    hot = np.exp(3 * np.log(proba))
    hot /= hot.sum(1, keepdims=True)
    assert smooth_ece(y, hot) > 2 * smooth_ece(y, proba)


def test_brier_derivatives_match_central_differences():
    # the one-pass analytic first and second derivatives in beta, against
    # central finite differences of the score (step 1e-4: truncation ~1e-8)
    from skduo.metrics._decomposition import _brier_terms

    rng = np.random.default_rng(3)
    y = rng.integers(0, 7, 200)
    z = rng.normal(size=(200, 7)) * 2.0
    sw = rng.uniform(0.5, 2.0, 200)
    h = 1e-4
    for beta in (0.3, 1.0, 2.5):
        value, d1, d2 = _brier_terms(z, y, sw, beta, order=2)
        up, down = (_brier_terms(z, y, sw, beta + s * h)[0] for s in (1, -1))
        assert d1 == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)
        assert d2 == pytest.approx((up - 2 * value + down) / h**2, rel=1e-4)


def test_brier_refinement_at_the_minimum_of_a_fine_search():
    # the Newton refinement against scipy's bounded search on the directly
    # computed score (xatol 1e-12 in beta), on a 1,000-row, 50-class problem
    rng = np.random.default_rng(4)
    y = rng.integers(0, 50, 1000)
    z = rng.normal(size=(1000, 50)).astype(np.float32) * 3
    z[np.arange(1000), y] += 2.0

    def brier(beta):
        p = np.exp(log_softmax(beta * z.astype(np.float64), axis=1))
        return ((p - np.eye(50)[y]) ** 2).sum(1).mean()

    got = decompose(y, logits=z, score="brier")
    ref = minimize_scalar(
        brier, bounds=(0.05, 5), method="bounded", options={"xatol": 1e-12}
    )
    assert got.refinement == pytest.approx(ref.fun, rel=1e-12)
    assert got.temperature == pytest.approx(1 / ref.x, rel=1e-6)


@pytest.mark.parametrize("scale, offset", [(0.2, 0), (1.0, 0), (3.0, 0), (1.0, 1e4)])
def test_large_inputs_newton_passes_equal_the_direct_search(scale, offset, monkeypatch):
    # above _DIRECT_MAX_ROWS the optimal temperatures are found by Newton
    # passes over all rows from beta = 1; the reference is the direct search
    # (the whole grid and safeguarded Newton on all rows, which the
    # implementation used for every size before), forced here by raising the
    # threshold. offset: logits with a large common shift, which softmax
    # ignores (the passes' moments are taken about each row's maximum)
    import skduo.metrics._decomposition as dec

    rng = np.random.default_rng(11)
    n, k = 9000, 40
    y = rng.integers(0, k, n)
    z = scale * (rng.normal(size=(n, k)) * 1.5 + 3.0 * np.eye(k)[y]) + offset
    fast = dec._decompose(y, z, None)
    monkeypatch.setattr(dec, "_DIRECT_MAX_ROWS", 10**9)
    direct = dec._decompose(y, z, None)
    for score in ("nll", "brier"):
        a, b = fast[score], direct[score]
        assert a.score == b.score
        assert a.refinement == pytest.approx(b.refinement, rel=1e-11)
        assert a.calibration == pytest.approx(b.calibration, rel=1e-9, abs=1e-13)
        assert a.temperature == pytest.approx(b.temperature, rel=1e-6)


def test_large_inputs_with_weights_and_a_lazy_block_source(monkeypatch):
    # sample weights on the subsample path, and logits given as an object that
    # only has shape and row indexing (how the zoo report streams a duo's
    # combined logits): the same decomposition as the plain array
    import skduo.metrics._decomposition as dec

    rng = np.random.default_rng(12)
    n, k = 10000, 8
    y = rng.integers(0, k, n)
    z = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    sw = rng.uniform(0.5, 2.0, n)

    class Lazy:
        shape = z.shape

        def __getitem__(self, rows):
            return 2.0 * z[rows]

    fast = dec._decompose(y, Lazy(), sw)
    monkeypatch.setattr(dec, "_DIRECT_MAX_ROWS", 10**9)
    direct = dec._decompose(y, 2.0 * z, sw)
    for score in ("nll", "brier"):
        assert fast[score].refinement == pytest.approx(
            direct[score].refinement, rel=1e-11
        )
        assert fast[score].score == pytest.approx(direct[score].score, rel=1e-13)


def _forced_compiled(monkeypatch):
    """The compiled row kernel, made the one ``_decompose`` uses."""
    pytest.importorskip("numba")
    import skduo.metrics._decomposition as dec

    compiled = dec._load_compiled(True)
    monkeypatch.setattr(dec, "_compiled_kernel", lambda n_elements: compiled)
    return compiled


@pytest.mark.parametrize("precise", [True, False])
def test_compiled_row_terms_equal_the_numpy_terms(precise):
    # per row, the compiled kernel against _centred + _beta_terms: float64 to
    # rounding, float32 (the steering passes) to float32 precision; ties of
    # the maximum (integer logits) and labels at the maximum included
    pytest.importorskip("numba")
    import skduo.metrics._decomposition as dec

    compiled = dec._load_compiled(True)
    rng = np.random.default_rng(21)
    n, k = 300, 37
    y = rng.integers(0, k, n)
    a = rng.normal(size=(n, k)).astype(np.float32) * 3
    b = rng.integers(-3, 4, size=(n, k)).astype(np.float32)
    a[np.arange(0, n, 3), y[::3]] += 10.0
    dtype = np.float64 if precise else np.float32
    rel = 1e-12 if precise else 2e-4
    for parts in ([(1.0, b)], [(0.8, a), (0.3, b)]):
        z = sum(np.multiply(m, w, dtype=np.float64) for w, m in parts)
        block = dec._centred(z.astype(dtype))
        for betas in ({"nll": 1.0, "brier": 1.0}, {"nll": 0.4, "brier": 2.5}):
            out = np.full((6, n + 5), np.nan)
            compiled.row_terms(parts, y, betas, precise, out, 5)
            for score, beta in betas.items():
                ref = dec._beta_terms(
                    *block, y, np.arange(n), beta, score == "nll", score == "brier"
                )[score]
                got = out[(0 if score == "nll" else 3) + np.arange(3), 5:]
                for g, r in zip(got, ref):
                    scale = np.abs(r).max()
                    np.testing.assert_allclose(g, r, rtol=rel, atol=rel * scale)
            assert np.isnan(out[:, :5]).all()


@pytest.mark.parametrize("case", ["plain", "duo", "offset"])
def test_compiled_passes_equal_the_numpy_passes(case, monkeypatch):
    # the decomposition of 10,000 x 200 logits through the compiled kernel
    # (which forms a duo's combination from its float32 members on the fly)
    # against the NumPy passes, with sample weights, to 1e-9 relative
    import skduo.metrics._decomposition as dec
    from skduo.evaluation._fits import _Combined

    rng = np.random.default_rng(22)
    n, k = 10000, 200
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.5, 2.0, n)
    signal = 3.0 * np.eye(k, dtype=np.float32)[y]
    large = (rng.normal(size=(n, k)).astype(np.float32) * 1.5 + signal) * 2.0
    small = rng.normal(size=(n, k)).astype(np.float32) + 0.5 * signal
    if case == "plain":
        z = large
    elif case == "duo":
        z = _Combined([0.7, 0.45], [large, small], k)
    else:
        z = large.astype(np.float64) + 1e4
    assert z.shape[0] > dec._DIRECT_MAX_ROWS
    monkeypatch.setattr(dec, "_compiled_kernel", lambda n_elements: None)
    reference = dec._decompose(y, z, sw)
    _forced_compiled(monkeypatch)
    fast = dec._decompose(y, z, sw)
    for score in ("nll", "brier"):
        for field in fast[score]._fields:
            got, ref = getattr(fast[score], field), getattr(reference[score], field)
            assert got == pytest.approx(ref, rel=1e-9), (score, field)


def test_compiled_kernel_choice(monkeypatch):
    # SKDUO_FIT_KERNEL chooses the decomposition's kernel as the fit's
    pytest.importorskip("numba")
    import skduo.metrics._decomposition as dec

    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    assert dec._compiled_kernel(10**9) is None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    assert dec._compiled_kernel(1) is not None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "auto")
    assert dec._compiled_kernel(dec._COMPILED_MIN_ELEMENTS) is not None
    assert dec._compiled_kernel(dec._WARM_MIN_ELEMENTS - 1) is None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "fast")
    with pytest.raises(ValueError, match="SKDUO_FIT_KERNEL"):
        dec._compiled_kernel(1)
