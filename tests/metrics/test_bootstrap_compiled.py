"""The compiled bootstrap kernel (numba): NumPy's distributions, bit for bit."""

import numpy as np
import pytest
from scipy.special import softmax

from skduo.metrics import _bootstrap_engine as engine
from skduo.metrics._bootstrap_engine import (
    BOOTSTRAP_METRICS,
    _distribution,
    _Predictions,
    _Resampler,
)

pytest.importorskip("numba")
compiled = pytest.importorskip("skduo.metrics._compiled_bootstrap")


@pytest.mark.parametrize("n", [0, 1, 7, 8, 15, 16, 127, 128, 129, 300, 1000, 4097])
def test_pairwise_sum_is_numpys(n):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(4, n)) * 10.0 ** rng.uniform(-8, 8, size=(4, n))
    got = [compiled._row_sum(np.ascontiguousarray(row)) for row in a]
    # NumPy's pairwise order, replicated: equal bit for bit where measured
    # (NumPy 2.4, x86-64); asserted to rounding, since the order is NumPy's
    # implementation detail
    scale = np.abs(a).sum(axis=1)
    np.testing.assert_allclose(got, a.sum(axis=1), rtol=0, atol=1e-13 * scale.max())


def _case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    k = int(rng.choice([2, 3, 9, 40, 200]))
    y = rng.integers(0, k, n)
    z = rng.normal(size=(n, k)) * rng.uniform(0.2, 3.0)
    if seed % 3 == 0:
        z = np.round(z, 1)  # tie groups mixing right and wrong rows
    pred = z.argmax(axis=1) if seed % 4 else rng.integers(0, k, n)
    confidence = ("msp", "margin", "neg_entropy")[seed % 3]
    prepared = _Predictions(
        y,
        softmax(z, axis=1),
        BOOTSTRAP_METRICS,
        logits=z,
        pred=pred,
        confidence=confidence,
    )
    return n, prepared


@pytest.mark.parametrize("seed", range(24))
def test_compiled_distribution_equals_numpy_bit_for_bit(seed, monkeypatch):
    n, prepared = _case(seed)
    n_resamples = 2 + 37 * (seed % 5)
    batch = (None, 1, 2, 7)[seed % 4]  # batches of one resample sum pairwise
    metrics = list(BOOTSTRAP_METRICS)
    if seed % 6 == 5:
        metrics = ["nll", "ece", "aurc"]
    out = {}
    for kernel in ("numpy", "numba"):
        monkeypatch.setenv("SKDUO_FIT_KERNEL", kernel)
        resampler = _Resampler(n, n_resamples, seed, batch=batch)
        first = _distribution(resampler, prepared, metrics)  # drawn
        kept = _distribution(resampler, prepared, metrics, threads=False)
        out[kernel] = (first, kept)
    for ref, got in zip(out["numpy"], out["numba"]):
        assert ref.keys() == got.keys()
        for m in metrics:
            # bit for bit where measured (NumPy 2.4, SciPy 1.17, x86-64); to
            # rounding here: the NumPy path's summation order is an
            # implementation detail of NumPy and SciPy
            np.testing.assert_allclose(
                got[m], ref[m], rtol=1e-12, atol=1e-15, err_msg=m
            )


def test_kernel_choice(monkeypatch):
    # SKDUO_FIT_KERNEL chooses the bootstrap's kernel as the fit's; sample
    # weights (non-integer resample weights) always take NumPy
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numpy")
    assert engine._compiled_kernel(10**12) is None
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    assert engine._compiled_kernel(1) is compiled
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "auto")
    assert engine._compiled_kernel(engine._COMPILED_MIN_ELEMENTS) is compiled
    calls = []
    monkeypatch.setattr(engine, "_compiled_kernel", lambda n: calls.append(n))
    _, prepared = _case(1)
    sw = np.full(prepared.n, 0.5)
    _distribution(_Resampler(prepared.n, 3, 0, sample_weight=sw), prepared, ["nll"])
    assert calls == []
