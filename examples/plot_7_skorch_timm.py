"""
==============================================
A duo of two timm networks trained with skorch
==============================================

Neural members work like any other: :func:`skduo.torch.make_timm_classifier`
wraps a `timm <https://github.com/huggingface/pytorch-image-models>`_
backbone in a skorch ``NeuralNetClassifier`` (a scikit-learn estimator), and
:class:`~skduo.DuoClassifier` reads the fitted nets' true logits rather than
their float32 softmax. :func:`skduo.torch.duo_compute_report` counts the cost
of both members and the FLOPs balance.

To run anywhere in seconds this uses timm's tiny test architectures
(``test_resnet`` as the large member, ``test_efficientnet`` as the sidekick),
randomly initialised (``pretrained=False``), on the 8x8 ``load_digits`` images,
trained for a few epochs on the CPU. With real data, pick real backbones
(``resnet50``, ``efficientnet_b0``, ...), pass ``pretrained=True`` (downloads
weights), a GPU ``device="cuda"`` and more epochs; nothing else changes.
"""

# %%
# Images and splits
# -----------------
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skduo import DuoClassifier
from skduo.metrics import aurc, expected_calibration_error, nll_loss
from skduo.torch import duo_compute_report, make_timm_classifier

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
# Two timm backbones of different size
# ------------------------------------
common = dict(num_classes=10, in_chans=1, pretrained=False, lr=3e-3, batch_size=64)
large = make_timm_classifier("test_resnet", max_epochs=10, **common)
small = make_timm_classifier("test_efficientnet", max_epochs=10, **common)
large.fit(X_train, y_train)
small.fit(X_train, y_train)

# %%
# The duo and its cost
# --------------------
duo = DuoClassifier(large, small).fit(X_val, y_val)
print("weights (large, small):", duo.weights_.round(3))
print(duo_compute_report(duo, X_test[:1]))

# %%
# Test metrics
# ------------
for name, model in {"large": large, "small": small, "duo": duo}.items():
    proba = model.predict_proba(X_test)
    acc = np.mean(model.classes_[proba.argmax(1)] == y_test)
    print(
        f"{name:6s} accuracy {acc:.4f}  NLL {nll_loss(y_test, proba):.4f}  "
        f"ECE {expected_calibration_error(y_test, proba):.4f}  "
        f"AURC {aurc(y_test, proba):.5f}"
    )
