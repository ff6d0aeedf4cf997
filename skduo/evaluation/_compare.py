"""A fitted duo against its baselines on a test set, with paired bootstrap verdicts."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skduo._estimators._base import _BaseLogitEnsemble
from skduo._estimators._baselines import TemperatureScalingClassifier
from skduo._outputs._inputs import validate_X_y
from skduo._outputs._logit_ops import log_softmax, softmax
from skduo.evaluation._significance import adjust, interval, raw_test, tie_band, verdict
from skduo.metrics import paired_bootstrap

__all__ = ["Comparison", "compare"]

#: The metrics of :func:`compare`: ``name -> (header, higher_is_better)``; the
#: names are those of :func:`skduo.metrics.paired_bootstrap`.
COMPARE_METRICS = {
    "nll": ("NLL", False),
    "accuracy": ("Acc", True),
    "brier": ("Brier", False),
    "ece": ("ECE", False),
    "aurc": ("AURC", False),
    "correctness_auroc": ("AUROC", True),
    "f1_macro": ("F1", True),
    "eaurc": ("E-AURC", False),
    "augrc": ("AUGRC", False),
    "coverage_at_accuracy": ("SAC@98", True),
}
DEFAULT_METRICS = ("nll", "accuracy", "brier", "ece", "aurc", "correctness_auroc")


class Comparison:
    """The result of :func:`compare`: metrics, differences and verdicts.

    Attributes
    ----------
    models : list of str
        ``"duo"`` (the estimator) and the baselines, in order.
    metrics : list of str
        Metric names (those of :func:`skduo.metrics.paired_bootstrap`).
    values : dict of {str: dict of {str: float}}
        ``values[model][metric]`` on the test rows.
    differences : list of dict
        One row per (baseline, metric): ``baseline``, ``metric``,
        ``difference`` (duo minus baseline), ``low``, ``high`` (its paired
        interval at the corrected level), ``pvalue`` (adjusted) and
        ``verdict`` (``'better'``, ``'worse'`` or ``'same'``, for the duo).
    n_samples, n_resamples, confidence_level, tie : int, int, float, float
        The settings of the comparison.
    correction : {'holm', 'bh', 'none'}, default='holm'
        The multiplicity correction of the verdicts.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import Comparison
    >>> result = Comparison(
    ...     ["duo", "large"], ["nll"],
    ...     {"duo": {"nll": 0.50}, "large": {"nll": 0.55}},
    ...     [{"baseline": "large", "metric": "nll", "difference": -0.05,
    ...       "low": -0.08, "high": -0.02, "pvalue": 0.002, "verdict": "better"}],
    ...     n_samples=1000, n_resamples=1000, confidence_level=0.95, tie=0.0)
    >>> result.verdicts
    {'large': {'nll': 'better'}}
    """

    def __init__(
        self, models, metrics, values, differences, *, n_samples, n_resamples,
        confidence_level, tie, correction="holm",
    ):  # fmt: skip
        self.models = list(models)
        self.metrics = list(metrics)
        self.values = values
        self.differences = differences
        self.n_samples = n_samples
        self.n_resamples = n_resamples
        self.confidence_level = confidence_level
        self.tie = tie
        self.correction = correction

    @property
    def verdicts(self):
        """``{baseline: {metric: verdict}}``, the duo's verdict against each."""
        out = {}
        for row in self.differences:
            out.setdefault(row["baseline"], {})[row["metric"]] = row["verdict"]
        return out

    @property
    def table(self):
        """The comparison as text: metric values, then differences and verdicts."""
        headers = [COMPARE_METRICS[m][0] for m in self.metrics]
        width = max(len(m) for m in self.models)
        lines = [
            f"{self.n_samples} test rows; duo - baseline, paired bootstrap "
            f"({self.n_resamples} resamples); intervals and verdicts for the duo "
            f"at family level {self.confidence_level:.0%} "
            f"({self.correction} correction over {len(self.differences)} "
            f"comparisons; tie band {self.tie:g}); lower is better for "
            + ", ".join(
                COMPARE_METRICS[m][0] for m in self.metrics if not COMPARE_METRICS[m][1]
            ),
            "",
            " ".join([f"{'model':<{width}}", *(f"{h:>9}" for h in headers)]),
        ]
        for model in self.models:
            cells = [f"{self.values[model][m]:>9.4g}" for m in self.metrics]
            lines.append(" ".join([f"{model:<{width}}", *cells]))
        lines.append("")
        names = [f"duo - {row['baseline']}" for row in self.differences]
        width = max((len(n) for n in names), default=0)
        for name, row in zip(names, self.differences):
            lines.append(
                f"{name:<{width}}  {COMPARE_METRICS[row['metric']][0]:<6} "
                f"{row['difference']:+.4g} [{row['low']:+.4g}, {row['high']:+.4g}]"
                f"  {row['verdict']}"
            )
        return "\n".join(lines)

    def __str__(self):
        return self.table

    def __repr__(self):
        return f"<Comparison of {', '.join(self.models)} on {self.n_samples} rows>"

    def to_frame(self):
        """A pandas DataFrame, one row per (model, metric).

        Columns ``model``, ``metric``, ``value``, and for the baselines the
        duo's ``difference``, ``low``, ``high``, ``pvalue`` and ``verdict``
        (missing for the duo's own rows).

        Returns
        -------
        pandas.DataFrame
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is installed in CI
            raise ImportError(
                "to_frame needs pandas (pip install pandas); the text is in .table."
            ) from exc
        diffs = {(r["baseline"], r["metric"]): r for r in self.differences}
        rows = []
        for model in self.models:
            for metric in self.metrics:
                row = {"model": model, "metric": metric}
                row["value"] = self.values[model][metric]
                d = diffs.get((model, metric), {})
                for key in ("difference", "low", "high", "pvalue"):
                    row[key] = d.get(key, np.nan)
                row["verdict"] = d.get("verdict")
                rows.append(row)
        return pd.DataFrame(rows)


def compare(
    estimator,
    X_test,
    y_test=None,
    *,
    X_val=None,
    y_val=None,
    baselines=("temperature", "large", "small"),
    metrics=DEFAULT_METRICS,
    n_resamples=1000,
    confidence_level=0.95,
    tie=0.0,
    correction="holm",
    random_state=0,
):
    """Compare a fitted duo with its baselines on test data, with verdicts.

    Scores the fitted ``estimator`` (a :class:`~skduo.DuoClassifier`, or any
    skduo estimator) and each baseline on the same test rows and, for every
    metric, the difference ``duo - baseline`` with a paired bootstrap interval
    (:func:`skduo.metrics.paired_bootstrap`, the same resamples for every
    baseline and metric). The baselines are the large member temperature-scaled
    (:class:`~skduo.TemperatureScalingClassifier`, fitted on ``X_val, y_val``),
    the question the paper asks ("does the sidekick help?"), and the members
    alone, as they are.

    Parameters
    ----------
    estimator : fitted DuoClassifier, WeightedEnsembleClassifier or \
TemperatureScalingClassifier
        The fitted estimator to compare.
    X_test : array-like, Dataset or any input the members accept
        Test inputs, not used to fit the estimator or its members.
    y_test : array-like of shape (n_samples,), default=None
        Test labels; None reads them from a torch ``Dataset`` ``X_test``.
    X_val, y_val : default=None
        The validation data the estimator was fitted on; needed by the
        ``'temperature'`` baseline (its temperature is fitted on it, as the
        duo's weights were). ``y_val=None`` reads the labels of a ``Dataset``.
    baselines : sequence of str, default=('temperature', 'large', 'small')
        ``'temperature'`` (the first member temperature-scaled) and names of
        the estimator's members (``'large'``, ``'small'`` for a duo), each
        member's logits alone.
    metrics : sequence of str, default=('nll', 'accuracy', 'brier', 'ece', \
'aurc', 'correctness_auroc')
        Names of :func:`skduo.metrics.paired_bootstrap` metrics; also
        ``'f1_macro'``, ``'eaurc'``, ``'augrc'``, ``'coverage_at_accuracy'``
        (at 98% accuracy).
    n_resamples : int, default=1000
        Bootstrap resamples of the test rows.
    confidence_level : float, default=0.95
        Level of the intervals.
    tie : float, default=0.0
        Smallest difference that counts (in the metric's units): the tie band
        is the largest of ``tie``, 1e-6 times the baseline's value and 1e-12,
        as in the report's ``--min-effect``; differences within it are
        ``'same'``.
    correction : {'holm', 'bh', 'none'}, default='holm'
        Multiplicity control over the family of every baseline x metric, as
        in the zoo report.
    random_state : int, default=0
        Seed of the resamples (the same for every baseline and metric).

    Returns
    -------
    Comparison
        ``values``, ``differences``, ``verdicts``; ``table`` (text, also
        ``str(result)``) and ``to_frame()`` (a pandas DataFrame).

    Notes
    -----
    The verdicts follow the zoo report's procedure (user guide, "How skduo
    decides significance"): for each baseline and metric, the bootstrap
    standard error ``s`` of the difference ``d`` gives the raw p-value of
    ``max(|d| - tau, 0) / s`` (``tau`` the tie band); the p-values of the
    family (every baseline x metric) are adjusted (``correction``), and each
    interval is ``d -/+ z * s`` at the level the adjustment implies. So a
    verdict is ``'better'`` or ``'worse'`` (for the duo) exactly when its
    adjusted p-value (``pvalue``) is below ``1 - confidence_level``, exactly
    when its interval lies outside the tie band. ``python -m skduo evaluate``
    (from saved logits, see :func:`save_member_logits`) gives the full report
    over many pairs.

    See Also
    --------
    skduo.metrics.paired_bootstrap : One difference and its interval.
    evaluate_zoo : Every pair and baseline of a zoo of saved logits.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import DuoClassifier
    >>> from skduo.evaluation import compare
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_rest, y_train, y_rest = train_test_split(X, y, random_state=0)
    >>> X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest,
    ...                                                 random_state=0)
    >>> large = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    >>> small = GaussianNB().fit(X_train, y_train)
    >>> duo = DuoClassifier(large, small).fit(X_val, y_val)
    >>> result = compare(duo, X_test, y_test, X_val=X_val, y_val=y_val,
    ...                  n_resamples=200)
    >>> result.models
    ['duo', 'temperature', 'large', 'small']
    >>> result.verdicts["small"]["nll"], result.verdicts["temperature"]["accuracy"]
    ('same', 'same')
    >>> result.to_frame().shape
    (24, 8)
    """
    if not isinstance(estimator, _BaseLogitEnsemble):
        raise TypeError(
            "compare takes a fitted skduo estimator (DuoClassifier, "
            f"WeightedEnsembleClassifier, TemperatureScalingClassifier); got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    unknown = [m for m in metrics if m not in COMPARE_METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"metrics must be among {sorted(COMPARE_METRICS)}; got {list(metrics)}."
        )
    members = dict(estimator._fitted_named_members())
    methods = dict(zip(members, estimator._member_methods(len(members)), strict=True))
    baselines = list(baselines)
    if not baselines:
        raise ValueError("baselines is empty; name at least one.")
    for name in baselines:
        if name != "temperature" and name not in members:
            raise ValueError(
                f"Unknown baseline {name!r}: 'temperature' or a member name "
                f"({sorted(members)})."
            )
    if len(set(baselines)) != len(baselines):
        raise ValueError(f"baselines are repeated: {list(baselines)}.")
    X_test, y_test = validate_X_y(X_test, y_test)
    classes = estimator.classes_
    y_enc = np.searchsorted(classes, np.asarray(y_test))
    if (y_enc >= len(classes)).any() or not np.array_equal(
        classes[np.minimum(y_enc, len(classes) - 1)], np.asarray(y_test)
    ):
        raise ValueError(
            f"y_test holds labels that are not among the classes {classes.tolist()}."
        )

    # logits and predictions (indices into classes) of every model
    logits = {"duo": estimator.predict_log_proba(X_test)}
    preds = {"duo": np.searchsorted(classes, estimator.predict(X_test))}
    for name in baselines:
        if name == "temperature":
            if X_val is None:
                raise ValueError(
                    "The 'temperature' baseline fits the large member's temperature "
                    "on the validation data the duo was fitted on: pass X_val and "
                    "y_val (or leave 'temperature' out of baselines)."
                )
            first = next(iter(members))
            ts = TemperatureScalingClassifier(
                members[first], response_method=methods[first]
            ).fit(X_val, y_val)
            z = ts.predict_log_proba(X_test)
        else:
            parts = estimator._member_parts(X_test, [(name, members[name])], [1.0])
            z = estimator._combined_logits(parts)
            z = log_softmax(z, out=z)
        logits[name] = z
        preds[name] = z.argmax(axis=1)

    labels = np.arange(len(classes))
    values = {model: {} for model in logits}
    differences = []
    proba_duo = softmax(logits["duo"])
    for name in baselines:
        proba = softmax(logits[name])
        for metric in metrics:
            res = paired_bootstrap(
                y_enc,
                proba_duo,
                proba,
                metric,
                labels=labels,
                y_pred_a=preds["duo"],
                y_pred_b=preds[name],
                logits_a=logits["duo"],
                logits_b=logits[name],
                n_resamples=n_resamples,
                confidence_level=confidence_level,
                random_state=random_state,
            )
            values["duo"][metric] = float(res.statistic_a)
            values[name][metric] = float(res.statistic_b)
            diff = float(res.statistic)
            band = tie_band(float(res.statistic_b), tie)
            se, p = raw_test(diff, np.asarray(res.bootstrap_distribution), band)
            differences.append(
                {
                    "baseline": name,
                    "metric": metric,
                    "difference": diff,
                    "se": se,
                    "p_raw": p,
                    "tie": band,
                }
            )
    # one family, every baseline x metric: the report's test and correction
    # (skduo.evaluation._significance), so p < alpha exactly when the interval
    # lies outside the tie band, exactly when the verdict is not 'same'
    alpha = 1.0 - confidence_level
    tested = [d for d in differences if np.isfinite(d["p_raw"])]
    adjusted, levels = adjust(np.array([d["p_raw"] for d in tested]), alpha, correction)
    for d, p_adj, level in zip(tested, adjusted, levels):
        higher = COMPARE_METRICS[d["metric"]][1]
        d["pvalue"] = float(p_adj)
        d["low"], d["high"] = interval(
            d["difference"], d["se"], level, d["tie"], bool(p_adj < alpha)
        )
        d["verdict"] = verdict(d["difference"], p_adj, alpha, higher)
    for d in differences:
        if not np.isfinite(d["p_raw"]):
            d["pvalue"] = d["low"] = d["high"] = float("nan")
            d["verdict"] = None
        del d["se"], d["p_raw"], d["tie"]
    return Comparison(
        list(logits),
        metrics,
        values,
        differences,
        n_samples=len(y_enc),
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        tie=tie,
        correction=correction,
    )
