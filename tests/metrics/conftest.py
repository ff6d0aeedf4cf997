"""Fixtures for the metrics tests: the PAPER.md section 3 toy example."""

import numpy as np
import pytest

# PAPER.md section 3: 8 samples, 3 classes, run through the official
# `compute_metrics` in float32; reference outputs below.
TOY_PROBA = np.array(
    [
        [0.90, 0.05, 0.05],
        [0.80, 0.15, 0.05],
        [0.10, 0.70, 0.20],
        [0.30, 0.60, 0.10],
        [0.20, 0.30, 0.50],
        [0.45, 0.40, 0.15],
        [0.34, 0.33, 0.33],
        [0.05, 0.05, 0.90],
    ]
)
TOY_Y = np.array([0, 1, 1, 1, 2, 1, 0, 2])
TOY_REFERENCE = {
    "accuracy": 0.75,
    "brier_divided_by_k": 0.1422249973,
    "nll": 0.7079486847,
    "ece": 0.4137499630,
    "cp_auroc": 0.5833333333,
    "aurc": 0.1857142857,
    "eaurc": 0.1366071429,
    "sac": 0.25,  # SAC@90 ... SAC@99
}


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def toy(request):
    """(y_true, y_proba, reference) of the PAPER.md toy, in both precisions."""
    return TOY_Y.copy(), TOY_PROBA.astype(request.param), dict(TOY_REFERENCE)
