"""What keeps the weight fit sane on small or separable data (issue 26).

The exact maximum-likelihood weights are unstable where the validation set is
small or separable: the NLL then keeps decreasing as a weight grows, and the
fitted model is far more confident than the data support. Two remedies live
here.

``prior='auto'`` (the default) is adaptive: the exact maximum-likelihood fit
of the most members whose weights the validation data determine
(:func:`scale_is_determined`); where no such fit exists, the members *as
given* (the prior's centres below: a duo's large member untempered and no
sidekick, a temperature of 1, the plain logit average), with a warning: the
data are then no evidence for any change.

``prior=c`` (a number) always fits the penalised (MAP) objective, the NLL plus
the negative log-density of a weak prior on the weights, divided by the
effective number of validation rows::

    J(w) = L(w) + (c / n) * sum_m phi_m(w_m),   n = sum_i s_i

``c`` is the prior's worth in validation rows; sample weights count as
frequencies (scikit-learn's convention: an integer weight ``k`` is the row
repeated ``k`` times, so scaling every weight scales the data's worth against
the prior's). Weights are inverse temperatures, so the prior is centred on
the members *as given*: a member with centre ``a_m > 0`` (the large member of
a duo and a temperature-scaled model: ``a = 1``; each of ``M`` symmetric
members: ``a = 1 / M``, their plain logit average) gets a Gamma prior whose
mode is ``a_m``::

    phi_m(w) = w / a_m - 1 - log(w / a_m)       (0 at w = a_m)

and a member with centre 0 (the duo's sidekick: no sidekick unless the data ask
for one) an exponential prior in units of its logits' spread ``sigma_m`` (the
RMS of its row-centred logits, see :mod:`skduo._fit._checks`)::

    phi_m(w) = sigma_m * w                      (scale-free: sigma_m * w is
                                                 the sidekick's spread in nats)

Both are convex, so ``J`` is convex and the projected Newton fit and its KKT
certificate apply unchanged, to ``J``. The minimiser is always finite
(``phi_m`` grows without bound while ``L >= 0``), and as ``n`` grows the
penalty vanishes like ``1 / n``: where the data pin the weights down the fit
is the maximum-likelihood one up to ``O((c / n)^2)`` in the NLL.
Below ``1e-6`` times its centre the logarithm is continued by its
second-order Taylor expansion (convex, finite at 0): the minimiser only gets
there when the data push that weight to 0 with a gradient above
``1e6 * c / n``, and the fit stays finite everywhere on the box.
"""

import numpy as np

from skduo._fit._objective import ObjectiveWrapper

__all__ = [
    "Prior",
    "relative_standard_errors",
    "resolve_strength",
    "scale_is_determined",
]

#: ``prior='auto'`` keeps the maximum-likelihood weights when the relative
#: standard error of each positive weight and of their scale is below
#: ``1 / z_0.975``: their Wald 95 % intervals then exclude 0 (see
#: :func:`scale_is_determined`).
SCALE_SE_MAX = 1.0 / 1.959963984540054

#: Below this fraction of its centre, a Gamma term's logarithm is continued by
#: its second-order Taylor expansion.
_LOG_FLOOR = 1e-6


def resolve_strength(prior):
    """The strength ``c`` of a ``prior`` parameter.

    0 for the exact MLE (``None``), None for the adaptive ``'auto'`` (no
    prior: the exact fit the data determine, else the members as given).
    """
    if prior is None:
        return 0.0
    if isinstance(prior, str):
        if prior == "auto":
            return None
        raise ValueError(f"prior must be 'auto', None or a number >= 0; got {prior!r}.")
    strength = float(prior)
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"prior must be 'auto', None or a number >= 0; got {prior!r}.")
    return strength


def scale_is_determined(scale_se):
    """Whether the data determine the maximum-likelihood weights' scale.

    The default ``prior='auto'`` first fits the exact maximum-likelihood
    weights ``w``. Scaling all of them by ``t`` (``t = 1`` at the fit) moves
    the combined logits along the one direction in which separable data
    (every row ranked correctly with a margin) let the NLL fall without
    bound; its observed information is ``n * w' H w`` (``H`` the Hessian of
    the mean NLL at ``w``, ``n`` the effective rows), so ``scale_se = 1 /
    sqrt(n * w' H w)`` is the relative standard error of the fitted scale.
    The maximum-likelihood weights are kept when ``scale_se <``
    :data:`SCALE_SE_MAX` ``= 1 / 1.96``: the Wald 95 % interval of ``t``
    excludes 0, i.e. the validation data show that the fitted logits are
    informative at the fitted scale. The same test applies to each positive
    weight (its Wald interval must exclude 0 too), and ``scale_se`` is the
    largest of these relative errors. Otherwise (the MLE does not exist, did
    not converge, or its scale is left open: quasi-separation makes the NLL
    flat along it, ``scale_se`` from 64 to infinity on the splits of
    ``benchmarks/bench_harm.py`` where the MLE harms, at most 0.86 on the
    others) the members are dropped one at a time and the rest refitted, and
    if no fit passes, the members are kept as given.

    Parameters
    ----------
    scale_se : float
        The maximum-likelihood fit's relative scale error (``inf``: no MLE).

    Returns
    -------
    bool
    """
    return bool(np.isfinite(scale_se) and scale_se < SCALE_SE_MAX)


def relative_standard_errors(w, hessian, n_rows):
    """Relative standard errors of the positive weights, and of their scale.

    From the observed information ``n_rows * hessian`` (``hessian``: the mean
    NLL's at the maximum-likelihood weights ``w``): each positive weight's
    Wald standard error over its value (from the inverse information of the
    positive weights; ``inf`` for weights at 0 and when that information is
    singular), and the scale's ``1 / sqrt(n_rows * w' H w)`` (``inf`` when
    ``w`` is 0). Returns ``(per-weight array, scale)``.
    """
    w = np.asarray(w, dtype=np.float64)
    h = np.asarray(hessian, dtype=np.float64)
    errors = np.full(len(w), np.inf)
    active = np.flatnonzero(w > 0)
    q = float(w @ h @ w)
    if not len(active) or not q > 0:
        return errors, np.inf
    try:
        var = np.diag(np.linalg.inv(n_rows * h[np.ix_(active, active)]))
    except np.linalg.LinAlgError:
        var = np.full(len(active), -1.0)
    errors[active] = np.where(var > 0, np.sqrt(np.abs(var)), np.inf) / w[active]
    return errors, float(1.0 / np.sqrt(n_rows * q))


def effective_rows(sw):
    """The number of rows the prior is weighed against: ``sum(sample_weight)``."""
    return float(sw.sum())


class Prior:
    """The penalty ``(c / n) * sum_m phi_m(w_m)`` and its derivatives.

    ``centres[m] > 0`` gives member ``m`` the Gamma term, ``0`` the exponential
    one (in units of ``sigmas[m]``, the spread of member ``m``'s logits).
    Evaluated in the fit's variables ``u = w / factors`` (``factors``: the
    powers of two that normalise members of extreme spread, or None).
    """

    def __init__(self, strength, centres, sigmas, n_rows, factors=None):
        self.strength = float(strength)
        self.lam = self.strength / n_rows
        self.centres = np.asarray(centres, dtype=np.float64)
        f = np.ones(len(self.centres)) if factors is None else np.asarray(factors)
        self.factors = f
        self.anchored = self.centres > 0
        # u-units: x = u * k for the Gamma terms, lam * rate * u for the others
        safe = np.where(self.anchored, self.centres, 1.0)
        self.k = np.where(self.anchored, f / safe, 0.0)
        self.rate = np.where(self.anchored, 0.0, np.asarray(sigmas) * f)

    def subset(self, keep):
        """The prior of the members ``keep`` (same strength and ``n_rows``)."""
        new = object.__new__(Prior)
        new.strength, new.lam = self.strength, self.lam
        for name in ("centres", "factors", "anchored", "k", "rate"):
            setattr(new, name, getattr(self, name)[keep])
        return new

    def terms(self, u, order):
        """``(value, gradient, [d2, d3, d4 diagonals up to order])`` at ``u``."""
        lam, a = self.lam, self.anchored
        x = np.where(a, u * self.k, 1.0)
        low = a & (x < _LOG_FLOOR)
        e = _LOG_FLOOR
        # -log x, continued below e by -log e - (x - e) / e + (x - e)^2 / (2 e^2)
        xs = np.where(low, e, x)
        neg_log = np.where(
            low, -np.log(e) - (x - e) / e + (x - e) ** 2 / (2 * e * e), -np.log(xs)
        )
        d1_log = np.where(low, -1.0 / e + (x - e) / (e * e), -1.0 / xs)
        d2_log = np.where(low, 1.0 / (e * e), 1.0 / xs**2)
        d3_log = np.where(low, 0.0, -2.0 / xs**3)
        d4_log = np.where(low, 0.0, 6.0 / xs**4)
        value = np.where(a, x - 1.0 + neg_log, self.rate * u)
        grad = np.where(a, (1.0 + d1_log) * self.k, self.rate)
        diags = []
        for j, d in zip((2, 3, 4), (d2_log, d3_log, d4_log)):
            if order >= j:
                diags.append(np.where(a, d * self.k**j, 0.0) * lam)
        return lam * float(value.sum()), lam * grad, diags


class Penalised(ObjectiveWrapper):
    """An objective (:class:`~skduo._fit._objective.Objective` or a checked one)
    plus a :class:`Prior`: the same interface, penalised values."""

    def __init__(self, objective, prior):
        super().__init__(objective)
        self.prior = prior

    def __call__(self, weights, order=None):
        f, g, h = self.objective(weights, order)
        if order is None:
            order = self.max_order
        elif not (order == 4 and self.max_order == 3):
            order = min(order, self.max_order)
        p, pg, diags = self.prior.terms(np.asarray(weights, dtype=np.float64), order)
        f = f + p
        if g is not None:
            g = g + pg
        if h is None:
            return f, g, h
        m = len(pg)
        idx = np.arange(m)
        parts = list(h) if isinstance(h, tuple) else [h]
        out = []
        for j, (part, diag) in enumerate(zip(parts, diags)):
            part = np.array(part, dtype=np.float64, copy=True)
            part[(idx,) * (j + 2)] += diag
            out.append(part)
        return f, g, (tuple(out) if isinstance(h, tuple) else out[0])
