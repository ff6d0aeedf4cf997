"""Evaluation toolkit: duos and baselines over a zoo of models' logits.

A subpackage imported explicitly (``import skduo`` does not import it). It
answers "does a sidekick help my model, and which one?" from logits computed
once per model on a validation and a test split:

- :class:`LogitZoo` holds the models' logits, labels and costs;
  :func:`load_logits_dir` / :func:`save_logits_dir` read and write them (NumPy
  layouts and the official repository's CSV layout);
  :func:`save_member_logits` writes that layout (logits, labels, FLOPs) from
  fitted members (torch nets, scikit-learn models) and named splits;
- :func:`evaluate_zoo` fits, on the validation split only, every model
  temperature-scaled, every (large, small) duo with ``cost(small) <
  cost(large)`` in each mode, deep ensembles (pool-then-calibrate) and a
  learned-weight ensemble, and scores them on the test split: Acc, macro-F1,
  Brier, NLL, ECE, correctness AUROC, AURC, E-AURC, SAC@98, the smooth ECE,
  the calibration / refinement parts of NLL and Brier, FLOPs balance, the
  learned weights and (``target_risk=``) the coverage certified at a selective
  risk, and compares every duo with its temperature-scaled large
  model by a paired bootstrap over the test rows; :class:`ZooReport` prints
  them (optionally in the paper's units, fitted to a terminal width), writes
  CSV/JSON, summarises the **harm rate** (fraction of duos worse than their
  temperature-scaled large model, and significantly worse / better) by
  FLOPs-balance bracket, and states what to conclude;
- :func:`compare` scores one fitted duo against the temperature-scaled large
  model and the members alone on a test set, with paired bootstrap verdicts
  (:class:`Comparison`: a text table and a DataFrame);
- :func:`select_sidekick` recommends a sidekick under a compute budget by
  validation NLL;
- :func:`plot_risk_coverage` and :func:`plot_metric_vs_balance` save PNGs
  (matplotlib is imported only inside them).

The command line ``python -m skduo evaluate PATH`` runs all of this.
"""

from skduo.evaluation._compare import Comparison, compare
from skduo.evaluation._fits import evaluate_zoo
from skduo.evaluation._io import load_logits_dir, save_logits_dir
from skduo.evaluation._members import save_member_logits
from skduo.evaluation._metrics import BALANCE_BRACKETS, METRICS, compute_metrics
from skduo.evaluation._plots import plot_metric_vs_balance, plot_risk_coverage
from skduo.evaluation._report import ZooReport
from skduo.evaluation._selection import SidekickSelection, select_sidekick
from skduo.evaluation._zoo import LogitZoo, ModelLogits

__all__ = [
    "BALANCE_BRACKETS",
    "Comparison",
    "LogitZoo",
    "METRICS",
    "ModelLogits",
    "SidekickSelection",
    "ZooReport",
    "compare",
    "compute_metrics",
    "evaluate_zoo",
    "load_logits_dir",
    "plot_metric_vs_balance",
    "plot_risk_coverage",
    "save_logits_dir",
    "save_member_logits",
    "select_sidekick",
]
