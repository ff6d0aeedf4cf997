"""The weight fit's checks: member spreads, degenerate members, separation.

Chunk kernels run by the members' ``scan`` (in memory or on dask workers) and
the decisions made from them: each member's spread (the units of the
normalised weights and of the KKT residual) and whether it is constant up to
rounding; the power-of-two normalisation of extreme spreads; and the test of
a flat direction of the curvature for a recession direction of the NLL
(quasi-separation).
"""

import numpy as np

from skduo._fit._inputs import _raise_non_finite
from skduo._fit._objective import scan_rows

#: Upper bound of each weight in units of ``1 / scale(z_m)``; only reached when the
#: members separate the validation set (no finite optimum).
_WEIGHT_CAP = 1e4

#: A row whose spread (max - min) is at most this many units in the last place
#: of its largest magnitude is constant up to rounding.
_DEGENERATE_ULPS = 64

#: Members whose spread is outside ``2**+-_NORMAL_EXPONENT`` are normalised.
_NORMAL_EXPONENT = 20

#: Normalised curvature below which a member's direction is tested for a
#: recession direction (quasi-separation).
_FLAT_CURVATURE = 1e-6


class SeparationWarning(UserWarning):
    """The members separate the validation set: the NLL has no finite minimiser."""


# --------------------------------------------------------------------------------
# member spreads: scales, degenerate members, normalisation
# --------------------------------------------------------------------------------


def _spread_terms(logits, y, sw, start, stop, m, eps, pre):
    """(informative rows, their summed squared spreads, non-finite rows).

    A row is informative unless its spread (max - min) is at most
    :data:`_DEGENERATE_ULPS` units in the last place of its largest magnitude.
    The logits are multiplied by ``pre`` (a power of two: exactly) so that
    their squares neither overflow nor underflow.
    """
    # float32 logits stay float32 (the spread is a normalisation: 1e-6 is
    # plenty; max, min and their difference of nearby values are exact)
    single = logits[m].dtype == np.float32 and 2.0**-120 <= pre <= 2.0**120
    dtype = np.dtype(np.float32 if single else np.float64)
    block = np.multiply(logits[m][start:stop], dtype.type(pre), dtype=dtype)
    ptp = (block.max(axis=1) - block.min(axis=1)).astype(np.float64)
    bad = ~np.isfinite(ptp)
    informative = ptp > _DEGENERATE_ULPS * eps * np.abs(block).max(axis=1)
    block -= block.mean(axis=1, keepdims=True)
    np.square(block, out=block)
    spread2 = block.mean(axis=1, dtype=np.float64)
    return [informative.sum(), spread2[informative].sum(), bad.sum()]


def _member_scales(data, sub_logits, y, sw):
    """Spread of each member (0 for a degenerate one), one pass only if needed.

    The spread is the RMS of the row-centred logits of the subsample; a member
    whose subsample rows are all constant up to rounding is scanned whole (its
    spread is then that of its informative rows, 0 if there are none).
    """
    scales = np.zeros(len(sub_logits))
    for m, zs in enumerate(sub_logits):
        kind = np.dtype(zs.dtype)
        eps = float(np.finfo(kind).eps) if kind.kind == "f" else 0.0
        top = float(np.abs(zs).max()) if zs.size else 0.0
        pre = np.ldexp(1.0, -int(np.frexp(top)[1])) if top > 0 else 1.0
        n_info, total, _ = scan_rows(_spread_terms, [zs], y, sw, 0, eps, pre)
        if n_info > 0:
            scales[m] = np.sqrt(total / len(zs)) / pre
            continue
        n_info, total, n_bad = data.scan(_spread_terms, y, sw, m, eps, pre)
        if n_bad:
            _raise_non_finite(data)
        scales[m] = np.sqrt(total / n_info) / pre if n_info else 0.0
    return scales


def _normalisation(scales):
    """Powers of two bringing extreme spreads near 1 (1 for usual members)."""
    exponents = np.round(np.log2(scales)).astype(int)
    exponents[np.abs(exponents) <= _NORMAL_EXPONENT] = 0
    factors = np.ldexp(1.0, -exponents)
    return (factors if exponents.any() else None), scales * factors


# --------------------------------------------------------------------------------
# separation
# --------------------------------------------------------------------------------


def _recession_terms(logits, y, sw, start, stop, direction, factors):
    """(rows ranking the label below another class, rows ranking it strictly first).

    Along ``direction`` (combined logits ``b = sum_m d_m f_m z_m``) a row's loss
    grows without bound if its label is not a (weak) maximum of ``b``, and
    decreases strictly if it is the maximum and some class is below it. Rows of
    zero weight are ignored. Ties are exact for one member, and within a few
    rounding units of the summands for a mixture.
    """
    rows = np.arange(stop - start)
    yc, swc = y[start:stop], sw[start:stop]
    b = bound = None
    for d, z, f in zip(direction, logits, factors):
        if d == 0.0:
            continue
        block = np.asarray(z[start:stop], dtype=np.float64) * (d * f)
        b = block if b is None else b + block
        mag = np.abs(block).max(axis=1)
        bound = mag if bound is None else bound + mag
    label = b[rows, yc]
    top = b.max(axis=1)
    slack = 0.0 if np.count_nonzero(direction) == 1 else 8 * np.finfo(float).eps * bound
    positive = swc > 0
    below = positive & (label < top - slack)
    strict = positive & ~below & (b.min(axis=1) < label - slack)
    return [below.sum(), strict.sum()]


def _recession_direction(data, y, sw, u, curvature, scales, factors):
    """A direction along which the NLL decreases without bound, or None.

    Only tried along flat directions of the (normalised) curvature: each
    member whose own curvature is flat, and the flattest eigenvector when it
    is non-negative. Returns ``(direction, fraction of rows strictly ranked)``.
    """
    if curvature is None:
        return None
    hess = curvature[0] if isinstance(curvature, tuple) else curvature
    hess_n = hess / np.outer(scales, scales)
    candidates = [
        np.eye(len(u))[m] for m in np.flatnonzero(np.diag(hess_n) < _FLAT_CURVATURE)
    ]
    evals, evecs = np.linalg.eigh(hess_n)
    v = evecs[:, 0] * np.sign(evecs[:, 0].sum() or 1.0)
    v[np.abs(v) < 1e-3 * np.abs(v).max()] = 0.0
    if evals[0] < _FLAT_CURVATURE and (v >= 0).all() and np.count_nonzero(v) > 1:
        candidates.append(v / scales)
    f = np.ones(len(u)) if factors is None else factors
    n_positive = np.count_nonzero(sw)
    for d in candidates:
        below, strict = data.scan(_recession_terms, y, sw, d, f)
        if below == 0 and strict > 0:
            return d, strict / n_positive
    return None


def _separation_message(quasi, names, direction, fraction):
    if not quasi:
        what = (
            "The members separate the validation data (every sample is classified "
            "correctly with a margin): the NLL keeps decreasing as the weights grow"
        )
    else:
        used = [names[m] for m in np.flatnonzero(direction)]
        along = used[0] if len(used) == 1 else " + ".join(used)
        what = (
            "The members quasi-separate the validation data: along the weight of "
            f"{along}, every sample's true class is ranked first (strictly on "
            f"{fraction:.1%} of the samples, tied on the rest), so the NLL keeps "
            f"decreasing as {'that weight grows' if len(used) == 1 else 'they grow'}"
        )
    return (
        f"{what}, and it has no finite minimiser. The weights returned are where "
        "the NLL's gradient fell below the tolerance (at most "
        f"{_WEIGHT_CAP:g} / spread of each member's logits) and the predictions "
        "will be over-confident; use a larger or harder validation set (never the "
        "members' training data)."
    )
