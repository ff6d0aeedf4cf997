"""
=====================================================
Compute: metrics against the sidekick's FLOPs balance
=====================================================

How large should the sidekick be? The paper measures a duo's extra compute by
its *FLOPs balance*, ``FLOPs(small) / FLOPs(large)``: 0 is the large model
alone, 1 the cost of a two-member ensemble. This example pairs one large
network with sidekicks of growing width and plots test metrics against the
balance, with the large model (temperature-scaled on the same validation
data, the fair baseline) as a dashed line.

The members are scikit-learn MLPs, whose cost is easy to count: a dense layer
with ``n_in`` inputs and ``n_out`` outputs costs ``n_in * n_out``
multiply-adds per sample (the unit of the paper's "GFLOPs"). For torch
networks, :func:`skduo.torch.count_flops` measures it.
"""

# %%
# Data and the large model
# ------------------------
import warnings

import matplotlib.pyplot as plt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo import DuoClassifier
from skduo.metrics import aurc, nll_loss

warnings.simplefilter("ignore", ConvergenceWarning)  # short training on purpose

X, y = make_classification(
    n_samples=5000,
    n_features=20,
    n_informative=10,
    n_redundant=4,
    n_classes=6,
    n_clusters_per_class=2,
    flip_y=0.03,
    random_state=0,
)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, train_size=0.4, stratify=y_rest, random_state=0
)


def mlp(width):
    return make_pipeline(
        StandardScaler(), MLPClassifier((width,), max_iter=200, random_state=0)
    )


def macs(pipeline):
    """Multiply-adds per sample of the MLP's dense layers."""
    return sum(w.size for w in pipeline[-1].coefs_)


large = mlp(128).fit(X_train, y_train)
large_ts = CalibratedClassifierCV(FrozenEstimator(large), method="temperature")
large_ts.fit(X_val, y_val)
print(f"large model: {macs(large)} multiply-adds per sample")

# %%
# Sidekicks of growing width
# --------------------------
widths = [2, 4, 8, 16, 32, 64]
records = []
for width in widths:
    small = mlp(width).fit(X_train, y_train)
    for mode in ("asymmetric", "unweighted"):
        duo = DuoClassifier(large, small, mode=mode).fit(X_val, y_val)
        proba = duo.predict_proba(X_test)
        records.append(
            {
                "width": width,
                "mode": mode,
                "balance": macs(small) / macs(large),
                "accuracy": duo.score(X_test, y_test),
                "NLL": nll_loss(y_test, proba),
                "AURC": aurc(y_test, proba),
                "w_small / w_large": duo.weights_[1] / duo.weights_[0],
            }
        )

proba_ts = large_ts.predict_proba(X_test)
baseline = {
    "accuracy": large_ts.score(X_test, y_test),
    "NLL": nll_loss(y_test, proba_ts),
    "AURC": aurc(y_test, proba_ts),
}

# %%
# Metrics against FLOPs balance
# -----------------------------
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, metric in zip(axes, ["NLL", "AURC", "accuracy"]):
    for mode, style in (("asymmetric", "o-"), ("unweighted", "s--")):
        rows = [r for r in records if r["mode"] == mode]
        ax.plot(
            [r["balance"] for r in rows],
            [r[metric] for r in rows],
            style,
            label=f"duo ({mode})",
        )
    ax.axhline(baseline[metric], color="k", ls=":", label="large, temperature-scaled")
    ax.set(xscale="log", xlabel="FLOPs balance (small / large)", title=metric)
    balances = sorted({r["balance"] for r in records})
    ax.set_xticks(balances, labels=[f"{100 * b:.3g}%" for b in balances])
    ax.minorticks_off()
axes[0].legend()
fig.tight_layout()
plt.show()

# %%
# The asymmetric duo improves NLL and AURC over the temperature-scaled large
# model at every balance: barely with the tiniest sidekicks, clearly from
# about 25 % of the large model's cost, as in the paper. The unweighted
# average is worse than the learned weighting at small balances (a weak
# sidekick gets half the say) and catches up as the sidekick approaches the
# large model. The learned weights show why: the small sidekicks get a
# fraction of the large model's weight, the largest about as much.
import pandas as pd

table = pd.DataFrame([r for r in records if r["mode"] == "asymmetric"])
table.drop(columns="mode").round(4)
