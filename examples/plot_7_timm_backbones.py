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
folds, scorers and candidates reuse its cached logits.

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
from skduo.metrics import aurc, expected_calibration_error, get_scorer, nll_loss
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


for name in ("test_resnet", "test_efficientnet"):
    model = timm.create_model(name, pretrained=False, num_classes=10, in_chans=1)
    path = os.path.join(checkpoints, f"{name}.pth")
    torch.save(fine_tune(model).state_dict(), path)

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
# Test metrics
# ------------
# Fitted on the whole validation set, evaluated on the test images.
duo.fit(X_val, y_val)
ts.fit(X_val, y_val)
print("duo weights (large, small):", duo.weights_.round(3))
for label, model in (("large (T-scaled)", ts), ("duo", duo)):
    proba = model.predict_proba(X_test)
    acc = np.mean(model.classes_[proba.argmax(1)] == y_test)
    print(
        f"{label:17s} accuracy {acc:.4f}  NLL {nll_loss(y_test, proba):.4f}  "
        f"ECE {expected_calibration_error(y_test, proba):.4f}  "
        f"AURC {aurc(y_test, proba):.5f}"
    )

# %%
# The risk-coverage curves of both on the test images: the error rate among
# the predictions each keeps, as it abstains on its least confident ones (the
# area under each curve is its AURC).
import matplotlib.pyplot as plt

from skduo.metrics import RiskCoverageDisplay

fig, ax = plt.subplots(figsize=(6.5, 4))
RiskCoverageDisplay.from_estimator(ts, X_test, y_test, name="large (T-scaled)", ax=ax)
RiskCoverageDisplay.from_estimator(duo, X_test, y_test, name="duo", ax=ax)
ax.set_title("test_resnet + test_efficientnet sidekick, digits test images")
fig.tight_layout()
plt.show()

# %%
# Logits once (on the GPU), everything else on a CPU
# --------------------------------------------------
# The backbones are the only part that needs an accelerator. Compute the
# validation and test logits once where the GPU is (``device="cuda"`` in
# ``as_member``; here the CPU), save them, and fit and evaluate anywhere
# with the array API: the same weights as the estimator above.
from skduo import fit_duo, fit_temperature
from skduo.torch import net_logits

saved = tempfile.mkdtemp()
for name, member in (("large", large), ("small", small)):
    for split, images in (("val", X_val), ("test", X_test)):
        z = net_logits(member, images).astype(np.float32)
        np.save(os.path.join(saved, f"{name}_{split}.npy"), z)


def saved_logits(name, split):
    return np.load(os.path.join(saved, f"{name}_{split}.npy"))


duo_arrays = fit_duo(saved_logits("large", "val"), saved_logits("small", "val"), y_val)
ts_arrays = fit_temperature(saved_logits("large", "val"), y_val)
print("weights from the saved logits:", duo_arrays.weights.round(3))
proba_duo = duo_arrays.predict_proba(
    saved_logits("large", "test"), saved_logits("small", "test")
)
proba_ts = ts_arrays.predict_proba(saved_logits("large", "test"))
print(
    f"test NLL from the saved logits: large (T-scaled) "
    f"{nll_loss(y_test, proba_ts):.4f}, duo {nll_loss(y_test, proba_duo):.4f}"
)
