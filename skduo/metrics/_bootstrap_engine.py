r"""The vectorised bootstrap: resample weights and metrics of all resamples at once.

The resamples are drawn as :func:`scipy.stats.bootstrap` draws them (row indices
``rng.integers(0, n, (batch, n))``, batch by batch) and then counted, so a
resample is a vector of row weights :math:`N_{bi}` (how often row :math:`i`
was drawn, times its ``sample_weight``). Every built-in metric is a function of
weighted sums of per-row scores: means for accuracy, NLL and Brier; per-bin
sums for ECE; per-class sums for macro-F1; and, for the selective metrics, the
weight of the tie groups that hold an error and of the runs between them, along
one sort of the rows by confidence (the tie-aware formulas of
:mod:`skduo.metrics._selective`, Abel-summed). One sparse product per batch of
resamples gives all of them: no per-resample sort.

Private; :func:`skduo.metrics.paired_bootstrap` and :mod:`skduo.evaluation`
(which scores every duo of a zoo and its temperature-scaled large model on
shared resamples) use it.
"""

import functools

import numpy as np
from scipy.sparse import csc_matrix
from scipy.special import digamma

from skduo.metrics._classification import _nll_from_logits
from skduo.metrics._kernel_choice import compiled_kernel, load_compiled
from skduo.metrics._selective import _confidence_from_proba
from skduo.utils._arrays import map_blocks

__all__ = []  # private module

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

#: Resamples x rows up to which the draws are kept between passes (one byte
#: each), so that every prediction set scored on a split reuses them.
_CACHED_ELEMENTS = 2**26


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

    def batches(self, counts=False):
        """Yield ``(start, weights)`` with weights of shape (b, n), float64.

        With ``counts``, the integer counts instead (uint8 where every count
        is below 256, else int64): the resample weights when there is no
        ``sample_weight``.
        """
        if self._cache is not None:
            if counts:
                yield from self._cache
            else:
                yield from self._cached()
            return
        as_counts = counts
        draw = self._generator()
        n, out = self.n, []
        # the counts are kept (as uint8: a row drawn 256 times in one resample
        # of n >= 256 rows has probability below 1e-500) for the next passes
        keep = self.n_resamples * n <= _CACHED_ELEMENTS
        for start in range(0, self.n_resamples, self.batch):
            b = min(self.batch, self.n_resamples - start)
            idx = draw((b, n))
            idx += (np.arange(b) * n)[:, None]
            counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
            small = None
            if keep or as_counts:
                if counts.max(initial=0) < 256:
                    small = counts.astype(np.uint8)
            if keep:
                keep = small is not None
                out.append((start, small))
            if as_counts:
                yield start, counts if small is None else small
            else:
                yield start, self.weights(counts)
        if not self._legacy and isinstance(self._source, np.random.Generator):
            # leave the caller's generator where scipy would leave it
            self._source.bit_generator.state = self._last.bit_generator.state
        if keep:
            self._cache = out

    def weights(self, counts):
        """Float64 resample weights of kept counts."""
        weights = counts.astype(np.float64)
        if self.sample_weight is not None:
            weights *= self.sample_weight
        return weights

    def _cached(self):
        for start, counts in self._cache:
            yield start, self.weights(counts)


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
    stats : dict, default=None
        :func:`row_statistics` of the predictions, computed elsewhere (e.g.
        streamed over row blocks); ``proba`` and ``logits`` are then unused
        (``proba`` may be None).
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
        stats=None,
    ):
        metrics = set(metrics)
        if stats is None:
            stats = row_statistics(
                y_enc,
                proba,
                metrics,
                logits=logits,
                pred=pred,
                confidence=confidence,
                nll_eps=nll_eps,
            )
        n, n_classes = stats["n"], stats["n_classes"]
        rows = np.arange(n)
        argmax = stats["argmax"]
        pred = argmax if pred is None else np.asarray(pred, dtype=np.intp)
        self.n = n
        self.n_classes = n_classes
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
            self.values["nll"] = stats["nll"]
        if "brier" in metrics:
            self.values["brier"] = stats["brier"]
        for name, v in self.values.items():
            add(name, every, zeros, v, 1)
        # what the compiled kernel reads (skduo.metrics._compiled_bootstrap)
        self.rows = {"y": y_enc, "pred": pred, "correct": correct}
        if "ece" in metrics:
            conf_top = stats["top"]
            edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
            bins = np.clip(
                np.searchsorted(edges, conf_top, side="left") - 1, 0, n_bins - 1
            )
            gap = conf_top - (argmax == y_enc)
            add("ece", every, bins, gap, int(n_bins))
            self.rows.update(ece_bin=bins, ece_gap=gap, n_bins=int(n_bins))
        if "f1_macro" in metrics:
            ones = np.ones(n)
            add("f1_support", every, y_enc, ones, n_classes)
            add("f1_tp", every, y_enc, correct.astype(np.float64), n_classes)
            add("f1_predicted", every, pred, ones, n_classes)
        if metrics & _RANK_METRICS:
            # tie groups by decreasing confidence; the rank metrics need the
            # weight and error weight of the groups holding an error, and the
            # weight between them (segments), all sums of row weights
            conf = stats["conf"]
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
            self.rows.update(
                order=order,
                err_starts=starts[err_groups],
                err_ends=ends[err_groups],
                wrong_sorted=wrong_sorted,
            )
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


def row_statistics(
    y_enc,
    proba,
    metrics,
    *,
    logits=None,
    pred=None,
    confidence="msp",
    nll_eps=_EPS64,
):
    """The per-row values :class:`_Predictions` reads of ``proba``.

    A dict: ``n``, ``n_classes``, ``argmax`` (arg-max of ``proba``), ``top``
    (its probability), and as ``metrics`` need them ``nll`` (from ``logits``
    exactly when given, else ``-log max(p_y, nll_eps)``), ``brier`` (``sum_k
    (p_k - [k = y])^2``) and ``conf`` (the confidence of ``pred``, default the
    arg-max). Every value is a function of its own row only, so that the
    statistics of row blocks, concatenated, are those of the whole array:
    :func:`skduo.evaluation` streams them block by block.
    """
    metrics = set(metrics)
    n, n_classes = proba.shape
    rows = np.arange(n)
    argmax = np.argmax(proba, axis=1)
    out = {"n": n, "n_classes": n_classes, "argmax": argmax}
    out["top"] = proba[rows, argmax]
    if "nll" in metrics:
        if logits is not None:
            out["nll"] = _nll_rows(logits, y_enc)
        else:
            with np.errstate(divide="ignore"):
                p_true = np.maximum(proba[rows, y_enc], nll_eps)
                out["nll"] = -np.log(p_true)
    if "brier" in metrics:
        diff = proba.copy()
        diff[rows, y_enc] -= 1.0
        out["brier"] = np.einsum("ij,ij->i", diff, diff)
    if metrics & _RANK_METRICS:
        pred = argmax if pred is None else np.asarray(pred, dtype=np.intp)
        out["conf"] = _confidence_from_proba(proba, pred, confidence)
    return out


def logit_row_statistics(z, y_enc, pred, *, confidence="msp", other_pred=None):
    """:func:`row_statistics` of ``softmax(z)`` for one block of float64 logits.

    One exponential per element serves the probabilities and the NLL (the
    form of :func:`_nll_from_logits`: ``(max - z_y) + log1p(sum of the other
    classes' terms)``); ``z`` is overwritten. The values equal
    :func:`row_statistics` of ``softmax(z)`` with ``logits=z`` to rounding
    (the row sums are summed in another order). ``other_pred`` (a second set
    of predictions on the same probabilities) adds ``other_conf``, their
    confidence.
    """
    n, n_classes = z.shape
    rows = np.arange(n)
    top_col = np.argmax(z, axis=1)
    top = z[rows, top_col]
    z_y = z[rows, y_enc]
    e = z
    e -= top[:, None]
    np.exp(e, out=e)
    e[rows, top_col] = 0.0
    others = e.sum(axis=1)
    e[rows, top_col] = 1.0
    p = e
    p /= (1.0 + others)[:, None]
    argmax = np.argmax(p, axis=1)
    out = {"n": n, "n_classes": n_classes, "argmax": argmax}
    out["top"] = p[rows, argmax]
    out["nll"] = (top - z_y) + np.log1p(others)
    out["conf"] = _confidence_from_proba(p, pred, confidence)
    if other_pred is not None:
        out["other_conf"] = _confidence_from_proba(p, other_pred, confidence)
    p[rows, y_enc] -= 1.0
    out["brier"] = np.einsum("ij,ij->i", p, p)
    return out


def _nll_rows(logits, y_enc):
    """Per-row ``logsumexp(z) - z[y]`` in float64: :func:`nll_loss`'s values."""
    return _nll_from_logits(np.asarray(logits), y_enc)


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
    k = np.ascontiguousarray(segments[:, 1::2])  # the error groups' weight...
    c = np.ascontiguousarray(cumulative[:, 1::2])  # ... the weight at their end
    c_before = c - k  # ... and before them
    e = sums[:, pred.slices["rank_errors"]]  # their error weight
    tied = pred.rank_mixed
    errors = e.sum(axis=1)
    correct = total - errors
    metrics = set(metrics)
    if metrics & {"eaurc", "correctness_auroc", "coverage_at_accuracy"}:
        e_before = np.cumsum(e, axis=1) - e
    out = {}
    if metrics & {"aurc", "eaurc"}:
        drop = harmonic.f(c) - harmonic.f(c_before)
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
                before = c_before[rows, first] - e_before[rows, first]
            else:
                before = correct
            slack = 0.0 if harmonic.integer else 1e-12 * total
            perfect = (errors == 0) | (correct == 0) | (correct - before <= slack)
            out["eaurc"] = np.where(perfect, 0.0, np.maximum(aurc - optimal, 0.0))
    if "augrc" in metrics:
        twice = (e * (2.0 * total[:, None] - 2.0 * c + k)).sum(axis=1)
        out["augrc"] = twice / (2.0 * total**2)
    if "correctness_auroc" in metrics:
        num = (e * (c_before - e_before)).sum(axis=1) + 0.5 * ((k - e) * e).sum(axis=1)
        valid = (correct > 0) & (errors > 0)
        auc = num / np.where(valid, correct * errors, 1.0)
        out["correctness_auroc"] = np.where(valid, auc, np.nan)
    if "coverage_at_accuracy" in metrics:
        # E/C is constant between errors while C grows: the candidates are the
        # point just before each error group, each error group, and the end
        slack = 0.0 if harmonic.integer else 1e-12
        target = pred.accuracy - slack
        e_cum = e_before + e
        best = np.zeros(sums.shape[0])
        for cand_c, cand_e in ((c_before, e_before), (c, e_cum), (total, errors)):
            if cand_c.ndim == 1:
                cand_c, cand_e = cand_c[:, None], cand_e[:, None]
            elif cand_c.shape[1] == 0:  # no error group: only the end counts
                continue
            ok = (cand_c > 0) & ((cand_c - cand_e) >= target * cand_c)
            np.maximum(best, np.where(ok, cand_c, 0.0).max(axis=1), out=best)
        out["coverage_at_accuracy"] = best / total
    return out


#: With ``SKDUO_FIT_KERNEL=auto`` (the default) and numba installed, a
#: bootstrap of at least this many resamples x rows runs the compiled kernel
#: (:mod:`skduo.metrics._compiled_bootstrap`): below, loading numba (~0.5 s
#: once per process) costs more than it saves.
_COMPILED_MIN_ELEMENTS = 2**24

#: Once numba is loaded in this process, from this many.
_WARM_MIN_ELEMENTS = 2**16


def _import_kernel():
    from skduo.metrics import _compiled_bootstrap

    return _compiled_bootstrap


def _load_compiled(forced):
    """The compiled bootstrap kernel's module, or None (see
    :func:`skduo.metrics._kernel_choice.load_compiled`)."""
    return load_compiled(_import_kernel, "bootstrap", forced)


def _compiled_kernel(n_elements):
    """The compiled kernel's module for resamples x rows ``n_elements``, or None.

    :func:`skduo.metrics._kernel_choice.compiled_kernel` from
    :data:`_COMPILED_MIN_ELEMENTS` (:data:`_WARM_MIN_ELEMENTS` once numba is
    loaded in the process).
    """
    return compiled_kernel(
        _import_kernel,
        "bootstrap",
        n_elements,
        _COMPILED_MIN_ELEMENTS,
        _WARM_MIN_ELEMENTS,
    )


def _kernel_data(pred, metrics, n):
    """What :func:`skduo.metrics._compiled_bootstrap.distribution` reads of ``pred``.

    None when the kernel does not apply: it needs every selective metric's
    statistics when one is asked for (:class:`_Predictions` prepares them
    together).
    """
    metrics = set(metrics)
    rows = pred.rows
    rank = bool(metrics & _RANK_METRICS)
    if rank and "order" not in rows:
        return None
    do = np.array(
        [m in metrics for m in ("accuracy", "nll", "brier", "ece", "f1_macro")] + [rank]
    )
    means = np.zeros((3, pred.n))
    for i, name in enumerate(("accuracy", "nll", "brier")):
        if do[i]:
            means[i] = pred.values[name]
    intp = functools.partial(np.ascontiguousarray, dtype=np.intp)
    none = np.zeros(0, dtype=np.intp)
    harmonic = _Harmonic(n, True)
    return {
        "do": do,
        "means": means,
        "ece_bin": intp(rows["ece_bin"]) if do[3] else np.zeros(pred.n, np.intp),
        "ece_gap": (
            np.ascontiguousarray(rows["ece_gap"], dtype=np.float64)
            if do[3]
            else np.zeros(pred.n)
        ),
        "n_bins": rows["n_bins"] if do[3] else 1,
        "y": intp(rows["y"]),
        "correct": np.ascontiguousarray(rows["correct"], dtype=np.bool_),
        "pred": intp(rows["pred"]),
        "n_classes": int(pred.n_classes),
        "order": intp(rows["order"]) if rank else none,
        "err_starts": intp(rows["err_starts"]) if rank else none,
        "err_ends": intp(rows["err_ends"]) if rank else none,
        "wrong_sorted": (
            np.ascontiguousarray(rows["wrong_sorted"], dtype=np.bool_)
            if rank
            else np.zeros(0, dtype=np.bool_)
        ),
        "mixed": bool(getattr(pred, "rank_mixed", False)),
        "h_table": harmonic.h_table,
        "f_table": harmonic.f_table,
        "target": pred.accuracy - 0.0,
    }


def _compiled_distribution(kernel, resampler, pred, metrics, threads):
    """:func:`_distribution` by the compiled kernel, or None where it does not apply."""
    data = _kernel_data(pred, metrics, resampler.n)
    if data is None:
        return None
    slots = {name: i for i, name in enumerate(kernel.SLOTS)}
    out = np.full((len(slots), resampler.n_resamples), np.nan)

    def score(batch):
        kernel.distribution([batch], resampler.n_resamples, data, out)

    if resampler._cache is not None:
        map_blocks(score, resampler._cache, None if threads else 1)
    else:
        for batch in resampler.batches(counts=True):
            score(batch)
    return {m: out[slots[m]].copy() for m in metrics}


def _distribution(resampler, pred, metrics, threads=True):
    """Bootstrap distribution of each metric of ``pred``: dict of (n_resamples,).

    With ``threads``, kept batches are scored on the block pool too. Without
    ``sample_weight`` (integer counts), large bootstraps run the compiled
    kernel (:mod:`skduo.metrics._compiled_bootstrap`, the same values bit for
    bit) when numba is installed.
    """
    if resampler.unit:
        kernel = _compiled_kernel(resampler.n * resampler.n_resamples)
        if kernel is not None:
            out = _compiled_distribution(kernel, resampler, pred, metrics, threads)
            if out is not None:
                return out
    harmonic = _Harmonic(resampler.n, resampler.unit)
    out = {m: np.empty(resampler.n_resamples) for m in metrics}

    def score(batch):
        start, weights = batch
        if weights.dtype != np.float64:  # kept counts (see _Resampler)
            weights = resampler.weights(weights)
        values = _metric_values(pred, weights, metrics, harmonic)
        for m in metrics:
            out[m][start : start + weights.shape[0]] = values[m]

    if resampler._cache is not None:
        # the draws are kept: batches are independent, scored in threads
        map_blocks(score, resampler._cache, None if threads else 1)
    else:
        for batch in resampler.batches():
            score(batch)
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
