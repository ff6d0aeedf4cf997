r"""How the zoo report decides that a duo is better, worse or the same.

One test per (duo, metric): the duo against its own large model
temperature-scaled alone, on the same bootstrap resamples of the evaluation
rows (paired). With :math:`d` the observed difference (duo minus large model),
:math:`s` the standard deviation of the bootstrap differences (``ddof=1``)
and :math:`\tau \ge 0` the tie band of the metric,

.. math::

    z = \max(|d| - \tau, 0) / s, \qquad p = 2\,(1 - \Phi(z))
    \quad (p = 1 \text{ inside the tie band}),

a two-sided bootstrap-standard-error (Wald) test of "the difference lies in
the tie band". The p-values of a *family* (every duo of one mode on one split
times every metric) are adjusted for multiplicity (Holm by default, or
Benjamini-Hochberg, or none), and each comparison's interval is
:math:`d \pm z_{1 - a/2}\, s` at the per-comparison level :math:`a` that the
adjustment implies (below), so that for every comparison

    adjusted p < alpha  <=>  the interval lies outside [-tau, tau]
                        <=>  the verdict is 'better' or 'worse'.

Per-comparison levels, with the raw p-values sorted :math:`p_{(1)} \le \dots
\le p_{(m)}`:

- Holm: :math:`a = \alpha / (m - \min(k, k_0) + 1)`, :math:`k` the
  comparison's rank and :math:`k_0` the first rank Holm does not reject
  (:math:`m + 1` when it rejects all);
- Benjamini-Hochberg: :math:`a = \max(k^*, 1)\,\alpha / m`, :math:`k^*` the
  number of rejections;
- none: :math:`a = \alpha`.

Gatekeeping: ECE, correctness AUROC and E-AURC (:data:`GATED`) are not
proper scores -- a worse forecaster can score better on them (a noise
sidekick that randomises a near-uniform model's arg-max lowers its accuracy
and its confidence together, so its ECE falls). A duo is therefore better
(worse) on one of them only when it is also significantly better (worse) on
a strictly proper score of :data:`GATES` (NLL or Brier) of the same family:
its adjusted p-value is ``max(own adjusted p, gate's)``, the gate's being the
smallest adjusted p-value among the row's proper scores that differ in the
same direction (1 when none does). This only removes rejections, so the
family-wise error (Holm) or the false discovery rate (Benjamini-Hochberg) is
still controlled, and the interval of a comparison the gate stops reaches
the tie band, so the three statements above stay equivalent.

Private; :func:`skduo.evaluation.evaluate_zoo` uses it.
"""

import math

import numpy as np
from scipy.special import ndtri

__all__ = []  # private module

#: Multiplicity corrections of :func:`evaluate_zoo`.
CORRECTIONS = ("holm", "bh", "none")

#: Relative part of the tie band: differences within ``RTOL * |large model's
#: value|`` are round-off (e.g. a duo whose sidekick weight is 0).
RTOL = 1e-6
#: Absolute floor of the tie band (metrics whose value is 0, e.g. E-AURC).
ATOL = 1e-12

VERDICTS = ("better", "worse", "same")

#: Strictly proper scores: the gates of :data:`GATED`.
GATES = ("nll", "brier")
#: Metrics that are not proper scores: a verdict on them needs a gate's.
GATED = ("ece", "auroc", "eaurc")


def tie_band(base_value, min_effect=0.0):
    """Half-width of the tie band of one comparison."""
    base = abs(base_value) if np.isfinite(base_value) else 0.0
    return max(float(min_effect), RTOL * base, ATOL)


def raw_test(diff, dist, band):
    """``(se, p)`` of one comparison: bootstrap standard error and raw p-value."""
    dist = dist[np.isfinite(dist)]
    if dist.shape[0] < 2 or not np.isfinite(diff):
        return float("nan"), float("nan")
    se = float(np.std(dist, ddof=1))
    excess = abs(diff) - band
    if excess <= 0:
        return se, 1.0
    if se == 0:
        return se, 0.0
    return se, float(math.erfc(excess / se / math.sqrt(2.0)))


def adjust(pvalues, alpha, correction):
    """Adjusted p-values and per-comparison interval levels of one family.

    Parameters
    ----------
    pvalues : ndarray of shape (m,)
        Raw p-values (all finite).
    alpha : float
        Family level (1 - confidence level).
    correction : {'holm', 'bh', 'none'}

    Returns
    -------
    adjusted, levels : ndarray of shape (m,)
        ``adjusted[i] < alpha`` exactly when ``pvalues[i] < levels[i]``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.shape[0]
    if m == 0 or correction == "none":
        return p.copy(), np.full(m, float(alpha))
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    adjusted = np.empty(m)
    levels = np.empty(m)
    if correction == "holm":
        adj = np.minimum(1.0, np.maximum.accumulate((m - rank + 1) * ranked))
        rejected = (m - rank + 1) * ranked < alpha
        first_kept = int(np.argmin(rejected)) + 1 if not rejected.all() else m + 1
        levels[order] = alpha / (m - np.minimum(rank, first_kept) + 1)
    elif correction == "bh":
        adj = np.minimum(1.0, np.minimum.accumulate((m * ranked / rank)[::-1])[::-1])
        below = np.flatnonzero(ranked < rank * alpha / m)
        k_star = int(below[-1]) + 1 if below.shape[0] else 0
        levels[:] = max(k_star, 1) * alpha / m
    else:  # pragma: no cover - checked by the caller
        raise ValueError(f"Unknown correction {correction!r}; use {CORRECTIONS}.")
    adjusted[order] = adj
    return adjusted, levels


def interval(diff, se, level, band=0.0, significant=None):
    """``(low, high)``: ``diff -/+ z_{1 - level/2} * se``.

    With ``significant`` given, a half-width that rounding put on the wrong
    side of the tie band (``|diff| - band`` equal to it to ~1e-12) is moved
    onto the side the adjusted p-value says, so that the interval and the
    verdict never disagree.
    """
    if not (np.isfinite(diff) and np.isfinite(se)):
        return float("nan"), float("nan")
    half = float(ndtri(1.0 - level / 2.0)) * se if se > 0 else 0.0
    excess = abs(diff) - band
    if significant is not None and significant != (excess > half):
        half = excess * (1 - 1e-12) if significant else max(excess, 0.0) * (1 + 1e-12)
    return float(diff - half), float(diff + half)


def verdict(diff, p_adjusted, alpha, higher_is_better):
    """'better', 'worse' or 'same' (None without a test)."""
    if not np.isfinite(p_adjusted):
        return None
    if p_adjusted >= alpha:
        return "same"
    return "better" if (diff > 0) == higher_is_better else "worse"


def apply_family(rows, keys, higher, alpha, correction, min_effect):
    """Fill the significance columns of one family of duo rows in place.

    Each row holds ``<key>_diff``, ``<key>_base`` (the large model's value)
    and a private ``_dist`` dict of bootstrap differences; this adds
    ``<key>_se``, ``<key>_p``, ``<key>_p_adj``, ``<key>_low``, ``<key>_high``,
    ``<key>_tie`` and ``<key>_verdict`` and returns the family's size.
    """
    tests = []  # (row, key, diff, se, p, band)
    for row in rows:
        dists = row.pop("_dist")
        for key in keys:
            diff = row[f"{key}_diff"]
            band = tie_band(row.pop(f"_{key}_base"), _effect(min_effect, key))
            se, p = raw_test(diff, dists[key], band)
            row[f"{key}_se"] = se
            row[f"{key}_p"] = p
            row[f"{key}_tie"] = band
            tests.append((row, key, diff, se, p, band))
    finite = [t for t in tests if np.isfinite(t[4])]
    adjusted, levels = adjust(np.array([t[4] for t in finite]), alpha, correction)
    for (row, key, *_), p_adj in zip(finite, adjusted):
        row[f"{key}_p_adj"] = float(p_adj)
    for (row, key, diff, se, _, band), level in zip(finite, levels):
        p_adj = row[f"{key}_p_adj"] = _gated(row, key, keys, higher)
        row[f"{key}_low"], row[f"{key}_high"] = interval(
            diff, se, level, band, bool(p_adj < alpha)
        )
        row[f"{key}_verdict"] = verdict(diff, p_adj, alpha, higher[key])
    for row, key, *_, p, _ in tests:
        if not np.isfinite(p):
            row[f"{key}_p_adj"] = row[f"{key}_low"] = row[f"{key}_high"] = float("nan")
            row[f"{key}_verdict"] = None
    return len(finite)


def _gated(row, key, keys, higher):
    """The adjusted p-value of ``key`` after the gate (see the module's notes).

    Metrics outside :data:`GATED`, and families without a gate metric, keep
    their own adjusted p-value.
    """
    p_adj = row[f"{key}_p_adj"]
    gates = [g for g in GATES if g in keys]
    if key not in GATED or not gates:
        return p_adj
    better = (row[f"{key}_diff"] > 0) == higher[key]
    gate = 1.0
    for g in gates:
        p_g = row.get(f"{g}_p_adj", float("nan"))
        if np.isfinite(p_g) and ((row[f"{g}_diff"] > 0) == higher[g]) == better:
            gate = min(gate, p_g)
    return float(max(p_adj, gate))


def _effect(min_effect, key):
    if isinstance(min_effect, dict):
        return float(min_effect.get(key, 0.0))
    return float(min_effect)


def check_min_effect(min_effect, keys):
    """``min_effect`` validated: a non-negative number or ``{metric: number}``."""
    values = min_effect.values() if isinstance(min_effect, dict) else [min_effect]
    if isinstance(min_effect, dict):
        unknown = set(min_effect) - set(keys)
        if unknown:
            raise ValueError(
                f"min_effect names unknown metric(s) {sorted(unknown)}; use {keys}."
            )
    for v in values:
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
            raise ValueError(f"min_effect must be >= 0; got {v!r}.")
    return min_effect
