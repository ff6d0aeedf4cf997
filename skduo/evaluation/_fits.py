"""Every fit of the zoo report, and the rows that score them on the test splits.

The fits (validation split only) are built by family -- single models
temperature-scaled, duos, ensembles -- and each becomes one row per evaluation
split with the metrics of :data:`METRICS`, the smooth ECE, the
calibration / refinement split of NLL and Brier, and, for duos, a paired
bootstrap comparison with the temperature-scaled large model.
"""

import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace

import numpy as np

from skduo._arrays._ensemble import LogitEnsemble
from skduo._arrays._fits import (
    fit_deep_ensemble,
    fit_duo,
    fit_temperature,
    fit_weighted_ensemble,
)
from skduo._fit._objective import warm_fit_kernel
from skduo._outputs._kinds import detect_output_kind
from skduo._vocabulary import CONFIDENCES, DUO_MODES, check_confidence
from skduo.evaluation._certified import certified_columns
from skduo.evaluation._metrics import (
    BOOTSTRAP_NAMES,
    HIGHER,
    METRICS,
    observed_metrics,
    prepare,
)
from skduo.evaluation._notes import Notes, check_temperature, check_test_accuracy
from skduo.evaluation._report import ZooReport
from skduo.evaluation._selection import logit_scale, zero_weight_members
from skduo.evaluation._significance import (
    CORRECTIONS,
    apply_family,
    check_min_effect,
)
from skduo.metrics._bootstrap_engine import (
    _distribution,
    _Resampler,
    logit_row_statistics,
)
from skduo.metrics._classification import _nll_from_logits
from skduo.metrics._decomposition import _decompose, _smooth_ece
from skduo.utils._arrays import map_blocks, row_blocks

__all__ = ["evaluate_zoo"]

#: Methods whose rows get the calibration / refinement split.
_DECOMPOSED = ("temperature", "asymmetric", "uq_only")

#: Bootstrap distributions submitted but not finished, at most: the row that
#: would submit one more waits for the oldest (each pending one holds its
#: row's prepared statistics, so the cap bounds their memory).
_MAX_PENDING = 12


def _check_costs(zoo):
    """Every model has a cost, or none has: roles never depend on names."""
    missing = [n for n, m in zoo.models.items() if m.cost is None]
    if missing and len(missing) < len(zoo.models):
        raise ValueError(
            f"Costs are given for some models but not for {missing}: give every "
            "model a cost (roles come from costs) or none (every ordered pair is "
            "fitted and no model is called large)."
        )


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


def _note_probabilities_as_logits(zoo, notes):
    """A note for each model whose logits look like probabilities.

    Declared (or saved) as logits but every inspected row in [0, 1] summing
    to 1: the report uses them as logits, as its predictions' warning says
    (the rows are scored without that per-call check).
    """
    for name, model in zoo.models.items():
        if model.outputs == "proba":
            continue
        if any(detect_output_kind(z) == "proba" for z in model.logits.values()):
            with notes.capture([name]):
                warnings.warn(
                    f"{name} look like probabilities (every inspected row is in "
                    "[0, 1] and sums to 1) but are used as logits.",
                    UserWarning,
                    stacklevel=2,
                )


def _single_fits(zoo, notes):
    """Every model temperature-scaled alone: ``[(method, members, ens, ...)]``."""
    y_val = zoo.labels["val"]
    fits = []
    for name, model in zoo.models.items():
        with notes.capture([name]):
            ens = fit_temperature(
                model.logits["val"], y_val, outputs="logits", prior=None
            )
        fits.append(("temperature", [name], ens, name, None, 0.0))
    return fits


def _unweighted(singles, large, small, z_l, z_s, y_val):
    """``fit_duo(mode='unweighted')`` from the members' own temperature fits.

    The unweighted duo averages the two members temperature-scaled alone
    (``weights = (w_large, w_small) / 2``), the fits :func:`_single_fits`
    made: only the validation NLL of the average is new (one pass).
    """
    a, b = singles[large], singles[small]
    weights = np.array([a.weights[0], b.weights[0]]) / 2.0
    combined = _Combined(weights, [z_l, z_s], a.n_classes)
    nll = np.empty(len(y_val))

    def work(rows):
        nll[rows] = _nll_from_logits(combined[rows], y_val[rows])

    map_blocks(work, row_blocks(combined.shape))
    return LogitEnsemble(
        weights,
        "unweighted",
        a.n_classes,
        float(np.mean(nll)),
        a.n_iter + b.n_iter,
        a.converged and b.converged,
        (a.outputs or ("logits",)) + (b.outputs or ("logits",)),
    )


def _duo_fits(zoo, duo_modes, progress, notes, singles=None):
    """Every (large, small) pair in each duo mode, fitted as :func:`fit_duo` does.

    ``singles`` (model name -> its temperature fit) gives the unweighted duos
    without refitting their members.
    """
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
            elif mode == "unweighted" and singles is not None:
                ens = _unweighted(singles, large, small, z_l, z_s, y_val)
            else:
                with notes.capture([large, small]):
                    ens = fit_duo(
                        z_l, z_s, y_val, mode=mode, outputs="logits", prior=None
                    )
                if mode in ("asymmetric", "uq_only"):
                    asym = ens
            fits.append((mode, [large, small], ens, large, small, balance))
    return fits


def _ensemble_fits(zoo, notes):
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
            with notes.capture(subset):
                ens = fit_deep_ensemble(
                    [models[n].logits["val"] for n in subset],
                    y_val,
                    outputs="logits",
                    prior=None,
                )
            balance = _ensemble_balance(models, subset)
            fits.append(("deep_ensemble", subset, ens, subset[0], None, balance))
    if len(models) >= 2:
        names = list(models)
        if all(model.cost is not None for model in models.values()):
            names.sort(key=lambda n: -models[n].cost)  # balance relative to first
        with notes.capture(names):
            ens = fit_weighted_ensemble(
                [models[n].logits["val"] for n in names],
                y_val,
                outputs="logits",
                prior=None,
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


class _Combined:
    """Members' logits combined with ``weights``, computed block by block.

    Has the ``shape`` and row indexing (slices, index arrays) that
    :func:`skduo.metrics._decomposition._decompose` reads: the float64
    ``decision_logits`` of the members' rows, never stored whole.
    """

    def __init__(self, weights, logits, n_classes):
        self.logits = logits
        self.shape = (logits[0].shape[0], n_classes)
        # the members that count, as LogitEnsemble.decision_logits sums them
        # (the zoo's logits are checked finite when added)
        self.parts = [(float(w), z) for w, z in zip(weights, logits) if w != 0.0]

    def __getitem__(self, rows):
        if not self.parts:
            return np.zeros((self.logits[0][rows].shape[0], self.shape[1]))
        (w, z), *rest = self.parts
        block = np.multiply(z[rows], w, dtype=np.float64)
        for w, z in rest:
            block += np.multiply(z[rows], w, dtype=np.float64)
        return block


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
        duo_modes=DUO_MODES,
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
        self.scales = {}  # model -> logit_scale of its validation logits
        self.shared = {}  # (members, split) -> decomposition columns
        self.uq_stats = {}  # (members, split) -> UQ-only statistics, predictions
        self.selective = {}  # (method, members, split) -> (correct, confidence)
        self.pipeline = None  # the bootstrap's thread (see _bootstrap)
        self.pending = deque()  # its unfinished futures, oldest first
        self.with_uq = "uq_only" in duo_modes

    def scale(self, name):
        if name not in self.scales:
            self.scales[name] = logit_scale(self.zoo.models[name].logits["val"])
        return self.scales[name]

    def _decomposition(self, method, members, split, y, source, stats):
        key = (tuple(members), split)
        if method == "uq_only" and key in self.shared:
            return self.shared[key]
        cols = {}
        totals = {score: float(np.mean(stats[score])) for score in ("nll", "brier")}
        for score, d in _decompose(y, source, None, totals=totals).items():
            cols[f"{score}_calibration"] = d.calibration
            cols[f"{score}_refinement"] = d.refinement
        self.shared[key] = cols
        return cols

    def _prepared(self, ens, members, split):
        """The row's logits (a block source), statistics and prepared metrics.

        The combined logits and probabilities exist one row block at a time
        (never ``n x K`` whole): each block gives its rows' predictions and
        :func:`row_statistics`, in threads.
        """
        logits = [self.zoo.models[m].logits[split] for m in members]
        y = self.zoo.labels[split]
        source = _Combined(ens.weights, logits, ens.n_classes)
        key = (tuple(members), split)
        if ens.mode == "uq_only" and key in self.uq_stats:
            # the asymmetric duo's pass computed this row's statistics too
            stats, pred = self.uq_stats.pop(key)
            prepared = prepare(y, None, pred, confidence=self.confidence, stats=stats)
            return source, stats, pred, prepared
        n = len(y)
        pred = np.empty(n, dtype=np.intp)
        stats = {
            "n": n,
            "n_classes": ens.n_classes,
            "argmax": np.empty(n, dtype=np.intp),
            "top": np.empty(n),
            "nll": np.empty(n),
            "brier": np.empty(n),
            "conf": np.empty(n),
        }
        uq_only = ens.mode == "uq_only"
        # an asymmetric duo's UQ-only twin has the same probabilities: its
        # predictions (the large member's) and their confidence come along
        twin = ens.mode == "asymmetric" and self.with_uq
        if twin:
            uq_pred, uq_conf = np.empty(n, dtype=np.intp), np.empty(n)

        def work(rows):
            zb = source[rows]
            # UQ-only duos predict the large member's arg-max
            pb = np.argmax(logits[0][rows], axis=1) if uq_only else zb.argmax(axis=1)
            pred[rows] = pb
            other = None
            if twin:
                other = uq_pred[rows] = np.argmax(logits[0][rows], axis=1)
            found = logit_row_statistics(
                zb, y[rows], pb, confidence=self.confidence, other_pred=other
            )
            for name in ("argmax", "top", "nll", "brier", "conf"):
                stats[name][rows] = found[name]
            if twin:
                uq_conf[rows] = found["other_conf"]

        map_blocks(work, row_blocks(source.shape))
        if twin:
            self.uq_stats[key] = ({**stats, "conf": uq_conf}, uq_pred)
        prepared = prepare(y, None, pred, confidence=self.confidence, stats=stats)
        return source, stats, pred, prepared

    def row(self, method, members, ens, large, small, balance, split):
        models, y = self.zoo.models, self.zoo.labels[split]
        cost = None
        if all(models[m].cost is not None for m in members):
            cost = float(sum(models[m].cost for m in members))
        source, stats, pred, prepared = self._prepared(ens, members, split)
        if method in ("temperature", "asymmetric", "deep_ensemble"):
            # what the risk-coverage plot draws, kept (n bools and floats)
            self.selective[(method, tuple(members), split)] = (
                pred == y,
                stats["conf"],
            )
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
            "zero_weight": [
                members[i]
                for i in zero_weight_members(
                    ens.weights, [self.scale(m) for m in members]
                )
            ],
            "val_nll": float(ens.validation_nll),
            "n_classes": int(source.shape[1]),
        }
        row.update(observed_metrics(prepared))
        if self.certify is not None:
            target_risk, delta = self.certify
            row.update(
                certified_columns(
                    y,
                    pred,
                    stats["conf"],
                    target_risk=target_risk,
                    delta=delta,
                )
            )
        top, conf = stats["argmax"], stats["top"]
        row["smece"] = _smooth_ece(
            conf, (top == y) - conf, np.full(len(y), 1 / len(y))
        )[0]
        for score in ("nll", "brier"):
            row[f"{score}_calibration"] = row[f"{score}_refinement"] = None
        if method in _DECOMPOSED:
            row.update(self._decomposition(method, members, split, y, source, stats))
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
            base_prepared = self._prepared(base_ens, [row["large"]], split)[-1]
            base = entry[2] = self._bootstrap(resampler, base_prepared)
        dist = self._bootstrap(resampler, prepared)
        out = {"_dist": (dist, base)}  # futures, resolved by differences()
        for key, *_ in METRICS:
            out[f"{key}_diff"] = float(row[key] - base_row[key])
            out[f"_{key}_base"] = float(base_row[key])
        return out

    def _bootstrap(self, resampler, prepared):
        """The bootstrap distribution of ``prepared``, on a thread of its own.

        One worker, scoring its batches itself, so the distributions run in
        order (the first draws the resamples the others reuse) while the
        main thread and the block pool score the next rows: the two cores
        stay busy through the GIL-bound parts of each. At most
        :data:`_MAX_PENDING` are unfinished: beyond, this waits for the
        oldest (the order of the distributions is unchanged).
        """
        if self.pipeline is None:
            self.pipeline = ThreadPoolExecutor(1, thread_name_prefix="skduo-boot")
        pending = self.pending
        while pending and pending[0].done():
            pending.popleft()
        while len(pending) >= _MAX_PENDING:
            wait([pending.popleft()])  # its error, if any, is raised by differences
        future = self.pipeline.submit(
            _distribution, resampler, prepared, self.names, threads=False
        )
        pending.append(future)
        return future

    def differences(self, rows):
        """Each duo row's bootstrap differences, once its distributions are in."""
        try:
            for row in rows:
                if isinstance(row.get("_dist"), tuple):
                    dist, base = (f.result() for f in row["_dist"])
                    row["_dist"] = {
                        key: dist[name] - base[name]
                        for (key, *_), name in zip(METRICS, self.names)
                    }
        finally:
            if self.pipeline is not None:
                self.pipeline.shutdown(cancel_futures=True)
                self.pipeline = None
            self.pending.clear()


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
    correction="holm",
    min_effect=0.0,
    random_state=0,
    target_risk=None,
    delta=0.05,
):
    """Evaluate every duo of a zoo and every baseline, fitted on validation only.

    Every fit is the exact maximum-likelihood fit of the paper (``prior=None``
    in :func:`~skduo.fit_duo` and friends), so that the report reproduces the
    paper's experiment; the estimators' default weak prior (which keeps a duo
    from harming on small or separable validation sets) is not used here, and
    the multiplicity-controlled verdicts are what guard against noise.

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
        ``1 - alpha`` of the verdicts: a comparison is significant when its
        adjusted p-value is below ``alpha``.
    correction : {'holm', 'bh', 'none'}, default='holm'
        Multiplicity control over each *family* (every duo of one mode on one
        split times the 9 metrics): Holm (family-wise error rate),
        Benjamini-Hochberg (false discovery rate) or none.
    min_effect : float or dict, default=0.0
        Smallest difference that counts (in the metric's own units; a dict
        ``{metric key: value}`` per metric): differences within it are
        "same", never significant. The tie band of each comparison is the
        largest of ``min_effect``, ``1e-6 * |large model's value|`` and
        ``1e-12`` (round-off, e.g. a duo whose sidekick weight is 0).
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
    model), ``<key>_se`` (bootstrap standard error of the difference),
    ``<key>_p`` (raw p-value), ``<key>_p_adj`` (after the correction),
    ``<key>_low``, ``<key>_high`` (the interval at the level the correction
    implies: it lies outside the tie band exactly when ``<key>_p_adj <
    alpha``), ``<key>_tie`` (the tie band's half-width) and
    ``<key>_verdict`` (``'better'``, ``'worse'`` or ``'same'``; the
    construction is in the user guide, "How skduo decides significance").
    Warnings of the fits are not passed on one by one: each condition is
    stated once per model in :attr:`ZooReport.notes` (and warned once).
    Costs must be given for every model or for none (roles -- which model is
    large -- come from costs only). Cost: one pass over the resamples per scored
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
    if n_resamples == 1:
        raise ValueError("n_resamples must be 0 (no tests) or at least 2.")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}.")
    if correction not in CORRECTIONS:
        raise ValueError(
            f"correction must be one of {CORRECTIONS}; got {correction!r}."
        )
    keys = [key for key, *_ in METRICS]
    check_min_effect(min_effect, keys)
    _check_costs(zoo)
    splits = [s for s in zoo.splits if s != "val" and (ood or s != "ood_test")]
    notes = Notes(zoo.models)
    _note_probabilities_as_logits(zoo, notes)
    # many fits: load the compiled fit kernel once when it is installed and
    # the fits are large enough together (the weights agree with the NumPy
    # kernel's within the fit tolerance)
    pairs = len(_pairs(zoo)[0])
    n_val = len(zoo.labels["val"]) * zoo.n_classes
    warm_fit_kernel(n_val * (len(zoo.models) + 2 * pairs * len(duo_modes)))
    fits = _single_fits(zoo, notes)
    singles = {members[0]: ens for _, members, ens, *_ in fits}
    fits += _duo_fits(zoo, duo_modes, progress, notes, singles)
    if ensembles:
        fits += _ensemble_fits(zoo, notes)
    certify = None
    if target_risk is not None:
        if not (0 < target_risk < 1 and 0 < delta < 1):
            raise ValueError(
                f"target_risk and delta must be in (0, 1); got {target_risk!r} "
                f"and {delta!r}."
            )
        certify = (float(target_risk), float(delta))
    scorer = _Scorer(
        zoo,
        splits,
        confidence,
        n_resamples,
        confidence_level,
        random_state,
        certify,
        duo_modes,
    )
    rows, fitted = [], {}
    try:
        for method, members, ens, large, small, balance in _progress(
            fits, len(fits), progress, "scoring"
        ):
            fitted[(method, tuple(members))] = ens
            for split in splits:
                with notes.capture(members):
                    rows.append(
                        scorer.row(method, members, ens, large, small, balance, split)
                    )
    finally:
        scorer.differences(rows)
    families = {}
    if n_resamples:
        alpha = 1.0 - confidence_level
        for split in splits:
            for mode in duo_modes:
                family = [
                    r for r in rows if r["split"] == split and r["method"] == mode
                ]
                if family:
                    size = apply_family(
                        family, keys, HIGHER, alpha, correction, min_effect
                    )
                    families[f"{split}/{mode}"] = {
                        "split": split,
                        "mode": mode,
                        "n_duos": len(family),
                        "n_metrics": len(keys),
                        "n_comparisons": size,
                    }
    for text in check_test_accuracy(zoo) + check_temperature(zoo, fitted):
        notes.add(text)
    lines = notes.lines()
    for text in lines:
        warnings.warn(text, UserWarning, stacklevel=2)
    report = ZooReport(
        rows,
        confidence,
        fitted,
        n_resamples=n_resamples,
        confidence_level=float(confidence_level),
        correction=correction if n_resamples else None,
        min_effect=min_effect,
        families=families,
        notes=lines,
        roles="costs" if _pairs(zoo)[1] else None,
    )
    report._selective = scorer.selective
    return report
