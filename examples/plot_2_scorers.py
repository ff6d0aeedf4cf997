"""
=================================================
Scorers in cross-validation and grid search
=================================================

Every skduo metric has a scorer object for ``scoring=`` in scikit-learn's
model-selection tools: ``neg_aurc_scorer``, ``neg_ece_scorer``,
``neg_nll_scorer`` and friends (losses are negated so that greater is better,
like ``neg_log_loss``). This example

* cross-validates a duo on the validation set, next to the temperature-scaled
  large model on the same folds (only the weights, or the temperature, are
  refitted in each fold: fitted members are kept by ``clone``);
* shows what happens when a test fold misses a class: scikit-learn's
  ``"neg_log_loss"`` gives NaN, the skduo scorers do not;
* chooses the sidekick and the mode with
  :class:`~sklearn.model_selection.GridSearchCV` on several metrics at once.
"""

# %%
# Members fitted once, on the training split
# ------------------------------------------
# A synthetic six-class problem; the large member is an MLP with 256 hidden
# units, the candidate sidekicks are much cheaper (multiply-adds per sample:
# the entries of the weight matrices, ``n_in * n_out`` per dense layer).
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

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
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)


def mlp(width):
    net = MLPClassifier(
        (width,), solver="lbfgs", alpha=1.0, max_iter=100, random_state=0
    )
    return make_pipeline(StandardScaler(), net)


large = mlp(256).fit(X_train, y_train)
sidekicks = {
    "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "MLP-8": mlp(8),
    "MLP-16": mlp(16),
    "MLP-32": mlp(32),
}
for model in sidekicks.values():
    model.fit(X_train, y_train)


def macs(model):
    """Multiply-adds per sample: weight-matrix entries of the last step."""
    last = model[-1]
    return (
        sum(w.size for w in last.coefs_) if hasattr(last, "coefs_") else last.coef_.size
    )


print(f"large (MLP-256): {macs(large):5d} multiply-adds, test accuracy ", end="")
print(f"{large.score(X_test, y_test):.3f}")
for name, model in sidekicks.items():
    print(f"{name:15s}: {macs(model):5d} multiply-adds, test accuracy ", end="")
    print(f"{model.score(X_test, y_test):.3f}")

# %%
# Cross-validating a duo on validation data
# -----------------------------------------
# ``DuoClassifier(large, small)`` with fitted members learns only two weights,
# so cross-validation on the validation split estimates how well those
# weights generalise, at the cost of a few milliseconds per fold. The same
# folds score the baseline, the large model with one fitted temperature, so
# the comparison is paired fold by fold.
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skduo import DuoClassifier, TemperatureScalingClassifier
from skduo.metrics import neg_aurc_scorer, neg_ece_scorer, neg_nll_scorer

cv = StratifiedKFold(5, shuffle=True, random_state=0)
duo = DuoClassifier(large, sidekicks["MLP-16"])
baseline = TemperatureScalingClassifier(large)
rows = {}
for label, scorer in (
    ("NLL", neg_nll_scorer),
    ("AURC", neg_aurc_scorer),
    ("ECE", neg_ece_scorer),
):
    duo_scores = -cross_val_score(duo, X_val, y_val, cv=cv, scoring=scorer)
    ts_scores = -cross_val_score(baseline, X_val, y_val, cv=cv, scoring=scorer)
    diff = duo_scores - ts_scores
    rows[label] = {
        "large, TS": f"{ts_scores.mean():.4f} +/- {ts_scores.std():.4f}",
        "duo": f"{duo_scores.mean():.4f} +/- {duo_scores.std():.4f}",
        "duo - large, TS": f"{diff.mean():+.4f} +/- {diff.std():.4f}",
        "folds where duo is better": int((diff < 0).sum()),
    }
pd.DataFrame(rows).T

# %%
# Fold by fold, the duo is better than the baseline in NLL and AURC (lower
# is better for all three); its ECE is not consistently better, as the
# weights minimise the NLL, not the calibration error.
#
# A fold that misses a class
# --------------------------
# Keep only three validation samples of class 5. With five folds, two test
# folds contain none of them. The duo still predicts six columns (its classes
# come from the members), but ``log_loss`` inside scikit-learn's
# ``"neg_log_loss"`` sees five labels in ``y_true`` against six columns and
# fails: the fold's score becomes NaN. The skduo scorers read the columns'
# labels from ``estimator.classes_`` and score every fold.
keep = np.r_[np.flatnonzero(y_val != 5), np.flatnonzero(y_val == 5)[:3]]
X_rare, y_rare = X_val[keep], y_val[keep]

with warnings.catch_warnings():
    # "The least populated class has only 3 members" and "Scoring failed".
    warnings.simplefilter("ignore", UserWarning)
    sklearn_nll = cross_val_score(duo, X_rare, y_rare, cv=5, scoring="neg_log_loss")
    skduo_nll = cross_val_score(duo, X_rare, y_rare, cv=5, scoring=neg_nll_scorer)
    skduo_ece = cross_val_score(duo, X_rare, y_rare, cv=5, scoring=neg_ece_scorer)
print("sklearn 'neg_log_loss':", sklearn_nll.round(4))
print("skduo neg_nll_scorer:  ", skduo_nll.round(4))
print("skduo neg_ece_scorer:  ", skduo_ece.round(4))

# %%
# Where both are defined, they agree.
assert np.allclose(
    sklearn_nll[~np.isnan(sklearn_nll)], skduo_nll[~np.isnan(sklearn_nll)]
)

# %%
# Choosing the sidekick with a grid search
# ----------------------------------------
# Fitted members can be grid-search parameters, so each candidate costs one
# weight fit per fold. One catch: :class:`~sklearn.model_selection.GridSearchCV`
# clones every parameter *value*, which would turn a fitted sidekick into an
# unfitted copy (that the duo would then cross-fit on the validation folds).
# Wrapping candidates in :class:`~sklearn.frozen.FrozenEstimator`, whose clone
# is itself, keeps them fitted. Several metrics are recorded and the refit
# uses NLL, the objective of the weight fit.
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

frozen = {name: FrozenEstimator(model) for name, model in sidekicks.items()}
grid = GridSearchCV(
    DuoClassifier(large, sidekicks["MLP-16"]),
    param_grid={
        "small": list(frozen.values()),
        "mode": ["asymmetric", "unweighted"],
    },
    scoring={"nll": neg_nll_scorer, "aurc": neg_aurc_scorer, "ece": neg_ece_scorer},
    refit="nll",
    cv=cv,
)
grid.fit(X_val, y_val)

names = {id(model): name for name, model in frozen.items()}
results = pd.DataFrame(
    {
        "sidekick": [names[id(p["small"])] for p in grid.cv_results_["params"]],
        "mode": grid.cv_results_["param_mode"],
        "NLL": -grid.cv_results_["mean_test_nll"],
        "NLL std": grid.cv_results_["std_test_nll"],
        "AURC": -grid.cv_results_["mean_test_aurc"],
        "ECE": -grid.cv_results_["mean_test_ece"],
    }
).sort_values("NLL")
results.round(4)

# %%
# The cross-validated NLL of each candidate against that of the
# temperature-scaled large model on the same folds (dotted line; shaded: its
# standard deviation over the folds).
import matplotlib.pyplot as plt

ts_nll = -cross_val_score(baseline, X_val, y_val, cv=cv, scoring=neg_nll_scorer)
fig, ax = plt.subplots(figsize=(7, 4))
labels = [f"{r.sidekick}, {r.mode}" for r in results.itertuples()]
colors = ["C0" if mode == "asymmetric" else "C1" for mode in results["mode"]]
ax.barh(labels, results["NLL"], xerr=results["NLL std"], color=colors, alpha=0.7)
ax.axvline(ts_nll.mean(), color="k", ls=":", label="large model, temperature-scaled")
ax.axvspan(
    ts_nll.mean() - ts_nll.std(), ts_nll.mean() + ts_nll.std(), color="k", alpha=0.08
)
ax.set(
    xlim=(0.8 * results["NLL"].min(), 1.05 * results["NLL"].max()),
    xlabel="cross-validated NLL on the validation split (lower is better)",
    title="Grid search over sidekick and mode",
)
ax.invert_yaxis()
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()

# %%
# The learned weights (blue) rank above the unweighted average (orange) for
# every sidekick: a learned weight gives a weak sidekick a small say, while
# the unweighted average gives it half, which costs more the weaker the
# sidekick. Unweighted candidates with a worse cross-validated NLL than the
# temperature-scaled large model alone:
unweighted = results[results["mode"] == "unweighted"]
print(list(unweighted["sidekick"][unweighted["NLL"] > ts_nll.mean()]))

# %%
# The logistic-regression sidekick helps least even with learned weights: it
# is linear and far less accurate than the networks.
#
# The refitted best duo, on the test split it has never seen, against the
# temperature-scaled large model. Its sidekick is the very object that was
# passed in (fitted on the training split only):
from skduo.metrics import aurc, nll_loss

best = grid.best_estimator_
assert best.small_ is frozen[names[id(best.small_)]]
print("best:", names[id(best.small_)], best.mode, "weights", best.weights_.round(3))
baseline.fit(X_val, y_val)
for name, model in (("large, temperature-scaled", baseline), ("best duo", best)):
    proba = model.predict_proba(X_test)
    print(
        f"{name:26s} test accuracy {model.score(X_test, y_test):.3f}  "
        f"NLL {nll_loss(y_test, proba):.4f}  AURC {aurc(y_test, proba):.4f}"
    )

# %%
# The grid search sees only validation data (1000 samples, 200 per fold),
# so close candidates are not reliably ordered: the NLL gaps between the
# three best sidekicks are far smaller than the standard deviation over folds
# in the table. It separates the clear cases (the mode, the weakest
# sidekicks) well; to choose by cost as well as by NLL, see
# :ref:`sphx_glr_auto_examples_plot_9_select_sidekick.py`.
