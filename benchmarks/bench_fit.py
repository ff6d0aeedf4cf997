"""Speed, optimality and memory of the weight fit (not collected by pytest).

Run: ``python benchmarks/bench_fit.py [--sizes 2500x1000 50000x1000] [--repeat 3]``
(the memory check at the issue's largest size:
``--sizes 1000000x1000 --no-official --repeat 1 --member-size none``, 8 GB of
logits).

Part 1 compares skduo's fit with a faithful re-implementation of the official
asymmetric-duos procedure (``evaluate/3_duo_temp_scale.py``): a 25 x 25 grid over
T in {0.05, 0.25, ..., 4.85} on ``(z_l / T_l + z_s / T_s) / 2`` scored by mean
cross-entropy in float32 torch, then ``torch.optim.LBFGS(lr=0.01, max_iter=50)``
from the best grid point. Both see identical synthetic float32 logits in one
process; both validation NLLs are evaluated by the same float64 function.
Part 2 compares one-member skduo (temperature scaling) with sklearn's
``CalibratedClassifierCV(method="temperature")`` on the same logits.
Peak extra memory is measured with tracemalloc (NumPy reports its buffers to it).

Targets (issue 2): >= 50x faster than the official procedure at 2,500 x 1,000
with NLL <= official; <= 1.5 s at 50,000 x 1,000 on a 2-core machine; peak extra
memory <= 2x one logits array; 1 member >= 5x faster than sklearn, equal NLL.

``--passes`` (issue 14, item 2) times the fit single-threaded (``n_threads=1``,
BLAS limited to one thread) against one chunked float32 log-sum-exp pass over
both member arrays, side by side, and prints time(fit) / time(pass) (goal <=
3.0 at 50,000 x 1,000), the fit's data passes and its peak extra memory.
``--evaluations`` (issue 23) prints, in the same units and measured the same
way (interleaved with the reference pass, best of ``--repeat``), the cost of
each kind of objective evaluation on all rows with each kernel, and where a
whole fit spends its time (the start on the subsample, each full-data
evaluation, the rest).

``--dask`` (issue 14, item 1) builds 2 x (250,000 x 1,000) float32 logits
lazily on a local 2-worker cluster (``dask.array`` random numbers with a
seed, persisted on the workers), fits them there, prints the client's peak
RSS (target < 500 MB) and, after the cluster is closed, time(dask fit) /
time(in-memory ``fit_duo`` on the same data computed in this process) (target
<= 2x). ``--subsample`` measures how far the full-data NLL at weights fitted
on a row subsample is from the full-data optimum.

Run from the repository root: the benchmark imports the ``skduo`` of the
checkout it lives in.
"""

import argparse
import functools
import gc
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from skduo._fit._kernel import row_chunks  # noqa: E402
from skduo._fit._weight_fit import fit_logit_weights, nll  # noqa: E402


def make_logits(n, k, seed=0, w=(1.3, 0.4)):
    """Correlated float32 member logits and labels drawn from the weighted duo."""
    if n > 200_000:
        return _make_logits_blocks(n, k, seed, w)
    rng = np.random.default_rng(seed)
    base = 2.0 * rng.standard_normal((n, k), dtype=np.float32)
    z_l = base + rng.standard_normal((n, k), dtype=np.float32)
    z_s = base + 1.5 * rng.standard_normal((n, k), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, 4096):  # sample labels chunk-wise
        c = w[0] * z_l[start : start + 4096].astype(float) + w[1] * z_s[
            start : start + 4096
        ].astype(float)
        p = np.exp(c - c.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        u = rng.random(len(p))[:, None]
        y[start : start + 4096] = np.minimum((p.cumsum(1) < u).sum(1), k - 1)
    return z_l, z_s, y


def _make_logits_blocks(n, k, seed, w, block=8192):
    """Same model as :func:`make_logits`, generated in row blocks.

    For very large ``n`` (1,000,000 x 1,000 is 4 GB per member): only the two
    member arrays are allocated whole (a different random stream than
    :func:`make_logits`).
    """
    rng = np.random.default_rng(seed)
    z_l = np.empty((n, k), dtype=np.float32)
    z_s = np.empty((n, k), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        base = 2.0 * rng.standard_normal((stop - start, k), dtype=np.float32)
        z_l[start:stop] = base + rng.standard_normal(base.shape, dtype=np.float32)
        z_s[start:stop] = base + 1.5 * rng.standard_normal(base.shape, dtype=np.float32)
        c = w[0] * z_l[start:stop].astype(float) + w[1] * z_s[start:stop]
        p = np.exp(c - c.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        u = rng.random(len(p))[:, None]
        y[start:stop] = np.minimum((p.cumsum(1) < u).sum(1), k - 1)
    return z_l, z_s, y


def official_fit(z_l, z_s, y):
    """The official grid + under-converged L-BFGS procedure; returns weights."""
    import torch
    import torch.nn.functional as F

    zl = torch.from_numpy(z_l)
    zs = torch.from_numpy(z_s)
    yt = torch.from_numpy(y)
    grid = torch.arange(0.05, 5.05, 0.2)
    best, best_t = float("inf"), None
    with torch.no_grad():
        for t_l in grid:
            for t_s in grid:
                loss = F.cross_entropy((zl / t_l + zs / t_s) / 2, yt).item()
                if loss < best:
                    best, best_t = loss, (float(t_l), float(t_s))
    t_l = torch.tensor([best_t[0]], requires_grad=True)
    t_s = torch.tensor([best_t[1]], requires_grad=True)
    opt = torch.optim.LBFGS([t_l, t_s], lr=0.01, max_iter=50)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy((zl / t_l + zs / t_s) / 2, yt)
        loss.backward()
        return loss

    opt.step(closure)
    temps = np.array([t_l.item(), t_s.item()])
    return 1.0 / (2.0 * temps)  # w = 1 / (2T)


def timed(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_extra_memory(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _row(n, k, repeat, with_official):
    z_l, z_s, y = make_logits(n, k)
    t_ours, w = timed(lambda: fit_logit_weights([z_l, z_s], y), repeat)
    nll_ours = nll([z_l, z_s], y, w)
    mem = peak_extra_memory(lambda: fit_logit_weights([z_l, z_s], y))
    if with_official:
        t_off, w_off = timed(lambda: official_fit(z_l, z_s, y), 1)
        nll_off = nll([z_l, z_s], y, w_off)
        off = f"{t_off:11.3f} {t_off / t_ours:8.1f}x"
        nlls = f"{nll_ours:14.8f} {nll_off:14.8f}"
    else:
        off = f"{'-':>11} {'-':>9}"
        nlls = f"{nll_ours:14.8f} {'-':>14}"
    print(f"{n:>7}x{k:<6} {t_ours:9.3f} {off} {nlls} {mem / z_l.nbytes:15.3f}")


def part1(sizes, repeat, with_official, official_max_n=np.inf):
    print("\n## 1. Duo weight fit: skduo vs the official procedure")
    print(
        f"{'n x K':>14} {'skduo s':>9} {'official s':>11} {'speed-up':>9} "
        f"{'NLL skduo':>14} {'NLL official':>14} {'peak mem/array':>15}"
    )
    for n, k in sizes:
        _row(n, k, repeat, with_official and n <= official_max_n)


def part2(n, k, repeat):
    print("\n## 2. One member: skduo vs CalibratedClassifierCV(method='temperature')")
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    z, _, y = make_logits(n, k, seed=1)

    class Logits(ClassifierMixin, BaseEstimator):
        classes_ = np.arange(k)

        def __sklearn_is_fitted__(self):
            return True

        def fit(self, X, y):
            return self

        def decision_function(self, X):
            return z[X[:, 0].astype(int)]

        def predict(self, X):
            return self.decision_function(X).argmax(axis=1)

    idx = np.arange(n).reshape(-1, 1)

    def sk():
        ccv = CalibratedClassifierCV(FrozenEstimator(Logits()), method="temperature")
        return ccv.fit(idx, y)

    t_sk, ccv = timed(sk, repeat)
    # sklearn divides the logits by its fitted temperature (attribute naming
    # differs across versions); read the NLL of its probabilities directly
    p = ccv.predict_proba(idx)
    nll_sk = float(-np.log(np.clip(p[np.arange(n), y], 1e-300, None)).mean())
    t_ours, w = timed(lambda: fit_logit_weights([z], y), repeat)
    nll_ours = nll([z], y, w)
    print(
        f"{'n x K':>14} {'skduo s':>9} {'sklearn s':>10} {'speed-up':>9} "
        f"{'NLL skduo':>14} {'NLL sklearn':>14}"
    )
    print(
        f"{n:>7}x{k:<6} {t_ours:9.3f} {t_sk:10.3f} {t_sk / t_ours:8.1f}x "
        f"{nll_ours:14.8f} {nll_sk:14.8f}"
    )


# --------------------------------------------------------------------------------
# 3. data passes (issue 14, item 2)
# --------------------------------------------------------------------------------


def lse_pass(arrays):
    """One chunked float32 log-sum-exp pass over every array (the unit of cost)."""
    total = 0.0
    for z in arrays:
        for start, stop in row_chunks(*z.shape):
            block = z[start:stop]
            top = block.max(axis=1)
            e = np.exp(block - top[:, None])
            total += float(np.log(e.sum(axis=1)).sum() + top.sum())
    return total


def part3(n, k, repeat):
    print(
        "\n## 3. Data passes: time(fit) / time(one float32 log-sum-exp pass), 1 thread"
    )
    import importlib.util
    import os

    from threadpoolctl import threadpool_limits

    z_l, z_s, y = make_logits(n, k)
    kernels = ["numpy"] + (["numba"] * (importlib.util.find_spec("numba") is not None))
    print(
        f"{'n x K':>14} {'kernel':>7} {'fit s':>8} {'pass s':>8} {'fit/pass':>9} "
        f"{'data passes':>12} {'KKT':>9} {'peak mem/array':>15}"
    )
    before = os.environ.get("SKDUO_FIT_KERNEL")
    try:
        for kernel in kernels:
            os.environ["SKDUO_FIT_KERNEL"] = kernel
            with threadpool_limits(1):
                fit = functools.partial(fit_logit_weights, [z_l, z_s], y, n_threads=1)
                res = fit(return_result=True)  # also compiles or loads the kernel
                t_fit, t_pass = [], []
                for _ in range(repeat):  # interleaved: both see the same load
                    t_pass.append(timed(lambda: lse_pass([z_l, z_s]), 1)[0])
                    t_fit.append(timed(fit, 1)[0])
            mem = peak_extra_memory(lambda: fit_logit_weights([z_l, z_s], y))
            print(
                f"{n:>7}x{k:<6} {kernel:>7} {min(t_fit):8.3f} {min(t_pass):8.3f} "
                f"{min(t_fit) / min(t_pass):9.2f} {res.n_passes:>12} "
                f"{res.kkt_residual:9.2g} {mem / z_l.nbytes:15.3f}"
            )
            ratios = sorted(f / p for f, p in zip(t_fit, t_pass))
            print(f"(per-repeat ratios {', '.join(f'{r:.2f}' for r in ratios)})")
    finally:
        if before is None:
            os.environ.pop("SKDUO_FIT_KERNEL", None)
        else:
            os.environ["SKDUO_FIT_KERNEL"] = before


def _evaluation_kinds(z_l, z_s, y):
    """(label, kernel name, objective, order) of every full-data evaluation."""
    from skduo._fit._objective import Objective

    sw = np.ones(len(y))
    kinds = []
    for kernel in ("numpy", "numba"):
        os.environ["SKDUO_FIT_KERNEL"] = kernel
        fast = Objective([z_l, z_s], y, sw, 1, False, kernel=kernel)
        precise = Objective([z_l, z_s], y, sw, 1, True, kernel=kernel)
        if kernel == "numba" and fast._compiled is None:
            continue
        kinds += [
            ("float32, loss only", kernel, fast, 0),
            ("float32, gradient", kernel, fast, 1),
            ("float32, third order", kernel, fast, 3),
            ("float64 certificate (gradient)", kernel, precise, 1),
            ("float64 with Hessian", kernel, precise, 2),
        ]
    return kinds


class _FitClock:
    """Times every objective evaluation and the start of one fit (patched in)."""

    def __init__(self):
        from skduo._fit import _objective, _weight_fit

        self._modules = _objective, _weight_fit
        self.records = []

    def __enter__(self):
        _objective, _weight_fit = self._modules
        self._call, self._start = _objective.Objective.__call__, _weight_fit._start
        records, call, start = self.records, self._call, self._start

        def timed_call(obj, weights, order=None):
            t0 = time.perf_counter()
            out = call(obj, weights, order)
            n = len(obj.y)
            level = obj.max_order if order is None else min(order, obj.max_order)
            key = ("float64" if obj.precise else "float32", level, n)
            records.append((key, time.perf_counter() - t0))
            return out

        def timed_start(*args, **kwargs):
            t0 = time.perf_counter()
            out = start(*args, **kwargs)
            records.append((("start", None, None), time.perf_counter() - t0))
            return out

        _objective.Objective.__call__ = timed_call
        _weight_fit._start = timed_start
        return self

    def __exit__(self, *exc):
        _objective, _weight_fit = self._modules
        _objective.Objective.__call__ = self._call
        _weight_fit._start = self._start


def part3b(n, k, repeat):
    print(
        "\n## 3b. Cost of each evaluation in reference passes (50,000 x 1,000 "
        "float32, 1 thread)"
    )
    import importlib.util

    from threadpoolctl import threadpool_limits

    z_l, z_s, y = make_logits(n, k)
    w = np.array([1.25, 0.375])  # float32 numbers near the optimum
    before = os.environ.get("SKDUO_FIT_KERNEL")
    try:
        with threadpool_limits(1):
            kinds = _evaluation_kinds(z_l, z_s, y)
            for _, _, obj, order in kinds:  # compile / warm up
                obj(w, order)
            t_pass, t_eval = [], [[] for _ in kinds]
            for _ in range(repeat):  # interleaved: all see the same load
                t_pass.append(timed(lambda: lse_pass([z_l, z_s]), 1)[0])
                for times, (_, _, obj, order) in zip(t_eval, kinds):
                    times.append(timed(functools.partial(obj, w, order), 1)[0])
            unit = min(t_pass)
            print(f"reference pass {unit:.3f} s (best of {repeat})")
            print(f"{'evaluation':>32} {'kernel':>7} {'passes':>7}")
            for (label, kernel, _, _), times in zip(kinds, t_eval):
                print(f"{label:>32} {kernel:>7} {min(times) / unit:7.2f}")
            kernels = ["numpy"] + ["numba"] * (
                importlib.util.find_spec("numba") is not None
            )
            for kernel in kernels:
                os.environ["SKDUO_FIT_KERNEL"] = kernel
                fit = functools.partial(fit_logit_weights, [z_l, z_s], y, n_threads=1)
                fit()
                runs = []
                for _ in range(repeat):
                    t_pass_now = timed(lambda: lse_pass([z_l, z_s]), 1)[0]
                    with _FitClock() as clock:
                        t_fit = timed(fit, 1)[0]
                    runs.append((t_fit / t_pass_now, clock.records, t_pass_now))
                ratio, records, t_unit = min(runs, key=lambda r: r[0])
                print(f"fit with the {kernel} kernel: {ratio:.2f} passes (best run):")
                inner = 0.0
                for (what, order, rows), t in records:
                    if what == "start":
                        label = "start on the subsample (all of it)"
                    elif rows < len(y):
                        continue  # inside the start
                    else:
                        label = f"{what} evaluation, order {order}"
                    inner += t
                    print(f"{label:>40} {t / t_unit:6.2f}")
                print(
                    f"{'rest (subsample, spreads, steps)':>40} "
                    f"{ratio - inner / t_unit:6.2f}"
                )
    finally:
        if before is None:
            os.environ.pop("SKDUO_FIT_KERNEL", None)
        else:
            os.environ["SKDUO_FIT_KERNEL"] = before


# --------------------------------------------------------------------------------
# 4. distributed fit on dask (issue 14, item 1)
# --------------------------------------------------------------------------------


def _labels_block(z_l, z_s, w, block_info=None):
    """Labels drawn from softmax(w[0] z_l + w[1] z_s), seeded by the block."""
    seed = 1000 + block_info[0]["chunk-location"][0]
    rng = np.random.default_rng(seed)
    c = w[0] * z_l.astype(np.float64) + w[1] * z_s
    p = np.exp(c - c.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random(len(p))[:, None]
    return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)


def lazy_logits(n, k, chunk_rows=25_000, seed=0, w=(1.3, 0.4)):
    """The model of :func:`make_logits` as lazy dask arrays (same on recompute)."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    shape, chunks = (n, k), (chunk_rows, k)
    base = 2.0 * rng.standard_normal(shape, chunks=chunks, dtype=np.float32)
    z_l = base + rng.standard_normal(shape, chunks=chunks, dtype=np.float32)
    z_s = base + 1.5 * rng.standard_normal(shape, chunks=chunks, dtype=np.float32)
    y = da.map_blocks(_labels_block, z_l, z_s, w, drop_axis=1, dtype=np.int64)
    return z_l, z_s, y


class _PeakRSS:
    """Peak resident memory of this process while the block runs (sampled)."""

    def __enter__(self):
        import threading

        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(0.005):
                self.peak = max(self.peak, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.mb = self.peak / 2**20


def part4(n, k, repeat):
    print(
        "\n## 4. Distributed fit on dask: a local 2-worker cluster vs fit_duo in memory"
    )
    import dask
    from distributed import Client, LocalCluster

    from skduo import fit_duo

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
            memory_limit="6GiB",
        ) as cluster,
        Client(cluster) as client,
    ):
        z_l, z_s, y = lazy_logits(n, k)
        z_l, z_s, y = client.persist([z_l, z_s, y])  # built on the workers
        y = y.compute()  # the labels are 2 MB; the fit needs them in the client
        # 1. the client's memory while it holds no logits
        with _PeakRSS() as rss:
            t0 = time.perf_counter()
            res = fit_logit_weights([z_l, z_s], y, return_result=True)
            t_first = time.perf_counter() - t0
        print(
            f"dask fit: {t_first:.2f} s, weights {res.weights}, KKT "
            f"{res.kkt_residual:.2g}, {res.n_passes} data passes; client peak RSS "
            f"during the fit {rss.mb:.0f} MB"
        )
        # 2. the same numbers computed in this process (2 GB): in-memory fit_duo,
        #    timed alternately with the dask fit (both see the same load)
        with dask.config.set(scheduler="threads"):
            data = dask.compute(*lazy_logits(n, k))
        assert np.array_equal(y, data[2])
        t_dask, t_mem, t_core = [t_first], [], []
        for _ in range(repeat):
            t_mem.append(timed(lambda: fit_duo(*data), 1)[0])
            t_core.append(timed(lambda: fit_logit_weights(data[:2], data[2]), 1)[0])
            t_dask.append(timed(lambda: fit_logit_weights([z_l, z_s], y), 1)[0])
        duo = fit_duo(*data)
        data = None  # free the 2 GB
        gc.collect()
    rel = float(np.max(np.abs(duo.weights / res.weights - 1)))
    print(
        f"in-memory fit_duo: {min(t_mem):.2f} s (best of {repeat}), dask fit "
        f"{min(t_dask):.2f} s (best of {repeat + 1}); time(dask) / time(in memory) "
        f"= {min(t_dask) / min(t_mem):.2f}; weights agree to {rel:.1e} relative"
    )
    print(
        f"(in-memory fit_logit_weights alone: {min(t_core):.2f} s; time(dask) / "
        f"time(it) = {min(t_dask) / min(t_core):.2f})"
    )


# --------------------------------------------------------------------------------
# 5. is a row subsample of the validation set enough?
# --------------------------------------------------------------------------------


def part5(n, k, subsizes):
    print(
        "\n## 5. Fitting on a row subsample: full-data NLL above the full-data optimum"
    )
    z_l, z_s, y = make_logits(n, k)
    full = fit_logit_weights([z_l, z_s], y, return_result=True)
    print(f"{n} x {k}: full-data optimum NLL {full.nll:.10f}, weights {full.weights}")
    rng = np.random.default_rng(1)
    for m in subsizes:
        gaps = []
        for _ in range(5):
            rows = np.sort(rng.choice(n, m, replace=False))
            w = fit_logit_weights([z_l[rows], z_s[rows]], y[rows])
            gaps.append(nll([z_l, z_s], y, w) - full.nll)
        print(
            f"  {m:>8} rows: NLL gap median {np.median(gaps):.2e}, max "
            f"{max(gaps):.2e} (5 random subsamples)"
        )


print = functools.partial(print, flush=True)  # noqa: A001 - progress in pipes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["2500x1000", "50000x1000"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-official", action="store_true")
    parser.add_argument(
        "--official-max-n",
        type=float,
        default=np.inf,
        help="run the (slow: ~7 min at 50,000 rows) official procedure only up "
        "to this many rows",
    )
    parser.add_argument(
        "--member-size",
        default="50000x1000",
        help="size of part 2 (one member vs sklearn); 'none' skips it",
    )
    parser.add_argument(
        "--passes",
        nargs="?",
        const="50000x1000",
        default=None,
        help="only part 3: fit time in single-thread log-sum-exp passes",
    )
    parser.add_argument(
        "--evaluations",
        nargs="?",
        const="50000x1000",
        default=None,
        help="only part 3b: each evaluation's cost in log-sum-exp passes",
    )
    parser.add_argument(
        "--dask",
        nargs="?",
        const="250000x1000",
        default=None,
        help="only part 4: the distributed fit on a local cluster",
    )
    parser.add_argument(
        "--subsample",
        nargs="?",
        const="1000000x100",
        default=None,
        help="only part 5: NLL of weights fitted on row subsamples",
    )
    args = parser.parse_args()

    def size(text):
        return tuple(int(v) for v in text.split("x"))

    if args.dask or args.passes or args.subsample or args.evaluations:
        if args.evaluations:
            part3b(*size(args.evaluations), args.repeat)
        if args.dask:
            part4(*size(args.dask), args.repeat)
        if args.passes:
            part3(*size(args.passes), args.repeat)
        if args.subsample:
            n, k = size(args.subsample)
            part5(n, k, [n // 40, n // 10, n // 4])
        return
    sizes = [size(s) for s in args.sizes]
    try:
        import torch

        torch.set_num_threads(2)
        with_official = not args.no_official
    except ImportError:
        with_official = False
    part1(sizes, args.repeat, with_official, args.official_max_n)
    if args.member_size != "none":
        part2(*size(args.member_size), args.repeat)


if __name__ == "__main__":
    main()
