"""Speed of the skduo metrics on n = 1,000,000 samples x K = 10 classes.

Run with ``python benchmarks/bench_metrics.py [--n N] [--k K] [--repeat R]``.
Prints one row per call (best of ``repeat`` wall-clock times) and checks the
target of issue 3: all selective metrics plus ECE in <= 0.5 s, with one shared
sort (``selective_metrics``) and one ECE call. If torchmetrics or
torch_uncertainty is importable their times on the same data are printed too.
Never collected by pytest.
"""

import argparse
import time

import numpy as np

from skduo.metrics import (
    augrc,
    aurc,
    correctness_auroc,
    coverage_at_accuracy,
    eaurc,
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
    risk_at_coverage,
    risk_coverage_curve,
    selective_metrics,
)

TARGET_S = 0.5


def make_data(n, k, seed=0):
    """Softmax of noisy logits, float32 like a network's output, in float64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k)).astype(np.float32) * 2.0
    logits[np.arange(n), y] += 2.5
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.astype(np.float64), np.arange(k)


def best_of(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def optional_baselines(y, proba, repeat):
    rows = []
    try:
        import torch
        import torchmetrics.functional.classification as tmf
    except ImportError:
        rows.append(("torchmetrics", "not installed", None))
    else:
        p, t = torch.from_numpy(proba).float(), torch.from_numpy(y)
        k = proba.shape[1]
        rows.append(
            (
                "torchmetrics multiclass_calibration_error",
                "ECE",
                best_of(
                    lambda: tmf.multiclass_calibration_error(p, t, k, n_bins=15),
                    repeat,
                ),
            )
        )
    try:
        import torch
        from torch_uncertainty.metrics import AURC
    except ImportError:
        rows.append(("torch_uncertainty", "not installed", None))
    else:
        p, t = torch.from_numpy(proba).float(), torch.from_numpy(y)

        def tu_aurc():
            metric = AURC()
            metric.update(p, t)
            return metric.compute()

        rows.append(("torch_uncertainty AURC", "AURC", best_of(tu_aurc, repeat)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    y, proba, labels = make_data(args.n, args.k)
    kw = dict(labels=labels)
    calls = [
        (
            "selective_metrics (one sort: AURC, E-AURC, AUGRC, AUROC, SAC, risk)",
            lambda: selective_metrics(y, proba, coverage=0.8, **kw),
        ),
        (
            "expected_calibration_error (15 uniform bins)",
            lambda: expected_calibration_error(y, proba, **kw),
        ),
        (
            "expected_calibration_error (quantile)",
            lambda: expected_calibration_error(y, proba, strategy="quantile", **kw),
        ),
        ("risk_coverage_curve", lambda: risk_coverage_curve(y, proba, **kw)),
        ("aurc", lambda: aurc(y, proba, **kw)),
        ("eaurc", lambda: eaurc(y, proba, **kw)),
        ("augrc", lambda: augrc(y, proba, **kw)),
        ("correctness_auroc", lambda: correctness_auroc(y, proba, **kw)),
        ("coverage_at_accuracy", lambda: coverage_at_accuracy(y, proba, **kw)),
        (
            "risk_at_coverage",
            lambda: risk_at_coverage(y, proba, coverage=0.8, **kw),
        ),
        ("aurc (confidence='margin')", lambda: aurc(y, proba, confidence="margin")),
        (
            "aurc (sample_weight)",
            lambda: aurc(y, proba, sample_weight=np.ones(len(y)) * 0.5, **kw),
        ),
        ("multiclass_brier_score", lambda: multiclass_brier_score(y, proba, **kw)),
        ("nll_loss", lambda: nll_loss(y, proba, **kw)),
    ]

    print(f"n = {args.n:,} samples x K = {args.k} classes, best of {args.repeat}")
    # A machine-load reference: one sort of n floats (about 15 ms for 1e6 on
    # an idle 2-core runner); compare it across runs before comparing rows.
    ref = np.random.default_rng(1).random(args.n)
    print(f"reference np.sort of n floats: {best_of(lambda: np.sort(ref), 5):.3f} s")
    print(f"{'call':<70} {'seconds':>8}")
    print("-" * 79)
    times = {}
    for name, func in calls:
        times[name] = best_of(func, args.repeat)
        print(f"{name:<70} {times[name]:8.3f}")
    total = times[calls[0][0]] + times[calls[1][0]]
    separate = sum(times[c[0]] for c in calls[4:10]) + times[calls[1][0]]
    print("-" * 79)
    print(f"{'TOTAL selective_metrics + ECE (target <= 0.5 s)':<70} {total:8.3f}")
    print(f"{'six separate selective calls + ECE (one sort each)':<70} {separate:8.3f}")
    for name, what, seconds in optional_baselines(y, proba, args.repeat):
        cell = f"{seconds:8.3f}" if seconds is not None else f"{'-':>8}"
        print(f"{name + ' (' + what + ')':<70} {cell}")
    status = "OK" if total <= TARGET_S else "SLOWER THAN TARGET"
    print(f"target {TARGET_S} s: {status}")


if __name__ == "__main__":
    main()
