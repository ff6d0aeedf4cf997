"""Speed and memory of the skduo metrics, next to the official code's.

Run with ``PYTHONPATH=. python benchmarks/bench_metrics.py [--n N] [--k K]
[--repeat R] [--wide N K] [--no-wide]`` from the repository root.

1. n = 1,000,000 samples x K = 10 classes (float64): one row per call (best of
   ``repeat`` wall-clock times) and the target of issue 3: all selective
   metrics plus ECE in <= 0.5 s, with one shared sort (``selective_metrics``)
   and one ECE call. If torchmetrics or torch_uncertainty is importable their
   times on the same data are printed too.
2. ``--wide``: n = 100,000 x K = 1,000 float32 probabilities (issue 12,
   item 6): ``selective_metrics`` + ECE against a re-implementation of the
   official Asymmetric Duos code's ``compute_metrics`` for the same metrics
   (``probs.max``, its 15-bin ECE, ``roc_auc_score`` and
   ``compute_risk_coverage_metrics``: AURC, E-AURC, SAC@90..99), in torch
   where the official code uses torch, alternating the two, best of
   ``repeat``. Targets: time(skduo) / time(official) <= 1 and skduo's peak
   extra memory (tracemalloc) <= 0.5x the input. The official code validates
   nothing; skduo checks every probability and row sum.

Never collected by pytest.
"""

import argparse
import time
import tracemalloc

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
WIDE_MEMORY_TARGET = 0.5  # peak extra memory / input size


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


def make_wide_data(n, k, seed=0):
    """Float32 softmax outputs, computed in place (one n x K array).

    The true class gets +8 on noise of scale 2: about 77 % accuracy at
    K = 1,000, like an ImageNet model.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    z = rng.standard_normal(size=(n, k), dtype=np.float32)
    z *= 2.0
    z[np.arange(n), y] += 8.0
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return y, z


def official_metrics(y, proba):
    """The official code's computation of the same metrics (see PAPER.md).

    ``5_evaluate_duo_predictions.py`` takes ``probs.max(dim=1)`` (torch) for
    the prediction and ``1 - max`` as the uncertainty, then
    ``utils/uncertainty_metrics.compute_metrics`` runs ``compute_ece`` (torch,
    15 bins), ``roc_auc_score(correct, 1 - u)`` and
    ``compute_risk_coverage_metrics`` (argsort, cumulative risks, the sorted
    optimum and SAC at 0.90, 0.91, ..., 0.99). Torch is used where the
    official code uses it, NumPy otherwise (also when torch is missing).
    """
    from sklearn.metrics import roc_auc_score

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        probs, labels = torch.from_numpy(proba), torch.from_numpy(y)
        conf_t, preds_t = probs.max(dim=1)
        uncertainties = (1 - conf_t).numpy()
        preds = preds_t.numpy()
        # compute_ece, as written there
        accuracies = preds_t.eq(labels)
        ece = torch.zeros(1)
        edges = torch.linspace(0, 1, 16)
        for i in range(15):
            mask = (conf_t > edges[i]) & (conf_t <= edges[i + 1])
            if mask.any():
                gap = conf_t[mask].mean() - accuracies[mask].float().mean()
                ece += mask.float().mean() * torch.abs(gap)
        ece = ece.item()
    else:
        preds = proba.argmax(axis=1)
        conf = proba[np.arange(len(y)), preds]
        uncertainties = 1 - conf
        accuracies = preds == y
        ece = 0.0
        edges = np.linspace(0, 1, 16, dtype=np.float32)
        for i in range(15):
            mask = (conf > edges[i]) & (conf <= edges[i + 1])
            if mask.any():
                gap = conf[mask].mean() - accuracies[mask].mean()
                ece += mask.mean() * abs(gap)
    correct = (preds == y).astype(float)
    cp_auroc = roc_auc_score(correct.astype(int), 1 - uncertainties)
    n = len(correct)
    ranks = np.arange(1, n + 1)
    risks = np.cumsum(1 - correct[np.argsort(uncertainties)]) / ranks
    aurc = risks.mean()
    optimal = (np.cumsum(1 - np.sort(correct)[::-1]) / ranks).mean()
    sac = {}
    for t in np.arange(0.90, 0.991, 0.01):
        valid = risks <= 1 - t
        sac[t] = 0.0 if not valid.any() else (np.max(np.where(valid)) + 1) / n
    return {
        "aurc": aurc,
        "eaurc": aurc - optimal,
        "correctness_auroc": cp_auroc,
        "ece": ece,
        "sac98": sac[np.arange(0.90, 0.991, 0.01)[8]],
    }


def skduo_metrics(y, proba, labels):
    out = selective_metrics(y, proba, labels=labels)
    out["ece"] = expected_calibration_error(y, proba, labels=labels)
    return out


def wide_benchmark(n, k, repeat):
    y, proba = make_wide_data(n, k)
    labels = np.arange(k)
    print()
    print(
        f"n = {n:,} x K = {k:,} float32 probabilities "
        f"({proba.nbytes / 2**20:.0f} MiB): selective_metrics + ECE vs the "
        f"official code, best of {repeat}"
    )
    tracemalloc.start()
    ours = skduo_metrics(y, proba, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    theirs = official_metrics(y, proba)
    t_ours, t_theirs = [], []
    for _ in range(repeat):  # alternate, so that load hits both alike
        start = time.perf_counter()
        skduo_metrics(y, proba, labels)
        t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        official_metrics(y, proba)
        t_theirs.append(time.perf_counter() - start)
    t_ours, t_theirs = min(t_ours), min(t_theirs)
    for key in ("aurc", "eaurc", "correctness_auroc", "ece"):
        print(f"  {key:<20} skduo {ours[key]:.8f}   official {theirs[key]:.8f}")
    print(
        f"  {'SAC@98':<20} skduo {ours['coverage_at_accuracy']:.8f}   "
        f"official {theirs['sac98']:.8f}"
    )
    ratio_t, ratio_m = t_ours / t_theirs, peak / proba.nbytes
    print(
        f"  time  skduo {t_ours:.3f} s, official {t_theirs:.3f} s, ratio {ratio_t:.2f}"
    )
    print(
        f"  peak extra memory (tracemalloc) {peak / 2**20:.1f} MiB = "
        f"{ratio_m:.3f}x the input"
    )
    ok_t = "OK" if ratio_t <= 1 else "SLOWER THAN TARGET"
    ok_m = "OK" if ratio_m <= WIDE_MEMORY_TARGET else "OVER TARGET"
    print(f"  target time ratio <= 1: {ok_t}; memory <= {WIDE_MEMORY_TARGET}x: {ok_m}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--wide",
        type=int,
        nargs=2,
        default=(100_000, 1_000),
        metavar=("N", "K"),
        help="size of the float32 comparison with the official code",
    )
    parser.add_argument("--no-wide", action="store_true")
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
    if not args.no_wide:
        del y, proba
        wide_benchmark(*args.wide, args.repeat)


if __name__ == "__main__":
    main()
