"""
==========================================
Quickstart: a duo of two sklearn models
==========================================

An *Asymmetric Duo* combines a large, accurate classifier with a much cheaper
"sidekick". Both are trained as usual; the duo only learns two non-negative
weights for their logits, ``z = w_large * z_large + w_small * z_small``, by
minimising the negative log-likelihood on a held-out validation set.

Here the large model is a gradient-boosted forest and the sidekick a logistic
regression, both on the 8x8 ``load_digits`` images.
"""

# %%
# Data: train / validation / test
# -------------------------------
# The members are fitted on the training split, the duo's two weights on the
# validation split, and everything is evaluated on the test split.
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)
print(f"train {len(y_train)}, validation {len(y_val)}, test {len(y_test)}")

# %%
# Two members of very different size
# ----------------------------------
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
small = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
small.fit(X_train, y_train)

# %%
# The duo
# -------
# Fitted members are used as they are: :meth:`~skduo.DuoClassifier.fit` reads
# their outputs on the validation set and solves a convex two-parameter
# problem. ``mode="unweighted"`` is the paper's ablation: each member is
# temperature-scaled alone and the scaled logits are averaged.
from skduo import DuoClassifier

duo = DuoClassifier(large, small).fit(X_val, y_val)
unweighted = DuoClassifier(large, small, mode="unweighted").fit(X_val, y_val)
print("duo weights (large, small):", duo.weights_.round(3))
print("unweighted weights:        ", unweighted.weights_.round(3))

# %%
# The fair baseline is the large model alone, temperature-scaled on the same
# validation set (one weight instead of two). scikit-learn (1.8 and later)
# provides it as ``CalibratedClassifierCV(method="temperature")``.
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

large_ts = CalibratedClassifierCV(FrozenEstimator(large), method="temperature")
large_ts.fit(X_val, y_val)

# %%
# Metrics table
# -------------
# Accuracy, the proper scores (NLL, Brier), calibration (ECE) and selective
# classification: AURC (mean error rate when only the most confident
# predictions are kept; lower is better), the AUROC of confidence as a
# predictor of correctness, and SAC@99 (the largest fraction of test images
# that can be answered at 99% accuracy).
import pandas as pd

from skduo.metrics import (
    aurc,
    correctness_auroc,
    coverage_at_accuracy,
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
)

models = {
    "large": large,
    "large, temperature-scaled": large_ts,
    "small": small,
    "duo (unweighted)": unweighted,
    "duo": duo,
}
rows = {}
for name, model in models.items():
    proba = model.predict_proba(X_test)
    rows[name] = {
        "accuracy": model.score(X_test, y_test),
        "NLL": nll_loss(y_test, proba),
        "Brier": multiclass_brier_score(y_test, proba),
        "ECE": expected_calibration_error(y_test, proba),
        "AURC x 100": 100 * aurc(y_test, proba),
        "AUROC": correctness_auroc(y_test, proba),
        "SAC@99": coverage_at_accuracy(y_test, proba, accuracy=0.99),
    }
table = pd.DataFrame(rows).T
table.round(4)

# %%
# On this split the duo improves on the temperature-scaled large model in NLL,
# Brier score and AURC at the price of one extra logistic regression, which
# costs a tiny fraction of the forest's compute. The gains are not guaranteed
# for every metric and every split: the weights minimise the *validation*
# NLL, and any metric on fresh data can move either way by sampling noise.
# The weight fit guarantees only that the duo's validation NLL is no worse
# than that of either member temperature-scaled alone:
print(f"validation NLL: large TS {nll_loss(y_val, large_ts.predict_proba(X_val)):.4f}")
print(f"                duo      {duo.validation_nll_:.4f}")
