"""Paired bootstrap speed: skduo.metrics.paired_bootstrap vs a per-resample loop.

Target (issue 15): 1,000 resamples of AURC on 10,000 rows x 2 prediction sets
well under a second. Side by side in one run: the vectorised bootstrap, the
same resamples scored one by one with skduo.metrics.aurc (what a loop over
scipy.stats.bootstrap's resamples costs), their ratio, and a check that both
give the same bootstrap distribution. Then the cost of one report row (all
nine report metrics on the shared resamples), the unit of
skduo.evaluation.evaluate_zoo's comparisons.

Run::

    python benchmarks/bench_bootstrap.py [--rows 10000] [--classes 10]
        [--resamples 1000] [--repeat 3]
"""

import argparse
import time

import numpy as np

from skduo.metrics import aurc, paired_bootstrap
from skduo.metrics._bootstrap_engine import (
    BOOTSTRAP_METRICS,
    _distribution,
    _Predictions,
    _Resampler,
)


def _proba(rng, y, k, signal):
    z = np.round(rng.normal(size=(len(y), k)) + signal * np.eye(k)[y], 3)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _best(func, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--loop-resamples",
        type=int,
        default=200,
        help="resamples of the per-resample loop (its time is scaled up)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, k, b = args.rows, args.classes, args.resamples
    y = rng.integers(0, k, n)
    pa, pb = _proba(rng, y, k, 2.5), _proba(rng, y, k, 2.2)

    t_vec, res = _best(
        lambda: paired_bootstrap(y, pa, pb, "aurc", n_resamples=b, random_state=0),
        args.repeat,
    )

    # the same resamples, scored one at a time
    def loop():
        draws = np.random.default_rng(0).integers(0, n, (args.loop_resamples, n))
        labels = np.arange(k)
        return np.array(
            [
                aurc(y[i], pa[i], labels=labels) - aurc(y[i], pb[i], labels=labels)
                for i in draws
            ]
        )

    t_loop, dist = _best(loop, 1)
    t_loop *= b / args.loop_resamples
    same = paired_bootstrap(
        y,
        pa,
        pb,
        "aurc",
        n_resamples=args.loop_resamples,
        random_state=0,
        batch=args.loop_resamples,
    ).bootstrap_distribution
    print(
        f"AURC, {n:,} rows x {k} classes, {b} resamples, 2 prediction sets: "
        f"vectorised {t_vec:.3f} s, per-resample loop {t_loop:.2f} s "
        f"(scaled from {args.loop_resamples}), ratio {t_loop / t_vec:.0f}x; "
        f"max |difference| of the distributions {np.abs(same - dist).max():.1e}; "
        f"target < 1 s: {'PASS' if t_vec < 1 else 'FAIL'}"
    )
    print(
        f"  difference {res.statistic:+.5f}, 95% interval "
        f"[{res.confidence_interval.low:+.5f}, {res.confidence_interval.high:+.5f}],"
        f" p = {res.pvalue:.3g}"
    )

    # one report row: every report metric of one prediction set
    names = list(BOOTSTRAP_METRICS)
    prepared = _Predictions(y, pa, names, confidence="msp")
    resampler = _Resampler(n, b, 0)
    t_row, _ = _best(lambda: _distribution(resampler, prepared, names), args.repeat)
    t_one, _ = _best(lambda: _distribution(resampler, prepared, ["aurc"]), args.repeat)
    print(
        f"one report row ({len(names)} metrics, {b} resamples): {t_row:.3f} s; "
        f"AURC alone {t_one:.3f} s (ratio {t_row / t_one:.2f})"
    )


if __name__ == "__main__":
    main()
