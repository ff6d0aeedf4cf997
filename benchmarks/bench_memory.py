"""Peak extra memory of the estimator path next to the array API (not collected).

Run: ``python benchmarks/bench_memory.py [--n 100000] [--k 1000]``

Members return precomputed float32 logits (or probabilities), so only the
estimator's own allocations are measured (tracemalloc; NumPy reports its
buffers to it). Printed side by side, as multiples of one member's output
array (``n x k`` float32):

- ``DuoClassifier.fit`` and ``fit_duo`` on the same logits, for members whose
  columns follow the duo's classes, a sidekick whose columns are in another
  class order (one re-ordered copy), members returning probabilities (their
  float32 log-probabilities are computed), and memory-mapped logits;
- ``predict_proba`` / ``predict_log_proba`` / ``decision_function`` /
  ``predict``, as multiples of the float64 output array (``n x k``).

Targets (issues 11 and 14): fit <= 2x one member array, float32 kept float32,
memmaps streamed; prediction <= 1x the output array.
"""

import argparse
import functools
import os
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from skduo import DuoClassifier, fit_duo  # noqa: E402


class Precomputed(ClassifierMixin, BaseEstimator):
    """A fitted member returning a stored array for ``X = rows(n)`` (no copy)."""

    def __init__(self, out, classes, method="decision_function"):
        self.out = out
        self.classes = classes
        self.method = method

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return np.asarray(self.classes)

    def fit(self, X, y):
        return self

    def _out(self, X):
        return self.out

    def __getattr__(self, name):
        if name in ("decision_function", "predict_proba") and name == (
            self.__dict__.get("method")
        ):
            return self._out
        raise AttributeError(name)


def make_logits(n, k, seed=0, w=(1.3, 0.4), block=4096):
    """Correlated float32 member logits, labels drawn from the weighted duo."""
    rng = np.random.default_rng(seed)
    z_l = np.empty((n, k), dtype=np.float32)
    z_s = np.empty((n, k), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        m = rows.stop - rows.start
        base = 2.0 * rng.standard_normal((m, k), dtype=np.float32)
        z_l[rows] = base + rng.standard_normal((m, k), dtype=np.float32)
        z_s[rows] = base + 1.5 * rng.standard_normal((m, k), dtype=np.float32)
        c = w[0] * z_l[rows].astype(float) + w[1] * z_s[rows].astype(float)
        p = np.exp(c - c.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        y[rows] = np.minimum((p.cumsum(1) < rng.random(m)[:, None]).sum(1), k - 1)
    return z_l, z_s, y


def softmax32(z, block=4096):
    out = np.empty_like(z)
    for start in range(0, len(z), block):
        b = z[start : start + block].astype(np.float64)
        b = np.exp(b - b.max(1, keepdims=True))
        out[start : start + block] = b / b.sum(1, keepdims=True)
    return out


def peak(fn):
    """(result, peak bytes allocated while ``fn`` runs, seconds)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    extra = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return out, extra, seconds


def fit_table(z_l, z_s, y, tmp):
    """Rows of (case, estimator peak, fit_duo peak, seconds, seconds)."""
    n, k = z_l.shape
    X = np.arange(n).reshape(-1, 1)
    classes = np.arange(k)
    perm = np.random.default_rng(1).permutation(k)
    maps = []
    for name, z in (("large", z_l), ("small", z_s)):
        path = os.path.join(tmp, f"{name}.npy")
        np.save(path, z)
        maps.append(np.load(path, mmap_mode="r"))
    cases = [
        ("logits, same class order", z_l, z_s, classes, "decision_function"),
        (
            "logits, sidekick re-ordered",
            z_l,
            np.ascontiguousarray(z_s[:, perm]),
            perm,
            "decision_function",
        ),
        ("memory-mapped logits", maps[0], maps[1], classes, "decision_function"),
        ("float32 probabilities", softmax32(z_l), softmax32(z_s), classes, None),
    ]
    _, api_peak, api_s = peak(functools.partial(fit_duo, z_l, z_s, y))
    rows, first = [], None
    for name, a, b, small_classes, method in cases:
        method = method or "predict_proba"
        duo = DuoClassifier(
            Precomputed(a, classes, method), Precomputed(b, small_classes, method)
        )
        _, est_peak, est_s = peak(functools.partial(duo.fit, X, y))
        rows.append((name, est_peak, api_peak, est_s, api_s))
        first = first or duo
    return rows, first


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=1_000)
    args = parser.parse_args(argv)
    z_l, z_s, y = make_logits(args.n, args.k)
    one = z_l.nbytes
    print(
        f"n x k = {args.n:,} x {args.k:,}; one float32 member array = "
        f"{one / 2**20:.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        rows, duo = fit_table(z_l, z_s, y, tmp)
    print()
    print(
        f"{'fit: peak extra memory / one member array':<44}{'estimator':>10}"
        f"{'fit_duo':>9}{'est. s':>8}{'api s':>7}"
    )
    for name, est_peak, api_peak, est_s, api_s in rows:
        print(
            f"{name:<44}{est_peak / one:>10.3f}{api_peak / one:>9.3f}"
            f"{est_s:>8.2f}{api_s:>7.2f}"
        )
    print()
    X = np.arange(args.n).reshape(-1, 1)
    out_bytes = args.n * args.k * 8
    print(f"{'prediction: peak extra memory / float64 output':<44}{'ratio':>10}")
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        _, p, s = peak(functools.partial(getattr(duo, method), X))
        print(f"{method:<44}{p / out_bytes:>10.3f}   ({s:.2f} s)")
    _, p, s = peak(functools.partial(duo.predict, X))
    print(
        f"{'predict (output: n labels; ratio to n x k)':<44}{p / out_bytes:>10.3f}"
        f"   ({s:.2f} s)"
    )


if __name__ == "__main__":
    main()
