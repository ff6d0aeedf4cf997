"""The logits cache: row keys, member fingerprints, the LRU store, staleness.

The store and the row keys need only NumPy; the members are torch modules
(skipped without torch and skorch).
"""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skduo._outputs._cache import LOGITS_CACHE, LogitsCache, cached_member_logits
from skduo._outputs._fingerprint import Unhashable, member_fingerprint, row_digests
from skduo._outputs._member import member_logits

# --------------------------------------------------------------------------
# row keys (NumPy only)


def test_row_keys_are_exact_for_short_rows_and_digests_for_long_ones():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    kind, keys = row_digests(X)
    assert kind == ("ndarray", "<f8", (2,))
    assert keys[0] == X[0].tobytes()  # 16 bytes: the row itself is the key
    assert keys[0] == keys[2] != keys[1]
    images = np.zeros((3, 3, 8, 8), np.float32)
    images[1, 2, 7, 7] = 1e-30  # one float in 192 differs
    kind, keys = row_digests(images)
    assert kind == ("ndarray", "<f4", (3, 8, 8))
    assert keys[0] == keys[2] != keys[1] and len(keys[0]) == 20  # SHA-1


@pytest.mark.parametrize("start", ["fork", "forkserver", "spawn", "loky"])
def test_large_fingerprints_in_worker_processes(start):
    # issue 22 item 6: after fork the module's hashing pool exists without its
    # threads, so any input of more than 4 MB waited forever in a forked worker
    # (joblib's multiprocessing backend). Reference: the parent's own keys
    # (SHA-1 of each row's bytes, checked against hashlib here).
    import hashlib
    import multiprocessing

    big = np.random.default_rng(0).normal(size=(1200, 1024)).astype(np.float32)
    kind, keys = row_digests(big)  # 4.9 MB: hashed on the pool (started here)
    assert keys[7] == hashlib.sha1(big[7].tobytes()).digest()
    if start == "loky":
        from joblib import Parallel, delayed

        (got,) = Parallel(n_jobs=2, backend="loky", timeout=120)(
            [delayed(row_digests)(big)]
        )
    else:
        if start not in multiprocessing.get_all_start_methods():
            pytest.skip(f"no {start} start method here")
        with multiprocessing.get_context(start).Pool(1) as pool:
            got = pool.apply_async(row_digests, (big,)).get(timeout=120)
    assert got == (kind, keys)


def test_row_keys_of_views_and_non_contiguous_arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 40))
    _, keys = row_digests(X)
    _, keys_f = row_digests(np.asfortranarray(X))
    _, keys_sub = row_digests(X[[4, 1]])
    assert keys_f == keys and keys_sub == [keys[4], keys[1]]
    # the kind separates equal bytes of different dtypes or row shapes
    assert row_digests(X.view(np.int64))[0] != row_digests(X)[0]
    assert row_digests(X.reshape(6, 4, 10))[0] != row_digests(X)[0]


def test_row_keys_of_dicts_and_unhashable_inputs():
    X = {"a": np.arange(6.0).reshape(3, 2), "b": np.arange(3)}
    kind, keys = row_digests(X)
    assert kind[0] == "dict" and len(keys) == 3
    assert len(set(keys)) == 3
    for bad in ([[1.0, 2.0]], np.array([["a"]], dtype=object), np.float64(1.0)):
        with pytest.raises(Unhashable):
            row_digests(bad)
    with pytest.raises(Unhashable):
        row_digests({"a": np.zeros(2), "b": np.zeros(3)})


def test_one_pixel_of_one_row_changes_only_that_rows_key():
    # issue 23: row keys reused across calls must still see every byte.
    # Reference: SHA-1 of each row's bytes, computed here with hashlib.
    import hashlib

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 1, 28, 28)).astype(np.float32)
    Y = X.copy()
    Y[3, 0, 27, 27] = np.nextafter(Y[3, 0, 27, 27], np.float32(np.inf))
    _, kx = row_digests(X)
    _, ky = row_digests(Y)
    assert kx == [hashlib.sha1(r.tobytes()).digest() for r in X]
    assert ky == [hashlib.sha1(r.tobytes()).digest() for r in Y]
    assert ky[3] != kx[3] and ky[:3] + ky[4:] == kx[:3] + kx[4:]


def test_row_keys_of_an_array_changed_after_a_call_are_recomputed(monkeypatch):
    # the keys of the last inputs are reused while their bytes are unchanged:
    # a write through the array, a view of it, or 0.0 -> -0.0 is seen.
    # Reference: hashlib on the array as it is at each call.
    import hashlib

    from skduo._outputs import _fingerprint

    def reference(A):
        return [hashlib.sha1(r.tobytes()).digest() for r in A]

    hashed = []
    row_keys = _fingerprint._row_keys
    monkeypatch.setattr(
        _fingerprint, "_row_keys", lambda rows: hashed.append(1) or row_keys(rows)
    )
    X = np.zeros((5, 3, 8, 8), np.float32)
    assert row_digests(X)[1] == reference(X)
    assert row_digests(X)[1] == reference(X) and len(hashed) == 1  # reused
    changes = [
        lambda: X.__setitem__((2, 0, 0, 0), 7.0),  # through the array
        lambda: X[4:5].__setitem__(Ellipsis, 1.0),  # through a view
        lambda: X.__setitem__((1, 2, 7, 7), -0.0),  # equal as a float, not bytes
    ]
    for n, change in enumerate(changes, start=2):
        before = row_digests(X)[1]
        change()
        after = row_digests(X)[1]
        assert after == reference(X) and after != before and len(hashed) == n
    assert row_digests(X.copy())[1] == reference(X)  # another array: hashed
    assert len(hashed) == len(changes) + 2


def test_content_memo_bounds_and_identity():
    from skduo._outputs._fingerprint import ContentMemo

    memo = ContentMemo(max_bytes=3000, max_entries=2)
    a, b, c = (np.full(1000, i, np.uint8) for i in range(3))
    for x in (a, b):
        memo.put(x, x, f"v{x[0]}", extra="k")
    assert memo.get(a, a, "k") == "v0" and memo.get(b, b, "k") == "v1"
    assert memo.get(a, a, "other kind") is None  # the extra must match
    assert memo.get(a.copy(), a, "k") is None  # another object, same bytes
    memo.put(c, c, "v2", extra="k")  # a third entry: the least recent goes
    assert memo.get(a, a, "k") is None and memo.get(c, c, "k") == "v2"
    assert memo.n_bytes == 2000
    del c
    memo.put(a, a, "v0", extra="k")  # the dead entry is pruned first
    assert memo.get(b, b, "k") == "v1" and memo.n_bytes == 2000
    memo.put(np.zeros(4000, np.uint8), np.zeros(4000, np.uint8), "big")
    assert memo.n_bytes == 2000  # larger than the bound: not kept


def test_member_fingerprint_of_sklearn_objects():
    Xa, Xb = np.array([[0.0], [2.0]]), np.array([[0.0], [4.0]])
    a1 = StandardScaler().fit(Xa)
    a2 = StandardScaler().fit(Xa)
    b = StandardScaler().fit(Xb)
    assert member_fingerprint(a1) == member_fingerprint(a2) != member_fingerprint(b)
    # functions enter by identity and code: a redefinition is another member

    def f(X):
        return X

    first = member_fingerprint(FunctionTransformer(f))

    def f(X):  # noqa: F811 - the notebook case: same name, new code
        return X + 1

    assert member_fingerprint(FunctionTransformer(f)) != first

    # closure values are part of a function
    def scaled(c):
        return lambda X: c * X

    assert member_fingerprint(FunctionTransformer(scaled(1.0))) != member_fingerprint(
        FunctionTransformer(scaled(2.0))
    )


# --------------------------------------------------------------------------
# the store


def _cost(key, row_keys, z):
    """What one insert into an empty cache counts (logits, keys, tables)."""
    cache = LogitsCache()
    cache.insert(key, row_keys, z)
    return cache.info()["n_bytes"]


def test_store_lru_bound_and_counters():
    z = np.arange(20.0).reshape(2, 10)
    c1 = _cost("m1", [b"r0", b"r1"], z)  # stored as float32: lossless here
    c2 = _cost("m2", [b"q0"], z[:1] + 0.1)  # 0.1 is no float32: float64, 80 B
    # at least the logits and the keys
    assert c1 >= 80 + 2 * sys.getsizeof(b"r0") and c2 >= 80 + sys.getsizeof(b"q0")
    cache = LogitsCache(max_bytes=max(c1, c2) + min(c1, c2) - 1)  # one fits
    cache.insert("m1", [b"r0", b"r1"], z)
    assert cache.info()["n_bytes"] == c1
    found, rows = cache.lookup("m1", [b"r1", b"rx", b"r0"])
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(rows, z[[1, 0]])
    assert rows.dtype == np.float64  # returned as computed, stored as float32
    cache.insert("m2", [b"q0"], z[:1] + 0.1)
    info = cache.info()
    assert info["n_entries"] == 1 and info["n_bytes"] == c2  # m1 was evicted
    assert not cache.lookup("m1", [b"r0"])[0].any()
    many = [b"big%d" % i for i in range(40)]
    cache.insert("m3", many, np.zeros((40, 10)))  # larger than the bound
    assert cache.lookup("m3", [b"big0"])[0].tolist() == [False]
    cache.max_bytes = 0
    assert cache.info()["n_bytes"] == 0
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        cache.max_bytes = -1


def test_store_keeps_float64_when_float32_would_lose():
    cache = LogitsCache()
    z = np.array([[0.1, 1.0 / 3.0]])
    cache.insert("m", [b"r"], z)
    _, rows = cache.lookup("m", [b"r"])
    # 16 bytes of float64 logits, 8 more than the same row in float32
    assert rows.dtype == np.float64
    assert cache.info()["n_bytes"] == _cost("m", [b"r"], np.array([[0.5, 0.25]])) + 8
    np.testing.assert_array_equal(rows[0], z[0])
    cache.insert("m32", [b"r"], z.astype(np.float32))  # float32 stays float32
    assert cache.lookup("m32", [b"r"])[1].dtype == np.float32


def test_the_bound_covers_keys_and_tables():
    # issue 22 item 8: 1,500,000 distinct rows with max_bytes=8 MB reported
    # 3.6 MB while RSS grew by 213 MiB (keys and dict entries uncounted).
    # Reference (independent): tracemalloc's count of what the cache holds.
    import tracemalloc

    rng = np.random.default_rng(0)
    cache = LogitsCache(max_bytes=8 << 20)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for j in range(30):  # 300,000 rows of 12 float32: the row is the key
            keys = [r.tobytes() for r in rng.normal(size=(10_000, 12)).astype("f4")]
            cache.insert(f"m{j}", keys, rng.normal(size=(10_000, 2)).astype("f4"))
            del keys
            held = tracemalloc.get_traced_memory()[0] - base
            n_bytes = cache.info()["n_bytes"]
            assert n_bytes <= 8 << 20
            assert held <= 1.1 * n_bytes + (64 << 10), (j, held, n_bytes)
    finally:
        tracemalloc.stop()
    assert cache.info()["n_entries"] < 30  # older members were evicted


# --------------------------------------------------------------------------
# torch members

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from torch import nn  # noqa: E402

from skduo.torch import as_member  # noqa: E402


@pytest.fixture(autouse=True)
def empty_cache():
    LOGITS_CACHE.clear()
    LOGITS_CACHE.max_bytes = 1 << 30
    LOGITS_CACHE.min_rows = 0  # the tests' subsets are small
    yield
    LOGITS_CACHE.clear()
    LOGITS_CACHE.min_rows = 2


class Count:
    """Forward pre-hook counting rows (its count is not part of the state)."""

    def __init__(self):
        self.rows = 0

    def __call__(self, module, args):
        self.rows += args[0].shape[0]

    def __getstate__(self):
        return {}


def counted_member(seed=0, n_in=12, n_out=4, **kwargs):
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(n_in, 16), nn.BatchNorm1d(16), nn.Linear(16, n_out)
    )
    module.eval()
    count = Count()
    module.register_forward_pre_hook(count)
    return as_member(module, classes=list(range(n_out)), **kwargs), count


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(40, 12)).astype(np.float32)


def logits(member, X, **kwargs):
    return cached_member_logits(member, X, member.classes_, **kwargs)


def test_subsets_and_reorderings_hit_the_cache(X):
    member, count = counted_member()
    full = logits(member, X)
    assert count.rows == 40
    np.testing.assert_array_equal(full, member_logits(member, X, member.classes_))
    assert count.rows == 80  # the uncached reference ran once more
    idx = np.array([39, 0, 7, 7, 12])
    np.testing.assert_array_equal(logits(member, X[idx]), full[idx])
    assert count.rows == 80  # served from the cache
    # new rows only: 3 of 5 computed, in one call
    mixed = np.concatenate([X[:2], X[:3] + 1.0])
    out = logits(member, mixed)
    assert count.rows == 83
    np.testing.assert_array_equal(out[:2], full[:2])
    np.testing.assert_array_equal(
        out[2:], member_logits(member, X[:3] + 1.0, [0, 1, 2, 3])
    )
    # options that change the values are part of the key
    z_proba = logits(member, X, method="predict_proba")
    assert count.rows == 126  # 83 + 3 of the uncached reference + 40
    log_proba = full - logsumexp(full, axis=1, keepdims=True)
    np.testing.assert_allclose(z_proba, log_proba, atol=1e-5)  # float32 softmax
    # a column order asked for differently is another entry
    reordered = cached_member_logits(member, X, [3, 2, 1, 0])
    np.testing.assert_array_equal(reordered, full[:, ::-1])
    info = LOGITS_CACHE.info()
    assert info["hits"] == 5 + 2 and info["misses"] == 40 + 3 + 40 + 40


@given(
    st.lists(st.integers(0, 39), min_size=1, max_size=60),
    st.floats(-3, 3, allow_nan=False, width=32),
)
def test_cached_logits_always_equal_fresh_ones(indices, shift):
    # any sequence of row subsets, some rows changed: never a stale value
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 12)).astype(np.float32)
    member, _ = _SHARED_MEMBER
    rows = X[indices]
    rows[::3] += np.float32(shift)
    expected = member_logits(member, rows, member.classes_)
    # a row's float32 logits depend on its batch at the rounding level (BLAS
    # kernels by batch size): a cached row equals a fresh one up to that
    np.testing.assert_allclose(logits(member, rows), expected, rtol=1e-5, atol=1e-6)


_SHARED_MEMBER = counted_member(seed=3)


def test_changed_members_never_get_stale_logits(X):
    member, count = counted_member()
    module = member.module_
    before = logits(member, X)
    changes = [
        # in place through .data: no version counter moves
        lambda: module[0].weight.data.add_(0.5),
        lambda: module.load_state_dict(
            {k: v * 1.5 for k, v in module.state_dict().items()}
        ),
        lambda: module[1].running_var.mul_(4.0),  # a buffer
        lambda: setattr(module[1], "eps", 0.5),  # a plain attribute
        lambda: module.__setitem__(2, nn.Linear(16, 4)),  # a new submodule
        lambda: member.set_params(transform=lambda x: x * 2),
    ]
    previous = before
    for change in changes:
        change()
        rows = count.rows
        z = logits(member, X)
        assert count.rows == rows + 40, change  # recomputed
        assert not np.array_equal(z, previous)
        np.testing.assert_array_equal(z, member_logits(member, X, member.classes_))
        previous = z
    # the training flag is not part of the key: inference always runs in eval mode
    module.train()
    rows = count.rows
    np.testing.assert_array_equal(logits(member, X), previous)
    assert count.rows == rows
    module.eval()


def _fresh_fingerprint(member):
    """The fingerprint computed with nothing reused (the reference)."""
    from skduo._outputs._fingerprint import clear_memos

    clear_memos()
    return member_fingerprint(member)


def configured_class():
    """A fresh module class (tests change its methods): a large weight, a
    config list of dicts, a keyword default and a closure."""

    def closure_fn(factor):
        return lambda self, x: x * factor

    class Configured(nn.Module):
        helper = closure_fn(1.0)

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.big = nn.Linear(128, 128)  # 64 KiB: its digest reused by copy
            self.out = nn.Linear(128, 4)
            self.cfg = [{"scale": 1.0}]

            def act(x):
                return x

            self.acts = (act,)  # a tuple holding a function

        def forward(self, x, *, shift=0.0):
            return self.scaled(self.out(self.big(x))) * self.cfg[0]["scale"] + shift

        def scaled(self, x, factor=1.0):
            return x * factor

    return Configured


def _other_forward(self, x, *, shift=0.0):
    return self.out(self.big(x)) - shift


def test_reused_fingerprints_equal_fresh_ones_after_any_change():
    # issue 23: what fingerprints reuse across calls (tensor digests by a copy
    # of their bytes, module and class states by identity) never hides a
    # change. Reference: the fingerprint computed with every memo cleared.
    Configured = configured_class()
    module = Configured().eval()
    member = as_member(module, classes=[0, 1, 2, 3])

    def hook(mod, args):
        return None

    changes = [
        # the large weight in place through a NumPy view: no version counter
        lambda: module.big.weight.detach().numpy().__setitem__((5, 7), 0.25),
        # a sign of zero: equal as floats, different bytes
        lambda: module.big.bias.detach().numpy().__setitem__(3, -0.0),
        lambda: module.big.bias.detach().numpy().__setitem__(3, 0.0),
        lambda: module.cfg[0].__setitem__("scale", 2.0),  # nested, in place
        lambda: setattr(module.acts[0], "__code__", (lambda x: x + 1).__code__),
        lambda: module.out.register_forward_pre_hook(hook),  # a hook dict
        lambda: setattr(module.out, "in_features", 128.0),  # 128 == 128.0
        # the class: a method's code, defaults, keyword defaults, closure
        lambda: setattr(Configured.forward, "__code__", _other_forward.__code__),
        lambda: setattr(Configured.scaled, "__defaults__", (2.0,)),
        lambda: setattr(Configured.forward, "__kwdefaults__", {"shift": 1.0}),
        lambda: Configured.forward.__kwdefaults__.__setitem__("shift", 2.0),
        lambda: setattr(Configured.helper.__closure__[0], "cell_contents", 2.0),
    ]
    fingerprints = [member_fingerprint(member)]
    assert member_fingerprint(member) == fingerprints[0]  # unchanged: the same
    for change in changes:
        change()
        reused = member_fingerprint(member)
        assert reused == _fresh_fingerprint(member), change
        assert reused not in fingerprints, change
        assert member_fingerprint(member) == reused  # and now reused again
        fingerprints.append(reused)


def test_large_tensors_are_compared_not_hashed_again(monkeypatch):
    from skduo._outputs import _fingerprint

    module = configured_class()().eval()
    member = as_member(module, classes=[0, 1, 2, 3])
    first = member_fingerprint(member)
    sizes = []
    sha1 = _fingerprint._sha1
    monkeypatch.setattr(
        _fingerprint, "_sha1", lambda b: sizes.append(memoryview(b).nbytes) or sha1(b)
    )
    assert member_fingerprint(member) == first
    assert max(sizes) < 128 * 128 * 4  # the 64 KiB weight was not hashed
    sizes.clear()
    with torch.no_grad():
        module.big.weight[0, 0] += 1.0
    assert member_fingerprint(member) != first
    assert 128 * 128 * 4 in sizes  # changed: hashed again


def test_memos_forget_collected_modules_and_clear_with_the_cache(X):
    import gc

    from skduo._outputs import _fingerprint

    module = configured_class()().eval()
    member = as_member(module, classes=[0, 1, 2, 3])
    member_fingerprint(member)
    key = id(module.big)
    assert key in _fingerprint._MODULE_STATES
    assert _fingerprint.TENSOR_MEMO.n_bytes >= 128 * 128 * 4
    del member, module
    gc.collect()
    assert key not in _fingerprint._MODULE_STATES
    LOGITS_CACHE.clear()
    assert _fingerprint.TENSOR_MEMO.n_bytes == 0
    assert not _fingerprint._MODULE_STATES and not _fingerprint._CLASS_STATES


class Scaled(nn.Module):
    """A module whose output depends on its class: an attribute read in forward."""

    factor = 1.0

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(12, 4)

    def forward(self, x):
        return self.linear(x) * type(self).factor


def test_changes_to_the_class_or_global_hooks_never_get_stale_logits(X):
    # issue 22 item 7: what decides the output beyond the instance's state --
    # a class attribute read in forward (stale by 0.34), forward replaced on
    # the class (0.47), a global register_module_forward_hook (0.22) -- served
    # stale logits. Reference: the module's own forward, uncached.
    class Local(Scaled):
        pass

    module = Local().eval()
    member = as_member(module, classes=[0, 1, 2, 3])

    def fresh():
        with torch.inference_mode():
            return module(torch.as_tensor(X)).double().numpy()

    def check():
        np.testing.assert_allclose(logits(member, X), fresh(), rtol=1e-6, atol=1e-6)

    check()
    Local.factor = 2.0
    check()
    Local.forward = lambda self, x: self.linear(x) - 1.0
    check()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda mod, args, out: out * 3.0 if mod is module else None
    )
    try:
        check()
    finally:
        handle.remove()
    check()
    # unchanged: served from the cache
    hits = LOGITS_CACHE.info()["hits"]
    check()
    assert LOGITS_CACHE.info()["hits"] == hits + 40


def test_changed_rows_in_place_are_recomputed(X):
    member, count = counted_member()
    first = logits(member, X)
    X[5, 3] += 1.0  # the same array object, one value changed
    second = logits(member, X)
    assert count.rows == 41
    np.testing.assert_array_equal(np.delete(second, 5, 0), np.delete(first, 5, 0))
    assert not np.array_equal(second[5], first[5])


@pytest.mark.filterwarnings("ignore:precision=.* on a CPU:UserWarning")
def test_pipelines_and_precision_are_part_of_the_key(X):
    member, count = counted_member()
    scaled = make_pipeline(StandardScaler().fit(X), member)
    logits(member, X)
    z = cached_member_logits(scaled, X, member.classes_)
    assert count.rows == 80  # another member: the pipeline's inputs differ
    np.testing.assert_array_equal(
        z, member_logits(member, StandardScaler().fit_transform(X), member.classes_)
    )
    assert count.rows == 120  # (the uncached reference)
    refit = make_pipeline(StandardScaler().fit(X * 2), member)
    cached_member_logits(refit, X, member.classes_)
    assert count.rows == 160  # a refitted step is another member
    cached_member_logits(scaled, X, member.classes_)
    assert count.rows == 160
    member.set_params(precision="bfloat16")
    cached_member_logits(member, X, member.classes_)
    assert count.rows == 200


def test_uncacheable_members_and_inputs_are_computed_every_time(X):
    member, count = counted_member()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X))
    logits(member, dataset)
    logits(member, dataset)
    assert count.rows == 80  # a Dataset cannot be keyed by content
    member.module_.lock = threading.Lock()  # cannot be pickled: not fingerprinted
    logits(member, X)
    logits(member, X)
    assert count.rows == 160
    # sklearn members are cheap: never cached
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(X, np.arange(40) % 2)
    cached_member_logits(lr, X, lr.classes_)
    assert LOGITS_CACHE.info()["n_entries"] == 0


def test_tensor_inputs_and_threads(X):
    member, count = counted_member(batch_size=8)
    Xt = torch.from_numpy(X)
    expected = member_logits(member, X, member.classes_)
    rows = count.rows
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: logits(member, Xt[i::2]), [0, 1] * 4))
    # the threads run the rows in other batches of 8 than the reference: equal
    # to float32 precision (BLAS kernels by batch size), not bit for bit
    for i, out in zip([0, 1] * 4, outs):
        np.testing.assert_allclose(out, expected[i::2], rtol=1e-5, atol=1e-6)
    assert 40 <= count.rows - rows <= 4 * 40  # threads may race on first rows
    rows = count.rows
    np.testing.assert_allclose(logits(member, Xt), expected, rtol=1e-5, atol=1e-6)
    assert count.rows == rows  # both halves were cached by the threads


def test_single_row_calls_bypass_the_cache(X):
    LOGITS_CACHE.min_rows = 2  # the default
    assert LogitsCache().min_rows == 2
    member, count = counted_member()
    logits(member, X)  # 40 rows: cached
    logits(member, X[:1])  # one row: computed without hashing
    assert count.rows == 41
    logits(member, X[:2])  # two rows: from the cache (CV folds are never smaller)
    assert count.rows == 41
    assert LOGITS_CACHE.info()["hits"] == 2


def test_verbose_says_once_that_rows_come_from_the_cache(X, capsys):
    member, _ = counted_member()
    logits(member, X, name="large", verbose=True)
    assert "large logits" in capsys.readouterr().err  # the progress bar
    logits(member, X, name="large", verbose=True)
    err = capsys.readouterr().err
    assert err == (
        "large logits: 100% of 40 rows from the cache (further cached calls for "
        "this member are silent)\n"
    )
    logits(member, X[:5], name="large", verbose=True)
    assert capsys.readouterr().err == ""  # a grid search prints no more lines


def test_fingerprint_is_stable_while_other_threads_predict(X):
    # the methods of the module classes enter the fingerprint by their code:
    # the digest must not move while other threads run those methods (marshal
    # output does: it flags objects by their reference count)
    from skduo._outputs._fingerprint import member_fingerprint

    member, _ = counted_member(batch_size=8)
    before = member_fingerprint(member)

    def predict_then_fingerprint(i):
        member_logits(member, X[i::2], member.classes_)
        return member_fingerprint(member)

    with ThreadPoolExecutor(4) as pool:
        during = list(pool.map(predict_then_fingerprint, range(40)))
    assert all(f == before for f in during)
