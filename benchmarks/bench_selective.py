"""Certified abstention: validity and efficiency of ``certified_threshold``.

Run: ``python benchmarks/bench_selective.py [--draws 1000]`` (about two minutes
on two cores). Prints:

1. **Validity, synthetic.** A calibrated 10-class model (logits N(0, 8^2),
   labels drawn from its own softmax, so a prediction of confidence ``c`` is
   wrong with probability ``1 - c``). Over ``--draws`` calibration sets of
   2,000 rows: how often the certified threshold's *population* selective
   risk (computed on 10^6 reference rows from the exact error
   probabilities) exceeds the target, for target risks 1, 2, 5 % and delta
   0.05, 0.1; and, for the record, how often the error rate on a finite test
   set of 2,000 rows does (that adds the test set's own sampling noise).
2. **Efficiency.** Certified coverage vs the oracle coverage (the largest
   population coverage at risk <= target, and the one chosen on a 2,000-row
   test set itself) for 1,000 to 10,000 calibration rows.
3. **Robustness.** 0.5 % label noise (confident errors everywhere), one start
   vs the default two; and error rates that are *not* non-increasing in the
   confidence (the case the proof does not cover).
4. **Real data.** A duo (gradient-boosted trees + logistic regression) on the
   897 ``load_digits`` rows held out from its training and weight fit:
   calibration sets of 448 rows drawn from them, the threshold's risk on all
   of them (the population); the same for the temperature-scaled large model;
   and random half/half calibration/test splits of the 897 rows for the record.
"""

import argparse
import os
import time
import warnings

import numpy as np

from skduo.metrics import CertificationWarning, _certified

K, SCALE = 10, 8.0


def calibrated(rng, n, noise=0.0):
    """(conf, correct, error probability) of the synthetic model."""
    z = rng.normal(scale=SCALE, size=(n, K))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.minimum((p.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1), K - 1)
    if noise:
        flip = rng.uniform(size=n) < noise
        y = np.where(flip, rng.integers(0, K, n), y)
    conf = p.max(axis=1)
    err = (1 - noise) * (1 - conf) + noise * (1 - 1 / K)
    return conf, p.argmax(axis=1) == y, err


class Population:
    """Exact selective risk of any threshold, from 10^6 reference rows."""

    def __init__(self, noise=0.0, n=1_000_000, seed=12345):
        conf, _, err = calibrated(np.random.default_rng(seed), n, noise)
        order = np.argsort(-conf)
        self.conf, self.cum = conf[order], np.cumsum(err[order])

    def risk(self, threshold):
        k = np.searchsorted(-self.conf, -threshold, side="right")
        return (self.cum[k - 1] / k, k / self.conf.shape[0]) if k else (0.0, 0.0)

    def oracle(self, alpha):
        risk = self.cum / np.arange(1, self.conf.shape[0] + 1)
        return (np.flatnonzero(risk <= alpha)[-1] + 1) / self.conf.shape[0]


def certify(conf, correct, alpha, delta):
    return _certified._certify(correct, conf, None, alpha, delta)


def test_oracle(conf, correct, alpha):
    order = np.argsort(-conf)
    risk = np.cumsum(~correct[order]) / np.arange(1, conf.shape[0] + 1)
    ok = np.flatnonzero(risk <= alpha)
    return 0.0 if ok.shape[0] == 0 else (ok[-1] + 1) / conf.shape[0]


def allowed(delta, draws):
    return delta + 3 * np.sqrt(delta * (1 - delta) / draws)


def validity(pop, draws, n_cal=2000, n_test=2000):
    print("\n1. Validity, synthetic (calibrated 10-class model), n_cal = 2000")
    print(
        f"{'target':>6} {'delta':>5} | {'P(pop. risk > target)':>21} "
        f"{'allowed':>7} | {'P(test risk > target)':>21} | {'cert. cov':>9} "
        f"{'pop. oracle':>11} {'test oracle':>11}"
    )
    rng = np.random.default_rng(0)
    for alpha in (0.01, 0.02, 0.05):
        for delta in (0.05, 0.1):
            v_pop = v_test = 0
            cov = orc = 0.0
            for _ in range(draws):
                conf, correct, _ = calibrated(rng, n_cal)
                res = certify(conf, correct, alpha, delta)
                risk, c = pop.risk(res.threshold)
                v_pop += c > 0 and risk > alpha
                cov += c
                t_conf, t_correct, _ = calibrated(rng, n_test)
                acc = t_conf >= res.threshold
                v_test += acc.any() and (~t_correct[acc]).mean() > alpha
                orc += test_oracle(t_conf, t_correct, alpha)
            print(
                f"{alpha:>6.0%} {delta:>5} | {v_pop / draws:>21.3f} "
                f"{allowed(delta, draws):>7.3f} | {v_test / draws:>21.3f} | "
                f"{cov / draws:>9.3f} {pop.oracle(alpha):>11.3f} "
                f"{orc / draws:>11.3f}"
            )


def efficiency(pop, draws):
    print("\n2. Efficiency, synthetic, delta = 0.05: oracle - certified coverage")
    sizes = (1000, 2000, 5000, 10000)
    print(f"{'target':>6} {'oracle':>6} | " + " ".join(f"{n:>8}" for n in sizes))
    for alpha in (0.01, 0.02, 0.05):
        gaps = []
        for n in sizes:
            rng = np.random.default_rng(n)
            cov = 0.0
            for _ in range(draws):
                conf, correct, _ = calibrated(rng, n)
                cov += pop.risk(certify(conf, correct, alpha, 0.05).threshold)[1]
            gaps.append(pop.oracle(alpha) - cov / draws)
        print(
            f"{alpha:>6.0%} {pop.oracle(alpha):>6.3f} | "
            + " ".join(f"{100 * g:>6.1f}pt" for g in gaps)
        )
    print(
        "oracle - the most any valid procedure certifies in half of the draws "
        "(power_bound):"
    )
    for alpha in (0.01, 0.02, 0.05):
        gaps = [pop.oracle(alpha) - power_bound(pop, n, alpha) for n in sizes]
        print(
            f"{alpha:>6.0%} {pop.oracle(alpha):>6.3f} | "
            + " ".join(f"{100 * g:>6.1f}pt" for g in gaps)
        )


def power_bound(pop, n, alpha, delta=0.05, grid=400):
    """The coverage no valid procedure reaches in more than half of the draws.

    Even told in advance which threshold to test, a procedure that certifies
    risk <= alpha at level delta must reject H0: r >= alpha with a valid
    test, and the one-sided exact binomial test on the m = n * c calibration
    rows it accepts is the most powerful one (uniformly, Neyman-Pearson for
    the monotone likelihood ratio of the binomial). The function returns the
    largest population coverage c at which that single test, at the true
    selective risk r(c), rejects with probability >= 1/2: a procedure that
    must also *choose* the threshold from the data certifies less, in median.
    """
    from scipy.stats import binom

    size = pop.conf.shape[0]
    risk = pop.cum / np.arange(1, size + 1)
    best = 0.0
    for c in np.linspace(1.0 / grid, 1.0, grid):
        m = int(round(n * c))
        ks = np.arange(m + 1)
        passing = ks[binom.cdf(ks, m, alpha) <= delta]
        if m == 0 or passing.shape[0] == 0:
            continue
        power = binom.cdf(passing[-1], m, risk[int(c * size) - 1])
        if power >= 0.5:
            best = c
    return best


def sgr(conf, correct, alpha, delta):
    """Selection with guaranteed risk (Geifman & El-Yaniv, 2017, Algorithm 1).

    Bisection over the sorted calibration confidences for ceil(log2 n) steps,
    each tested with the binomial bound at ``delta / ceil(log2 n)``; returns
    the lowest threshold whose bound was below the target.
    """
    n = conf.shape[0]
    order = np.argsort(-conf)
    sorted_conf, errors = conf[order], np.cumsum(~correct[order])
    steps = int(np.ceil(np.log2(n)))
    lo, hi, best = 0, n - 1, np.inf
    for _ in range(steps):
        mid = (lo + hi) // 2
        bound = _certified._clopper_pearson_upper(errors[mid], mid + 1, delta / steps)
        if bound < alpha:
            best, lo = sorted_conf[mid], mid + 1
        else:
            hi = mid - 1
        if lo > hi:
            break
    return best


def versus_sgr(pop, draws, n_cal=2000):
    print(
        "\n2b. The same rows, n_cal = 2000: certified coverage of this procedure "
        "vs selection with guaranteed risk (SGR, bisection + union bound)"
    )
    print(f"{'target':>6} {'delta':>5} | {'this':>6} {'SGR':>6} {'oracle':>6}")
    for alpha in (0.01, 0.02, 0.05):
        for delta in (0.05, 0.1):
            rng = np.random.default_rng(11)
            ours = theirs = 0.0
            for _ in range(draws):
                conf, correct, _ = calibrated(rng, n_cal)
                ours += pop.risk(certify(conf, correct, alpha, delta).threshold)[1]
                theirs += pop.risk(sgr(conf, correct, alpha, delta))[1]
            print(
                f"{alpha:>6.0%} {delta:>5} | {ours / draws:>6.3f} "
                f"{theirs / draws:>6.3f} {pop.oracle(alpha):>6.3f}"
            )


def robustness(draws):
    print("\n3a. 0.5 % label noise, n_cal = 2000, delta = 0.05")
    print(
        f"{'target':>6} {'starts':>6} | {'P(pop. risk > target)':>21} | "
        f"{'cert. cov':>9} {'oracle':>6}"
    )
    pop = Population(noise=0.005)
    saved = _certified._MAX_STARTS
    try:
        for alpha in (0.02, 0.05):
            for starts in (1, 2):
                _certified._MAX_STARTS = starts
                rng = np.random.default_rng(7)
                viol, cov = 0, 0.0
                for _ in range(draws):
                    conf, correct, _ = calibrated(rng, 2000, noise=0.005)
                    risk, c = pop.risk(certify(conf, correct, alpha, 0.05).threshold)
                    viol += c > 0 and risk > alpha
                    cov += c
                print(
                    f"{alpha:>6.0%} {starts:>6} | {viol / draws:>21.3f} | "
                    f"{cov / draws:>9.3f} {pop.oracle(alpha):>6.3f}"
                )
    finally:
        _certified._MAX_STARTS = saved

    print(
        "\n3b. Error rate r(u) at the u-th quantile of the confidence (from the "
        "top; q: where the test starts); target 2 %, delta 0.05, n_cal = 2000. "
        "(not monotone): r rises with the confidence somewhere, the case the "
        "proof does not cover"
    )
    q = _certified._min_samples(0.02, 0.05) / 2000
    cases = {
        "constant 2.01 %": lambda u: np.full_like(u, 0.0201),
        "0 until q, then 5 %": lambda u: np.where(u < q, 0.0, 0.05),
        "6 % band around q (not monotone)": lambda u: np.where(
            (u > 0.8 * q) & (u < 1.3 * q), 0.06, 0.005
        ),
        "3 % until q, then 1 % (not monotone)": lambda u: np.where(u < q, 0.03, 0.01),
        "2.5 % until 1.2q, then 0.5 % (n.m.)": lambda u: np.where(
            u < 1.2 * q, 0.025, 0.005
        ),
    }
    grid = np.linspace(0, 1, 200_001)[1:]
    print(f"{'error rate r(u)':>36} | {'P(pop. risk > 2 %)':>18} {'allowed':>7}")
    for name, rate in cases.items():
        rho = np.cumsum(rate(grid)) / np.arange(1, grid.shape[0] + 1)
        rng = np.random.default_rng(3)
        viol = 0
        for _ in range(2 * draws):
            u = rng.uniform(size=2000)
            correct = rng.uniform(size=2000) >= rate(u)
            res = certify(-u, correct, 0.02, 0.05)  # confidence: -u
            if res.certified:
                cut = min(int(-res.threshold * 200_000), 199_999)
                viol += rho[cut] > 0.02
        print(
            f"{name:>36} | {viol / (2 * draws):>18.4f} {allowed(0.05, 2 * draws):>7.3f}"
        )


def digits(draws):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from skduo import DuoClassifier, TemperatureScalingClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X / 16, y, train_size=600, random_state=0, stratify=y
    )
    X_val, X_pool, y_val, y_pool = train_test_split(
        X_rest, y_rest, train_size=300, random_state=0, stratify=y_rest
    )
    large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    small = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    models = {
        "duo": DuoClassifier(large, small).fit(X_val, y_val),
        "large, TS": TemperatureScalingClassifier(large).fit(X_val, y_val),
    }
    n = len(y_pool)
    print(
        f"\n4. A duo on load_digits: {n} held-out rows (the population), "
        f"calibration sets of {n // 2}"
    )
    print(
        f"{'model':>9} {'target':>6} {'delta':>5} | {'P(pop. risk > target)':>21} "
        f"{'allowed':>7} | {'cert. cov':>9} {'oracle':>6} | "
        f"{'split: P(test risk > target)':>28}"
    )
    for name, model in models.items():
        proba = model.predict_proba(X_pool)
        conf, correct = proba.max(axis=1), proba.argmax(axis=1) == y_pool
        for alpha in (0.01, 0.02, 0.05):
            for delta in (0.05, 0.1):
                rng = np.random.default_rng(0)
                v_pop = v_split = 0
                cov = 0.0
                for _ in range(draws):
                    rows = rng.integers(0, n, n // 2)
                    res = certify(conf[rows], correct[rows], alpha, delta)
                    acc = conf >= res.threshold
                    v_pop += acc.any() and (~correct[acc]).mean() > alpha
                    cov += acc.mean()
                    perm = rng.permutation(n)
                    cal, test = perm[: n // 2], perm[n // 2 :]
                    res = certify(conf[cal], correct[cal], alpha, delta)
                    acc = conf[test] >= res.threshold
                    v_split += acc.any() and (~correct[test][acc]).mean() > alpha
                print(
                    f"{name:>9} {alpha:>6.0%} {delta:>5} | {v_pop / draws:>21.3f} "
                    f"{allowed(delta, draws):>7.3f} | {cov / draws:>9.3f} "
                    f"{test_oracle(conf, correct, alpha):>6.3f} | "
                    f"{v_split / draws:>28.3f}"
                )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    # one OpenMP thread for the gradient-boosted trees (read at first use)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore", CertificationWarning)
    start = time.perf_counter()
    pop = Population()
    validity(pop, args.draws)
    efficiency(pop, max(args.draws // 5, 20))
    versus_sgr(pop, max(args.draws // 5, 20))
    robustness(max(args.draws // 2, 20))
    digits(args.draws)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
