"""The zoo report: every duo and baseline, paper metrics, harm rates."""

import csv
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from skduo._logit_ops import softmax
from skduo._logits import (
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._vocabulary import CONFIDENCES, DUO_MODES, check_confidence
from skduo.metrics import (
    expected_calibration_error,
    multiclass_brier_score,
    nll_loss,
    selective_metrics,
)

__all__ = [
    "BALANCE_BRACKETS",
    "METRICS",
    "ZooReport",
    "compute_metrics",
    "evaluate_zoo",
]

#: (key, header, higher is better, paper-units scale or 'brier')
METRICS = (
    ("acc", "Acc", True, 100.0),
    ("f1", "F1", True, 100.0),
    ("brier", "Brier", False, "brier"),
    ("nll", "NLL", False, 100.0),
    ("ece", "ECE", False, 100.0),
    ("auroc", "AUROC", True, 100.0),
    ("aurc", "AURC", False, 100.0),
    ("eaurc", "E-AURC", False, 100.0),
    ("sac98", "SAC@98", True, 100.0),
)
_HIGHER = {key: higher for key, _, higher, _ in METRICS}

#: FLOPs-balance brackets of the harm-rate summary: [low, high)
BALANCE_BRACKETS = (
    ("<0.05", 0.0, 0.05),
    ("0.05-0.1", 0.05, 0.1),
    ("0.1-0.2", 0.1, 0.2),
    ("0.2-0.5", 0.2, 0.5),
    (">=0.5", 0.5, math.inf),
)


def compute_metrics(y, logits, pred, *, confidence="msp"):
    """The report's metrics of one classifier on one split.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Integer labels.
    logits : ndarray of shape (n_samples, n_classes)
        The classifier's (combined) logits.
    pred : ndarray of shape (n_samples,)
        Its predictions (not always the arg-max: UQ-only duos).
    confidence : {'msp', 'margin', 'neg_entropy'}
        Confidence used by the selective metrics.

    Returns
    -------
    dict
        Keys of :data:`METRICS`. ``brier`` is the multi-class Brier score (sum
        over classes); the paper prints it divided by the number of classes.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import compute_metrics
    >>> y = np.array([0, 1, 1, 0])
    >>> logits = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    >>> m = compute_metrics(y, logits, logits.argmax(axis=1))
    >>> m["acc"], round(m["nll"], 4)
    (0.5, 1.2005)
    """
    confidence = check_confidence(confidence)
    n_classes = logits.shape[1]
    labels = np.arange(n_classes)
    proba = softmax(logits)
    sel = selective_metrics(
        y,
        proba,
        labels=labels,
        confidence=confidence,
        y_pred=pred,
        accuracy=0.98,
    )
    return {
        "acc": float(np.mean(pred == y)),
        "f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "brier": float(multiclass_brier_score(y, proba, labels=labels)),
        "nll": float(nll_loss(y, logits=logits, labels=labels)),
        "ece": float(expected_calibration_error(y, proba, labels=labels)),
        "auroc": sel["correctness_auroc"],
        "aurc": sel["aurc"],
        "eaurc": sel["eaurc"],
        "sac98": sel["coverage_at_accuracy"],
    }


@dataclass
class ZooReport:
    """Result of :func:`evaluate_zoo`: one row per (method, members, split).

    Parameters
    ----------
    rows : list of dict
        Each row has ``split``, ``method`` (``'temperature'`` for a
        temperature-scaled single model, ``'asymmetric'``, ``'unweighted'``,
        ``'uq_only'`` for duos, ``'deep_ensemble'``, ``'weighted_ensemble'``),
        ``name``, ``large``, ``small``, ``members``, ``cost``,
        ``flops_balance``, ``weights``, ``val_nll``, ``n_classes`` and the
        metrics of :data:`METRICS`.
    confidence : {'msp', 'margin', 'neg_entropy'}
        Confidence used by the selective metrics.
    fitted : dict
        ``(method, members)`` to the fitted :class:`~skduo.LogitEnsemble`.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo, evaluate_zoo
    >>> rng = np.random.default_rng(0)
    >>> y_val, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    >>> zoo = LogitZoo(y_val, y_test)
    >>> for name, cost, s in [("big", 10.0, 2.0), ("small", 1.0, 1.0)]:
    ...     zoo.add(name, val=rng.normal(size=(300, 3)) + s * np.eye(3)[y_val],
    ...             test=rng.normal(size=(300, 3)) + s * np.eye(3)[y_test], cost=cost)
    >>> report = evaluate_zoo(zoo)
    >>> sorted({row["method"] for row in report.rows})
    ['asymmetric', 'temperature', 'unweighted', 'uq_only', 'weighted_ensemble']
    >>> report.get("asymmetric", "big", "small")["flops_balance"]
    0.1
    """

    rows: list
    confidence: str = "msp"
    fitted: dict = field(default_factory=dict, repr=False)

    def get(self, method, large, small=None, split="test"):
        """The row of one method, large model and (for duos) sidekick.

        Parameters
        ----------
        method : str
            Row method.
        large : str
            Large model (for ensembles: the first member).
        small : str, default=None
            Sidekick (duos only).
        split : str, default='test'
            Split.

        Returns
        -------
        dict
        """
        for row in self.rows:
            if (
                row["method"] == method
                and row["large"] == large
                and row["small"] == small
                and row["split"] == split
            ):
                return row
        raise KeyError(f"No row for {method!r}, {large!r}, {small!r}, {split!r}.")

    def harm_rates(self, method="asymmetric", split="test", *, rtol=1e-6):
        """Fraction of duos worse than the temperature-scaled large model.

        For each metric and FLOPs-balance bracket, the fraction of duos of
        ``method`` whose test metric is worse than that of their own large
        model temperature-scaled alone by more than ``rtol`` (relative): ties
        are not harm, and neither are round-off differences, e.g. a duo whose
        sidekick weight is 0 reaches the large model's temperature through a
        different optimiser path. Pairs where either value is NaN are left out.

        Parameters
        ----------
        method : {'asymmetric', 'unweighted', 'uq_only'}, default='asymmetric'
            Duo mode.
        split : str, default='test'
            Split.
        rtol : float, default=1e-6
            Relative difference below which two values are a tie.

        Returns
        -------
        list of dict
            One dict per bracket of :data:`BALANCE_BRACKETS` that holds duos,
            then ``'all'`` (and ``'unknown'`` for duos without costs): keys
            ``bracket``, ``n_duos`` and one fraction per metric.
        """
        duos = [r for r in self.rows if r["method"] == method and r["split"] == split]
        base = {
            r["large"]: r
            for r in self.rows
            if r["method"] == "temperature" and r["split"] == split
        }
        groups = [(label, lo, hi) for label, lo, hi in BALANCE_BRACKETS]
        out = []

        def summary(label, members):
            entry = {"bracket": label, "n_duos": len(members)}
            for key, *_ in METRICS:
                harmed = compared = 0
                for row in members:
                    a, b = row[key], base[row["large"]][key]
                    if a is None or b is None or np.isnan(a) or np.isnan(b):
                        continue
                    compared += 1
                    worse = (b - a) if _HIGHER[key] else (a - b)
                    harmed += worse > rtol * abs(b)
                entry[key] = harmed / compared if compared else float("nan")
            return entry

        for label, lo, hi in groups:
            members = [
                r
                for r in duos
                if r["flops_balance"] is not None and lo <= r["flops_balance"] < hi
            ]
            if members:
                out.append(summary(label, members))
        unknown = [r for r in duos if r["flops_balance"] is None]
        if unknown:
            out.append(summary("unknown", unknown))
        out.append(summary("all", duos))
        return out

    def format_table(self, *, paper_units=False, methods=None, split="test"):
        """The rows as a fixed-width text table.

        Parameters
        ----------
        paper_units : bool, default=False
            Print the paper's units: Acc, F1, AUROC, SAC, NLL, ECE, AURC and
            E-AURC ×100, Brier ×10⁴ of the per-entry value (multi-class Brier
            divided by the number of classes), FLOPs balance in %.
        methods : sequence of str, default=None
            Methods to include (default: all).
        split : str, default='test'
            Split.

        Returns
        -------
        str
        """
        rows = [
            r
            for r in self.rows
            if r["split"] == split and (methods is None or r["method"] in methods)
        ]
        return _format_rows(rows, paper_units)

    def format_harm_rates(self, method="asymmetric", split="test"):
        """The harm rates of :meth:`harm_rates` as a text table (in %).

        Parameters
        ----------
        method : str, default='asymmetric'
            Duo mode.
        split : str, default='test'
            Split.

        Returns
        -------
        str
        """
        entries = self.harm_rates(method, split)
        header = ["balance", "n"] + [h for _, h, _, _ in METRICS]
        lines = [header]
        for e in entries:
            cells = [e["bracket"], str(e["n_duos"])]
            cells += [_pct(e[key]) for key, *_ in METRICS]
            lines.append(cells)
        return _columns(lines)

    def to_csv(self, path):
        """Write the rows as CSV (lists joined by spaces); returns the path.

        Parameters
        ----------
        path : str or path-like
            Output file.

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        keys = _row_keys(self.rows)
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _csv_value(row.get(k)) for k in keys})
        return path

    def to_json(self, path, **extra):
        """Write rows, harm rates (every duo mode and split) and ``extra`` as JSON.

        Parameters
        ----------
        path : str or path-like
            Output file.
        **extra
            Further JSON-serialisable entries (e.g. the sidekick selection).

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        splits = sorted({r["split"] for r in self.rows})
        harm = {
            split: {m: self.harm_rates(m, split) for m in DUO_MODES} for split in splits
        }
        payload = {
            "confidence": self.confidence,
            "metrics": [k for k, *_ in METRICS],
            "rows": self.rows,
            "harm_rates": harm,
            **extra,
        }
        path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
        return path


def _row_keys(rows):
    keys = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    return keys


def _csv_value(value):
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "" if value is None else value


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _pct(value):
    return "-" if value is None or np.isnan(value) else f"{100 * value:.0f}%"


def _columns(lines, left=1):
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _scaled(row, key, scale, paper_units):
    value = row[key]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "nan"
    if not paper_units:
        return f"{value:.4f}"
    if scale == "brier":
        return f"{1e4 * value / row['n_classes']:.2f}"
    return f"{scale * value:.2f}"


def _format_rows(rows, paper_units):
    header = ["method", "model", "balance"] + [h for _, h, _, _ in METRICS]
    header += ["weights"]
    lines = [header]
    for row in rows:
        bal = row["flops_balance"]
        if bal is None:
            bal_s = "?"
        else:
            bal_s = f"{100 * bal:.1f}%" if paper_units else f"{bal:.3f}"
        cells = [row["method"], row["name"], bal_s]
        cells += [_scaled(row, k, s, paper_units) for k, _, _, s in METRICS]
        cells.append(" ".join(f"{w:.3g}" for w in row["weights"]))
        lines.append(cells)
    note = (
        "paper units: Acc/F1/AUROC/SAC/NLL/ECE/AURC/E-AURC x100, Brier x1e4 per "
        "entry, balance in %"
        if paper_units
        else "raw units (Brier: multi-class, summed over classes)"
    )
    return _columns(lines, left=2) + f"\n({note})"


def _pairs(zoo):
    """(large, small) pairs: cost(small) < cost(large), or all ordered pairs."""
    names = list(zoo.models)
    costs = {n: zoo.models[n].cost for n in names}
    if all(c is not None for c in costs.values()):
        return [
            (a, b) for a in names for b in names if a != b and costs[b] < costs[a]
        ], True
    return [(a, b) for a in names for b in names if a != b], False


def _progress(iterable, total, enabled, desc):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


def _rows(zoo, ens, method, members, *, large, small, balance, splits, confidence):
    """One report row per evaluation split of a fitted ensemble of ``members``."""
    models = zoo.models
    cost = None
    if all(models[m].cost is not None for m in members):
        cost = float(sum(models[m].cost for m in members))
    rows = []
    for split in splits:
        logits = [models[m].logits[split] for m in members]
        z = ens.decision_logits(*logits)
        row = {
            "split": split,
            "method": method,
            "name": _row_name(method, members),
            "large": large,
            "small": small,
            "members": list(members),
            "cost": cost,
            "flops_balance": balance,
            "weights": [float(w) for w in ens.weights],
            "val_nll": float(ens.validation_nll),
            "n_classes": int(z.shape[1]),
        }
        row.update(
            compute_metrics(
                zoo.labels[split], z, ens.predict(*logits), confidence=confidence
            )
        )
        rows.append(row)
    return rows


def _single_fits(zoo):
    """Every model temperature-scaled alone: ``[(method, members, ens, ...)]``."""
    y_val = zoo.labels["val"]
    return [
        (
            "temperature",
            [name],
            fit_temperature(model.logits["val"], y_val),
            name,
            None,
            0.0,
        )
        for name, model in zoo.models.items()
    ]


def _duo_fits(zoo, duo_modes, progress):
    """Every (large, small) pair in each duo mode, fitted as :func:`fit_duo` does."""
    models, y_val = zoo.models, zoo.labels["val"]
    pairs, by_cost = _pairs(zoo)
    fits = []
    for large, small in _progress(pairs, len(pairs), progress, "duos"):
        balance = models[small].cost / models[large].cost if by_cost else None
        z_l, z_s = models[large].logits["val"], models[small].logits["val"]
        asym = None
        for mode in duo_modes:
            if mode in ("asymmetric", "uq_only") and asym is not None:
                # the same fit as fit_duo(mode=...): only the prediction differs
                ens = replace(asym, mode=mode)
            else:
                ens = fit_duo(z_l, z_s, y_val, mode=mode)
                if mode in ("asymmetric", "uq_only"):
                    asym = ens
            fits.append((mode, [large, small], ens, large, small, balance))
    return fits


def _ensemble_fits(zoo):
    """Deep ensembles of each group's first ``m`` members, one learned ensemble."""
    models, y_val = zoo.models, zoo.labels["val"]
    groups = {}
    for name, model in models.items():
        if model.group is not None:
            groups.setdefault(model.group, []).append(name)
    fits = []
    for members in groups.values():
        for m in range(2, len(members) + 1):
            subset = members[:m]
            ens = fit_deep_ensemble([models[n].logits["val"] for n in subset], y_val)
            balance = _ensemble_balance(models, subset)
            fits.append(("deep_ensemble", subset, ens, subset[0], None, balance))
    if len(models) >= 2:
        names = list(models)
        if all(model.cost is not None for model in models.values()):
            names.sort(key=lambda n: -models[n].cost)  # balance relative to first
        ens = fit_weighted_ensemble([models[n].logits["val"] for n in names], y_val)
        balance = _ensemble_balance(models, names)
        fits.append(("weighted_ensemble", names, ens, names[0], None, balance))
    return fits


def evaluate_zoo(
    zoo,
    *,
    confidence="msp",
    ood=True,
    duo_modes=DUO_MODES,
    ensembles=True,
    progress=False,
):
    """Evaluate every duo of a zoo and every baseline, fitted on validation only.

    Every model temperature-scaled alone; every (large, small) pair with
    ``cost(small) < cost(large)`` in each duo mode (all ordered pairs when some
    cost is unknown); deep ensembles (pool-then-calibrate) of the first ``m``
    members of each group for ``m = 2 ..`` group size; and one learned-weight
    ensemble of all models. Weights are fitted on the validation split only and
    reused unchanged on the test (and OOD test) split.

    Parameters
    ----------
    zoo : LogitZoo
        The models.
    confidence : {'msp', 'margin', 'neg_entropy'}, default='msp'
        Confidence for AUROC, AURC, E-AURC and SAC@98: the probability of the
        predicted class (for UQ-only duos, the duo's probability of the large
        model's class), its margin over the runner-up, or minus the entropy of
        the probabilities (``'entropy'``, its former name, warns).
    ood : bool, default=True
        Also evaluate the ``ood_test`` split when the zoo has one.
    duo_modes : sequence of {'asymmetric', 'unweighted', 'uq_only'}
        Duo modes to evaluate.
    ensembles : bool, default=True
        Include the deep-ensemble and learned-weight ensemble rows.
    progress : bool, default=False
        Show a progress bar (tqdm, when installed).

    Returns
    -------
    ZooReport

    Notes
    -----
    ``flops_balance`` is ``cost(small) / cost(large)`` for a duo, 0 for a
    single model and ``(total cost - cost(first)) / cost(first)`` for an
    ensemble (1 for two equal members, as in the paper).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo, evaluate_zoo
    >>> rng = np.random.default_rng(0)
    >>> y_val, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    >>> zoo = LogitZoo(y_val, y_test)
    >>> for name, cost, s in [("big", 10.0, 2.0), ("small", 1.0, 1.0)]:
    ...     zoo.add(name, val=rng.normal(size=(300, 3)) + s * np.eye(3)[y_val],
    ...             test=rng.normal(size=(300, 3)) + s * np.eye(3)[y_test], cost=cost)
    >>> report = evaluate_zoo(zoo)
    >>> len(report.rows)  # 2 singles, 3 duo modes, 1 learned ensemble
    6
    """
    confidence = check_confidence(confidence, allowed=CONFIDENCES)
    bad = set(duo_modes) - set(DUO_MODES)
    if bad:
        raise ValueError(f"Unknown duo mode(s) {sorted(bad)}; use {DUO_MODES}.")
    if len(zoo.models) == 0:
        raise ValueError("The zoo has no models.")
    splits = [s for s in zoo.splits if s != "val" and (ood or s != "ood_test")]
    fits = _single_fits(zoo) + _duo_fits(zoo, duo_modes, progress)
    if ensembles:
        fits += _ensemble_fits(zoo)
    rows, fitted = [], {}
    for method, members, ens, large, small, balance in fits:
        fitted[(method, tuple(members))] = ens
        rows += _rows(
            zoo,
            ens,
            method,
            members,
            large=large,
            small=small,
            balance=balance,
            splits=splits,
            confidence=confidence,
        )
    return ZooReport(rows, confidence, fitted)


def _row_name(method, members):
    if method not in ("deep_ensemble", "weighted_ensemble"):
        return " + ".join(members)
    inner = ", ".join(members) if len(members) <= 3 else f"{len(members)} models"
    return f"{method.split('_')[0]}[{inner}]"


def _ensemble_balance(models, members):
    costs = [models[m].cost for m in members]
    if any(c is None for c in costs):
        return None
    return (sum(costs) - costs[0]) / costs[0]
