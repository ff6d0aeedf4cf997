"""
=====================================================
Risk-coverage curves and reliability diagrams
=====================================================

Two pictures of uncertainty, for the large model temperature-scaled (the
baseline), the duo and the unweighted duo (the paper's ablation):

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
# Members and duos, on three splits
# ---------------------------------
# A synthetic six-class problem; the large member is an MLP with 256 hidden
# units (6656 multiply-adds per sample), the sidekick one with 16 (416, 16x
# cheaper). The curves below are drawn for the first split; the other two
# show how much of a difference between curves is luck.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skduo import DuoClassifier, TemperatureScalingClassifier
from skduo.metrics import ReliabilityDisplay, RiskCoverageDisplay

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


def mlp(width, seed):
    net = MLPClassifier(
        (width,), solver="lbfgs", alpha=1.0, max_iter=100, random_state=seed
    )
    return make_pipeline(StandardScaler(), net)


splits = {}
for seed in range(3):
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=seed
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    large = mlp(256, seed).fit(X_train, y_train)
    small = mlp(16, seed).fit(X_train, y_train)
    models = {
        "large, TS": TemperatureScalingClassifier(large).fit(X_val, y_val),
        "unweighted duo": DuoClassifier(large, small, mode="unweighted").fit(
            X_val, y_val
        ),
        "duo": DuoClassifier(large, small).fit(X_val, y_val),
        # answers of the large model, confidence of the duo (see the end)
        "UQ-only duo": DuoClassifier(large, small, mode="uq_only").fit(X_val, y_val),
    }
    splits[seed] = models, X_test, y_test

models, X_test, y_test = splits[0]
styles = {"large, TS": ":", "unweighted duo": "--", "duo": "-"}

# %%
# Risk-coverage curves
# --------------------
# Each curve starts at the most confident predictions (left) and ends at full
# coverage, where the risk is the plain error rate. Lower is better
# everywhere. The right panel shows, for each of the three splits, the duo's
# risk minus that of the temperature-scaled large model at the same
# coverage: below zero, the duo is better.
from skduo.metrics import risk_coverage_curve

fig, (ax_curve, ax_diff) = plt.subplots(1, 2, figsize=(9.5, 4.2))
for name, style in styles.items():
    RiskCoverageDisplay.from_estimator(
        models[name], X_test, y_test, name=name, ax=ax_curve, linestyle=style, lw=2
    )
ax_curve.set_title("Risk-coverage curves (first split)")

grid = np.linspace(0.05, 1, 96)


def risk_at(model, X, y):
    coverage, risk, _ = risk_coverage_curve(y, model.predict_proba(X))
    return np.interp(grid, coverage, risk)


for seed, (split_models, X_te, y_te) in splits.items():
    base = risk_at(split_models["large, TS"], X_te, y_te)
    for name, color in (("duo", "C2"), ("unweighted duo", "C1")):
        ax_diff.plot(
            grid,
            risk_at(split_models[name], X_te, y_te) - base,
            color=color,
            lw=1.5,
            ls="-" if name == "duo" else "--",
            label=name if seed == 0 else None,
        )
ax_diff.axhline(0, color="k", ls=":", label="large, TS")
ax_diff.set(
    xlabel="Coverage",
    ylabel="risk minus that of the large model, TS",
    title="Difference to the baseline (three splits)",
)
ax_diff.legend(fontsize=8)
fig.tight_layout()

# %%
# Above about half coverage the duo's risk is below the baseline's in all
# three splits. At low coverage only a few dozen predictions are accepted, so
# the curves are noisy there and cross. The unweighted duo helps about as
# much at full coverage (its accuracy gain) but varies more along the curve.
#
# Reliability diagrams
# --------------------
# Top-label confidence against accuracy in 10 bins (empty bins are not
# drawn): equal-width bins on the left, bins of equal mass
# (``strategy="quantile"``) on the right. On the diagonal, the confidence is
# the accuracy.
fig, (ax_uniform, ax_quantile) = plt.subplots(1, 2, figsize=(9.5, 4.6))
for name, style in styles.items():
    for ax, strategy in ((ax_uniform, "uniform"), (ax_quantile, "quantile")):
        ReliabilityDisplay.from_estimator(
            models[name],
            X_test,
            y_test,
            n_bins=10,
            strategy=strategy,
            name=name,
            ax=ax,
            linestyle=style,
        )
ax_uniform.set_title("10 equal-width bins (first split)")
ax_quantile.set_title("10 equal-mass bins (first split)")
fig.tight_layout()

# %%
# The temperature-scaled large model and the duo both follow the diagonal
# closely: temperature scaling already calibrates the large model, and the
# duo's ECE is not systematically lower (the weights minimise the NLL, not
# the ECE; see the table at the end). The unweighted duo lies above the
# diagonal: it is under-confident, because each member was calibrated alone
# and averaging two partly disagreeing sets of logits flattens them.
#
# From stored predictions, and the UQ-only duo
# --------------------------------------------
# ``from_predictions`` takes probabilities directly. In ``mode="uq_only"`` the
# duo answers with the large model's class and uses the duo only to decide
# *how confident* that answer is. ``from_estimator`` scores the estimator's
# own answers (``prediction="predict"``, the default, as the skduo scorers
# do); with ``from_predictions`` pass them as ``y_pred``.
# Temperature scaling does not change the large model's answers either, so
# both curves below end at the same risk.
fig, ax = plt.subplots(figsize=(6, 4.5))
RiskCoverageDisplay.from_predictions(
    y_test,
    models["large, TS"].predict_proba(X_test),
    name="large, TS",
    ax=ax,
    linestyle=":",
    lw=2,
)
RiskCoverageDisplay.from_estimator(
    models["UQ-only duo"],
    X_test,
    y_test,
    prediction="predict",
    name="UQ-only duo",
    ax=ax,
    lw=2,
)
ax.set_title("Same answers, duo confidence (first split)")
plt.show()

# %%
# The UQ-only curve is lower before full coverage: the duo's confidence
# ranks the large model's errors lower than the large model's own
# confidence does.
#
# Three splits in numbers
# -----------------------
# AURC and ECE (lower is better for both), mean and standard deviation over
# the three splits. The UQ-only duo's AURC is computed on its answers (the
# large model's, passed as ``y_pred``), as in the curve above; its
# probabilities, hence its ECE, are the duo's.
import pandas as pd

from skduo.metrics import aurc, expected_calibration_error

rows = {}
for name in ("large, TS", "duo", "unweighted duo", "UQ-only duo"):
    scores = []
    for split_models, X_te, y_te in splits.values():
        model = split_models[name]
        proba = model.predict_proba(X_te)
        y_pred = model.predict(X_te)
        scores.append(
            (aurc(y_te, proba, y_pred=y_pred), expected_calibration_error(y_te, proba))
        )
    scores = np.array(scores)
    rows[name] = {
        "AURC": f"{scores[:, 0].mean():.4f} +/- {scores[:, 0].std():.4f}",
        "ECE": f"{scores[:, 1].mean():.4f} +/- {scores[:, 1].std():.4f}",
    }
pd.DataFrame(rows).T

# sphinx_gallery_thumbnail_number = 1
