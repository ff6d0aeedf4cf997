"""Every fit of the zoo report, and the rows that score them on the test splits.

The fits (validation split only) are built by family -- single models
temperature-scaled, duos, ensembles -- and each becomes one row per evaluation
split with the metrics of :data:`METRICS`, the smooth ECE, the
calibration / refinement split of NLL and Brier, and, for duos, a paired
bootstrap comparison with the temperature-scaled large model.
"""

from dataclasses import replace

import numpy as np

from skduo._arrays._fits import (
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._outputs._logit_ops import softmax
from skduo._vocabulary import CONFIDENCES, DUO_MODES, check_confidence
from skduo.evaluation._certified import certified_columns
from skduo.evaluation._metrics import (
    BOOTSTRAP_NAMES,
    METRICS,
    observed_metrics,
    prepare,
)
from skduo.evaluation._report import ZooReport
from skduo.metrics._bootstrap_engine import _distribution, _Resampler
from skduo.metrics._bootstrap_result import _interval
from skduo.metrics._decomposition import _decompose, _smooth_ece

__all__ = ["evaluate_zoo"]

#: Methods whose rows get the calibration / refinement split.
_DECOMPOSED = ("temperature", "asymmetric", "uq_only")


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


def _single_fits(zoo):
    """Every model temperature-scaled alone: ``[(method, members, ens, ...)]``."""
    y_val = zoo.labels["val"]
    return [
        (
            "temperature",
            [name],
            fit_temperature(model.logits["val"], y_val, outputs="logits"),
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
                ens = fit_duo(z_l, z_s, y_val, mode=mode, outputs="logits")
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
            ens = fit_deep_ensemble(
                [models[n].logits["val"] for n in subset], y_val, outputs="logits"
            )
            balance = _ensemble_balance(models, subset)
            fits.append(("deep_ensemble", subset, ens, subset[0], None, balance))
    if len(models) >= 2:
        names = list(models)
        if all(model.cost is not None for model in models.values()):
            names.sort(key=lambda n: -models[n].cost)  # balance relative to first
        ens = fit_weighted_ensemble(
            [models[n].logits["val"] for n in names], y_val, outputs="logits"
        )
        balance = _ensemble_balance(models, names)
        fits.append(("weighted_ensemble", names, ens, names[0], None, balance))
    return fits


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


class _Scorer:
    """Scores fitted ensembles on the evaluation splits, row by row.

    Holds what rows share: one resampler per split (so every duo and its
    temperature-scaled large model are scored on the same resamples), the
    bootstrap distributions of the large models, and the decompositions of
    asymmetric duos (reused by the UQ-only rows, which share their
    probabilities).
    """

    def __init__(
        self,
        zoo,
        splits,
        confidence,
        n_resamples,
        confidence_level,
        seed,
        certify=None,
    ):
        self.zoo, self.confidence = zoo, confidence
        self.certify = certify  # (target_risk, delta) or None
        self.n_resamples, self.level = n_resamples, confidence_level
        self.resamplers = {
            s: _Resampler(len(zoo.labels[s]), n_resamples, seed)
            for s in splits
            if n_resamples
        }
        self.names = [BOOTSTRAP_NAMES[key] for key, *_ in METRICS]
        self.base = {}  # (large, split) -> [row, ensemble, distribution or None]
        self.shared = {}  # (members, split) -> decomposition columns

    def _outputs(self, ens, members, split):
        logits = [self.zoo.models[m].logits[split] for m in members]
        return ens.decision_logits(*logits), ens.predict(*logits)

    def _decomposition(self, method, members, split, y, z):
        key = (tuple(members), split)
        if method == "uq_only" and key in self.shared:
            return self.shared[key]
        cols = {}
        for score, d in _decompose(y, z, None).items():
            cols[f"{score}_calibration"] = d.calibration
            cols[f"{score}_refinement"] = d.refinement
        self.shared[key] = cols
        return cols

    def _prepared(self, ens, members, split):
        z, pred = self._outputs(ens, members, split)
        proba = softmax(z)
        y = self.zoo.labels[split]
        return z, proba, prepare(y, z, pred, confidence=self.confidence, proba=proba)

    def row(self, method, members, ens, large, small, balance, split):
        models, y = self.zoo.models, self.zoo.labels[split]
        cost = None
        if all(models[m].cost is not None for m in members):
            cost = float(sum(models[m].cost for m in members))
        z, proba, prepared = self._prepared(ens, members, split)
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
        row.update(observed_metrics(prepared))
        if self.certify is not None:
            logits = [models[m].logits[split] for m in members]
            target_risk, delta = self.certify
            row.update(
                certified_columns(
                    y,
                    proba,
                    ens.predict(*logits),
                    confidence=self.confidence,
                    target_risk=target_risk,
                    delta=delta,
                )
            )
        top = proba.argmax(axis=1)
        conf = proba[np.arange(len(y)), top]
        row["smece"] = _smooth_ece(
            conf, (top == y) - conf, np.full(len(y), 1 / len(y))
        )[0]
        for score in ("nll", "brier"):
            row[f"{score}_calibration"] = row[f"{score}_refinement"] = None
        if method in _DECOMPOSED:
            row.update(self._decomposition(method, members, split, y, z))
        if self.n_resamples and method == "temperature":
            self.base[(large, split)] = [row, ens, None]  # scored when needed
        elif self.n_resamples and method in DUO_MODES:
            row.update(self._comparison(row, prepared, split))
        return row

    def _comparison(self, row, prepared, split):
        """Paired bootstrap of duo minus temperature-scaled large, per metric."""
        entry = self.base[(row["large"], split)]
        base_row, base_ens, base = entry
        resampler = self.resamplers[split]
        if base is None:
            _, _, base_prepared = self._prepared(base_ens, [row["large"]], split)
            base = entry[2] = _distribution(resampler, base_prepared, self.names)
        dist = _distribution(resampler, prepared, self.names)
        out = {}
        for (key, *_), name in zip(METRICS, self.names):
            diff = dist[name] - base[name]
            diff = diff[np.isfinite(diff)]
            observed = row[key] - base_row[key]
            low = high = p = float("nan")
            if diff.shape[0] and np.isfinite(observed):
                low, high, p = _interval(
                    diff, observed, self.level, "percentile", "two-sided"
                )
            out[f"{key}_diff"] = float(observed)
            out[f"{key}_low"] = low
            out[f"{key}_high"] = high
            out[f"{key}_p"] = p
        return out


def evaluate_zoo(
    zoo,
    *,
    confidence="msp",
    ood=True,
    duo_modes=DUO_MODES,
    ensembles=True,
    progress=False,
    n_resamples=1000,
    confidence_level=0.95,
    random_state=0,
    target_risk=None,
    delta=0.05,
):
    """Evaluate every duo of a zoo and every baseline, fitted on validation only.

    Every model temperature-scaled alone; every (large, small) pair with
    ``cost(small) < cost(large)`` in each duo mode (all ordered pairs when some
    cost is unknown); deep ensembles (pool-then-calibrate) of the first ``m``
    members of each group for ``m = 2 ..`` group size; and one learned-weight
    ensemble of all models. Weights are fitted on the validation split only and
    reused unchanged on the test (and OOD test) split. Each duo is compared
    with its own large model temperature-scaled alone by a paired bootstrap
    over the test rows (:func:`skduo.metrics.paired_bootstrap`'s resamples).

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
    n_resamples : int, default=1000
        Bootstrap resamples of each split for the duo comparisons; 0 skips
        them (no ``*_low``, ``*_high``, ``*_p`` columns, no significance in
        the harm rates). Every duo and its large model share the resamples of
        a split.
    confidence_level : float, default=0.95
        Level of the comparison intervals.
    random_state : int, default=0
        Seed of the resamples (the report is reproducible).
    target_risk : float, default=None
        When given, every row also gets the coverage certified at this
        selective risk on its split (columns ``certified_coverage``,
        ``certified_threshold``, ``certified_risk_bound``; see Notes).
    delta : float, default=0.05
        Allowed probability that a certificate is wrong (with
        ``target_risk``).

    Returns
    -------
    ZooReport

    Notes
    -----
    ``flops_balance`` is ``cost(small) / cost(large)`` for a duo, 0 for a
    single model and ``(total cost - cost(first)) / cost(first)`` for an
    ensemble (1 for two equal members, as in the paper).

    Columns beyond :data:`METRICS`: ``smece`` (:func:`skduo.metrics.smooth_ece`)
    on every row; ``nll_calibration``, ``nll_refinement``,
    ``brier_calibration``, ``brier_refinement``
    (:func:`skduo.metrics.calibration_refinement_decomposition` on the rows'
    own split) on temperature-scaled, asymmetric and UQ-only rows; and on
    duo rows, per metric ``<key>_diff`` (duo minus temperature-scaled large
    model), ``<key>_low``, ``<key>_high`` (its percentile interval) and
    ``<key>_p`` (its p-value). Cost: one pass over the resamples per scored
    row, i.e. about ``n_resamples * n_test`` weighted sums per row and metric.

    With ``target_risk``: :func:`skduo.metrics.certified_threshold` on the
    row's own split (the rows are held out from every weight fit), with the
    row's predictions and the report's confidence; ``certified_coverage`` is
    the share of the split's rows answered at the certified threshold (0,
    threshold inf and a NaN bound when nothing is certified).

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
    >>> duo = report.get("asymmetric", "big", "small")
    >>> bool(duo["nll_low"] <= duo["nll_diff"] <= duo["nll_high"])
    True
    """
    confidence = check_confidence(confidence, allowed=CONFIDENCES)
    bad = set(duo_modes) - set(DUO_MODES)
    if bad:
        raise ValueError(f"Unknown duo mode(s) {sorted(bad)}; use {DUO_MODES}.")
    if len(zoo.models) == 0:
        raise ValueError("The zoo has no models.")
    n_resamples = int(n_resamples)
    if n_resamples < 0:
        raise ValueError(f"n_resamples must be >= 0; got {n_resamples}.")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}.")
    splits = [s for s in zoo.splits if s != "val" and (ood or s != "ood_test")]
    fits = _single_fits(zoo) + _duo_fits(zoo, duo_modes, progress)
    if ensembles:
        fits += _ensemble_fits(zoo)
    certify = None
    if target_risk is not None:
        if not (0 < target_risk < 1 and 0 < delta < 1):
            raise ValueError(
                f"target_risk and delta must be in (0, 1); got {target_risk!r} "
                f"and {delta!r}."
            )
        certify = (float(target_risk), float(delta))
    scorer = _Scorer(
        zoo, splits, confidence, n_resamples, confidence_level, random_state, certify
    )
    rows, fitted = [], {}
    for method, members, ens, large, small, balance in _progress(
        fits, len(fits), progress, "scoring"
    ):
        fitted[(method, tuple(members))] = ens
        for split in splits:
            rows.append(scorer.row(method, members, ens, large, small, balance, split))
    return ZooReport(
        rows,
        confidence,
        fitted,
        n_resamples=n_resamples,
        confidence_level=float(confidence_level),
    )
