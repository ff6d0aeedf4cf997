"""
=====================================================
Risk-coverage curves and reliability diagrams
=====================================================

Two pictures of uncertainty, for the large model alone, the duo and the
unweighted duo (the paper's ablation):

* :class:`~skduo.metrics.RiskCoverageDisplay`: if the classifier may abstain on
  its least confident inputs, how does the error rate of the answered ones
  fall as it answers fewer? The area under the curve is the AURC.
* :class:`~skduo.metrics.ReliabilityDisplay`: within each confidence bin, is
  the accuracy equal to the confidence? The weighted mean gap is the ECE. It
  works for any number of classes (scikit-learn's ``CalibrationDisplay`` is
  binary only).

Both follow the scikit-learn display idiom: ``from_estimator`` /
``from_predictions`` compute and draw; several can share one axis.
"""

# %%
# Members and duos
# ----------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo import DuoClassifier
from skduo.metrics import ReliabilityDisplay, RiskCoverageDisplay

X, y = load_digits(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)
large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
small = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
small.fit(X_train, y_train)

models = {
    "large": large,
    "unweighted duo": DuoClassifier(large, small, mode="unweighted").fit(X_val, y_val),
    "duo": DuoClassifier(large, small).fit(X_val, y_val),
}

# %%
# Risk-coverage curves
# --------------------
# Each curve starts at the most confident predictions (left) and ends at full
# coverage, where the risk is the plain error rate. Lower is better
# everywhere. The right panel zooms into the high-coverage end, where most of
# the difference lies on this easy data set.
fig, (ax_full, ax_zoom) = plt.subplots(1, 2, figsize=(11, 4.5))
styles = {"large": ":", "unweighted duo": "--", "duo": "-"}
for name, model in models.items():
    for ax in (ax_full, ax_zoom):
        RiskCoverageDisplay.from_estimator(
            model, X_test, y_test, name=name, ax=ax, linestyle=styles[name], lw=2
        )
ax_full.set_title("Risk-coverage curves (test split)")
ax_zoom.set(xlim=(0.8, 1.005), title="High-coverage end")
fig.tight_layout()

# %%
# Reliability diagrams
# --------------------
# Top-label confidence against accuracy in 10 equal-width bins (empty bins
# are not drawn). The digits models are accurate, so almost every prediction
# falls in the last bin, and the few points below 0.9 each hold a handful of
# test images: the diagram is noisy there, which the ECE in the legend weighs
# by bin size. ``strategy="quantile"`` gives bins of equal mass instead.
fig, (ax_uniform, ax_quantile) = plt.subplots(1, 2, figsize=(11, 5))
for name, model in models.items():
    ReliabilityDisplay.from_estimator(
        model, X_test, y_test, n_bins=10, name=name, ax=ax_uniform
    )
    ReliabilityDisplay.from_estimator(
        model,
        X_test,
        y_test,
        n_bins=10,
        strategy="quantile",
        name=name,
        ax=ax_quantile,
    )
ax_uniform.set_title("10 equal-width bins")
ax_quantile.set(title="10 equal-mass bins (zoomed)", xlim=(0.6, 1.01), ylim=(0.6, 1.01))
fig.tight_layout()

# %%
# From stored predictions, and the UQ-only duo
# --------------------------------------------
# ``from_predictions`` takes probabilities directly. In ``mode="uq_only"`` the
# duo answers with the large model's class and uses the duo only to decide
# *how confident* that answer is; pass ``prediction="predict"`` so the curve
# scores those answers (the default scores the arg-max of the probabilities).
uq_only = DuoClassifier(large, small, mode="uq_only").fit(X_val, y_val)

fig, ax = plt.subplots(figsize=(6, 4.5))
RiskCoverageDisplay.from_predictions(
    y_test, large.predict_proba(X_test), name="large", ax=ax, linestyle=":", lw=2
)
RiskCoverageDisplay.from_estimator(
    uq_only, X_test, y_test, prediction="predict", name="UQ-only duo", ax=ax, lw=2
)
ax.set(xlim=(0.8, 1.005), title="Same answers, duo confidence")
plt.show()

# %%
# Both curves end at the same risk, the large model's error rate, because the
# answers are the same; the UQ-only curve is lower before that because the
# duo's confidence ranks the large model's errors lower.
