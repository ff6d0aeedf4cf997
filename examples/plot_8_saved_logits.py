"""
===================================================
Saved logits: fit and evaluate duos without models
===================================================

The usual workflow with large networks: compute each model's logits once
(on a GPU, where the models live), save them, and do everything else on a
CPU from the saved arrays: fit duos and baselines, evaluate every pair, read
the harm rates. This example

1. computes five models' logits on a validation and a test split;
2. saves them with :func:`skduo.evaluation.save_logits_dir`, and writes the
   official Asymmetric Duos repository's CSV layout as well;
3. loads either with :func:`skduo.evaluation.load_logits_dir`;
4. fits one duo and its baseline by hand with :func:`skduo.fit_duo` and
   :func:`skduo.fit_temperature`;
5. evaluates every pair with :func:`skduo.evaluation.evaluate_zoo`, as the
   command ``python -m skduo evaluate PATH`` does.

The models here are small scikit-learn networks so that the page runs in
seconds; with torch models only step 1 changes.
"""

# %%
# Step 1: logits of a few models
# ------------------------------
# A synthetic six-class problem. The models: two MLPs with 256 hidden units
# (different seeds, so they also form a deep ensemble), MLPs with 32 and 16
# units, and a logistic regression. Their cost is counted in multiply-adds
# per sample: ``n_in * n_out`` per dense layer. The logits are the models'
# log-probabilities (``predict_log_proba``; softmax ignores a per-row shift,
# so they are as good as the networks' raw outputs) and the logistic
# regression's ``decision_function``.
import warnings

import numpy as np
import pandas as pd
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


def mlp(width, seed=0):
    net = MLPClassifier(
        (width,), solver="lbfgs", alpha=1.0, max_iter=100, random_state=seed
    )
    return make_pipeline(StandardScaler(), net)


n_features, n_classes = X.shape[1], len(np.unique(y))
specs = {  # name: (model, multiply-adds per sample)
    "mlp256_s0": (mlp(256, seed=0), n_features * 256 + 256 * n_classes),
    "mlp256_s1": (mlp(256, seed=1), n_features * 256 + 256 * n_classes),
    "mlp32": (mlp(32), n_features * 32 + 32 * n_classes),
    "mlp16": (mlp(16), n_features * 16 + 16 * n_classes),
    "logreg": (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        n_features * n_classes,
    ),
}
logits, costs = {}, {}
for name, (model, cost) in specs.items():
    model.fit(X_train, y_train)
    output = model.decision_function if name == "logreg" else model.predict_log_proba
    logits[name] = {"val": output(X_val), "test": output(X_test)}
    costs[name] = cost
    print(
        f"{name:10s} {cost:5d} multiply-adds   test accuracy "
        f"{model.score(X_test, y_test):.3f}"
    )

# %%
# Step 2: save them
# -----------------
# A :class:`~skduo.evaluation.LogitZoo` holds every model's logits on the
# same validation and test rows, the labels, the costs and the groups
# (models of one group form deep ensembles).
# :func:`~skduo.evaluation.save_logits_dir` writes it as NumPy archives.
import json
import shutil
import tempfile
from pathlib import Path

from skduo.evaluation import LogitZoo, load_logits_dir, save_logits_dir

zoo = LogitZoo(y_val, y_test)
for name in specs:
    group = "mlp256" if name.startswith("mlp256") else None
    zoo.add(
        name, logits[name]["val"], logits[name]["test"], cost=costs[name], group=group
    )
print(zoo)

root = Path(tempfile.mkdtemp(prefix="skduo_example_"))
save_logits_dir(zoo, root / "logits_npz")


def show_tree(folder):
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(root)}")


show_tree(root / "logits_npz")
print((root / "logits_npz" / "costs.json").read_text())

# %%
# The official repository's layout is one CSV file of logits per model and
# split (a header row, then one row per sample) and the labels in the
# ``target`` column of ``<split>/point_prediction.csv``; its costs file is
# ``backbones.csv`` with columns ``model_name`` and ``GFLOPS``. Any code can
# write it, here pandas:
official = root / "logits_csv"
for split, labels in (("val", y_val), ("test", y_test)):
    (official / split / "raw").mkdir(parents=True)
    for name in specs:
        pd.DataFrame(logits[name][split]).to_csv(
            official / split / "raw" / f"{name}.csv", index=False
        )
    pd.DataFrame({"target": labels}).to_csv(
        official / split / "point_prediction.csv", index=False
    )
pd.DataFrame(
    {"model_name": list(costs), "GFLOPS": [c / 1e9 for c in costs.values()]}
).to_csv(official / "backbones.csv", index=False)
(official / "groups.json").write_text(
    json.dumps({"mlp256_s0": "mlp256", "mlp256_s1": "mlp256"})
)
show_tree(official)

# %%
# Step 3: load them
# -----------------
# :func:`~skduo.evaluation.load_logits_dir` recognises the layout. Both
# folders hold the same logits (the CSV files as float64 text, read back as
# float32, which rounds by at most 6e-8 relative) and the same cost ratios:
from_npz = load_logits_dir(root / "logits_npz")
from_csv = load_logits_dir(official)
print(from_npz)
for name in specs:
    a, b = from_npz.models[name], from_csv.models[name]
    assert np.allclose(a.logits["test"], b.logits["test"], rtol=1e-6)
    assert np.isclose(
        a.cost / from_npz.models["mlp256_s0"].cost,
        b.cost / from_csv.models["mlp256_s0"].cost,
    )
print("same logits and cost ratios in both layouts")

# %%
# Step 4: one duo by hand, with the array API
# -------------------------------------------
# :func:`skduo.fit_temperature` and :func:`skduo.fit_duo` fit on validation
# logits and return a :class:`~skduo.LogitEnsemble`, whose methods take the
# members' logits in the fitting order (large, then small). It is a small
# frozen record: its weights can be stored and the ensemble rebuilt later.
# Both networks' arrays are log-probabilities (``predict_log_proba``), which
# ``outputs="log_proba"`` declares (undeclared, they are recognised, with a
# warning that asks for the declaration).
from skduo import LogitEnsemble, fit_duo, fit_temperature
from skduo.metrics import nll_loss

zl = from_npz.models["mlp256_s0"].logits
zs = from_npz.models["mlp16"].logits
y_val, y_test = from_npz.labels["val"], from_npz.labels["test"]

baseline = fit_temperature(zl["val"], y_val, outputs="log_proba")
duo = fit_duo(zl["val"], zs["val"], y_val, outputs="log_proba")
print(f"baseline: temperature {baseline.temperature:.3f}")
print(f"duo:      weights {duo.weights.round(3)} (large, small)")
for label, ens, members in (
    ("mlp256_s0, temperature-scaled", baseline, [zl["test"]]),
    ("duo mlp256_s0 + mlp16", duo, [zl["test"], zs["test"]]),
):
    proba = ens.predict_proba(*members)
    accuracy = np.mean(ens.predict(*members) == y_test)
    print(
        f"{label:30s} test accuracy {accuracy:.3f}  NLL {nll_loss(y_test, proba):.4f}"
    )

rebuilt = LogitEnsemble(
    duo.weights, duo.mode, duo.n_classes, duo.validation_nll, outputs=duo.outputs
)
assert np.array_equal(
    rebuilt.predict(zl["test"], zs["test"]), duo.predict(zl["test"], zs["test"])
)

# %%
# Step 5: every pair at once
# --------------------------
# :func:`~skduo.evaluation.evaluate_zoo` fits, on the validation split only,
# every model temperature-scaled, every (large, small) pair with
# ``cost(small) < cost(large)`` in each duo mode, the deep ensemble of each
# group and one learned-weight ensemble of all models, then scores them on
# the test split. The report's rows are plain dicts; here a few columns of
# the temperature-scaled models and of the learned (asymmetric) duos, with
# each duo's NLL change over its own temperature-scaled large model:
from skduo.evaluation import evaluate_zoo

report = evaluate_zoo(from_npz)
rows = [r for r in report.rows if r["split"] == "test"]
ts_nll = {r["large"]: r["nll"] for r in rows if r["method"] == "temperature"}
table = pd.DataFrame(
    [
        {
            "method": r["method"],
            "model": r["name"],
            "FLOPs balance": r["flops_balance"],
            "accuracy": r["acc"],
            "NLL": r["nll"],
            "NLL change vs large TS": (
                r["nll"] - ts_nll[r["large"]] if r["small"] else np.nan
            ),
            "ECE": r["ece"],
            "AURC": r["aurc"],
        }
        for r in rows
        if r["method"] in ("temperature", "asymmetric", "deep_ensemble")
    ]
)
table.round(4)

# %%
# The **harm rate** is the fraction of duos worse than their own large model
# temperature-scaled alone, per metric and FLOPs-balance bracket
# (:meth:`~skduo.evaluation.ZooReport.harm_rates`); ties are not harm.
metrics = ["acc", "nll", "brier", "ece", "aurc", "auroc"]
harm = pd.DataFrame(report.harm_rates("asymmetric")).set_index("bracket")
harm[["n_duos", *metrics]].round(2)

# %%
# The learned duos are almost never worse than their baseline on NLL and
# Brier score: the weight fit minimises the NLL on validation data, with the
# baseline among its candidates, and only the change from validation to test
# data can make a duo worse. Calibration error (ECE) and the correctness
# AUROC are not what the fit targets, so duos are worse than their baseline
# on them much more often. The same table for the unweighted ablation shows
# why the weights are learned:
harm_unweighted = pd.DataFrame(report.harm_rates("unweighted")).set_index("bracket")
harm_unweighted[["n_duos", *metrics]].round(2)

# %%
# The NLL change of every duo against its FLOPs balance:
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
for mode, marker in (("asymmetric", "o"), ("unweighted", "s")):
    duos = [r for r in rows if r["method"] == mode]
    ax.scatter(
        [r["flops_balance"] for r in duos],
        [r["nll"] - ts_nll[r["large"]] for r in duos],
        marker=marker,
        label=f"duo ({mode})",
        alpha=0.8,
    )
ax.axhline(0, color="k", ls=":", label="its large model, temperature-scaled")
ax.set(
    xscale="log",
    xlabel="FLOPs balance (small / large)",
    ylabel="test NLL change (lower is better)",
    title=f"Every duo of the zoo ({len(duos)} pairs per mode)",
)
ax.set_xticks([0.02, 0.05, 0.1, 0.2, 0.5], labels=["2%", "5%", "10%", "20%", "50%"])
ax.minorticks_off()
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The command line
# ----------------
# ``python -m skduo evaluate PATH`` runs the same report on a folder in any
# of the layouts and writes ``report.csv``, ``report.json`` and (without
# ``--no-plots``) two PNG plots; ``--budget PCT`` adds a sidekick
# recommendation (see :ref:`sphx_glr_auto_examples_plot_9_select_sidekick.py`)
# and ``--paper-units`` prints the paper's units. Here it runs in a
# subprocess at a width of 88 columns (the ``COLUMNS`` environment variable;
# by default it fits the terminal), and the JSON it writes is compared with
# the report above. :ref:`cli_report` explains each part of the output.
import os
import subprocess
import sys

import skduo

command = ["evaluate", "logits_npz", "--output", "report", "--no-plots"]
print("$ python -m skduo", " ".join(command))
# PYTHONPATH: the subprocess imports the same skduo as this page
env = dict(os.environ, PYTHONPATH=str(Path(skduo.__file__).parents[1]), COLUMNS="88")
done = subprocess.run(
    [sys.executable, "-m", "skduo", *command],
    cwd=root,
    env=env,
    capture_output=True,
    text=True,
    check=True,
)
print(done.stdout)

saved = json.loads((root / "report" / "report.json").read_text())
saved_nll = {
    (r["method"], r["name"]): r["nll"] for r in saved["rows"] if r["split"] == "test"
}
assert all(np.isclose(saved_nll[r["method"], r["name"]], r["nll"]) for r in rows)
print("report.json holds the same test NLL for all", len(rows), "rows")

shutil.rmtree(root)
