"""Proper scoring rules on predicted probabilities: multi-class Brier and NLL."""

from numbers import Real

import numpy as np

from skduo.metrics._base import (
    _as_float_array,
    _check_length,
    _check_proba_inputs,
    _check_sample_weight,
    _check_y_true,
    _resolve_classes,
    _row_blocks,
    _weighted_mean,
)
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["multiclass_brier_score", "nll_loss"]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
        "divide_by_n_classes": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def multiclass_brier_score(
    y_true, y_proba, *, labels=None, sample_weight=None, divide_by_n_classes=False
):
    r"""Multi-class Brier score (a loss: lower is better).

    The squared distance between the predicted probability vector and the
    one-hot encoding of the true label, summed over classes and averaged over
    samples. Despite its historical name the Brier *score* is a loss.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities. Columns follow ``labels`` if given, else the
        sorted unique labels of ``y_true``. A 1-D array (binary only) holds the
        probability of the second class.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in the order of the columns of ``y_proba``. Needed
        when ``y_true`` does not contain every class.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    divide_by_n_classes : bool, default=False
        If True, divide by the number of classes :math:`K`, i.e. average the
        squared error over all :math:`N K` entries. This is the value the
        official Asymmetric Duos code reports (it calls
        ``brier_score_loss(onehot.ravel(), proba.ravel())``), and the paper's
        tables print it multiplied by :math:`10^4`.

    Returns
    -------
    score : float
        In :math:`[0, 2]` (or :math:`[0, 2/K]` with ``divide_by_n_classes``).

    See Also
    --------
    sklearn.metrics.brier_score_loss : Binary and multi-class Brier score;
        equal to this function with ``scale_by_half=False``.

    Notes
    -----
    .. math::

        \mathrm{BS} = \frac{1}{\sum_i w_i} \sum_{i=1}^N w_i \sum_{k=1}^K
        \left(p_{ik} - \mathbb{1}[y_i = k]\right)^2 .

    For two classes this is twice the classical binary Brier score
    :math:`(p_i - y_i)^2`, because both columns contribute.

    Examples
    --------
    >>> from skduo.metrics import multiclass_brier_score
    >>> y_true = [0, 1, 2]
    >>> y_proba = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]]
    >>> round(multiclass_brier_score(y_true, y_proba), 4)
    0.2467
    >>> round(multiclass_brier_score(y_true, y_proba, divide_by_n_classes=True), 4)
    0.0822
    """
    y_enc, proba, _, sw = _check_proba_inputs(
        y_true, y_proba, labels=labels, sample_weight=sample_weight
    )
    values = proba.values
    per_sample = np.empty(values.shape[0])
    for rows in _row_blocks(values):
        # A float64 copy of one block of rows, never of the whole array.
        diff = values[rows].astype(np.float64)
        diff[np.arange(diff.shape[0]), y_enc[rows]] -= 1.0
        per_sample[rows] = np.einsum("ij,ij->i", diff, diff)
    score = _weighted_mean(per_sample, sw)
    if divide_by_n_classes:
        score /= values.shape[1]
    return score


def _check_logits(logits, n_samples, n_classes, labels_given, classes):
    """Logits in their own floating dtype (not copied); finiteness is checked
    block by block in :func:`_nll_from_logits`."""
    z = np.asarray(logits)
    if not np.issubdtype(z.dtype, np.floating):
        z, _ = _as_float_array(z, "logits", check_finite=False)
    if z.ndim not in (1, 2):
        raise ValueError(f"logits must be 1-D or 2-D; got an array of shape {z.shape}.")
    _check_length(n_samples, z, "logits")
    if z.ndim == 1 or z.shape[1] == 1:
        # Binary: one logit per sample is the log-odds of the second class,
        # i.e. the two-class logits (0, z).
        z = z.reshape(-1, 1).astype(np.float64)
        z = np.concatenate([np.zeros((n_samples, 1)), z], axis=1)
    if z.shape[1] != n_classes:
        if not labels_given:
            raise ValueError(
                "y_true and logits contain different number of classes: "
                f"{n_classes} vs {z.shape[1]}. Please provide the true labels "
                "explicitly through the labels argument. Classes found in y_true: "
                f"{classes.tolist()}"
            )
        raise ValueError(
            "The number of classes in labels is different from that in logits "
            f"({n_classes} vs {z.shape[1]}). Classes found in labels: "
            f"{classes.tolist()}"
        )
    return z


def _nll_from_logits(z, y_enc):
    """Per-sample ``logsumexp(z_i) - z_{i, y_i}`` in float64, in row blocks.

    Computed as ``(z_ia - z_iy) + log1p(sum_{j != a} exp(z_ij - z_ia))`` with
    ``a`` the row's arg-max: the sum of the other classes' terms goes through
    ``log1p``, so a loss far below the machine epsilon (a confident correct
    row, ``log1p(e^-30) ~ 9.4e-14``) keeps its relative precision instead of
    being rounded away in ``log(1 + ...)``.
    """
    per_sample = np.empty(z.shape[0])
    for rows in _row_blocks(z):
        block = z[rows].astype(np.float64)
        if not np.isfinite(block).all():
            raise ValueError("logits contains NaN or infinity.")
        r = np.arange(block.shape[0])
        top_col = np.argmax(block, axis=1)
        top = block[r, top_col]
        gap = top - block[r, y_enc[rows]]
        block -= top[:, None]
        np.exp(block, out=block)
        block[r, top_col] = 0.0  # the arg-max's own term is the 1 of log1p
        per_sample[rows] = gap + np.log1p(block.sum(axis=1))
    return per_sample


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like", None],
        "logits": ["array-like", None],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
        "eps": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def nll_loss(
    y_true, y_proba=None, *, logits=None, labels=None, sample_weight=None, eps="auto"
):
    r"""Negative log-likelihood (log loss) computed in float64.

    Pass exactly one of ``y_proba`` (probabilities) or ``logits``. From logits
    the loss is exact, :math:`\mathrm{logsumexp}(z_i) - z_{i,y_i}`, with no
    clipping; this is what to use for saturated models, whose float32
    probabilities are exactly 0 or 1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,), \
            default=None
        Predicted probabilities; columns follow ``labels`` (or the sorted
        unique labels of ``y_true``). A 1-D array (binary) holds the
        probability of the second class.

    logits : array-like of shape (n_samples, n_classes) or (n_samples,), \
            default=None
        Unnormalised log-probabilities (any row-wise additive shift gives the
        same loss; log-probabilities are valid logits). A 1-D array (binary)
        holds the log-odds of the second class, i.e. logits ``(0, z)``.

    labels : array-like of shape (n_classes,), default=None
        All class labels, in column order.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    eps : 'auto' or float, default='auto'
        Probabilities are clipped from below at ``eps`` before taking the log
        (only with ``y_proba``). ``'auto'`` uses the machine epsilon of the
        dtype of ``y_proba`` as passed, like :func:`sklearn.metrics.log_loss`:
        float32 input caps the per-sample loss at
        :math:`-\log(1.19 \times 10^{-7}) \approx 15.94`, float64 input at
        :math:`\approx 36.04`.

    Returns
    -------
    loss : float
        Non-negative; lower is better.

    See Also
    --------
    sklearn.metrics.log_loss : Same value from probabilities.

    Notes
    -----
    .. math::

        \mathrm{NLL} = -\frac{1}{\sum_i w_i} \sum_i w_i \log p_{i, y_i},
        \qquad p_{ik} = \frac{e^{z_{ik}}}{\sum_j e^{z_{ij}}} .

    Examples
    --------
    >>> from skduo.metrics import nll_loss
    >>> y_true = [0, 1]
    >>> round(nll_loss(y_true, [[0.9, 0.1], [0.2, 0.8]]), 4)
    0.1643
    >>> import numpy as np
    >>> logits = np.array([[30.0, -30.0], [0.0, 0.0]])  # softmax saturates
    >>> round(nll_loss([1, 1], logits=logits, labels=[0, 1]), 4)
    30.3466
    """
    if (y_proba is None) == (logits is None):
        raise ValueError("Pass exactly one of y_proba or logits.")
    if logits is None:
        y_enc, proba, _, sw = _check_proba_inputs(
            y_true, y_proba, labels=labels, sample_weight=sample_weight
        )
        if eps == "auto":
            eps = float(np.finfo(proba.dtype).eps)
        elif not 0 <= eps < 1:
            raise ValueError(f"eps must be in [0, 1); got {eps!r}.")
        p_true = proba.values[np.arange(y_enc.shape[0]), y_enc].astype(np.float64)
        with np.errstate(divide="ignore"):
            # a probability above 1 (within the tolerance) is a rounding error
            per_sample = -np.log(np.clip(p_true, eps, 1.0))
        return _weighted_mean(per_sample, sw)

    y = _check_y_true(y_true)
    classes, y_enc = _resolve_classes(y, labels)
    z = _check_logits(logits, y.shape[0], classes.shape[0], labels is not None, classes)
    sw = _check_sample_weight(sample_weight, y.shape[0])
    return _weighted_mean(_nll_from_logits(z, y_enc), sw)
