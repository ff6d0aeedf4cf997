"""Tests of the logits helpers: softmax, combination, conversions."""

import numpy as np
import pytest

from skduo._logit_ops import (
    binary_scores_to_logits,
    combine_logits,
    log_proba_to_logits,
    log_softmax,
    proba_to_logits,
    proba_tolerance,
    softmax,
)
from skduo._weight_fit import nll


def test_proba_to_logits_rejects_logits():
    z = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    with pytest.raises(ValueError, match="is not a probability"):
        proba_to_logits(z)


def test_proba_to_logits_saturation_warning():
    p = np.array([[1.0, 0.0], [0.3, 0.7], [1.0, 0.0]], dtype=np.float32)
    with pytest.warns(UserWarning, match=r"66\.7% of the rows .* saturated"):
        logits = proba_to_logits(p)
    assert np.isfinite(logits).all()
    # clipped at the smallest normal float32: log(1.1754944e-38) = -87.3365...
    assert logits[0, 1] == pytest.approx(-87.33654475, rel=1e-9)


def test_log_proba_to_logits():
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.25, 0.75], [1.0, 0.0]]))
    with pytest.warns(UserWarning, match=r"50\.0% of the rows .* -inf"):
        out = log_proba_to_logits(lp)
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="not a log-probability"):
        log_proba_to_logits(np.array([[2.0, 1.0]]))


def test_helpers_literal_values():
    # hand-computed: softmax([0, log 3]) = [1/4, 3/4]
    np.testing.assert_allclose(softmax([[0.0, np.log(3.0)]]), [[0.25, 0.75]])
    np.testing.assert_allclose(
        log_softmax([[1e4, 1e4]]), [[-np.log(2), -np.log(2)]], rtol=1e-15
    )
    np.testing.assert_array_equal(
        binary_scores_to_logits([2.0, -1.0]), [[0, 2], [0, -1]]
    )
    np.testing.assert_allclose(
        combine_logits([np.ones((1, 2)), 2 * np.ones((1, 2))], [0.5, 0.25]), [[1, 1]]
    )
    # nll of uniform logits over 4 classes is log 4
    assert nll([np.zeros((3, 4))], np.array([0, 1, 3])) == pytest.approx(np.log(4))


def test_proba_tolerance_literal_values():
    # max(1e-5, sqrt(eps), 8 K eps): float64 1e-5; float32 sqrt(1.19e-7) = 3.45e-4
    # up to 360 classes, 8 * 1000 * 1.19e-7 = 9.54e-4 at 1,000
    assert proba_tolerance(np.float64) == 1e-5
    assert proba_tolerance(np.float32) == pytest.approx(3.4526698e-4)
    assert proba_tolerance(np.float32, 1000) == pytest.approx(9.5367432e-4)
    assert proba_tolerance(np.int64) == 1e-5  # non-float: as float64


def test_detect_output_kind_and_as_logits(rng):
    from skduo._logit_ops import as_logits, detect_output_kind

    z = 3.0 * rng.normal(size=(3000, 50)).astype(np.float32)
    p, lp = softmax(z), log_softmax(z)
    assert detect_output_kind(z) == "logits"
    assert detect_output_kind(p.astype(np.float32)) == "proba"
    assert detect_output_kind(lp) == "log_proba"
    assert as_logits(z) is z  # logits are passed through, never copied
    with pytest.warns(UserWarning, match="look like probabilities .* outputs='proba'"):
        from_p = as_logits(p)
    # log(softmax(z)) = z - logsumexp(z): the logits up to a per-row shift
    shift = z - from_p
    np.testing.assert_allclose(shift - shift[:, :1], 0.0, atol=1e-4)
    with pytest.warns(UserWarning, match="log-probabilities"):
        as_logits(lp)
    np.testing.assert_array_equal(as_logits(lp, "log_proba"), lp)
    # declared logits are used as they are, even if they look like probabilities
    assert as_logits(p, "logits") is p
    with pytest.raises(ValueError, match="is not a probability"):
        as_logits(z, "proba")
    with pytest.raises(ValueError, match="outputs must be one of"):
        as_logits(z, "scores")


def test_row_wise_operations_in_place_and_in_blocks(rng, monkeypatch):
    import skduo._logit_ops as ops

    monkeypatch.setattr(ops, "_BLOCK_ELEMENTS", 7)  # many blocks of 1-2 rows
    z = rng.normal(size=(11, 4)) * 5
    ref_p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # direct formula
    np.testing.assert_allclose(softmax(z), ref_p, rtol=1e-13)
    np.testing.assert_allclose(log_softmax(z), np.log(ref_p), rtol=1e-12, atol=1e-13)
    zz = z.copy()
    assert softmax(zz, out=zz) is zz
    np.testing.assert_allclose(zz, ref_p, rtol=1e-13)
    a, b = rng.normal(size=(11, 4)).astype(np.float32), rng.normal(size=(11, 4))
    out = np.empty((11, 4))
    assert combine_logits([a, b], [2.0, 0.5], out=out) is out
    np.testing.assert_allclose(out, 2.0 * a.astype(np.float64) + 0.5 * b, rtol=1e-15)
    np.testing.assert_array_equal(combine_logits([a, b], [0.0, 0.0]), 0.0)
    with pytest.raises(ValueError, match="out must be a float array"):
        softmax(z, out=np.empty((3, 4)))
