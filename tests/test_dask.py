"""The weight fit on dask arrays (skduo/_fit/_dask.py), on a local 2-worker cluster."""

import subprocess
import sys
import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from skduo._fit._modes import FITS_BY_MODE  # noqa: E402
from skduo._fit._weight_fit import (  # noqa: E402
    SeparationWarning,
    fit_logit_weights,
    nll,
)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on 127.0.0.1, closed after the module."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        processes=True,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _problem(n=6000, k=40, seed=0):
    rng = np.random.default_rng(seed)
    base = 2.0 * rng.normal(size=(n, k))
    z_l = (base + rng.normal(size=(n, k))).astype(np.float32)
    z_s = (base + 1.5 * rng.normal(size=(n, k))).astype(np.float32)
    y = (1.2 * z_l + 0.5 * z_s + rng.gumbel(size=(n, k))).argmax(axis=1)
    return z_l, z_s, y


def test_cluster_fit_equals_the_in_memory_fit(client):
    # 4,000 x 100: above the start subsample (2,621 rows), so the subsample is a
    # lazy row selection and all phases run
    z_l, z_s, y = _problem(n=4000, k=100)
    sw = np.random.default_rng(1).random(len(y))
    expected = fit_logit_weights([z_l, z_s], y, sw, return_result=True)
    # members in different row blocks (and columns split): aligned by the fit
    dl, ds = client.persist(
        [da.from_array(z_l, chunks=(1000, 100)), da.from_array(z_s, chunks=(700, 50))]
    )
    got = fit_logit_weights(
        [dl, ds], da.from_array(y, chunks=900), sw, return_result=True
    )
    assert got.converged and got.kkt_residual <= 1e-8
    np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-8)
    assert got.nll == pytest.approx(expected.nll, rel=1e-12)
    assert got.n_passes == expected.n_passes <= 3
    assert nll([dl, ds], y, expected.weights, sw) == pytest.approx(
        nll([z_l, z_s], y, expected.weights, sw), rel=1e-13
    )


def test_cluster_fit_runs_the_compiled_kernel_on_the_workers(client, monkeypatch):
    # the client's kernel choice travels with the tasks: the workers' float32
    # passes are the compiled ones too, so the fit equals the in-memory one
    pytest.importorskip("numba")
    monkeypatch.setenv("SKDUO_FIT_KERNEL", "numba")
    z_l, z_s, y = _problem(n=4000, k=100)
    expected = fit_logit_weights([z_l, z_s], y, return_result=True)
    dl, ds = client.persist(
        [da.from_array(z_l, chunks=(1000, 100)), da.from_array(z_s, chunks=(1000, 50))]
    )
    got = fit_logit_weights([dl, ds], y, return_result=True)
    assert got.converged and got.kkt_residual <= 1e-8
    np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-8)

    def loaded():
        import skduo._fit._objective

        return skduo._fit._objective._load_compiled.cache_info().currsize

    assert set(client.run(loaded).values()) == {1}


@pytest.mark.parametrize("mode", ["unweighted", "pooled", "uq_only"])
def test_every_mode_accepts_dask(client, mode):
    z_l, z_s, y = _problem(n=2000, k=10, seed=2)
    expected = FITS_BY_MODE[mode]([z_l, z_s], y)
    got = FITS_BY_MODE[mode]([da.from_array(z_l, chunks=500), z_s], y)
    np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-8)


def test_non_finite_dask_logits_are_named(client):
    z_l, z_s, y = _problem(n=2000, k=10)
    z_s[1500, 3] = np.nan
    z_s[1999, 0] = -np.inf
    with pytest.raises(ValueError, match="^small contains 1 NaN and 1 infinite"):
        fit_logit_weights(
            [da.from_array(z_l, chunks=400), da.from_array(z_s, chunks=400)],
            y,
            names=["large", "small"],
        )


def test_degenerate_and_separating_members_on_dask(client):
    # the scans (degenerate members, recession directions) run on the workers
    z_l, _, y = _problem(n=2000, k=10)
    const = da.from_array(np.tile(np.arange(2000.0)[:, None], (1, 10)), chunks=500)
    with pytest.warns(UserWarning, match="constant up to rounding"):
        res = fit_logit_weights([da.from_array(z_l, chunks=500), const], y)
    assert res[1] == 0.0
    fire = np.zeros((2000, 10))
    fire[np.arange(0, 2000, 20), y[::20]] = 1.0  # right on 5% of rows, tied elsewhere
    with pytest.warns(SeparationWarning, match="quasi-separate"):
        fit_logit_weights([z_l, da.from_array(fire, chunks=500)], y)


def test_each_block_is_read_a_few_times_and_only_terms_travel():
    # in-process threads: count how often each block of the logits is computed;
    # the fit reads the data in its passes (at most 3 here) plus the subsample
    import dask

    z_l, z_s, y = _problem(n=6000, k=100)
    reads = {}
    lock = threading.Lock()

    def block(x, block_info=None):
        with lock:
            key = block_info[0]["chunk-location"]
            reads[key] = reads.get(key, 0) + 1
        return x

    dl = da.from_array(z_l, chunks=(1000, 100)).map_blocks(block, dtype=np.float32)
    with dask.config.set(scheduler="threads"):
        res = fit_logit_weights([dl, z_s], y, return_result=True)
    assert res.n_passes <= 3
    assert set(reads) == {(i, 0) for i in range(6)}
    assert max(reads.values()) <= res.n_passes + 1  # + the subsample's rows


def test_import_skduo_and_numpy_fits_never_import_dask():
    code = (
        "import sys, numpy as np\n"
        "from skduo._fit._weight_fit import fit_logit_weights\n"
        "rng = np.random.default_rng(0)\n"
        "z = rng.normal(size=(300, 4)); y = rng.integers(0, 4, 300)\n"
        "fit_logit_weights([z, z + rng.normal(size=z.shape)], y)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'dask'], 'dask'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_parallel_post_fit_predicts_a_duo_block_by_block(client):
    # docs/guide_serving.rst: dask-ml's ParallelPostFit around a duo over fitted
    # scikit-learn members; every prediction equals the in-memory one (the
    # blocks are rows, and a duo's prediction of a row reads only that row),
    # the probabilities to rounding
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from sklearn.datasets import load_digits
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    from skduo import DuoClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, y_train = X[:900], y[:900]
    X_val, y_val, X_test = X[900:1300], y[900:1300], X[1300:]
    large = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    small = GaussianNB().fit(X_train, y_train)
    ppf = wrappers.ParallelPostFit(
        DuoClassifier(FrozenEstimator(large), FrozenEstimator(small))
    ).fit(X_val, y_val)  # fits the wrapped duo, as in the guide
    duo = DuoClassifier(FrozenEstimator(large), FrozenEstimator(small))
    duo.fit(X_val, y_val)
    np.testing.assert_array_equal(ppf.estimator.weights_, duo.weights_)
    X_dask = client.persist(da.from_array(X_test, chunks=(100, X_test.shape[1])))
    np.testing.assert_array_equal(ppf.predict(X_dask).compute(), duo.predict(X_test))
    # the members' X @ coef runs through BLAS on blocks of 100 rows here, on all
    # rows there: a row's result may follow the kernel BLAS picks for the block
    # size (by CPU), so equal to rounding, not bit for bit
    np.testing.assert_allclose(
        ppf.predict_proba(X_dask).compute(),
        duo.predict_proba(X_test),
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        ppf.predict_log_proba(X_dask).compute(),
        duo.predict_log_proba(X_test),
        rtol=0,
        atol=1e-12,
    )
