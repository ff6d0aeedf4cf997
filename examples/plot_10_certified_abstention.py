"""
=====================================================
Deploying a duo: abstain at a certified risk
=====================================================

A classifier that may say "I don't know" and defer to a human is only useful
if the answers it does give meet an error rate agreed in advance.
:class:`skduo.SelectiveClassifier` wraps a fitted classifier and learns, from
held-out calibration data, the confidence threshold below which it abstains,
so that with probability at least ``1 - delta`` the error rate among the
answers it gives is at most ``target_risk``. This page asks the question the
duo's better uncertainty should answer: at 2 % risk, how many more digits can
be answered automatically with a sidekick than with the large model alone?
"""

# %%
# Four disjoint splits
# --------------------
# The members are trained on one split, the duo's two weights (and the
# baseline's temperature) are fitted on a second, the abstention threshold is
# certified on a third, and a fourth checks the result. The calibration split
# must not be used for anything else: the guarantee assumes it is a fresh
# sample from the data the classifier will see.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skduo import DuoClassifier, SelectiveClassifier, TemperatureScalingClassifier
from skduo.metrics import CertificationWarning, RiskCoverageDisplay

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=600, stratify=y, random_state=0
)
X_val, X_rest, y_val, y_rest = train_test_split(
    X_rest, y_rest, train_size=300, stratify=y_rest, random_state=0
)
X_cal, X_test, y_cal, y_test = train_test_split(
    X_rest, y_rest, train_size=450, stratify=y_rest, random_state=0
)

large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
small = LogisticRegression(max_iter=2000).fit(X_train, y_train)
models = {
    "large, temperature-scaled": TemperatureScalingClassifier(large).fit(X_val, y_val),
    "duo (large + sidekick)": DuoClassifier(large, small).fit(X_val, y_val),
}
for name, model in models.items():
    print(f"{name:26} test accuracy {model.score(X_test, y_test):.3f}")

# %%
# Certify the threshold at 2 % risk
# ---------------------------------
# ``fit`` on the calibration split only computes the threshold; the wrapped
# model is never refit. ``coverage_`` is the share of calibration rows it
# answers, ``risk_bound_`` an upper confidence bound of the error rate among
# them (at most the target). On the test split, ``predict`` returns ``-1``
# where it abstains; ``predict_selective`` gives the predictions and a mask.
selective = {}
for name, model in models.items():
    sel = SelectiveClassifier(model, target_risk=0.02, delta=0.05).fit(X_cal, y_cal)
    selective[name] = sel
    labels, answered = sel.predict_selective(X_test)
    test_risk = np.mean(labels[answered] != y_test[answered])
    print(
        f"{name:26} certified coverage {sel.coverage_:.1%} (bound "
        f"{sel.risk_bound_:.2%}); on test: answers {answered.mean():.1%} with "
        f"{test_risk:.1%} errors, {sel.score(X_test, y_test):.1%} of all rows "
        "answered correctly"
    )

# %%
# The certified operating points on the risk-coverage curves
# ----------------------------------------------------------
# ``RiskCoverageDisplay`` draws each model's risk-coverage curve on the
# calibration rows, the operating point certified from them (a bar up to its
# risk bound) and the target. The certified point sits below the target: the
# guarantee costs the coverage between it and where the curve crosses 2 %.
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for name, model in models.items():
    RiskCoverageDisplay.from_estimator(
        model, X_cal, y_cal, target_risk=0.02, delta=0.05, name=name, ax=ax
    )
ax.set_ylim(0, 0.08)
ax.set_title("Calibration split, target risk 2 %")
plt.tight_layout()

# %%
# Is the gain more than one lucky split?
# --------------------------------------
# With 450 calibration rows the certified coverage moves by several points
# from one split to the next. Re-drawing the calibration and test rows 20
# times shows how often the sidekick lets the duo answer more digits at the
# same certified risk -- and how often it does not.
gains = []
for seed in range(20):
    X_c, X_t, y_c, y_t = train_test_split(
        X_rest, y_rest, train_size=450, stratify=y_rest, random_state=seed
    )
    cov = {
        name: SelectiveClassifier(model, target_risk=0.02).fit(X_c, y_c).coverage_
        for name, model in models.items()
    }
    gains.append(cov["duo (large + sidekick)"] - cov["large, temperature-scaled"])
gains = 100 * np.array(gains)
print(
    f"duo minus large model, certified coverage at 2 % risk over 20 splits: "
    f"median {np.median(gains):+.1f} points, range {gains.min():+.1f} to "
    f"{gains.max():+.1f}; the duo answers more in {np.sum(gains > 0)} of 20"
)

# %%
# When nothing can be certified
# -----------------------------
# A target of 0.5 % needs at least 598 calibration rows even if every
# prediction among them is right (``0.995 ** n <= 0.05``). With 450 rows the
# classifier says so with a :class:`~skduo.metrics.CertificationWarning` and
# abstains on everything rather than use a threshold it cannot vouch for.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", CertificationWarning)
    strict = SelectiveClassifier(models["duo (large + sidekick)"], target_risk=0.005)
    strict.fit(X_cal, y_cal)
print("skduo says:", str(caught[0].message)[:150], "...")
print("threshold", strict.threshold_, "coverage", strict.coverage_)
print("predictions:", strict.predict(X_test[:8]))

# %%
# What to take away
# -----------------
# The certified coverage is the number to compare models on when the error
# rate of the automated answers is fixed in advance: it combines accuracy and
# how well confidence ranks errors, at the price of the finite calibration
# sample. A duo helps when its confidence separates right from wrong answers
# better than the large model's does; on this small problem the gain is a few
# points and varies with the split, so check it over several splits (or with
# ``python -m skduo evaluate --target-risk 2`` on a model zoo) before paying
# for the sidekick. More calibration rows shrink the price of the guarantee.
