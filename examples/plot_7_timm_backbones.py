"""
=============================
Your fine-tuned timm models
=============================

You have two backbones fine-tuned on your task -- a large one and a cheap
sidekick -- saved as checkpoints, and a held-out validation set.
:func:`skduo.torch.as_member` turns each loaded module into a fitted
scikit-learn classifier in one line (no training, no optimizer);
:class:`~skduo.DuoClassifier` combines their logits; cross-validation on the
validation set compares the duo with the temperature-scaled large model, the
baseline it must beat. Each backbone runs over each validation image once: the
folds, scorers and candidates reuse its cached logits. Then the rest of the
path: a Dataset through model selection, the fitted duo against its baselines
on the test set with paired bootstrap verdicts, a logits folder for
``python -m skduo evaluate``, and the duo saved as JSON next to its
checkpoints.

To run anywhere in seconds, the backbones are timm's tiny test architectures
(``test_resnet`` as the large member, ``test_efficientnet`` as the sidekick),
randomly initialised (``pretrained=False``) and fine-tuned here for a few
epochs with a plain torch loop on the 8x8 ``load_digits`` images. With your own
models, skip the training cell: load your checkpoints and pass
``device="cuda"`` (and ``precision="bfloat16"``) to ``as_member``; nothing
else changes.
"""

# %%
# Images and splits
# -----------------
import os
import tempfile

import numpy as np
import timm
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split

from skduo import DuoClassifier, TemperatureScalingClassifier
from skduo.metrics import get_scorer
from skduo.torch import as_member, duo_compute_report, logits_cache

torch.manual_seed(0)
torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # (n, channels, h, w)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)

# %%
# Fine-tuning, as your own script would do it
# -------------------------------------------
# A bare torch loop (no skorch), then ``torch.save`` of each ``state_dict``.
checkpoints = tempfile.mkdtemp()


def fine_tune(model, epochs=12):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    X_t, y_t = torch.from_numpy(X_train), torch.from_numpy(y_train)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X_t)).split(64):
            opt.zero_grad()
            F.cross_entropy(model(X_t[idx]), y_t[idx]).backward()
            opt.step()
    return model


# the large backbone gets the longer fine-tuning; the sidekick a short one
for name, epochs in (("test_resnet", 12), ("test_efficientnet", 3)):
    model = timm.create_model(name, pretrained=False, num_classes=10, in_chans=1)
    path = os.path.join(checkpoints, f"{name}.pth")
    torch.save(fine_tune(model, epochs).state_dict(), path)

# %%
# Checkpoint -> module -> member
# ------------------------------
# Load each checkpoint into its architecture; ``as_member`` needs the label of
# each output column (here the digits 0-9, in order).


def load(name):
    model = timm.create_model(name, pretrained=False, num_classes=10, in_chans=1)
    path = os.path.join(checkpoints, f"{name}.pth")
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


large = as_member(load("test_resnet"), classes=range(10), batch_size=256)
small = as_member(load("test_efficientnet"), classes=range(10), batch_size=256)
print(duo_compute_report(DuoClassifier(large, small), X_val[:1]))

# %%
# Cross-validated comparison on the validation set
# ------------------------------------------------
# Both estimators are fitted on the validation folds (the members stay as
# they are) and scored on the held-out fold. The duo's validation NLL can
# never be above the temperature-scaled large model's on the data it is
# fitted on; cross-validation checks that the gain holds on unseen rows.
scoring = get_scorer("neg_nll")
duo = DuoClassifier(large, small)
ts = TemperatureScalingClassifier(large)
for label, model in (("temperature-scaled large", ts), ("duo", duo)):
    scores = -cross_val_score(model, X_val, y_val, cv=5, scoring=scoring)
    print(f"{label:25s} cross-validated NLL {scores.mean():.4f} +- {scores.std():.4f}")
info = logits_cache.info()
print(
    f"rows through the backbones: {info['misses']} "
    f"({len(X_val)} validation images x 2 members)"
)
print(f"rows served from the cache: {info['hits']}")

# %%
# A Dataset through model selection
# ---------------------------------
# Images usually come as a ``Dataset`` with a transform. scikit-learn splits
# ``X`` by indexing it, which turns a plain Dataset into a list of ``(x, y)``
# tuples; :class:`~skduo.torch.IndexableDataset` splits into Datasets instead
# and keys the cache by the dataset's contents and row positions (the labels
# are read from the dataset).
from sklearn.model_selection import GridSearchCV
from torch.utils.data import Dataset

from skduo.torch import IndexableDataset


class Digits(Dataset):
    """uint8 images, converted to float by the transform when an item is read."""

    def __init__(self, images, labels):
        self.images = torch.from_numpy((images * 16).astype(np.uint8))
        self.targets = labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i].float() / 16.0, int(self.targets[i])


val_data = IndexableDataset(Digits(X_val, y_val))
logits_cache.clear()
search = GridSearchCV(duo, {"mode": ["asymmetric", "unweighted"]}, scoring=scoring)
search.fit(val_data, y_val)
print(
    f"best mode {search.best_params_['mode']!r}; rows through the backbones: "
    f"{logits_cache.info()['misses']} ({len(val_data)} images x 2 members)"
)

# %%
# The fitted duo against its baselines, with verdicts
# ---------------------------------------------------
# Fitted on the whole validation set, evaluated on the test images:
# :func:`skduo.evaluation.compare` scores the duo, the temperature-scaled
# large model (fitted on the same validation data) and each member alone, and
# gives each difference a paired bootstrap interval and a verdict for the duo.
from skduo.evaluation import compare

duo.fit(X_val, y_val)
print("duo weights (large, small):", duo.weights_.round(3))
result = compare(duo, X_test, y_test, X_val=X_val, y_val=y_val, random_state=0)
print(result.table)

# %%
# ``result.to_frame()`` is the same as a pandas DataFrame, one row per model
# and metric.
print(result.to_frame().query("model == 'temperature'").round(4).to_string())

# %%
# The risk-coverage curves of the duo and the temperature-scaled large
# model on the test images: the error rate among the predictions each keeps,
# as it abstains on its least confident ones (the area under each curve is
# its AURC).
ts.fit(X_val, y_val)
import matplotlib.pyplot as plt

from skduo.metrics import RiskCoverageDisplay

fig, ax = plt.subplots(figsize=(6.5, 4))
RiskCoverageDisplay.from_estimator(ts, X_test, y_test, name="large (T-scaled)", ax=ax)
RiskCoverageDisplay.from_estimator(duo, X_test, y_test, name="duo", ax=ax)
ax.set_title("test_resnet + test_efficientnet sidekick, digits test images")
fig.tight_layout()
plt.show()


# %%
# A logits folder for the command line
# ------------------------------------
# The backbones are the only part that needs an accelerator. Compute the
# validation and test logits once where the GPU is (``device="cuda"`` in
# ``as_member``; here the CPU): :func:`skduo.evaluation.save_member_logits`
# writes them with the labels and each backbone's multiply-adds per image
# (``costs.json``, by :func:`~skduo.torch.count_flops`), the layout that
# ``python -m skduo evaluate`` reads anywhere, GPU or not.
import subprocess
import sys

from skduo.evaluation import load_logits_dir, save_member_logits

workdir = tempfile.mkdtemp()
saved = os.path.join(workdir, "logits")
save_member_logits(
    saved,
    {"large": large, "small": small},
    {"val": (X_val, y_val), "test": (X_test, y_test)},
)
cli = subprocess.run(
    [sys.executable, "-m", "skduo", "evaluate", "logits", "--no-plots",
     "--output", "report"],
    capture_output=True, text=True, check=True, cwd=workdir,
)  # fmt: skip
print(cli.stdout[: cli.stdout.index("Harm rate")])

# %%
# The same folder feeds the array API: the same weights as the estimator.
from skduo import fit_duo

zoo = load_logits_dir(saved)
large_val, small_val = (zoo.models[m].logits["val"] for m in ("large", "small"))
print(
    "weights from the saved logits:",
    fit_duo(large_val, small_val, y_val).weights.round(3),
)

# %%
# Saving and serving without pickle
# ---------------------------------
# The duo is its two checkpoints plus two weights. :func:`skduo.save_weights`
# writes the weights, classes and fit results as JSON with a digest of each
# member's ``state_dict``; :func:`skduo.load_weights` rebuilds the fitted duo
# over members loaded from the checkpoints, checks the digests and refits
# nothing: its probabilities are bitwise the same (with the same batch size:
# a batched forward pass rounds differently in other batches).
from skduo import load_weights, save_weights

weights_file = os.path.join(checkpoints, "duo.json")
save_weights(duo, weights_file)
served = load_weights(
    weights_file,
    large=as_member(load("test_resnet"), classes=range(10), batch_size=256),
    small=as_member(load("test_efficientnet"), classes=range(10), batch_size=256),
)
same = np.array_equal(served.predict_proba(X_test), duo.predict_proba(X_test))
print(f"rebuilt from checkpoints + {os.path.getsize(weights_file)} bytes of JSON:",
      "identical probabilities" if same else "DIFFERENT")  # fmt: skip
