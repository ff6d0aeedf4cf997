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

To run anywhere in seconds this uses randomly initialised (``pretrained=False``)
networks on the 8x8 ``load_digits`` images, trained for a few epochs on the
CPU. With real data, pass ``pretrained=True`` (downloads weights), a GPU
``device="cuda"`` and more epochs; nothing else changes.

This script is rendered but not executed when the documentation is built (it
takes about two minutes on one CPU core). A run on a 2-core machine printed::

    weights (large, small): [0.46  0.378]
    large member     11.66 M MACs per sample
    small member     5.526 M MACs per sample
    duo (total)      17.18 M MACs per sample
    FLOPs balance    0.4741 (small / large)
    extra compute    +47.41% over the large member alone
    large  accuracy 0.9267  NLL 0.2595  ECE 0.0293  AURC 0.00988
    small  accuracy 0.8911  NLL 0.3790  ECE 0.0496  AURC 0.01762
    duo    accuracy 0.9422  NLL 0.1729  ECE 0.0212  AURC 0.00530
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
large = make_timm_classifier("resnet18", max_epochs=8, **common)
small = make_timm_classifier("resnet10t", max_epochs=8, **common)
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
