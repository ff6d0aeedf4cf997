"""The zoo report: its rows, harm rates with significance, files and views."""

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from skduo._vocabulary import DUO_MODES
from skduo.evaluation import _format
from skduo.evaluation._files import atomic_write
from skduo.evaluation._metrics import BALANCE_BRACKETS, HIGHER, METRICS

__all__ = ["ZooReport"]


@dataclass(repr=False)
class ZooReport:
    """Result of :func:`evaluate_zoo`: one row per (method, members, split).

    Parameters
    ----------
    rows : list of dict
        Each row has ``split``, ``method`` (``'temperature'`` for a
        temperature-scaled single model, ``'asymmetric'``, ``'unweighted'``,
        ``'uq_only'`` for duos, ``'deep_ensemble'``, ``'weighted_ensemble'``),
        ``name``, ``large``, ``small``, ``members``, ``cost``,
        ``flops_balance``, ``weights``, ``val_nll``, ``n_classes``, the
        metrics of :data:`METRICS` and the further columns listed in
        :func:`evaluate_zoo` (smooth ECE, calibration / refinement parts, the
        paired comparison of each duo with its large model).
    confidence : {'msp', 'margin', 'neg_entropy'}
        Confidence used by the selective metrics.
    fitted : dict
        ``(method, members)`` to the fitted :class:`~skduo.LogitEnsemble`.
    n_resamples : int, default=0
        Bootstrap resamples behind the comparisons (0: none).
    confidence_level : float, default=0.95
        ``1 - alpha`` of the verdicts.
    correction : {'holm', 'bh', 'none'} or None, default=None
        Multiplicity control of the verdicts (None: no comparisons).
    min_effect : float or dict, default=0.0
        Smallest difference that counts (see :func:`evaluate_zoo`).
    families : dict, default=None
        ``'<split>/<mode>'`` to the family of comparisons the correction runs
        over: ``split``, ``mode``, ``n_duos``, ``n_metrics``,
        ``n_comparisons``.
    notes : list of str, default=None
        Conditions met during the fits (separation, probabilities used as
        logits, test rows out of order), each stated once per model.
    roles : {'costs'} or None, default=None
        Where the large / sidekick roles come from: the costs, or nowhere
        (without costs every ordered pair is fitted and no model is called
        large unless one is named).

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
    >>> report = evaluate_zoo(zoo, ensembles=False)
    >>> report
    ZooReport(5 rows on test: 2 temperature, 1 asymmetric, 1 unweighted, 1 uq_only; \
confidence='msp', 1000 resamples at 95%, holm)
    >>> row = report.get("asymmetric", "big", "small")
    >>> row["weights"] == [float(w) for w in report.fitted[("asymmetric",
    ...     ("big", "small"))].weights]
    True
    >>> print(report.format_harm_rates(width=80))  # worse/sig. worse/sig. better
    metric  0.1-0.2 (1)  all (1)
    ------  -----------  -------
    Acc           0/0/0    0/0/0
    F1            0/0/0    0/0/0
    Brier         0/0/0    0/0/0
    NLL           0/0/0    0/0/0
    ECE           0/0/0    0/0/0
    AUROC       100/0/0  100/0/0
    AURC          0/0/0    0/0/0
    E-AURC        0/0/0    0/0/0
    SAC@98        0/0/0    0/0/0
    """

    rows: list
    confidence: str = "msp"
    fitted: dict = field(default_factory=dict)
    n_resamples: int = 0
    confidence_level: float = 0.95
    correction: str | None = None
    min_effect: object = 0.0
    families: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    roles: str | None = None

    def __repr__(self):
        splits = []
        for split in dict.fromkeys(r["split"] for r in self.rows):
            counts = {}
            for r in self.rows:
                if r["split"] == split:
                    counts[r["method"]] = counts.get(r["method"], 0) + 1
            inner = ", ".join(f"{n} {m}" for m, n in counts.items())
            splits.append(f"{sum(counts.values())} rows on {split}: {inner}")
        tests = (
            f"{self.n_resamples} resamples at {100 * self.confidence_level:g}%"
            + (f", {self.correction}" if self.correction else "")
            if self.n_resamples
            else "no bootstrap"
        )
        body = "; ".join(splits) or "no rows"
        return f"ZooReport({body}; confidence={self.confidence!r}, {tests})"

    def __str__(self):
        return self.summary()

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
        """How often duos are worse than their temperature-scaled large model.

        For each metric and FLOPs-balance bracket: the fraction of duos of
        ``method`` whose metric on ``split`` is worse than that of their own
        large model temperature-scaled alone by more than ``rtol`` (relative),
        the *raw* harm rate; and, when the report holds paired bootstrap
        comparisons, the fractions of duos **significantly** worse, not
        significantly different, and significantly better: the duos'
        ``<key>_verdict`` (after the report's multiplicity correction; see
        :func:`evaluate_zoo`).

        Ties are not harm, and neither are round-off differences, e.g. a duo
        whose sidekick weight is 0 reaches the large model's temperature
        through a different optimiser path. Pairs where either value is NaN
        are left out.

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
            ``bracket``, ``n_duos``, the raw fraction under each metric's key
            and, with comparisons, ``<key>_worse``, ``<key>_same``,
            ``<key>_better`` (fractions) over ``<key>_n`` compared duos.
        """
        duos = [r for r in self.rows if r["method"] == method and r["split"] == split]
        base = {
            r["large"]: r
            for r in self.rows
            if r["method"] == "temperature" and r["split"] == split
        }
        out = []

        def summary(label, members):
            entry = {"bracket": label, "n_duos": len(members)}
            for key, *_ in METRICS:
                harmed = compared = 0
                sig = {-1: 0, 0: 0, 1: 0}
                for row in members:
                    a, b = row[key], base[row["large"]][key]
                    if a is None or b is None or np.isnan(a) or np.isnan(b):
                        continue
                    compared += 1
                    worse = (b - a) if HIGHER[key] else (a - b)
                    harmed += worse > rtol * abs(b)
                    v = _format.verdict(row, key)
                    if v is not None:
                        sig[v] += 1
                entry[key] = harmed / compared if compared else float("nan")
                if self.n_resamples:
                    n_sig = sum(sig.values())
                    entry[f"{key}_n"] = n_sig
                    for name, v in (("worse", -1), ("same", 0), ("better", 1)):
                        entry[f"{key}_{name}"] = (
                            sig[v] / n_sig if n_sig else float("nan")
                        )
            return entry

        for label, lo, hi in BALANCE_BRACKETS:
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

    def format_table(
        self, *, paper_units=False, methods=None, split="test", width=None
    ):
        """The rows as a text table.

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
        width : int, default=None
            None: one wide line per row with every metric and the weights.
            An int: rows grouped by method, with duo cells marked ``+`` / ``-``
            where significantly better / worse than the large model, and the
            least telling columns dropped until every line fits ``width``.

        Returns
        -------
        str
        """
        rows = [
            r
            for r in self.rows
            if r["split"] == split and (methods is None or r["method"] in methods)
        ]
        if width is None:
            return _format.wide_table(rows, paper_units)
        return _format.fitted_table(
            rows, width, paper_units=paper_units, hint="every column in the CSV"
        )

    def format_harm_rates(self, method="asymmetric", split="test", *, width=None):
        """The harm rates of :meth:`harm_rates` as a text table (in %).

        Parameters
        ----------
        method : str, default='asymmetric'
            Duo mode.
        split : str, default='test'
            Split.
        width : int, default=None
            None: one line per bracket with every metric's raw harm rate, then
            (with comparisons) the significantly worse / not different /
            better shares. An int: one line per metric and a column per
            bracket whose cells read ``worse/significantly worse/significantly
            better`` (% of duos), brackets dropped until it fits ``width``.

        Returns
        -------
        str
        """
        entries = self.harm_rates(method, split)
        significance = bool(self.n_resamples)
        if width is None:
            return _format.wide_harm_table(entries, significance)
        return _format.fitted_harm_table(entries, width, significance)

    def summary(self, *, large=None, budget=None, split="test", width=100):
        """A few plain-language lines on what the report says.

        Which sidekick to use with ``large`` (the duo with the lowest
        validation NLL, within ``budget`` percent of extra compute), at what
        extra compute, what it gains and where it is significantly worse on
        ``split``, whether its NLL gain is refinement (information the large
        model lacked) or recalibration, and how often duos are significantly
        worse than their large model overall and at FLOPs balance >= 0.05.

        Parameters
        ----------
        large : str, default=None
            Large model; default: the most expensive (else the first).
        budget : float, default=None
            Extra compute allowed, in percent of the large model's cost.
        split : str, default='test'
            Split the conclusions are about.
        width : int, default=100
            Lines are wrapped at this width.

        Returns
        -------
        str
        """
        return _format.conclusions(
            self, large=large, budget=budget, split=split, width=width
        )

    def to_csv(self, path):
        """Write the rows as CSV (lists joined by spaces); returns the path.

        The file is written to a temporary file first and then renamed, so an
        interruption never leaves a partial file.

        Parameters
        ----------
        path : str or path-like
            Output file.

        Returns
        -------
        pathlib.Path
        """
        keys = _row_keys(self.rows)
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\r\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in keys})
        return atomic_write(path, buffer.getvalue())

    def to_json(self, path, **extra):
        """Write rows, harm rates (every duo mode and split) and ``extra`` as JSON.

        Written atomically, as :meth:`to_csv`; NaN and infinity become null.

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
        splits = sorted({r["split"] for r in self.rows})
        harm = {
            split: {m: self.harm_rates(m, split) for m in DUO_MODES} for split in splits
        }
        payload = {
            "confidence": self.confidence,
            "metrics": [k for k, *_ in METRICS],
            "n_resamples": self.n_resamples,
            "confidence_level": self.confidence_level,
            "significance": _format.significance_text(self),
            "correction": self.correction,
            "min_effect": self.min_effect,
            "families": self.families,
            "roles": self.roles,
            "notes": self.notes,
            "rows": self.rows,
            "harm_rates": harm,
            **extra,
        }
        text = json.dumps(_jsonable(payload), indent=1, allow_nan=False) + "\n"
        return atomic_write(path, text)


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
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj
