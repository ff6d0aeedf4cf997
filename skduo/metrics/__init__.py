"""Calibration and selective-classification metrics, and scikit-learn scorers.

Every metric takes ``(y_true, y_proba, *, labels=None, sample_weight=None,
...)`` like :func:`sklearn.metrics.log_loss`: the columns of ``y_proba``
follow ``labels`` when given, else the sorted unique labels of ``y_true``.
Selective metrics also take ``confidence=`` (``'msp'``, ``'margin'``,
``'neg_entropy'``, an array or a callable) and ``y_pred=``.

Naming rule
-----------
* ``*_score`` and ``*_auroc``: higher is better -- except
  :func:`multiclass_brier_score`, a loss that keeps its historical name.
* ``*_error``, ``*_loss`` and the risk areas :func:`aurc`, :func:`eaurc`,
  :func:`augrc` (and :func:`risk_at_coverage`): lower is better.
* :func:`coverage_at_accuracy`: higher is better.
* Scorers always follow "greater is better": losses are negated and named
  ``neg_*`` (``neg_aurc_scorer``, string name ``"neg_aurc"``), as in
  scikit-learn's ``neg_log_loss``.

Functions
---------
Calibration: :func:`expected_calibration_error`, :func:`reliability_curve`.
Proper scores: :func:`multiclass_brier_score`, :func:`nll_loss`.
Selective classification: :func:`risk_coverage_curve`, :func:`aurc`,
:func:`eaurc`, :func:`augrc`, :func:`coverage_at_accuracy`,
:func:`risk_at_coverage`, :func:`correctness_auroc`, and
:func:`selective_metrics` (all of them from one sort).
Certified abstention: :func:`certified_threshold` (a threshold whose selective
risk is certified from calibration data, :class:`CertifiedThreshold`).
Scorers: ``neg_aurc_scorer``, ``neg_eaurc_scorer``, ``neg_augrc_scorer``,
``neg_ece_scorer``, ``neg_nll_scorer``, ``neg_brier_scorer``,
``correctness_auroc_scorer``, :func:`make_coverage_at_accuracy_scorer`,
:func:`make_proba_scorer`, :func:`get_scorer`, :func:`get_scorer_names`.
"""

from skduo.metrics._bootstrap import (
    ConfidenceInterval,
    PairedBootstrapResult,
    paired_bootstrap,
)
from skduo.metrics._calibration import expected_calibration_error, reliability_curve
from skduo.metrics._certified import (
    CertificationWarning,
    CertifiedThreshold,
    certified_threshold,
)
from skduo.metrics._classification import multiclass_brier_score, nll_loss
from skduo.metrics._decomposition import (
    ScoreDecomposition,
    calibration_refinement_decomposition,
    smooth_ece,
)
from skduo.metrics._display_reliability import ReliabilityDisplay
from skduo.metrics._display_risk_coverage import RiskCoverageDisplay
from skduo.metrics._named_scorers import (
    correctness_auroc_scorer,
    get_scorer,
    get_scorer_names,
    neg_augrc_scorer,
    neg_aurc_scorer,
    neg_brier_scorer,
    neg_eaurc_scorer,
    neg_ece_scorer,
    neg_nll_scorer,
)
from skduo.metrics._operating_points import (
    correctness_auroc,
    coverage_at_accuracy,
    risk_at_coverage,
)
from skduo.metrics._scorer import make_coverage_at_accuracy_scorer, make_proba_scorer
from skduo.metrics._selective import (
    augrc,
    aurc,
    eaurc,
    risk_coverage_curve,
    selective_metrics,
)

__all__ = [
    "CertificationWarning",
    "CertifiedThreshold",
    "ConfidenceInterval",
    "PairedBootstrapResult",
    "ReliabilityDisplay",
    "RiskCoverageDisplay",
    "ScoreDecomposition",
    "aurc",
    "augrc",
    "calibration_refinement_decomposition",
    "certified_threshold",
    "correctness_auroc",
    "correctness_auroc_scorer",
    "coverage_at_accuracy",
    "eaurc",
    "expected_calibration_error",
    "get_scorer",
    "get_scorer_names",
    "make_coverage_at_accuracy_scorer",
    "make_proba_scorer",
    "multiclass_brier_score",
    "neg_aurc_scorer",
    "neg_augrc_scorer",
    "neg_brier_scorer",
    "neg_eaurc_scorer",
    "neg_ece_scorer",
    "neg_nll_scorer",
    "nll_loss",
    "paired_bootstrap",
    "reliability_curve",
    "risk_at_coverage",
    "risk_coverage_curve",
    "selective_metrics",
    "smooth_ece",
]
