"""
=======================================================
Conformal prediction sets on a duo with MAPIE
=======================================================

Split conformal prediction turns any classifier into one that outputs a *set*
of labels containing the true label with a chosen probability (the
confidence level), whatever the model's calibration. Better-ranked
probabilities give smaller sets at the same coverage. A fitted
:class:`~skduo.DuoClassifier` is an ordinary scikit-learn classifier, so
MAPIE's ``SplitConformalClassifier(prefit=True)`` wraps it directly.

Four disjoint splits keep every guarantee honest: *train* (the members),
*validation* (the duo's two weights and the baseline's temperature),
*conformalize* (MAPIE's threshold) and *test*.
"""

# %%
# A six-class problem that is hard enough for sets to matter
# ------------------------------------------------------------
# The large member is an MLP with 256 hidden units (6656 multiply-adds per
# sample), the sidekick one with 16 (416). The baseline is the large model
# temperature-scaled on the same validation split.
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo import DuoClassifier, TemperatureScalingClassifier

warnings.simplefilter("ignore", ConvergenceWarning)  # short training on purpose

X, y = make_classification(
    n_samples=4000,
    n_features=20,
    n_informative=15,
    n_redundant=2,
    n_classes=6,
    n_clusters_per_class=3,
    flip_y=0.03,
    random_state=0,
)
X = X.astype(np.float32)  # float32 halves the networks' training time
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=0.5, stratify=y, random_state=0
)
X_val, X_held, y_val, y_held = train_test_split(
    X_rest, y_rest, train_size=0.2, stratify=y_rest, random_state=0
)
print(f"train {len(y_train)}, validation {len(y_val)}, held out {len(y_held)}")


def mlp(width):
    net = MLPClassifier(
        (width,), solver="lbfgs", alpha=1.0, max_iter=100, random_state=0
    )
    return make_pipeline(StandardScaler(), net)


large = mlp(256).fit(X_train, y_train)
small = mlp(16).fit(X_train, y_train)
models = {
    "large, TS": TemperatureScalingClassifier(large).fit(X_val, y_val),
    "duo": DuoClassifier(large, small).fit(X_val, y_val),
}
print("duo weights:", models["duo"].weights_.round(3))

# %%
# Conformalize both, on ten random conformalize / test splits
# ------------------------------------------------------------
# ``prefit=True`` (the default) leaves the classifier untouched;
# ``conformalize`` computes the LAC conformity scores (one minus the
# probability of the true label) on its own split. The 1600 held-out samples
# are split ten times into 600 to conformalize and 1000 to test, so the
# numbers below are averages over ten draws (the members and weights stay
# fixed).
from mapie.classification import SplitConformalClassifier
from mapie.metrics.classification import (
    classification_coverage_score,
    classification_mean_width_score,
)

levels = [0.8, 0.9, 0.95]
rows = []
for draw in range(10):
    X_conf, X_test, y_conf, y_test = train_test_split(
        X_held, y_held, train_size=600, stratify=y_held, random_state=draw
    )
    for name, model in models.items():
        mapie = SplitConformalClassifier(model, confidence_level=levels, prefit=True)
        mapie.conformalize(X_conf, y_conf)
        _, sets = mapie.predict_set(X_test)  # shape (n_test, n_classes, n_levels)
        coverage = classification_coverage_score(y_test, sets)
        width = classification_mean_width_score(sets)
        for level, cov, size in zip(levels, coverage, width):
            rows.append(
                {
                    "draw": draw,
                    "model": name,
                    "target": level,
                    "coverage": cov,
                    "set size": size,
                }
            )
results = pd.DataFrame(rows)
summary = results.groupby(["target", "model"])[["coverage", "set size"]].agg(
    ["mean", "std"]
)
summary.round(3)

# %%
# Split conformal prediction guarantees the target coverage on average over
# conformalization sets, for any model, and both reach it. What the model
# changes is the price of that guarantee, the set size. Paired by draw:
paired = results.pivot_table(
    index=["target", "draw"], columns="model", values="set size"
)
change = paired["duo"] - paired["large, TS"]
pd.DataFrame(
    {
        "set size change (duo - large, TS)": change.groupby(level="target").mean(),
        "std": change.groupby(level="target").std(),
        "draws where the duo's sets are smaller": (change < 0)
        .groupby(level="target")
        .sum(),
    }
).round(3)

# %%
import matplotlib.pyplot as plt

fig, (ax_size, ax_hist) = plt.subplots(1, 2, figsize=(9.5, 3.8))
for offset, name in zip((-0.004, 0.004), models):
    part = summary.xs(name, level="model")["set size"]
    ax_size.errorbar(
        np.array(levels) + offset,
        part["mean"],
        yerr=part["std"],
        fmt="o-",
        capsize=3,
        label=name,
    )
ax_size.set(
    xlabel="target coverage (confidence level)",
    ylabel="mean set size (10 draws)",
    title="Set size at the same coverage",
    xticks=levels,
)
ax_size.legend()

# The distribution of set sizes at 95 % confidence, for the last draw.
for offset, (name, model) in zip((-0.2, 0.2), models.items()):
    mapie = SplitConformalClassifier(model, confidence_level=0.95, prefit=True)
    mapie.conformalize(X_conf, y_conf)
    sizes = mapie.predict_set(X_test)[1][:, :, 0].sum(axis=1)
    counts = np.bincount(sizes, minlength=7)[1:7]
    ax_hist.bar(np.arange(1, 7) + offset, counts, width=0.4, label=name)
ax_hist.set(
    xlabel="prediction set size",
    ylabel="test inputs",
    title="Set sizes at 95 % confidence (one draw)",
    xticks=range(1, 7),
)
ax_hist.legend()
fig.tight_layout()
plt.show()

# %%
# The duo's sets are smaller on average at every level and in most draws
# (paired table), by a few percent of the set size. The gain is modest and
# not guaranteed for a given draw: with 600 conformalization samples the
# threshold itself varies from draw to draw (the error bars above, which are
# not paired), and the duo's two weights were fitted on only 400 validation
# samples. Both models keep the coverage guarantee whatever their weights; a
# duo can make sets cheaper or dearer, never invalid.
