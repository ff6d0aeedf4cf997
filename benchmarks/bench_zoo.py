"""A whole report at paper scale: ``python -m skduo evaluate`` on generated zoos.

Target (issue 23, items 1 and 2): the 6-model zoo of 20,000 validation + 20,000
test rows x 1,000 classes (float32 ``.npz``, 0.96 GB of logits) reported with
the default bootstrap in <= 30 s on 2 cores at a peak resident memory <= 1.5x
the logits' size; the paper-scale zoo, 20 models x (2,500 + 10,000) x 1,000, in
<= 90 s.

The logits are generated with correlated errors and a realistic spread of
accuracies and costs: every row has a difficulty shared by all models and a
"confusable" score per class shared by all models (so the models err on the
same rows and towards the same wrong classes), plus each model's own noise;
costs grow with accuracy (log-spaced). Each report runs in a fresh process
(``python -m skduo evaluate DIR``), timed from the outside; its peak resident
memory is the child's ``ru_maxrss``.

Run::

    python benchmarks/bench_zoo.py [--zoo six|paper|both] [--keep DIR]
        [--no-plots] [--resamples N]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ZOOS = {
    # name: (models, val rows, test rows, classes)
    "six": (6, 20_000, 20_000, 1000),
    "paper": (20, 2_500, 10_000, 1000),
}


def _split(rng, y, skills, k, shared_scale=1.5, block=5000):
    """Logits of every model on one split, float32, with shared errors."""
    n = len(y)
    out = [np.empty((n, k), dtype=np.float32) for _ in skills]
    for start in range(0, n, block):
        stop = min(start + block, n)
        yb = y[start:stop]
        rows = np.arange(stop - start)
        difficulty = rng.normal(size=stop - start).astype(np.float32)
        confusable = rng.normal(size=(stop - start, k)).astype(np.float32)
        for z, skill in zip(out, skills):
            own = rng.normal(size=(stop - start, k)).astype(np.float32)
            zb = own
            zb += shared_scale * confusable
            zb[rows, yb] += skill - 1.2 * difficulty
            z[start:stop] = zb
    return out


def make_zoo(path, n_models, n_val, n_test, k, seed=0):
    """Write a generated zoo to ``path`` (npz layout with ``costs.json``)."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    y = {"val": rng.integers(0, k, n_val), "test": rng.integers(0, k, n_test)}
    np.savez(path / "labels.npz", **y)
    # margins spread so that top-1 accuracies run from ~45 % to ~85 %
    skills = np.linspace(5.5, 9.0, n_models)
    costs = np.geomspace(3e8, 2e10, n_models)
    logits = {s: _split(rng, y[s], skills, k) for s in ("val", "test")}
    names = [f"m{i:02d}" for i in range(n_models)]
    for i, name in enumerate(names):
        np.savez(path / f"{name}.npz", val=logits["val"][i], test=logits["test"][i])
    (path / "costs.json").write_text(
        json.dumps({n: float(c) for n, c in zip(names, costs)})
    )
    acc = [float((z.argmax(1) == y["test"]).mean()) for z in logits["test"]]
    nbytes = sum(z.nbytes for s in logits.values() for z in s)
    return nbytes, acc


def run_report(path, out, extra):
    cmd = [sys.executable, "-m", "skduo", "evaluate", str(path), "--output", str(out)]
    cmd += extra
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        raise SystemExit(f"evaluate failed ({proc.returncode})")
    if before * 1024 >= peak:
        print("  (peak RSS of an earlier child was larger; run one zoo per process)")
    return wall, peak, proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", choices=["six", "paper"], default="six")
    parser.add_argument("--keep", help="generate into (or reuse) this folder")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--resamples", type=int, default=None)
    parser.add_argument("--show", action="store_true", help="print the report")
    args = parser.parse_args()
    n_models, n_val, n_test, k = ZOOS[args.zoo]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "zoo"
        if not (path / "labels.npz").exists():
            t0 = time.perf_counter()
            nbytes, acc = make_zoo(path, n_models, n_val, n_test, k)
            print(
                f"generated {args.zoo}: {n_models} models x ({n_val:,} + {n_test:,}) "
                f"x {k:,} float32, {nbytes / 1e9:.2f} GB, test accuracies "
                f"{min(acc):.3f}-{max(acc):.3f} ({time.perf_counter() - t0:.0f} s)"
            )
        nbytes = 4 * n_models * (n_val + n_test) * k  # float32 logits
        extra = ["--force"]
        if args.no_plots:
            extra.append("--no-plots")
        if args.resamples is not None:
            extra += ["--resamples", str(args.resamples)]
        wall, peak, stdout = run_report(path, Path(tmp) / "out", extra)
        if args.show:
            print(stdout)
        what = [args.zoo]
        if args.no_plots:
            what.append("no plots")
        if args.resamples is not None:
            what.append(f"{args.resamples} resamples")
        print(
            f"python -m skduo evaluate ({', '.join(what)}): {wall:.1f} s wall, "
            f"peak RSS {peak / 1e9:.2f} GB = {peak / nbytes:.2f}x the logits "
            f"({nbytes / 1e9:.2f} GB)"
        )


if __name__ == "__main__":
    main()
