r"""Paired bootstrap of a metric difference between two sets of predictions.

Both prediction sets are scored on the *same* resamples of the test rows, so
the interval is that of the difference, not of two separate metrics. The
resamples are drawn as :func:`scipy.stats.bootstrap` draws them (row indices
``rng.integers(0, n, (batch, n))``, batch by batch) and are then counted, so a
resample is a vector of row weights :math:`N_{bi}` (how often row :math:`i`
was drawn, times its ``sample_weight``). Every built-in metric is a function of
a few weighted sums: means for accuracy, NLL and Brier; per-bin sums for ECE;
per-class sums for macro-F1; and, for the selective metrics, cumulative sums
along one sort of the rows by confidence (the tie-aware formulas of
:mod:`skduo.metrics._selective`). So all resamples of a batch are scored with
a few matrix operations and no per-resample sort.

This module also holds the machinery that :mod:`skduo.evaluation` reuses to
compare every duo of a zoo with its temperature-scaled large model on shared
resamples (:class:`_Resampler`, :class:`_Predictions`, :func:`_distribution`).
"""

import inspect
import warnings
from collections import namedtuple
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from scipy.sparse import csc_matrix
from scipy.special import digamma, ndtr, ndtri

from skduo._logit_ops import _row_blocks
from skduo.metrics._base import (
    _as_float_array,
    _check_length,
    _check_proba,
    _check_sample_weight,
    _check_y_true,
    _encode,
    _resolve_classes,
)
from skduo.metrics._selective import _confidence_from_proba
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["ConfidenceInterval", "PairedBootstrapResult", "paired_bootstrap"]

#: Metrics with a vectorised bootstrap (lower is better unless listed in
#: :data:`HIGHER_IS_BETTER`).
BOOTSTRAP_METRICS = (
    "accuracy",
    "f1_macro",
    "nll",
    "brier",
    "ece",
    "correctness_auroc",
    "aurc",
    "eaurc",
    "augrc",
    "coverage_at_accuracy",
)
HIGHER_IS_BETTER = frozenset(
    {"accuracy", "f1_macro", "correctness_auroc", "coverage_at_accuracy"}
)
_RANK_METRICS = frozenset(
    {"correctness_auroc", "aurc", "eaurc", "augrc", "coverage_at_accuracy"}
)
_MEAN_METRICS = frozenset({"accuracy", "nll", "brier"})
_METRIC_PARAMS = {"ece": {"n_bins"}, "coverage_at_accuracy": {"accuracy"}}

_EPS64 = float(np.finfo(np.float64).eps)

#: Elements (resamples x rows) of one batch of resample weights.
_BATCH_ELEMENTS = 2**20

ConfidenceInterval = namedtuple("ConfidenceInterval", ["low", "high"])
ConfidenceInterval.__doc__ = """\
Lower and upper bound of a confidence interval (as in :mod:`scipy.stats`).

Examples
--------
>>> from skduo.metrics import ConfidenceInterval
>>> ConfidenceInterval(-0.1, 0.2).high
0.2
"""


@dataclass
class PairedBootstrapResult:
    """Result of :func:`paired_bootstrap`, named as :func:`scipy.stats.bootstrap`'s.

    Parameters
    ----------
    statistic : float
        Observed difference ``metric(a) - metric(b)`` on all rows.
    statistic_a, statistic_b : float
        The observed metric of each prediction set.
    confidence_interval : ConfidenceInterval
        Interval of the difference (``low``, ``high``).
    bootstrap_distribution : ndarray of shape (n_resamples,)
        The difference on each resample (NaN where the metric is undefined on
        a resample, e.g. correctness AUROC without an error).
    standard_error : float
        Standard deviation of the finite bootstrap differences (``ddof=1``).
    pvalue : float
        P-value of "no difference" (see :func:`paired_bootstrap`).
    confidence_level : float
        Level of the interval.
    method : {'percentile', 'basic', 'BCa'}
        Interval method.
    metric : str
        Name of the metric.
    higher_is_better : bool or None
        Whether larger metric values are better (None for a callable metric).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.metrics import paired_bootstrap
    >>> y = np.array([0, 1, 1, 0, 1, 0])
    >>> a = np.array([[0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4],
    ...               [0.4, 0.6], [0.7, 0.3]])
    >>> res = paired_bootstrap(y, a, np.full((6, 2), 0.5), "nll",
    ...                        n_resamples=200, random_state=0)
    >>> res.significant, res.better
    (True, 'a')
    """

    statistic: float
    statistic_a: float
    statistic_b: float
    confidence_interval: ConfidenceInterval
    bootstrap_distribution: np.ndarray = field(repr=False)
    standard_error: float
    pvalue: float
    confidence_level: float
    method: str
    metric: str
    higher_is_better: bool | None = None

    @property
    def significant(self):
        """Whether the interval excludes 0 (the difference is significant)."""
        low, high = self.confidence_interval
        return bool(low > 0 or high < 0)

    @property
    def better(self):
        """``'a'`` or ``'b'`` when significantly better, else None.

        Needs a metric whose direction is known (every built-in metric).
        """
        if not self.significant or self.higher_is_better is None:
            return None
        a_larger = self.confidence_interval.low > 0
        return "a" if a_larger == self.higher_is_better else "b"


# --------------------------------------------------------------------------
# Resampling: row weights of each resample, reproducible pass after pass
# --------------------------------------------------------------------------
class _Resampler:
    """Batches of bootstrap row weights, identical on every pass.

    Each pass draws ``rng.integers(0, n, (batch, n))`` batch by batch from a
    copy of the generator's starting state (scipy's draws), counts the draws
    per row and multiplies by ``sample_weight``. Several prediction sets
    scored on separate passes therefore share their resamples (pairing).
    """

    def __init__(
        self, n, n_resamples, random_state=None, sample_weight=None, batch=None
    ):
        self.n = int(n)
        self.n_resamples = int(n_resamples)
        self.batch = int(batch or max(1, min(self.n_resamples, _BATCH_ELEMENTS // n)))
        self.sample_weight = sample_weight
        if isinstance(random_state, np.random.RandomState):
            self._legacy = True
            self._state = random_state.get_state()
        else:
            self._legacy = False
            if not isinstance(random_state, np.random.Generator):
                random_state = np.random.default_rng(random_state)
            self._gen_type = type(random_state.bit_generator)
            self._state = random_state.bit_generator.state
        self._source = random_state
        self._cache = None

    def _generator(self):
        if self._legacy:
            rs = np.random.RandomState()
            rs.set_state(self._state)
            return lambda size: rs.randint(0, self.n, size=size)
        bitgen = self._gen_type()
        bitgen.state = self._state
        gen = np.random.Generator(bitgen)
        self._last = gen
        return lambda size: gen.integers(0, self.n, size)

    @property
    def unit(self):
        """Whether every resample weight is an integer count (no sample_weight)."""
        return self.sample_weight is None

    def batches(self):
        """Yield ``(start, weights)`` with weights of shape (b, n), float64."""
        if self._cache is not None:
            yield from self._cache
            return
        draw = self._generator()
        n, out = self.n, []
        keep = self.n_resamples * n <= 4 * _BATCH_ELEMENTS
        for start in range(0, self.n_resamples, self.batch):
            b = min(self.batch, self.n_resamples - start)
            idx = draw((b, n))
            idx += (np.arange(b) * n)[:, None]
            counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
            weights = counts.astype(np.float64)
            if self.sample_weight is not None:
                weights *= self.sample_weight
            if keep:
                out.append((start, weights))
            yield start, weights
        if not self._legacy and isinstance(self._source, np.random.Generator):
            # leave the caller's generator where scipy would leave it
            self._source.bit_generator.state = self._last.bit_generator.state
        if keep:
            self._cache = out


# --------------------------------------------------------------------------
# Per-row statistics of one prediction set
# --------------------------------------------------------------------------
class _Predictions:
    """What the vectorised metrics need of one set of predictions.

    Parameters
    ----------
    y_enc : ndarray of shape (n,)
        Label positions in the columns.
    proba : ndarray of shape (n, n_classes)
        Probabilities (float64).
    metrics : iterable of str
        The metrics to prepare for.
    logits : ndarray, default=None
        When given, the NLL is computed from them exactly (no clipping).
    pred : ndarray of shape (n,), default=None
        Predicted columns (default: arg-max of ``proba``).
    confidence : {'msp', 'margin', 'neg_entropy'}
        Confidence of ``pred`` for the selective metrics.
    n_bins : int
        Uniform bins of the ECE.
    accuracy : float
        Target accuracy of ``coverage_at_accuracy``.
    nll_eps : float
        Clipping of probabilities in the NLL (without logits).
    """

    def __init__(
        self,
        y_enc,
        proba,
        metrics,
        *,
        logits=None,
        pred=None,
        confidence="msp",
        n_bins=15,
        accuracy=0.98,
        nll_eps=_EPS64,
    ):
        metrics = set(metrics)
        n, n_classes = proba.shape
        rows = np.arange(n)
        argmax = np.argmax(proba, axis=1)
        pred = argmax if pred is None else np.asarray(pred, dtype=np.intp)
        self.n = n
        self.accuracy = float(accuracy)
        correct = pred == y_enc
        # Every non-rank metric is a function of weighted sums sum_i w_i a_ij:
        # one sparse (n, m) matrix of the a_ij scores all of them at once.
        columns, self.slices = [], {}

        def add(name, rows_, cols, data, width):
            start = sum(c[3] for c in columns)
            columns.append((rows_, cols + start, data, width))
            self.slices[name] = slice(start, start + width)

        every, zeros = rows, np.zeros(n, dtype=np.intp)
        self.values = {}  # per-row values of the mean metrics (for the jackknife)
        if "accuracy" in metrics:
            self.values["accuracy"] = correct.astype(np.float64)
        if "nll" in metrics:
            if logits is not None:
                self.values["nll"] = _nll_rows(logits, y_enc)
            else:
                with np.errstate(divide="ignore"):
                    p_true = np.maximum(proba[rows, y_enc], nll_eps)
                    self.values["nll"] = -np.log(p_true)
        if "brier" in metrics:
            diff = proba.copy()
            diff[rows, y_enc] -= 1.0
            self.values["brier"] = np.einsum("ij,ij->i", diff, diff)
        for name, v in self.values.items():
            add(name, every, zeros, v, 1)
        if "ece" in metrics:
            conf_top = proba[rows, argmax]
            edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
            bins = np.clip(
                np.searchsorted(edges, conf_top, side="left") - 1, 0, n_bins - 1
            )
            add("ece", every, bins, conf_top - (argmax == y_enc), int(n_bins))
        if "f1_macro" in metrics:
            ones = np.ones(n)
            add("f1_support", every, y_enc, ones, n_classes)
            add("f1_tp", every, y_enc, correct.astype(np.float64), n_classes)
            add("f1_predicted", every, pred, ones, n_classes)
        if metrics & _RANK_METRICS:
            # tie groups by decreasing confidence; the rank metrics need the
            # weight and error weight of the groups holding an error, and the
            # weight between them (segments), all sums of row weights
            conf = _confidence_from_proba(proba, pred, confidence)
            order = np.argsort(-conf, kind="stable")
            starts = _run_starts(conf[order])
            ends = np.append(starts[1:], n)
            wrong_sorted = ~correct[order]
            group = np.repeat(np.arange(starts.shape[0]), np.diff(np.append(starts, n)))
            err_groups = np.unique(group[wrong_sorted])
            bounds = np.concatenate(
                [[0], np.column_stack([starts[err_groups], ends[err_groups]]).ravel()]
            )
            segment = np.searchsorted(bounds, np.arange(n), side="right") - 1
            position = np.empty(n, dtype=np.intp)
            position[order] = np.arange(n)
            add("rank_segments", every, segment[position], np.ones(n), bounds.shape[0])
            err_index = np.searchsorted(err_groups, group[position])
            wrong = np.flatnonzero(~correct)
            add(
                "rank_errors",
                wrong,
                err_index[wrong],
                np.ones(wrong.shape[0]),
                err_groups.shape[0],
            )
            sizes = (ends - starts)[err_groups]
            n_wrong = np.bincount(group[wrong_sorted], minlength=starts.shape[0])
            # a group mixing right and wrong rows: its error rate varies
            self.rank_mixed = bool((sizes != n_wrong[err_groups]).any())
        if columns:
            self.linear = csc_matrix(
                (
                    np.concatenate([c[2] for c in columns]),
                    (
                        np.concatenate([c[0] for c in columns]),
                        np.concatenate([c[1] for c in columns]),
                    ),
                ),
                shape=(n, sum(c[3] for c in columns)),
            )


def _nll_rows(logits, y_enc):
    """Per-row ``logsumexp(z) - z[y]`` in float64, in row blocks (exact)."""
    z = np.asarray(logits)
    out = np.empty(z.shape[0])
    for rows in _row_blocks(z.shape):
        block = np.asarray(z[rows], dtype=np.float64)
        top = block.max(axis=1)
        lse = top + np.log(np.exp(block - top[:, None]).sum(axis=1))
        out[rows] = lse - block[np.arange(block.shape[0]), y_enc[rows]]
    return out


def _run_starts(sorted_values):
    """Start index of each run of equal values in a sorted array."""
    change = np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.intp)


class _Harmonic:
    """Harmonic numbers ``H_x`` and ``F_x = x H_x``: tables for integer ``x``.

    For non-integer ``x`` (non-unit weights), ``H_x = psi(x + 1) + gamma``, the
    digamma continuation that :func:`skduo.metrics.aurc` uses.
    """

    def __init__(self, n_max, integer):
        self.integer = integer
        if integer:
            k = np.arange(0, int(n_max) + 1, dtype=np.float64)
            self.h_table = np.concatenate([[0.0], np.cumsum(1.0 / k[1:])])
            self.f_table = k * self.h_table

    def h(self, x):
        if self.integer:  # x holds exact integers: the cast is exact
            return self.h_table[np.asarray(x).astype(np.intp)]
        return digamma(x + 1.0) + np.euler_gamma

    def f(self, x):
        if self.integer:
            return self.f_table[np.asarray(x).astype(np.intp)]
        return x * (digamma(x + 1.0) + np.euler_gamma)


def _metric_values(pred, weights, metrics, harmonic=None):
    """Each metric of ``pred`` under each row of ``weights`` (b, n): dict of (b,)."""
    total = weights.sum(axis=1)
    metrics = set(metrics)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.asarray(weights @ pred.linear)  # every sum, one sparse product
        if metrics - _RANK_METRICS:
            for name in _MEAN_METRICS & metrics:
                out[name] = sums[:, pred.slices[name]][:, 0] / total
            if "ece" in metrics:
                gaps = sums[:, pred.slices["ece"]]
                out["ece"] = np.abs(gaps).sum(axis=1) / total
            if "f1_macro" in metrics:
                support = sums[:, pred.slices["f1_support"]]
                tp = sums[:, pred.slices["f1_tp"]]
                denom = support + sums[:, pred.slices["f1_predicted"]]
                present = denom > 0  # the classes of y or y_pred in the resample
                f1 = np.where(present, 2.0 * tp / np.where(present, denom, 1.0), 0.0)
                out["f1_macro"] = f1.sum(axis=1) / present.sum(axis=1)
        if metrics & _RANK_METRICS:
            if harmonic is None:
                harmonic = _Harmonic(0, False)
            out.update(_rank_metrics(pred, sums, total, metrics, harmonic))
    return out


def _rank_metrics(pred, sums, total, metrics, harmonic):
    r"""The selective metrics of every resample from one cumulative sum.

    With tie groups :math:`g` in decreasing confidence, group weight
    :math:`k_g`, error weight :math:`e_g`, cumulative weight :math:`C_g` and
    error rate :math:`r_g = e_g / k_g`, Abel summation of the tie-aware
    formulas of :mod:`skduo.metrics._selective` leaves sums over the groups
    that hold an error only:

    .. math::

        W \cdot \mathrm{AURC} = E (1 + H_W) - \sum_g r_g
        \left(F_{C_g} - F_{C_g - k_g}\right), \quad F_x = x H_x,

        2 W^2 \cdot \mathrm{AUGRC} = \sum_g e_g (2 W - 2 C_g + k_g),

        \mathrm{AUROC} = \frac{\sum_g e_g (C_g - k_g - E_{g-1})
        + \tfrac12 \sum_g (k_g - e_g) e_g}{(W - E) E},

    with :math:`E` the total and :math:`E_{g-1}` the cumulative error weight
    before group :math:`g`.
    """
    segments = sums[:, pred.slices["rank_segments"]]
    cumulative = np.cumsum(segments, axis=1)
    k = segments[:, 1::2]  # the error groups' weight...
    c = cumulative[:, 1::2]  # ... and the cumulative weight at their end
    e = sums[:, pred.slices["rank_errors"]]  # their error weight
    tied = pred.rank_mixed
    errors = e.sum(axis=1)
    correct = total - errors
    metrics = set(metrics)
    if metrics & {"eaurc", "correctness_auroc", "coverage_at_accuracy"}:
        e_before = np.cumsum(e, axis=1) - e
    out = {}
    if metrics & {"aurc", "eaurc"}:
        drop = harmonic.f(c) - harmonic.f(c - k)
        if tied:
            drop *= np.divide(e, k, out=np.zeros_like(e), where=k > 0)
        # (groups of wrong rows only: rate 1 wherever drawn)
        aurc = (errors * (1.0 + harmonic.h(total)) - drop.sum(axis=1)) / total
        aurc = np.maximum(aurc, 0.0)  # round-off of the cancellation
        if "aurc" in metrics:
            out["aurc"] = aurc
        if "eaurc" in metrics:
            tail = harmonic.h(total) - harmonic.h(correct)
            optimal = np.where(errors > 0, (errors - correct * tail) / total, 0.0)
            # perfect ranking: all correct weight precedes the first error
            first = np.argmax(e > 0, axis=1) if e.shape[1] else np.zeros(0, int)
            rows = np.arange(sums.shape[0])
            if e.shape[1]:
                before = (c - k)[rows, first] - e_before[rows, first]
            else:
                before = correct
            slack = 0.0 if harmonic.integer else 1e-12 * total
            perfect = (errors == 0) | (correct == 0) | (correct - before <= slack)
            out["eaurc"] = np.where(perfect, 0.0, np.maximum(aurc - optimal, 0.0))
    if "augrc" in metrics:
        twice = (e * (2.0 * total[:, None] - 2.0 * c + k)).sum(axis=1)
        out["augrc"] = twice / (2.0 * total**2)
    if "correctness_auroc" in metrics:
        num = (e * (c - k - e_before)).sum(axis=1) + 0.5 * ((k - e) * e).sum(axis=1)
        valid = (correct > 0) & (errors > 0)
        auc = num / np.where(valid, correct * errors, 1.0)
        out["correctness_auroc"] = np.where(valid, auc, np.nan)
    if "coverage_at_accuracy" in metrics:
        # E/C is constant between errors while C grows: the candidates are the
        # point just before each error group, each error group, and the end
        slack = 0.0 if harmonic.integer else 1e-12
        target = pred.accuracy - slack
        e_cum = e_before + e
        cand_c = np.concatenate([c - k, c, total[:, None]], axis=1)
        cand_e = np.concatenate([e_before, e_cum, errors[:, None]], axis=1)
        ok = (cand_c > 0) & ((cand_c - cand_e) >= target * cand_c)
        best = np.where(ok, cand_c, 0.0).max(axis=1)
        out["coverage_at_accuracy"] = best / total
    return out


def _distribution(resampler, pred, metrics):
    """Bootstrap distribution of each metric of ``pred``: dict of (n_resamples,)."""
    harmonic = _Harmonic(resampler.n, resampler.unit)
    out = {m: np.empty(resampler.n_resamples) for m in metrics}
    for start, weights in resampler.batches():
        values = _metric_values(pred, weights, metrics, harmonic)
        for m in metrics:
            out[m][start : start + weights.shape[0]] = values[m]
    return out


def _observed(pred, metrics, sample_weight=None):
    """Each metric of ``pred`` on all rows (``sample_weight`` or ones)."""
    w = np.ones(pred.n) if sample_weight is None else sample_weight
    harmonic = _Harmonic(pred.n, sample_weight is None)
    return {
        m: float(v[0])
        for m, v in _metric_values(pred, w[None, :], metrics, harmonic).items()
    }


def _jackknife(pred, metrics, sample_weight=None):
    """Leave-one-out values of each metric: dict of (n,) arrays.

    Mean metrics in closed form; the others scored on blocks of the
    leave-one-out weight matrix (``n`` evaluations, O(n^2) work).
    """
    n = pred.n
    w = np.ones(n) if sample_weight is None else sample_weight
    out = {}
    total = w.sum()
    for m in set(metrics) & _MEAN_METRICS:
        v = pred.values[m]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[m] = (w @ v - w * v) / (total - w)
    rest = [m for m in metrics if m not in out]
    if rest:
        harmonic = _Harmonic(n, sample_weight is None)
        block = max(1, _BATCH_ELEMENTS // n)
        values = {m: np.empty(n) for m in rest}
        for start in range(0, n, block):
            stop = min(start + block, n)
            weights = np.tile(w, (stop - start, 1))
            weights[np.arange(stop - start), np.arange(start, stop)] = 0.0
            for m, v in _metric_values(pred, weights, rest, harmonic).items():
                values[m][start:stop] = v
        out.update(values)
    return out


# --------------------------------------------------------------------------
# Intervals and p-values (scipy.stats.bootstrap's formulas)
# --------------------------------------------------------------------------
def _fraction_below(dist, value):
    """scipy's percentile of score, kind 'mean', as a fraction."""
    return (np.count_nonzero(dist < value) + np.count_nonzero(dist <= value)) / (
        2.0 * dist.shape[0]
    )


def _acceleration(jack):
    u = jack.mean() - jack
    den = (u**2).sum()
    if not den > 0:
        return 0.0
    return float((u**3).sum() / (6.0 * den**1.5))


def _interval(dist, observed, confidence_level, method, alternative, jack=None):
    """``(low, high, pvalue)`` of a bootstrap distribution of a difference."""
    alpha = (1 - confidence_level) / (2 if alternative == "two-sided" else 1)
    n = dist.shape[0]
    if method == "BCa":
        z0 = float(ndtri(_fraction_below(dist, observed)))
        a = _acceleration(jack)
        z_a = float(ndtri(alpha))

        def adjusted(z):
            return float(ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))))

        levels = adjusted(z_a), adjusted(-z_a)
    else:
        levels = alpha, 1 - alpha
    if np.isfinite(levels).all():
        low, high = np.quantile(dist, levels)
    else:
        low = high = np.nan
    if method == "basic":
        low, high = 2 * observed - high, 2 * observed - low
    if alternative == "less":
        low = -np.inf
    elif alternative == "greater":
        high = np.inf

    # p-value: invert the interval, i.e. find the nominal one-sided level at
    # which a bound reaches 0
    if method == "basic":
        q = 1.0 - _fraction_below(dist, 2 * observed)
    else:
        q = _fraction_below(dist, 0.0)
    if method == "BCa" and 0 < q < 1:
        zq = float(ndtri(q))
        z0 = float(ndtri(_fraction_below(dist, observed)))
        a = _acceleration(jack)
        u = (zq - z0) / (1 + a * (zq - z0))
        q = float(ndtr(u - z0))
    one_sided = {"two-sided": 2 * min(q, 1 - q), "less": 1 - q, "greater": q}
    pvalue = min(1.0, max(one_sided[alternative], 1.0 / n))
    return float(low), float(high), float(pvalue)


# --------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------
def _known_metric(metric, metric_params):
    """The built-in name of ``metric`` (a name or a skduo metric function)."""
    if isinstance(metric, str):
        return metric
    from skduo.metrics import (
        augrc,
        aurc,
        correctness_auroc,
        coverage_at_accuracy,
        eaurc,
        expected_calibration_error,
        multiclass_brier_score,
        nll_loss,
    )

    names = {
        nll_loss: "nll",
        multiclass_brier_score: "brier",
        expected_calibration_error: "ece",
        aurc: "aurc",
        eaurc: "eaurc",
        augrc: "augrc",
        correctness_auroc: "correctness_auroc",
        coverage_at_accuracy: "coverage_at_accuracy",
    }
    name = names.get(metric)
    if name is None or set(metric_params) - _METRIC_PARAMS.get(name, set()):
        return None
    return name


def _accepts(func, name):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _callable_distribution(resampler, func, y, proba, pred, kwargs):
    """Bootstrap values of a user metric, one call per resample."""
    out = np.empty(resampler.n_resamples)
    for start, weights in resampler.batches():
        for j, w in enumerate(weights):
            keep = w > 0
            extra = dict(kwargs)
            if pred is not None:
                extra["y_pred"] = pred[keep]
            out[start + j] = func(y[keep], proba[keep], sample_weight=w[keep], **extra)
    return out


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba_a": ["array-like"],
        "y_proba_b": ["array-like"],
        "metric": [StrOptions(set(BOOTSTRAP_METRICS)), callable],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
        "y_pred_a": ["array-like", None],
        "y_pred_b": ["array-like", None],
        "logits_a": ["array-like", None],
        "logits_b": ["array-like", None],
        "confidence": [StrOptions({"msp", "margin", "neg_entropy"})],
        "metric_params": [dict, None],
        "n_resamples": [Interval(Integral, 1, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"percentile", "basic", "BCa", "bca"})],
        "alternative": [StrOptions({"two-sided", "less", "greater"})],
        "batch": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
    },
    prefer_skip_nested_validation=True,
)
def paired_bootstrap(
    y_true,
    y_proba_a,
    y_proba_b,
    metric,
    *,
    labels=None,
    sample_weight=None,
    y_pred_a=None,
    y_pred_b=None,
    logits_a=None,
    logits_b=None,
    confidence="msp",
    metric_params=None,
    n_resamples=1000,
    confidence_level=0.95,
    method="percentile",
    alternative="two-sided",
    batch=None,
    random_state=None,
):
    r"""Paired bootstrap interval of ``metric(a) - metric(b)`` on the same rows.

    Resamples the rows with replacement ``n_resamples`` times, scores both
    prediction sets on each resample and returns the observed difference, its
    interval at ``confidence_level`` and a p-value. Because both sets are
    scored on the same resamples, the interval reflects the *paired*
    variation: two models that err on the same hard rows have a much tighter
    difference than their separate intervals suggest.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba_a, y_proba_b : array-like of shape (n_samples, n_classes)
        Probabilities of the two prediction sets; columns follow ``labels``
        (or the sorted unique labels of ``y_true``).

    metric : str or callable
        One of ``'accuracy'``, ``'f1_macro'``, ``'nll'``, ``'brier'``,
        ``'ece'``, ``'correctness_auroc'``, ``'aurc'``, ``'eaurc'``,
        ``'augrc'``, ``'coverage_at_accuracy'`` (vectorised: all resamples in
        a few array operations; the skduo metric functions of the same names,
        e.g. :func:`aurc`, are recognised too). Any other callable is called
        once per resample as ``metric(y_true, y_proba, sample_weight=w,
        **metric_params)`` on the drawn rows, ``w`` counting how often each was
        drawn (times ``sample_weight``); ``labels`` and ``y_pred`` are passed
        when it accepts them.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative frequency weights, multiplied into each resample's
        counts.

    y_pred_a, y_pred_b : array-like of shape (n_samples,), default=None
        Predicted labels when they are not the arg-max of the probabilities
        (e.g. a UQ-only duo); used by accuracy, macro-F1 and the selective
        metrics.

    logits_a, logits_b : array-like of shape (n_samples, n_classes), \
            default=None
        Logits of the two sets; when given, the NLL is computed from them
        exactly (as :func:`nll_loss` with ``logits=``) instead of from clipped
        probabilities.

    confidence : {'msp', 'margin', 'neg_entropy'}, default='msp'
        Confidence of the selective metrics (see :func:`aurc`).

    metric_params : dict, default=None
        ``{'n_bins': int}`` for ``'ece'`` (uniform bins, default 15),
        ``{'accuracy': float}`` for ``'coverage_at_accuracy'`` (default
        0.98); for a callable, its keyword arguments.

    n_resamples : int, default=1000
        Number of bootstrap resamples.

    confidence_level : float, default=0.95
        Level of the interval.

    method : {'percentile', 'basic', 'BCa'}, default='percentile'
        Interval, as in :func:`scipy.stats.bootstrap`. ``'BCa'`` needs a
        leave-one-out (jackknife) pass: closed-form for accuracy, NLL and
        Brier, ``n`` evaluations (O(n^2) work) for the other metrics, which
        is why it is not the default here (scipy's default is ``'BCa'``).

    alternative : {'two-sided', 'less', 'greater'}, default='two-sided'
        As in :func:`scipy.stats.bootstrap`: ``'less'`` gives the interval
        ``(-inf, high]`` and the p-value of "a - b >= 0".

    batch : int, default=None
        Resamples scored per vectorised step (default: as many as fit in about
        10^6 resample-row entries). The resamples equal those of
        :func:`scipy.stats.bootstrap` with the same ``batch``.

    random_state : int, numpy.random.Generator, RandomState or None, \
            default=None
        Seed of the resampling. An int seeds :func:`numpy.random.default_rng`,
        and the resamples are then exactly those of
        ``scipy.stats.bootstrap(..., rng=random_state)``.

    Returns
    -------
    result : PairedBootstrapResult
        ``statistic`` (observed ``metric(a) - metric(b)``), ``statistic_a``,
        ``statistic_b``, ``confidence_interval`` (``low``, ``high``),
        ``bootstrap_distribution``, ``standard_error``, ``pvalue``, and the
        properties ``significant`` (the interval excludes 0) and ``better``.

    See Also
    --------
    scipy.stats.bootstrap : The general bootstrap, whose conventions this
        follows.

    Notes
    -----
    With :math:`\hat\theta = m(a) - m(b)` and :math:`\hat\theta^*_b` its value
    on resample :math:`b`, the percentile interval is
    :math:`[q_{\alpha/2}, q_{1-\alpha/2}]` of the :math:`\hat\theta^*_b`
    (linear-interpolated quantiles), the basic interval
    :math:`[2\hat\theta - q_{1-\alpha/2}, 2\hat\theta - q_{\alpha/2}]`, and BCa
    adjusts the two levels by the bias :math:`z_0` and the jackknife
    acceleration :math:`a` (Efron & Tibshirani 1993, eq. 14.10 and 14.15),
    exactly as :func:`scipy.stats.bootstrap` does.

    The p-value inverts the interval: it is the smallest
    :math:`1 - \text{confidence\_level}` at which the interval (same method)
    excludes 0, i.e. :math:`2 \min(F(0), 1 - F(0))` for the percentile
    interval, with :math:`F` the bootstrap distribution function (ties count
    half). It cannot resolve values below :math:`1/n_\text{resamples}` and is
    reported as at least that. ``significant`` is the interval's verdict; the
    two agree up to the discreteness of the resamples.

    Resamples on which the metric is undefined (correctness AUROC of a
    resample without errors) are NaN in ``bootstrap_distribution`` and left
    out of the interval, with a warning.

    References
    ----------
    .. [1] Efron & Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall 1993, chapters 13-15.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.metrics import paired_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> def proba(signal):
    ...     z = rng.normal(size=(500, 3)) + signal * np.eye(3)[y]
    ...     e = np.exp(z - z.max(1, keepdims=True))
    ...     return e / e.sum(1, keepdims=True)
    >>> strong, weak = proba(2.0), proba(1.0)
    >>> res = paired_bootstrap(y, strong, weak, "aurc", random_state=0)
    >>> bool(res.statistic < 0), res.significant, res.better
    (True, True, 'a')
    """
    method = "BCa" if method.lower() == "bca" else method
    metric_params = dict(metric_params or {})
    y = _check_y_true(y_true)
    n = y.shape[0]
    classes, y_enc = _resolve_classes(y, labels)
    proba_a, dtype_a = _check_proba(
        y_proba_a, n, classes, labels is not None, name="y_proba_a"
    )
    proba_b, dtype_b = _check_proba(
        y_proba_b, n, classes, labels is not None, name="y_proba_b"
    )
    sw = _check_sample_weight(sample_weight, n)
    preds = []
    for y_pred, name in ((y_pred_a, "y_pred_a"), (y_pred_b, "y_pred_b")):
        if y_pred is None:
            preds.append(None)
            continue
        y_pred = _check_y_true(y_pred, name=name)
        _check_length(n, y_pred, name)
        preds.append(_encode(y_pred, classes, name=name))
    logits = []
    for z, name in ((logits_a, "logits_a"), (logits_b, "logits_b")):
        if z is not None:
            z, _ = _as_float_array(z, name, ndim=2)
            if z.shape != proba_a.shape:
                raise ValueError(
                    f"{name} must have the shape of the probabilities {proba_a.shape}; "
                    f"got {z.shape}."
                )
        logits.append(z)
    resampler = _Resampler(n, n_resamples, random_state, sw, batch)

    name = _known_metric(metric, metric_params)
    if name is not None:
        unknown = set(metric_params) - _METRIC_PARAMS.get(name, set())
        if unknown:
            raise ValueError(
                f"metric_params {sorted(unknown)} do not apply to metric {name!r}."
            )
        options = {
            "n_bins": int(metric_params.get("n_bins", 15)),
            "accuracy": float(metric_params.get("accuracy", 0.98)),
            "confidence": confidence,
        }
        sets = [
            _Predictions(
                y_enc,
                p,
                [name],
                logits=z,
                pred=pr,
                nll_eps=float(np.finfo(dt).eps),
                **options,
            )
            for p, z, pr, dt in zip(
                (proba_a, proba_b), logits, preds, (dtype_a, dtype_b)
            )
        ]
        harmonic = _Harmonic(n, resampler.unit)
        dist = np.empty(n_resamples)
        for start, weights in resampler.batches():
            va = _metric_values(sets[0], weights, [name], harmonic)[name]
            vb = _metric_values(sets[1], weights, [name], harmonic)[name]
            dist[start : start + weights.shape[0]] = va - vb
        obs_a = _observed(sets[0], [name], sw)[name]
        obs_b = _observed(sets[1], [name], sw)[name]
        jack = None
        if method == "BCa":
            ja = _jackknife(sets[0], [name], sw)[name]
            jb = _jackknife(sets[1], [name], sw)[name]
            jack = ja - jb
        higher = name in HIGHER_IS_BETTER
    else:
        func = metric
        kwargs = dict(metric_params)
        if _accepts(func, "labels") and "labels" not in kwargs:
            kwargs["labels"] = classes
        y_cls = classes[y_enc]
        pa = None if preds[0] is None else classes[preds[0]]
        pb = None if preds[1] is None else classes[preds[1]]
        if (pa is not None or pb is not None) and not _accepts(func, "y_pred"):
            raise ValueError("y_pred_a / y_pred_b given, but metric takes no y_pred.")
        # each pass restarts from the same generator state: same resamples
        dist = _callable_distribution(resampler, func, y_cls, proba_a, pa, kwargs)
        dist -= _callable_distribution(resampler, func, y_cls, proba_b, pb, kwargs)
        w_all = np.ones(n) if sw is None else sw

        def full(p, pr):
            extra = dict(kwargs)
            if pr is not None:
                extra["y_pred"] = pr
            return float(func(y_cls, p, sample_weight=w_all, **extra))

        obs_a, obs_b = full(proba_a, pa), full(proba_b, pb)
        jack = None
        if method == "BCa":
            jack = np.empty(n)
            for i in range(n):
                w = w_all.copy()
                w[i] = 0.0
                keep = w > 0
                ex_a, ex_b = dict(kwargs), dict(kwargs)
                if pa is not None:
                    ex_a["y_pred"] = pa[keep]
                if pb is not None:
                    ex_b["y_pred"] = pb[keep]
                jack[i] = func(
                    y_cls[keep], proba_a[keep], sample_weight=w[keep], **ex_a
                ) - func(y_cls[keep], proba_b[keep], sample_weight=w[keep], **ex_b)
        name = getattr(func, "__name__", repr(func))
        higher = None

    observed = obs_a - obs_b
    finite = np.isfinite(dist)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {n_resamples} resamples leave {name} "
            "undefined; the interval uses the others.",
            UserWarning,
            stacklevel=2,
        )
    used = dist[finite]
    if used.shape[0] == 0 or not np.isfinite(observed):
        low = high = pvalue = se = float("nan")
    else:
        if jack is not None:
            jack = jack[np.isfinite(jack)]
        low, high, pvalue = _interval(
            used, observed, confidence_level, method, alternative, jack
        )
        se = float(np.std(used, ddof=1)) if used.shape[0] > 1 else float("nan")
    return PairedBootstrapResult(
        statistic=float(observed),
        statistic_a=float(obs_a),
        statistic_b=float(obs_b),
        confidence_interval=ConfidenceInterval(low, high),
        bootstrap_distribution=dist,
        standard_error=se,
        pvalue=pvalue,
        confidence_level=float(confidence_level),
        method=method,
        metric=name,
        higher_is_better=higher,
    )
