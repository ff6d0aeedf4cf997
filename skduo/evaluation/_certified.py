"""The report's certified-coverage columns and their text section.

For each row and split, the coverage at which the row's classifier could
answer with a selective risk certified at ``target_risk`` (probability
``1 - delta``) by :func:`skduo.metrics.certified_threshold`, calibrated on that
split's rows (held out from every weight fit); and a short table comparing,
per large model, the temperature-scaled model alone with its duos: "how much
more can I automate with this sidekick at 2 % risk?".
"""

import warnings

import numpy as np

from skduo.evaluation._format import columns, wrap
from skduo.metrics._certified import CertificationWarning, _certify

__all__ = []  # private module

#: The row columns this module adds.
CERTIFIED_COLUMNS = (
    "certified_coverage",
    "certified_threshold",
    "certified_risk_bound",
)


def certified_columns(y, pred, conf, *, target_risk, delta):
    """The certified-coverage columns of one row on one split.

    ``pred`` are the row's predicted columns (not always the arg-max: UQ-only
    duos) and ``conf`` their confidence, as for the report's selective
    metrics. Nothing certified gives coverage 0, threshold inf and a NaN
    bound, silently (the report says what 0 means).
    """
    pred = np.asarray(pred, dtype=np.intp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CertificationWarning)
        cert = _certify(np.asarray(y) == pred, conf, None, target_risk, delta)
    return {
        "certified_coverage": cert.coverage,
        "certified_threshold": cert.threshold,
        "certified_risk_bound": cert.risk_bound,
    }


def _pct(value):
    return "-" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


def format_certified(report, *, target_risk, delta, split="test", width=100):
    """Per large model: certified coverage alone, with its duos, and the gain.

    The duo shown is the one a user would pick without test data: the lowest
    validation NLL among the large model's asymmetric duos whose sidekick has a
    non-zero weight and that beat the large model alone on validation NLL.

    Returns
    -------
    str
        Empty when the rows have no certified-coverage column on ``split``.
    """
    rows = [r for r in report.rows if r["split"] == split and "certified_coverage" in r]
    singles = {r["large"]: r for r in rows if r["method"] == "temperature"}
    if not singles:
        return ""
    lines = [["large model", "alone", "duo (by val. NLL)", "change", "all its duos"]]
    for large, base in singles.items():
        duos = [r for r in rows if r["method"] == "asymmetric" and r["large"] == large]
        if not duos:
            continue
        eligible = [
            r
            for r in duos
            if r["weights"][1] > 1e-6 * max(r["weights"])
            and r["val_nll"] < base["val_nll"]
        ]
        best = min(eligible, key=lambda r: r["val_nll"], default=None)
        covs = [r["certified_coverage"] for r in duos]
        spread = f"{_pct(min(covs))} .. {_pct(max(covs))} ({len(duos)})"
        if best is None:
            lines.append([large, _pct(base["certified_coverage"]), "none", "", spread])
            continue
        gain = 100 * (best["certified_coverage"] - base["certified_coverage"])
        lines.append(
            [
                large,
                _pct(base["certified_coverage"]),
                f"{_pct(best['certified_coverage'])} (+ {best['small']})",
                f"{gain:+.1f} pts",
                spread,
            ]
        )
    if len(lines) == 1:
        return ""
    table = columns(lines, left=1)
    if max(len(line) for line in table.splitlines()) > width:
        table = columns([line[:-1] for line in lines], left=1)
    head = wrap(
        f"Coverage certified at {100 * target_risk:g}% risk on {split}: the share "
        f"of rows answered with a selective risk <= {100 * target_risk:g}% "
        f"certified at {100 * (1 - delta):g}% (threshold calibrated on the {split} "
        "rows, which no weight fit saw; 0%: nothing certified):",
        width,
    )
    note = wrap(
        "(a difference of a few points between two models is within the sampling "
        f"noise of the {split} rows; the threshold of each row is in report.csv, "
        "column certified_threshold)",
        width,
    )
    return f"{head}\n{table}\n{note}"
