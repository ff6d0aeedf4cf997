"""Input validation of the metrics: row blocks, no float64 copy of y_proba."""

import tracemalloc

import numpy as np
import pytest

import skduo.metrics._base as metrics_base
from skduo._outputs._logit_ops import proba_tolerance
from skduo.metrics import (
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
    reliability_curve,
    selective_metrics,
)


def _proba(n, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 2.0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return rng.integers(0, k, size=n), p.astype(dtype)


def _all_metrics(y, p, labels):
    out = dict(selective_metrics(y, p, labels=labels, coverage=0.5))
    for conf in ("margin", "neg_entropy"):
        out[conf] = selective_metrics(y, p, labels=labels, confidence=conf)["aurc"]
    out["ece"] = expected_calibration_error(y, p, labels=labels)
    out["cwece"] = expected_calibration_error(y, p, labels=labels, classwise=True)
    out["brier"] = multiclass_brier_score(y, p, labels=labels)
    out["nll"] = nll_loss(y, p, labels=labels)
    out["nll_logits"] = nll_loss(y, logits=np.log(p), labels=labels)
    out["curve"] = reliability_curve(y, p, labels=labels)[0].tolist()
    return out


def _threads(monkeypatch, n_threads):
    """Validate every array block by block on ``n_threads`` threads."""
    monkeypatch.setattr(metrics_base, "_THREADED_ELEMENTS", 0)
    monkeypatch.setattr(metrics_base, "_N_THREADS", n_threads)


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_do_not_depend_on_the_block_size(dtype, n_threads, monkeypatch):
    # 301 rows of 7 classes: with 64-byte blocks each block holds 1 or 2 rows,
    # so every reduction crosses many block boundaries (validated by one or
    # by three threads: the same numbers)
    y, p = _proba(301, 7, dtype)
    labels = np.arange(7)
    default = _all_metrics(y, p, labels)
    monkeypatch.setattr(metrics_base, "_BLOCK_BYTES", 64)
    _threads(monkeypatch, n_threads)
    np.testing.assert_equal(_all_metrics(y, p, labels), default)


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_errors_found_in_the_last_block(dtype, n_threads, monkeypatch):
    monkeypatch.setattr(metrics_base, "_BLOCK_BYTES", 64)
    _threads(monkeypatch, n_threads)
    y, p = _proba(50, 4, dtype)
    bad = p.copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="y_proba contains NaN or infinity"):
        selective_metrics(y, bad)
    bad = p.copy()
    bad[-1] *= 0.5  # row 49 sums to 0.5 (up to rounding)
    with pytest.raises(ValueError, match=r"row 49 sums to 0\.(5|49999)"):
        expected_calibration_error(y, bad)
    bad = p.copy()
    bad[-2, 1] = -0.5
    with pytest.raises(ValueError, match=r"found -0.5\. Did you pass logits"):
        multiclass_brier_score(y, bad)
    logits = np.log(p)
    logits[-1, 2] = np.inf
    with pytest.raises(ValueError, match="logits contains NaN or infinity"):
        nll_loss(y, logits=logits)


def test_float32_matches_float64_of_the_same_values():
    # The float32 path reads the float32 values exactly; the float64 cast of
    # the same array must give the same numbers (to rounding of the sums).
    y, p32 = _proba(400, 9, np.float32, seed=3)
    p64 = p32.astype(np.float64)
    labels = np.arange(9)
    a, b = _all_metrics(y, p32, labels), _all_metrics(y, p64, labels)
    del a["nll_logits"], b["nll_logits"]  # log of float32 vs of float64 values
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_copy_of_y_proba(dtype, monkeypatch):
    # Peak extra memory of the metrics on a (4,000 x 250) array stays well
    # under one copy of the input: the old float64 cast of a float32 input
    # alone was 2x the input. Blocks of 64 kB keep the block temporaries
    # (a few float64 copies of one block) small next to the input.
    monkeypatch.setattr(metrics_base, "_BLOCK_BYTES", 1 << 16)
    y, p = _proba(4_000, 250, dtype, seed=1)
    labels = np.arange(250)
    tracemalloc.start()
    try:
        selective_metrics(y, p, labels=labels)
        expected_calibration_error(y, p, labels=labels)
        multiclass_brier_score(y, p, labels=labels)
        nll_loss(y, p, labels=labels)
        selective_metrics(y, p, labels=labels, confidence="margin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 4,000 x 250 float32 is 4 MB; per-row arrays are 32 kB each.
    assert peak <= 0.5 * p.nbytes, peak


def test_integer_and_float16_probabilities():
    y = np.array([0, 1, 1, 0])
    # Integers are cast to float64. Predictions 0, 1, 1, 1 (one wrong), all
    # with confidence 1: one tie group, so the expected risk at every k is 1/4.
    p_int = np.array([[1, 0], [0, 1], [0, 1], [0, 1]])
    assert selective_metrics(y, p_int)["aurc"] == 0.25
    # float16 is read as is, with its own tolerance (0.031): the first row
    # sums to 1.01. Top-label confidences in float16: 0.89990234375 (right),
    # 0.7001953125 (right), 0.60009765625 (wrong), 0.5498046875 (right); with
    # 4 bins, |0.8999 - 1| + |1.8501 - 2| = 0.25 exactly, / 4 samples.
    p16 = np.array([[0.9, 0.11], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]], np.float16)
    assert expected_calibration_error(y, p16, n_bins=4) == 0.0625


def _row_summing_to(target, k=1_000):
    """A float32 row of ``k`` entries whose exact (float64) sum is ``target``."""
    row = np.full(k, 1.0 / k, dtype=np.float32)
    # adjust the last entry; its float32 ulp (~1e-10) bounds the miss
    row[-1] += np.float32(target - row.astype(np.float64).sum())
    return row


def test_float32_row_sums_decide_as_float64_sums():
    # Rows whose exact sums lie just inside and just outside the float32
    # tolerance at K = 1,000 (9.5e-4): the verdict is that of float64 sums.
    k = 1_000
    tol = proba_tolerance(np.float32, k)
    y = np.zeros(2, dtype=int)
    for offset, ok in [(-1e-6, True), (1e-6, False)]:
        for sign in (1, -1):
            target = 1.0 + sign * (tol + offset)
            p = np.stack([_row_summing_to(target), _row_summing_to(1.0)])
            exact = p.astype(np.float64).sum(axis=1)
            assert (abs(exact[0] - 1) <= tol) == ok  # the construction
            if ok:
                nll_loss(y, p, labels=np.arange(k))
            else:
                with pytest.raises(ValueError, match="row 0 sums to"):
                    nll_loss(y, p, labels=np.arange(k))


def test_refine_float32_sums_resums_only_rows_near_the_tolerance():
    k = 1_000
    tol = proba_tolerance(np.float32, k)
    p = np.stack([_row_summing_to(1.0 + tol / 2), _row_summing_to(1.0)] * 2)
    # Pretend float32 summation erred: row 0 just outside the tolerance
    # (within the rounding bound of ~6e-5), row 2 far outside; rows 1 and 3
    # carry sentinels well inside it, which must stay untouched.
    sums = np.array([1.0 + tol + 1e-5, 1.0 + 1e-7, 1.5, 1.0 - 2e-7])
    metrics_base._refine_float32_sums(p, sums, tol, 0.0)
    assert sums[0] == p[0].astype(np.float64).sum()  # re-summed in float64
    assert sums[2] == p[2].astype(np.float64).sum()  # (then reported exactly)
    assert sums[1] == 1.0 + 1e-7 and sums[3] == 1.0 - 2e-7
