"""Members' outputs as logits: dtypes kept, no copies, canonical messages."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from skduo._outputs._logit_ops import log_softmax, softmax
from skduo._outputs._member import column_map, is_fitted, member_logits


class Fixed:
    """A duck-typed fitted member (not a BaseEstimator) returning one array."""

    def __init__(self, out, classes, method="decision_function"):
        self.out = out
        self.classes_ = np.asarray(classes)
        setattr(self, method, self._out)

    def fit(self, X, y):
        return self

    def _out(self, X):
        return self.out


def _logits(rng, n=300, k=5, dtype=np.float32):
    return (3 * rng.normal(size=(n, k))).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_in_order_are_returned_without_copy(rng, dtype):
    z = _logits(rng, dtype=dtype)
    out = member_logits(Fixed(z, range(5)), np.zeros((len(z), 1)), np.arange(5))
    assert out is z  # the member's own array: no copy, dtype kept


def test_memmap_logits_stay_on_disk(rng, tmp_path):
    z = _logits(rng)
    mm = np.lib.format.open_memmap(
        tmp_path / "z.npy", mode="w+", dtype=z.dtype, shape=z.shape
    )
    mm[:] = z
    mm.flush()
    mm = np.load(tmp_path / "z.npy", mmap_mode="r")
    out = member_logits(Fixed(mm, range(5)), np.zeros((len(z), 1)), np.arange(5))
    assert np.shares_memory(out, mm) and out.dtype == np.float32


def test_reordering_copies_once_in_the_member_dtype(rng):
    z = _logits(rng, n=70_000, k=5)  # > one row block (2**18 elements)
    perm = np.array([3, 0, 4, 1, 2])
    member = Fixed(z, perm)  # column j of z holds class perm[j]
    out = member_logits(member, np.zeros((len(z), 1)), np.arange(5))
    assert out.dtype == np.float32 and out.flags.c_contiguous
    # class c sits in column argsort(perm)[c]
    np.testing.assert_array_equal(out, z[:, np.argsort(perm)])


def test_probabilities_become_float32_log_probabilities(rng):
    z = _logits(rng, n=70_000, k=5, dtype=np.float64)
    p = softmax(z).astype(np.float32)
    out = member_logits(
        Fixed(p, range(5), "predict_proba"), np.zeros((len(z), 1)), np.arange(5)
    )
    assert out.dtype == np.float32
    # the log of the float32 probabilities, rounded once to float32
    np.testing.assert_array_equal(out, np.log(p.astype(np.float64)).astype(np.float32))


def test_log_probabilities_without_minus_inf_are_not_copied(rng):
    lp = log_softmax(_logits(rng, dtype=np.float64))
    out = member_logits(
        Fixed(lp, range(5), "predict_log_proba"), np.zeros((len(lp), 1)), range(5)
    )
    assert out is lp


def test_minus_inf_log_probabilities_are_clipped(rng):
    lp = log_softmax(_logits(rng, dtype=np.float64)).astype(np.float32)
    with np.errstate(divide="ignore"):
        lp[0] = np.log([0.0, 0.25, 0.25, 0.25, 0.25])  # a probability of exactly 0
    member = Fixed(lp, range(5), "predict_log_proba")
    out = member_logits(member, np.zeros((len(lp), 1)), range(5))  # 1 row: no warning
    assert out is not lp and out.dtype == np.float32
    # log of the smallest positive normal float64, as in log_proba_to_logits
    assert out[0, 0] == np.float32(np.log(np.finfo(np.float64).tiny))
    np.testing.assert_array_equal(out[1:], lp[1:])


def test_messages_report_the_whole_array_not_a_block(rng):
    # NaN in the first and in the last row block: the count is global
    lp = log_softmax(_logits(rng, n=70_000, dtype=np.float64))
    lp[0, 0] = lp[-1, 1] = np.nan
    member = Fixed(lp, range(5), "predict_log_proba")
    with pytest.raises(ValueError, match="contains 2 NaN and 0 infinite"):
        member_logits(member, np.zeros((len(lp), 1)), range(5), name="small")
    p = softmax(_logits(rng, n=70_000, dtype=np.float64))
    p[-1] *= 3.0  # the last row sums to 3
    member = Fixed(p, range(5), "predict_proba")
    with pytest.raises(ValueError, match="deviate from 1 by up to 2"):
        member_logits(member, np.zeros((len(p), 1)), range(5))


def test_log_probabilities_up_to_a_row_shift_are_accepted(rng):
    # issue 22 item 11: GaussianNB normalises in float32, so its
    # predict_log_proba rows on float32 digits log-sum-exp to up to 0.318 (was
    # "not a log-probability"). Any per-row shift is a valid logit (softmax
    # ignores it): reference (exact) -- the array the member returned, as is.
    lp = log_softmax(_logits(rng, dtype=np.float64))
    shifted = lp + rng.uniform(-0.5, 0.5, size=(len(lp), 1))
    member = Fixed(shifted, range(5), "predict_log_proba")
    out = member_logits(member, np.zeros((len(lp), 1)), range(5))
    assert out is shifted
    np.testing.assert_allclose(softmax(out), softmax(lp), rtol=1e-12)


def test_probabilities_from_predict_log_proba_are_refused(rng):
    # what is really something else keeps its error: probabilities (every row
    # in [0, 1] summing to 1) returned by predict_log_proba
    p = softmax(_logits(rng, dtype=np.float64))
    member = Fixed(p, range(5), "predict_log_proba")
    with pytest.raises(ValueError, match=r"in \[0, 1\] and sums to 1, like prob"):
        member_logits(member, np.zeros((len(p), 1)), range(5), name="small")


def test_gaussian_nb_on_float32_digits_is_a_member():
    from sklearn.datasets import load_digits
    from sklearn.naive_bayes import GaussianNB

    from skduo import DuoClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X.astype("float32")[:800], y[:800]
    duo = DuoClassifier(LogisticRegression(max_iter=200), GaussianNB(), cv=3)
    duo.fit(X, y)  # failed: "log-sum-exp up to 0.318 ... decision_function"
    p = duo.predict_proba(X)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_column_map():
    assert column_map([0, 1, 2], [0, 1, 2]) is None
    np.testing.assert_array_equal(column_map(["b", "a"], ["a", "b"]), [1, 0])
    np.testing.assert_array_equal(column_map([2, 0], [0, 1, 2]), [1, -1, 0])


def test_is_fitted_for_duck_typed_members():
    class Duck:
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

    duck = Duck()
    assert not is_fitted(duck)
    assert is_fitted(duck.fit([[0], [1]], [0, 1]))
    assert not is_fitted(LogisticRegression())
    assert is_fitted(clone(LogisticRegression()).fit([[0], [1]], [0, 1]))


def test_log_proba_view_equals_the_converted_array(rng):
    from skduo._outputs._kinds import LogProbaView

    p = softmax(_logits(rng, n=1000, k=6, dtype=np.float64)).astype(np.float32)
    p[3, 2] = 0.0  # an exact zero is clipped at float32's tiny, as in the array
    p[3] /= p[3].sum()
    perm = np.array([5, 0, 1, 2, 3, 4])
    member = Fixed(p, perm, "predict_proba")
    X = np.zeros((1000, 1))
    eager = member_logits(member, X, np.arange(6))
    view = member_logits(member, X, np.arange(6), lazy=True)
    assert isinstance(view, LogProbaView)
    assert view.shape == eager.shape and view.dtype == eager.dtype == np.float32
    np.testing.assert_array_equal(view[0:1000], eager)
    np.testing.assert_array_equal(view[np.array([7, 3, 999])], eager[[7, 3, 999]])
    with pytest.raises(ValueError, match="is not a probability"):
        member_logits(Fixed(2 * p, perm, "predict_proba"), X, np.arange(6), lazy=True)


class FreshProba:
    """A member whose predict_proba returns a new array each call (as sklearn's)."""

    def __init__(self, p):
        self.p = p
        self.classes_ = np.arange(p.shape[1])

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.p.copy()


def test_fresh_probabilities_are_logged_in_place(rng):
    import tracemalloc

    p = softmax(_logits(rng, n=400_000, k=20, dtype=np.float64)).astype(np.float32)
    member, X = FreshProba(p), np.zeros((len(p), 1))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = member_logits(member, X, np.arange(20))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # the member's own output (1x) plus ~6 MB of float64 row-block buffers, not
    # a second 1x array (which made it >= 2x)
    assert peak < 1.35 * p.nbytes, peak / p.nbytes
    np.testing.assert_array_equal(out, np.log(p.astype(np.float64)).astype(np.float32))
    # a member that keeps the array it returns is never overwritten
    held = Fixed(p, range(20), "predict_proba")
    kept = p.copy()
    member_logits(held, X, np.arange(20))
    np.testing.assert_array_equal(p, kept)


def test_arrays_a_member_holds_are_never_overwritten(rng):
    # issue 22 item 13: ownership is explicit (the call that created the array,
    # unless the member holds it), not CPython's reference count, whose value
    # differs across versions (3.10: the fresh array was copied, peak 2.21x)
    p = softmax(_logits(rng, n=1000, k=4, dtype=np.float64))
    kept = p.copy()

    class Caching(FreshProba):
        def predict_proba(self, X):
            out = self.p.copy()
            self.history = {"last": [(X, out)]}  # held deep inside an attribute
            return out

    member = Caching(p)
    out = member_logits(member, np.zeros((len(p), 1)), np.arange(4))
    np.testing.assert_array_equal(member.history["last"][0][1], kept)
    # reference (exact): the float64 logarithm of the probabilities
    np.testing.assert_array_equal(out, np.log(kept))
