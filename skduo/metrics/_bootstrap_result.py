"""The result of :func:`skduo.metrics.paired_bootstrap` and its intervals.

:class:`PairedBootstrapResult` (named as :func:`scipy.stats.bootstrap`'s
result) and the percentile, basic and BCa intervals and p-values computed
from a bootstrap distribution of a difference, with scipy's formulas.
"""

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["ConfidenceInterval", "PairedBootstrapResult"]

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
