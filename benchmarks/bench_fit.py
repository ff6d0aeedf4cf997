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
"""

import argparse
import functools
import time
import tracemalloc

import numpy as np

from skduo._weight_fit import fit_logit_weights, nll


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
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    try:
        import torch

        torch.set_num_threads(2)
        with_official = not args.no_official
    except ImportError:
        with_official = False
    part1(sizes, args.repeat, with_official, args.official_max_n)
    if args.member_size != "none":
        n, k = (int(v) for v in args.member_size.split("x"))
        part2(n, k, args.repeat)


if __name__ == "__main__":
    main()
