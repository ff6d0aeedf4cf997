"""Reading saved logits: the CSV reader's speed and memory, load_logits_dir's memory.

Targets (issue 23, targets 3 and 4):

- CSV logits (the official repository's layout, ``<split>/raw/<model>.csv``)
  read within 1.5x the time and the peak memory of
  ``np.loadtxt(path, delimiter=",", dtype=np.float32)`` on the same file, at
  5,000 x 1,000 and 20,000 x 1,000. Side by side in one run (best of
  ``--repeat``, the readers alternating): skduo's reader, ``np.loadtxt``,
  pandas' ``read_csv(engine="c")`` when pandas is installed (not a skduo
  dependency), and the former csv/float() parser up to ``--old-max-rows``.
  Peak memory is measured twice: tracemalloc in this process (NumPy's
  allocations are traced) and the resident-set growth of a fresh child
  process that only reads the file (its ``VmHWM`` after minus before).
- ``load_logits_dir`` takes at most 1.1x the memory of the arrays it returns:
  6 models x (20,000 val + 20,000 test) x 1,000 float32 logits (960 MB) in
  the NumPy-archive layout (``.npz``) and the split-folder ``.npy`` layout
  (also with ``mmap_mode='r'``), each loaded in fresh child processes that
  report the tracemalloc peak and the resident-set growth, divided by the
  bytes of the returned arrays (of the arrays mapped, for ``mmap_mode='r'``)
  and by the 960 MB saved. ``--before DIR`` also loads them with the
  skduo checkout in ``DIR`` (e.g. a main branch before this change).

Run::

    python benchmarks/bench_io.py [--sizes 5000x1000 20000x1000] [--repeat 3]
        [--old-max-rows 5000] [--zoo-rows 20000] [--zoo-models 6]
        [--before /path/to/older/checkout] [--skip-csv] [--skip-zoo]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent

# what a child process runs: read once, print peaks as JSON
_CHILD = r"""
import json, resource, sys, tracemalloc
import numpy as np
def rss():
    # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
what, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if what == "skduo":
    from skduo.evaluation._io import _read_csv_matrix as read
elif what == "old":
    from skduo.evaluation._io import _checked_csv_matrix as read
elif what == "loadtxt":
    def read(p):
        return np.loadtxt(p, delimiter=",", dtype=np.float32, skiprows=1)
elif what == "pandas":
    import pandas as pd
    def read(p):
        return pd.read_csv(p, engine="c", dtype=np.float32).to_numpy()
else:
    from skduo.evaluation import load_logits_dir
    def read(p):
        mmap = {"zoo-mmap": "r"}.get(what)
        zoo = load_logits_dir(p, mmap_mode=mmap) if mmap else load_logits_dir(p)
        return [z for m in zoo.models.values() for z in m.logits.values()]
# tracemalloc's own bookkeeping inflates the resident set: one or the other
before = rss()
if mode == "trace":
    tracemalloc.start()
out = read(path)
peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else 0
tracemalloc.stop()
after = rss()
arrays = out if isinstance(out, list) else [out]
in_memory = sum(a.nbytes for a in arrays if not isinstance(a, np.memmap))
print(json.dumps({"traced": peak, "rss": after - before, "nbytes": in_memory,
                  "total": sum(a.nbytes for a in arrays),
                  "dtype": str(arrays[0].dtype)}))
"""


def _child(what, path, pythonpath=HERE, mode="rss"):
    """Peaks of one read in a fresh process (``mode``: 'rss' or 'trace')."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(path), mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(pythonpath),  # "-c" puts the working directory first on sys.path
        check=False,
    )
    if res.returncode:
        raise RuntimeError(f"{what} on {path}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _write_csv(path, n, k, rng):
    """A pandas-style logits CSV: header 0..K-1, float32 values at 9 digits."""
    z = (rng.normal(size=(n, k)) * 3.0).astype(np.float32)
    with open(path, "w") as fh:
        fh.write(",".join(map(str, range(k))) + "\n")
        np.savetxt(fh, z, fmt="%.9g", delimiter=",")
    return z


def _traced(func, *args):
    tracemalloc.start()
    func(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _bench_csv(sizes, repeat, old_max_rows, tmp):
    from skduo.evaluation._io import _checked_csv_matrix, _read_csv_matrix

    readers = {
        "skduo": _read_csv_matrix,
        "loadtxt": lambda p: np.loadtxt(p, delimiter=",", dtype=np.float32, skiprows=1),
    }
    try:
        import pandas as pd

        readers["pandas"] = lambda p: pd.read_csv(
            p, engine="c", dtype=np.float32
        ).to_numpy()
    except ImportError:
        print("pandas not installed: its reader is left out")
    rng = np.random.default_rng(0)
    for n, k in sizes:
        path = Path(tmp) / f"logits_{n}x{k}.csv"
        z = _write_csv(path, n, k, rng)
        mb = path.stat().st_size / 1e6
        print(f"\nCSV {n:,} x {k:,} ({mb:.0f} MB of text, {z.nbytes / 1e6:.0f} MB f32)")
        names = list(readers) + (["old"] if n <= old_max_rows else [])
        funcs = dict(readers, old=_checked_csv_matrix)
        times = {name: [] for name in names}
        for i in range(repeat):
            for name in names:
                if name == "old" and i > 0:
                    continue  # tens of seconds: once
                start = time.perf_counter()
                out = funcs[name](path)
                times[name].append(time.perf_counter() - start)
                if name == "skduo":
                    assert out.dtype == np.float32
                    np.testing.assert_array_equal(out, z)
                del out
        traced = {name: _traced(funcs[name], path) for name in names}
        rss = {name: _child(name, path)["rss"] for name in names}
        best = {name: min(t) for name, t in times.items()}
        ref = "loadtxt"
        print(
            f"{'reader':<10}{'time s':>9}{'/loadtxt':>10}{'traced MB':>11}"
            f"{'/loadtxt':>10}{'RSS+ MB':>9}{'/loadtxt':>10}"
        )
        for name in names:
            print(
                f"{name:<10}{best[name]:>9.3f}{best[name] / best[ref]:>10.2f}"
                f"{traced[name] / 1e6:>11.1f}{traced[name] / traced[ref]:>10.2f}"
                f"{rss[name] / 1e6:>9.1f}{rss[name] / max(rss[ref], 1):>10.2f}"
            )
        path.unlink()


def _bench_zoo(n, k, n_models, tmp, before):
    from skduo.evaluation import LogitZoo, save_logits_dir

    rng = np.random.default_rng(1)
    root = Path(tmp)
    npy, npz = root / "npy", root / "npz"
    y = rng.integers(0, k, n)
    zoo = LogitZoo(y, y)
    for split in ("val", "test"):
        (npy / split).mkdir(parents=True)
        np.save(npy / split / "labels.npy", y)
    for m in range(n_models):
        arrays = {}
        for split in ("val", "test"):
            arrays[split] = (rng.normal(size=(n, k)) * 3).astype(np.float32)
            np.save(npy / split / f"m{m}.npy", arrays[split])
        zoo.add(f"m{m}", arrays["val"], arrays["test"], outputs="logits")
        del arrays
    save_logits_dir(zoo, npz)
    del zoo
    total = n_models * 2 * n * k * 4
    print(
        f"\nload_logits_dir: {n_models} models x ({n:,} val + {n:,} test) x {k:,} "
        f"float32 = {total / 1e6:.0f} MB"
    )
    print(
        f"{'layout':<22}{'dtype':>9}{'returned MB':>13}{'traced MB':>11}"
        f"{'/returned':>10}{'/saved':>8}{'RSS+ MB':>9}{'/returned':>10}{'/saved':>8}"
    )
    runs = [("npz", npz, "zoo", HERE), ("npy", npy, "zoo", HERE)]
    runs.append(("npy, mmap_mode='r'", npy, "zoo-mmap", HERE))
    if before:
        runs += [
            ("npz (before)", npz, "zoo", before),
            ("npy (before)", npy, "zoo", before),
        ]
    for label, path, what, pythonpath in runs:
        r = _child(what, path, pythonpath)
        r["traced"] = _child(what, path, pythonpath, mode="trace")["traced"]
        # memory-mapped arrays return no memory: ratios over the arrays' bytes
        ref = r["nbytes"] or r["total"]
        print(
            f"{label:<22}{r['dtype']:>9}{r['nbytes'] / 1e6:>13.0f}"
            f"{r['traced'] / 1e6:>11.0f}{r['traced'] / ref:>10.3f}"
            f"{r['traced'] / total:>8.3f}{r['rss'] / 1e6:>9.0f}"
            f"{r['rss'] / ref:>10.3f}{r['rss'] / total:>8.3f}"
        )
    print(
        "(mmap_mode='r': the arrays stay on disk; its resident set counts the "
        "file pages the\n checks read, shared page cache that the kernel can "
        "reclaim, not allocated memory)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["5000x1000", "20000x1000"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-max-rows", type=int, default=5000)
    parser.add_argument("--zoo-rows", type=int, default=20_000)
    parser.add_argument("--zoo-classes", type=int, default=1000)
    parser.add_argument("--zoo-models", type=int, default=6)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--skip-zoo", action="store_true")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_csv:
            _bench_csv(sizes, args.repeat, args.old_max_rows, tmp)
        if not args.skip_zoo:
            _bench_zoo(
                args.zoo_rows, args.zoo_classes, args.zoo_models, tmp, args.before
            )


if __name__ == "__main__":
    main()
