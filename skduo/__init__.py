"""skduo: Asymmetric Duos for scikit-learn.

A duo pairs a large, accurate, already-fitted classifier with a much smaller
"sidekick" and combines their logits with two learned, non-negative weights,
``f = w_large * z_large + w_small * z_small``, fitted by minimising the negative
log-likelihood on a validation set (Zhou, Shelhamer & Pleiss, NeurIPS 2025).

Subpackages
-----------
skduo.metrics
    Calibration and selective-classification metrics, scorers and displays.
skduo.torch
    Optional adapters for torch/skorch/timm members and FLOPs accounting
    (imported explicitly; ``import skduo`` never imports torch).
skduo.evaluation
    The paper's experiment as a tool: a zoo of precomputed logits, every
    (large, small) pair and baseline, reports, harm rates, sidekick selection
    (imported explicitly; also ``python -m skduo``).
skduo.onnx
    Conversion of fitted duos and baselines to ONNX with skl2onnx
    (imported explicitly; needs the ``onnx`` extra).
"""

from skduo._arrays._fits import (
    LogitEnsemble,
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._estimators._baselines import (
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
)
from skduo._estimators._duo import DuoClassifier
from skduo._estimators._selective import SelectiveClassifier
from skduo._persist import load_weights, save_weights

__version__ = "0.1.0.dev0"

__all__ = [
    "DuoClassifier",
    "LogitEnsemble",
    "SelectiveClassifier",
    "TemperatureScalingClassifier",
    "WeightedEnsembleClassifier",
    "__version__",
    "fit_deep_ensemble",
    "fit_duo",
    "fit_temperature",
    "fit_weighted_ensemble",
    "load_weights",
    "save_weights",
]
