"""Peak memory of LogitEnsemble's predictions on large logits (issue 14, item 3).

Every prediction method of :class:`skduo.LogitEnsemble` works in row blocks, so
its peak extra memory should be at most the output array (target: <= 1x; the
1-D outputs of ``predict`` and ``confidence`` allocate no ``n x K`` array at
all). This script measures, with ``tracemalloc`` (NumPy reports its
allocations to it; the inputs are allocated before measuring), the peak extra
memory of each method divided by the size of its output, and by one float64
``n x K`` array, next to the unchunked way the same outputs were computed
before (whole-array combination, then softmax; measured on a smaller size so
that it fits in memory), and the time of each.

Run::

    python benchmarks/bench_predict.py                       # 100,000 x 1,000
    python benchmarks/bench_predict.py --sizes 20000x1000 --old-rows 20000
    python benchmarks/bench_predict.py --large               # + 1e6 x 1,000, 1-D

``--large`` also runs ``predict`` and ``confidence`` on 1,000,000 x 1,000
float32 members stored as ``np.memmap`` files (2 x 4 GB in a temporary folder
on disk; their outputs are 8 MB, and the two-dimensional outputs, 8 GB each,
are skipped). Keep the machine's other memory use in mind: at the default
size the process peaks at about 1.7 GB (inputs 0.8 GB + output 0.8 GB).

The exit status is 1 when a peak exceeds 1.1x the output (2-D outputs) or
0.1x one float64 ``n x K`` array (1-D outputs), checked where that array is
at least 128 MiB (below, the few 2 MiB blocks of workspace dominate).
"""

import argparse
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from skduo import LogitEnsemble
from skduo._outputs._logit_ops import combine_logits, log_softmax, softmax
from skduo.metrics._selective import _confidence_from_proba

METHODS = [
    ("decision_logits", {}),
    ("predict_proba", {}),
    ("predict_log_proba", {}),
    ("predict", {}),
    ("confidence", {"kind": "msp"}),
    ("confidence", {"kind": "margin"}),
    ("confidence", {"kind": "neg_entropy"}),
]


def unchunked(ens, method, kwargs, a, b):
    """The same output computed on whole arrays (the pre-chunking code path)."""
    z = combine_logits([a, b], ens.weights)
    if method == "decision_logits":
        return z
    if method == "predict_proba":
        return softmax(z)
    if method == "predict_log_proba":
        return log_softmax(z)
    pred = np.argmax(a if ens.mode == "uq_only" else z, axis=1)
    if method == "predict":
        return pred
    if kwargs["kind"] == "neg_entropy":
        return np.sum(softmax(z) * log_softmax(z), axis=1)
    return _confidence_from_proba(softmax(z), pred, kwargs["kind"])


def measure(func, *args, **kwargs):
    """(output, peak extra bytes) of one call, traced by tracemalloc."""
    tracemalloc.start()
    out = func(*args, **kwargs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak


def best_time(func, *args, repeat=3, **kwargs):
    """Best wall time of ``repeat`` calls (not traced)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def members(n, k, seed=0, folder=None):
    """Two float32 members, in memory or as np.memmap files in ``folder``."""
    rng = np.random.default_rng(seed)
    arrays = []
    for m in range(2):
        if folder is None:
            arr = np.empty((n, k), dtype=np.float32)
        else:
            arr = np.lib.format.open_memmap(
                Path(folder) / f"member{m}.npy", "w+", np.float32, (n, k)
            )
        for start in range(0, n, 10000):
            stop = min(n, start + 10000)
            arr[start:stop] = (2.0 if m == 0 else 1.0) * rng.standard_normal(
                (stop - start, k), dtype=np.float32
            )
        if folder is not None:
            arr.flush()
            arr = np.load(Path(folder) / f"member{m}.npy", mmap_mode="r")
        arrays.append(arr)
    return arrays


def report(label, n, k, methods, a, b, ens, old=None, repeat=3):
    """Print one table; return False when a peak misses its target.

    ``old`` (smaller members) adds the unchunked computation's peak and the
    time ratio chunked / unchunked, both measured at that smaller size.
    """
    ok = True
    nk = n * k * 8
    print(
        f"\n{label}: {n:,} x {k:,} float32 members, one float64 n x K = "
        f"{nk / 2**20:,.0f} MiB"
    )
    head = f"{'method':<24}{'peak/output':>12}{'peak/nxK':>10}{'time s':>9}"
    if old is not None:
        n_old = old[0].shape[0]
        head += f"{'old peak/output':>17}{'old peak/nxK':>14}{'time new/old':>14}"
        print(f"(old = unchunked, measured at {n_old:,} rows, as is the time ratio)")
    print(head)
    for method, kwargs in methods:
        name = method + (f"({kwargs['kind']})" if kwargs else "")
        func = getattr(ens, method)
        out, peak = measure(func, a, b, **kwargs)
        if nk >= 2**27:  # >= 128 MiB; below, the ~6 MiB of blocks dominate
            ok &= peak <= 1.1 * out.nbytes if out.ndim == 2 else peak <= 0.1 * nk
        ratio = peak / out.nbytes
        del out
        secs = best_time(func, a, b, repeat=repeat, **kwargs)
        line = f"{name:<24}{ratio:>12.3f}{peak / nk:>10.3f}{secs:>9.2f}"
        if old is not None:
            ref, peak_old = measure(unchunked, ens, method, kwargs, *old)
            old_ratio = peak_old / ref.nbytes
            del ref
            t_new = best_time(func, *old, repeat=repeat, **kwargs)
            t_old = best_time(unchunked, ens, method, kwargs, *old, repeat=repeat)
            line += (
                f"{old_ratio:>17.3f}{peak_old / (n_old * k * 8):>14.3f}"
                f"{t_new / t_old:>14.2f}"
            )
        print(line)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100000x1000"])
    parser.add_argument(
        "--old-rows",
        type=int,
        default=20000,
        help="rows for the unchunked reference (its time is scaled to n rows)",
    )
    parser.add_argument("--large", action="store_true", help="also 1e6 x 1,000")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats")
    parser.add_argument(
        "--mode", default="asymmetric", choices=["asymmetric", "uq_only"]
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{platform.machine()}"
    )
    ok = True
    for size in args.sizes:
        n, k = (int(float(v)) for v in size.split("x"))
        ens = LogitEnsemble([0.8, 0.3], args.mode, k, np.nan)
        a, b = members(n, k)
        old = (a[: args.old_rows], b[: args.old_rows])
        ok &= report("in memory", n, k, METHODS, a, b, ens, old, args.repeat)
        del a, b
    if args.large:
        n, k = 1_000_000, 1000
        ens = LogitEnsemble([0.8, 0.3], args.mode, k, np.nan)
        with tempfile.TemporaryDirectory() as folder:
            a, b = members(n, k, folder=folder)
            one_d = [m for m in METHODS if m[0] in ("predict", "confidence")]
            ok &= report("np.memmap", n, k, one_d, a, b, ens, repeat=1)
            del a, b
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"\nprocess peak resident memory: {rss:.2f} GiB (counts the pages of "
        "np.memmap inputs read from disk: clean page cache, not allocations)"
    )
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
