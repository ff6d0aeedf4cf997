"""
=================================================
Scorers in cross-validation and grid search
=================================================

Every skduo metric has a scorer object for ``scoring=`` in scikit-learn's
model-selection tools: ``neg_aurc_scorer``, ``neg_ece_scorer``,
``neg_nll_scorer`` and friends (losses are negated so that greater is better,
like ``neg_log_loss``). This example

* cross-validates a duo on the validation set (only its two weights are
  refitted in each fold: fitted members are kept by ``clone``);
* shows what happens when a test fold misses a class: scikit-learn's
  ``"neg_log_loss"`` gives NaN, the skduo scorers do not;
* chooses the sidekick and the mode with :class:`~sklearn.model_selection.GridSearchCV`
  on several metrics at once.
"""

# %%
# Members fitted once, on the training split
# ------------------------------------------
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_digits(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)

large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
sidekicks = {
    "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "PCA-8 + logistic": make_pipeline(
        StandardScaler(), PCA(8, random_state=0), LogisticRegression(max_iter=1000)
    ),
    "MLP-16": make_pipeline(
        StandardScaler(), MLPClassifier((16,), max_iter=1000, random_state=0)
    ),
}
for model in sidekicks.values():
    model.fit(X_train, y_train)

# %%
# Cross-validating a duo on validation data
# -----------------------------------------
# ``DuoClassifier(large, small)`` with fitted members learns only two weights,
# so cross-validation on the validation split estimates how well those
# weights generalise, at the cost of a few milliseconds per fold.
from sklearn.model_selection import cross_val_score

from skduo import DuoClassifier
from skduo.metrics import neg_aurc_scorer, neg_ece_scorer, neg_nll_scorer

duo = DuoClassifier(large, sidekicks["logistic"])
for scorer in (neg_nll_scorer, neg_aurc_scorer, neg_ece_scorer):
    scores = cross_val_score(duo, X_val, y_val, cv=5, scoring=scorer)
    print(f"{scorer!r:70s} {scores.mean():+.4f} +/- {scores.std():.4f}")

# %%
# A fold that misses a class
# --------------------------
# Keep only three validation images of the digit 9. With five folds, two test
# folds contain no 9 at all. The duo still predicts ten columns (its classes
# come from the members), but ``log_loss`` inside scikit-learn's
# ``"neg_log_loss"`` sees nine labels in ``y_true`` against ten columns and
# fails: the fold's score becomes NaN. The skduo scorers read the columns'
# labels from ``estimator.classes_`` and score every fold.
keep = np.r_[np.flatnonzero(y_val != 9), np.flatnonzero(y_val == 9)[:3]]
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
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

frozen = {name: FrozenEstimator(model) for name, model in sidekicks.items()}
grid = GridSearchCV(
    DuoClassifier(large, sidekicks["logistic"]),
    param_grid={
        "small": list(frozen.values()),
        "mode": ["asymmetric", "unweighted"],
    },
    scoring={"nll": neg_nll_scorer, "aurc": neg_aurc_scorer, "ece": neg_ece_scorer},
    refit="nll",
    cv=5,
)
grid.fit(X_val, y_val)

names = {id(model): name for name, model in frozen.items()}
results = pd.DataFrame(
    {
        "sidekick": [names[id(p["small"])] for p in grid.cv_results_["params"]],
        "mode": grid.cv_results_["param_mode"],
        "NLL": -grid.cv_results_["mean_test_nll"],
        "AURC x 100": -100 * grid.cv_results_["mean_test_aurc"],
        "ECE": -grid.cv_results_["mean_test_ece"],
    }
).sort_values("NLL")
results.round(4)

# %%
# The refitted best duo, on the test split it has never seen. Its sidekick is
# the very object that was passed in (fitted on the training split only):
best = grid.best_estimator_
assert best.small_ is frozen[names[id(best.small_)]]
print("best:", names[id(best.small_)], best.mode, "weights", best.weights_.round(3))
print(f"test NLL {-neg_nll_scorer(best, X_test, y_test):.4f}")
print(f"test NLL of the large model alone {-neg_nll_scorer(large, X_test, y_test):.4f}")
