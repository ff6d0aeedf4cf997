"""
=====================================================
When a duo does not help, and what skduo says
=====================================================

A duo is not always better than its large model temperature-scaled alone. A
sidekick that carries no information the large model lacks gets a weight
near 0, and a small gain on the validation split need not survive on the
test split. This example builds such a case on purpose -- a pure-noise
sidekick and a weak one, next to a good large model -- and shows what
:func:`skduo.evaluation.evaluate_zoo` reports: every comparison's verdict
after the multiplicity control, and a plain "no sidekick helps" instead of a
recommendation (see :ref:`guide_significance` for the procedure).
"""

# %%
# A large model and two sidekicks that should not help
# ----------------------------------------------------
# A five-class synthetic problem. The large model is an MLP with 64 hidden
# units; the "weak" sidekick is a linear model (logistic regression), which
# learns little that the MLP has not; the "noise" sidekick outputs N(0, 1)
# logits, unrelated to the input. Costs are multiply-adds per sample.
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skduo.evaluation import LogitZoo, evaluate_zoo

X, y = make_classification(
    n_samples=3000,
    n_features=20,
    n_informative=10,
    n_classes=5,
    class_sep=1.2,
    random_state=0,
)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=1500, random_state=0, stratify=y
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, train_size=500, random_state=0, stratify=y_rest
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # short training on purpose
    large = MLPClassifier((64,), max_iter=200, alpha=1e-2, random_state=0)
    large.fit(X_train, y_train)
weak = LogisticRegression(max_iter=1000).fit(X_train, y_train)
rng = np.random.default_rng(0)

zoo = LogitZoo(y_val, y_test)
zoo.add(
    "mlp64",
    np.log(large.predict_proba(X_val)),
    np.log(large.predict_proba(X_test)),
    cost=20 * 64 + 64 * 5,
)
zoo.add(
    "weak_logreg",
    weak.decision_function(X_val),
    weak.decision_function(X_test),
    cost=20 * 5,
)
zoo.add(
    "noise",
    rng.normal(size=(len(y_val), 5)),
    rng.normal(size=(len(y_test), 5)),
    cost=5,
)
print(zoo)

# %%
# The report
# ----------
# Every duo is compared with its own large model temperature-scaled alone on
# nine metrics, by a paired bootstrap over the test rows; Holm's correction
# runs over each family of comparisons (here 3 duos x 9 metrics per duo mode).
report = evaluate_zoo(zoo, n_resamples=500, ensembles=False)
print(report.summary(large="mlp64", budget=10, width=88))

# %%
# The duos of ``mlp64``: their weights and, per metric, the verdict
# (``better`` / ``worse`` / ``same`` after the correction). The noise
# sidekick gets weight 0: that duo *is* the large model alone, every
# difference is a tie (``same``, adjusted p 1). The linear sidekick gets a
# small weight, and its test differences lie well inside their intervals.
metrics = ["nll", "acc", "brier", "aurc", "auroc", "ece"]
for small in ("weak_logreg", "noise"):
    row = report.get("asymmetric", "mlp64", small)
    weights = ", ".join(f"{w:.3g}" for w in row["weights"])
    print(f"mlp64 + {small}: weights [{weights}]")
    for key in metrics:
        print(
            f"  {key:6s} diff {row[f'{key}_diff']:+.4f}  interval "
            f"[{row[f'{key}_low']:+.4f}, {row[f'{key}_high']:+.4f}]  "
            f"adjusted p {row[f'{key}_p_adj']:.3f}  {row[f'{key}_verdict']}"
        )

# %%
# What to take from it
# --------------------
# * A sidekick helps only with information the large model lacks. The noise
#   sidekick has none, and the linear one little: the fit gives them weight 0
#   and a small weight, and the test differences are within the noise of
#   1,000 test rows -- every verdict is ``same``, so skduo recommends neither
#   and says to keep the large model alone.
# * "Same" is not "equal": the intervals show which differences the test split
#   rules out. A larger test split narrows them; a larger validation split
#   makes the two weights less noisy.
# * The same zoo with a strong, cheap sidekick is the quickstart's setting
#   (:ref:`sphx_glr_auto_examples_plot_1_quickstart.py`), where the NLL gain is
#   significant and the report names the duo.
