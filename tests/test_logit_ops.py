"""Tests of the logits helpers: softmax, combination, conversions."""

import numpy as np
import pytest

from skduo._fit._weight_fit import nll
from skduo._outputs._kinds import log_proba_to_logits, proba_to_logits
from skduo._outputs._logit_ops import (
    binary_scores_to_logits,
    combine_logits,
    log_softmax,
    proba_tolerance,
    softmax,
)


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
    from skduo._outputs._kinds import as_logits, detect_output_kind

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
    import skduo.utils._arrays as ops

    monkeypatch.setattr(ops, "BLOCK_ELEMENTS", 7)  # many blocks of 1-2 rows
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


# --------------------------------------------------------------------------
# output kinds (skduo._outputs._kinds, importable from skduo._outputs._logit_ops)
# --------------------------------------------------------------------------


def test_detect_on_dask_computes_only_a_few_chunks(rng):
    da = pytest.importorskip("dask.array")
    from skduo._outputs._kinds import detect_output_kind

    p = softmax(rng.normal(size=(5000, 6)))
    computed = []

    def source(block, block_info=None):
        computed.append(block_info[0]["chunk-location"][0])
        return block

    lazy = da.from_array(p, chunks=(500, 6)).map_blocks(source, dtype=float)
    assert detect_output_kind(lazy) == "proba"
    assert sorted(computed) == [0, 3, 6, 9]  # first, last, two evenly between
    computed.clear()
    assert detect_output_kind(da.log(lazy)) == "log_proba"
    assert detect_output_kind(lazy * 3.0 - 1.0) == "logits"


def test_as_logits_keeps_float32_and_reads_dask_lazily(rng):
    da = pytest.importorskip("dask.array")
    from skduo._outputs._kinds import as_logits

    z = 3.0 * rng.normal(size=(1000, 20))
    p32 = softmax(z).astype(np.float32)
    out = as_logits(p32, "proba")
    assert out.dtype == np.float32
    # the logarithm of the float32 probabilities, rounded once to float32
    np.testing.assert_array_equal(
        out, np.log(p32.astype(np.float64)).astype(np.float32)
    )
    with pytest.warns(UserWarning, match="saturated .* in float16"):
        assert as_logits(p32.astype(np.float16), "proba").dtype == np.float32
    lazy = as_logits(da.from_array(p32, chunks=(300, 7)), "proba")
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy.compute(), out)
    # a bad block of a dask array fails when it is computed, naming the array
    bad = p32.copy()
    bad[150] = 0.5  # in chunk 1 of 10: not inspected (chunks 0, 3, 6, 9 are)
    lazy_bad = as_logits(da.from_array(bad, chunks=(100, 20)), "proba", what="P")
    with pytest.raises(ValueError, match="P is not a probability"):
        lazy_bad.compute()


def test_log_probabilities_are_copied_only_for_minus_inf(rng):
    from skduo._outputs._kinds import as_logits

    lp = log_softmax(rng.normal(size=(50, 3)))
    assert as_logits(lp, "log_proba") is lp  # nothing to clip: not copied
    lp32 = lp.astype(np.float32)
    assert as_logits(lp32, "log_proba") is lp32
    with_zero = lp.copy()
    with_zero[7, 1] = -np.inf
    with pytest.warns(UserWarning, match=r"2\.0% of the rows .* -inf"):
        out = as_logits(with_zero, "log_proba")
    assert out is not with_zero and np.isneginf(with_zero[7, 1])
    assert out[7, 1] == pytest.approx(-708.3964185322641)  # log(2.2250738585e-308)
    np.testing.assert_array_equal(np.delete(out, 7, 0), np.delete(lp, 7, 0))


def test_binary_outputs_become_two_columns():
    from skduo._outputs._kinds import as_logits, detect_output_kind

    s = np.array([2.0, -1.0, 0.5])
    np.testing.assert_array_equal(as_logits(s, "logits"), [[0, 2], [0, -1], [0, 0.5]])
    p = np.array([0.25, 0.5, 0.9])
    assert detect_output_kind(p) == "proba"
    assert detect_output_kind(np.array([0.0, 1.0, 1.0])) == "logits"  # hard 0/1
    assert detect_output_kind(s) == "logits"
    # p -> (log(1 - p), log p): log-odds log(p / (1 - p)) = log(1/3), 0, log 9
    out = as_logits(p, "proba")
    np.testing.assert_allclose(out[:, 1] - out[:, 0], np.log([1 / 3, 1.0, 9.0]))
    np.testing.assert_allclose(out, np.log(np.c_[1 - p, p]), rtol=1e-15)
    lp = as_logits(np.log(p), "log_proba")
    np.testing.assert_allclose(lp, np.log(np.c_[1 - p, p]), rtol=1e-15)


def test_proba_to_logits_in_blocks(rng, monkeypatch):
    import tracemalloc

    import skduo.utils._arrays as ops

    monkeypatch.setattr(ops, "BLOCK_ELEMENTS", 2**12)
    p = softmax(rng.normal(size=(3000, 100))).astype(np.float32)
    p[1234] = 0.02  # rows sum to 2; blocks of 2**12 // 100 = 40 rows
    with pytest.raises(ValueError, match=r"not a probability \(in rows 1200\.\.1239\)"):
        proba_to_logits(p)
    p[1234] = 0.01
    tracemalloc.start()
    out = proba_to_logits(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # float64 output plus a few 32 KiB blocks (measured ~4); was 2 outputs
    assert peak <= out.nbytes + 8 * 2**12 * 8
    np.testing.assert_allclose(out, np.log(p.astype(np.float64)), rtol=1e-15)
