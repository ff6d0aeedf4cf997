"""Fit and apply duos and their baselines directly on arrays of logits.

This is the array API for precomputed logits (e.g. computed once on a GPU and
analysed on a CPU): no estimator objects, the same numerical core
(:mod:`skduo._weight_fit`) and therefore the same weights as
:class:`~skduo.DuoClassifier`, :class:`~skduo.TemperatureScalingClassifier` and
:class:`~skduo.WeightedEnsembleClassifier` on identical logits.

Labels are integer class indices ``0 .. n_classes - 1`` (the logits' columns).
"""

import warnings
from dataclasses import dataclass

import numpy as np

from skduo._logit_ops import check_finite, combine_logits, log_softmax, softmax
from skduo._vocabulary import DUO_MODES, FIT_MODES, check_confidence
from skduo._weight_fit import FITS_BY_MODE
from skduo.metrics._selective import _confidence_from_proba

__all__ = [
    "LogitEnsemble",
    "fit_deep_ensemble",
    "fit_duo",
    "fit_temperature",
    "fit_weighted_ensemble",
]

#: Former spellings of LogitEnsemble modes, kept for one release.
_DEPRECATED_MODES = {"weighted": "learned"}


def _check_logits(logits, what, n_classes=None):
    """The logits as a checked, finite 2-D array, never copied.

    Any float or integer dtype is kept: the weight fit converts row chunks
    itself and :func:`combine_logits` works in float64 (a whole float64 copy
    here would double the memory of float32 logits).
    """
    arr = np.asarray(logits)
    if arr.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D array of shape (n_samples, n_classes); got shape "
            f"{arr.shape}."
        )
    check_finite(arr, what)
    if arr.shape[0] == 0:
        raise ValueError(f"{what} has 0 rows.")
    if n_classes is None and arr.shape[1] < 2:
        raise ValueError(f"{what} has {arr.shape[1]} column(s); at least 2 needed.")
    if n_classes is not None and arr.shape[1] != n_classes:
        raise ValueError(
            f"{what} has {arr.shape[1]} columns; the fitted model has {n_classes} "
            "classes."
        )
    return arr


def _check_members(logits_list, what):
    out = [_check_logits(z, f"{what} of member {m}") for m, z in enumerate(logits_list)]
    if not out:
        raise ValueError(f"{what}: at least one member is needed.")
    shapes = {z.shape for z in out}
    if len(shapes) != 1:
        raise ValueError(
            f"{what}: all members must have the same shape; got "
            f"{[z.shape for z in out]}."
        )
    return out


def _check_labels(y, n_samples, n_classes, what="y_val"):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"{what} must have shape ({n_samples},) to match the logits; got {y.shape}."
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{what} must hold integer class indices.")
        y = y.astype(np.intp)
    elif y.dtype.kind not in "iu":
        raise ValueError(
            f"{what} must hold integer class indices 0..{n_classes - 1}; got dtype "
            f"{y.dtype}. Encode string labels first (e.g. with LabelEncoder)."
        )
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(
            f"{what} holds class indices {int(y.min())}..{int(y.max())}, outside "
            f"0..{n_classes - 1} (the logits have {n_classes} columns)."
        )
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"{what} contains a single class; fitting needs at least 2 classes."
        )
    return y.astype(np.intp, copy=False)


@dataclass(frozen=True)
class LogitEnsemble:
    """A fitted non-negative linear combination of members' logits.

    Returned by :func:`fit_temperature`, :func:`fit_duo`,
    :func:`fit_weighted_ensemble` and :func:`fit_deep_ensemble`. Its methods take
    the members' logits in the order used for fitting (for a duo: large, then
    small), each of shape ``(n_samples, n_classes)``.

    Parameters
    ----------
    weights : ndarray of shape (n_members,)
        Non-negative weights; the combined logits are
        ``sum_m weights[m] * logits[m]``. For one member ``weights[0]`` is the
        inverse temperature ``1 / T``.
    mode : {'temperature', 'asymmetric', 'unweighted', 'uq_only', 'learned', \
'pooled'}
        How the weights were fitted (the ``mode`` of the estimator that fits
        them the same way). ``'weighted'``, the former name of ``'learned'``,
        is accepted with a ``FutureWarning``.
    n_classes : int
        Number of classes (columns of the logits).
    validation_nll : float
        Weighted mean negative log-likelihood on the fitting data.
    n_iter : int, default=0
        Newton iterations of the weight fit.
    converged : bool, default=True
        Whether the weight fit met its tolerance.

    See Also
    --------
    fit_duo : Fit a duo on validation logits.
    skduo.DuoClassifier : The same duo as a scikit-learn estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo import LogitEnsemble
    >>> ens = LogitEnsemble(np.array([0.5, 0.5]), "learned", 2, 0.3)
    >>> ens.predict_proba([[0.0, 2.0]], [[0.0, 0.0]]).round(4)
    array([[0.2689, 0.7311]])
    """

    weights: np.ndarray
    mode: str
    n_classes: int
    validation_nll: float
    n_iter: int = 0
    converged: bool = True

    def __post_init__(self):
        mode = self.mode
        if mode in _DEPRECATED_MODES:
            warnings.warn(
                f"LogitEnsemble mode {mode!r} is deprecated and will be removed in "
                f"the next release; use {_DEPRECATED_MODES[mode]!r}.",
                FutureWarning,
                stacklevel=3,
            )
            object.__setattr__(self, "mode", _DEPRECATED_MODES[mode])
        if self.mode not in FIT_MODES:
            raise ValueError(f"mode must be one of {FIT_MODES}; got {mode!r}.")

    @property
    def method(self):
        """Deprecated: the former name of :attr:`mode`."""
        warnings.warn(
            "LogitEnsemble.method is deprecated and will be removed in the next "
            "release; use LogitEnsemble.mode.",
            FutureWarning,
            stacklevel=2,
        )
        return self.mode

    @property
    def n_members(self):
        """Number of members."""
        return len(self.weights)

    @property
    def temperature(self):
        """``1 / sum(weights)``: the temperature of the (pooled) logits.

        For one member this is the fitted temperature; for ``mode='pooled'``
        it is the temperature applied to the members' mean logits.
        """
        total = float(np.sum(self.weights))
        return np.inf if total == 0 else 1.0 / total

    def _inputs(self, logits):
        if len(logits) != self.n_members:
            raise ValueError(
                f"Expected the logits of {self.n_members} member(s) (in fitting "
                f"order); got {len(logits)} array(s)."
            )
        arrays = [
            _check_logits(z, f"Logits of member {m}", self.n_classes)
            for m, z in enumerate(logits)
        ]
        if len({z.shape[0] for z in arrays}) != 1:
            raise ValueError(
                "The members' logits have different numbers of rows: "
                f"{[z.shape[0] for z in arrays]}."
            )
        return arrays

    def decision_logits(self, *logits):
        """Combined logits ``sum_m weights[m] * logits[m]``.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes)
            One array per member, in fitting order.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return combine_logits(self._inputs(logits), self.weights)

    def predict_proba(self, *logits):
        """Probabilities ``softmax(decision_logits(*logits))``.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes)
            One array per member, in fitting order.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return softmax(self.decision_logits(*logits))

    def predict_log_proba(self, *logits):
        """Log-probabilities, computed stably from the combined logits.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes)
            One array per member, in fitting order.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self.decision_logits(*logits))

    def predict(self, *logits):
        """Predicted class indices.

        The arg-max of the combined logits, or for ``mode='uq_only'`` of the
        first (large) member's logits.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes)
            One array per member, in fitting order.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        arrays = self._inputs(logits)
        if self.mode == "uq_only":
            return np.argmax(arrays[0], axis=1)
        return np.argmax(combine_logits(arrays, self.weights), axis=1)

    def confidence(self, *logits, kind="msp"):
        """Per-sample confidence in :meth:`predict`'s prediction.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes)
            One array per member, in fitting order.
        kind : {'msp', 'margin', 'neg_entropy'}, default='msp'
            ``'msp'``: the combined probability of the predicted class (for
            ``'uq_only'`` the duo's probability of the large member's class).
            ``'margin'``: that probability minus the largest other one.
            ``'neg_entropy'``: minus the entropy of the combined probabilities
            (``'entropy'``, its former name, warns).

        Returns
        -------
        ndarray of shape (n_samples,)
            Higher means more confident.
        """
        kind = check_confidence(kind, "kind")
        arrays = self._inputs(logits)
        z = combine_logits(arrays, self.weights)
        if kind == "neg_entropy":
            # from the log-probabilities: exact where probabilities underflow
            return np.sum(softmax(z) * log_softmax(z), axis=1)
        pred = self.predict(*arrays)
        return _confidence_from_proba(softmax(z), pred, kind)


def fit_temperature(val_logits, y_val, *, sample_weight=None):
    """Single-model temperature scaling fitted on validation logits.

    Parameters
    ----------
    val_logits : array-like of shape (n_samples, n_classes)
        The model's validation logits (log-probabilities work too).
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.

    Returns
    -------
    LogitEnsemble
        One member, ``mode='temperature'``; ``temperature`` is ``T``.

    See Also
    --------
    skduo.TemperatureScalingClassifier : The estimator version.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo import fit_temperature
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> logits = 3.0 * (rng.normal(size=(500, 3)) + 2.0 * np.eye(3)[y])
    >>> ts = fit_temperature(logits, y)
    >>> bool(ts.temperature > 1)  # over-confident logits are cooled down
    True
    """
    z = _check_logits(val_logits, "val_logits")
    y = _check_labels(y_val, z.shape[0], z.shape[1])
    return _ensemble("temperature", [z], y, sample_weight)


def fit_duo(
    val_logits_large,
    val_logits_small,
    y_val,
    *,
    mode="asymmetric",
    sample_weight=None,
):
    """Fit an Asymmetric Duo (or one of its ablations) on validation logits.

    Gives the same weights as :class:`~skduo.DuoClassifier` on the same logits.

    Parameters
    ----------
    val_logits_large : array-like of shape (n_samples, n_classes)
        Validation logits of the large model.
    val_logits_small : array-like of shape (n_samples, n_classes)
        Validation logits of the sidekick.
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    mode : {'asymmetric', 'unweighted', 'uq_only'}, default='asymmetric'
        ``'asymmetric'`` learns both weights jointly; ``'unweighted'`` averages
        the individually temperature-scaled logits (weights ``(w_l/2, w_s/2)``);
        ``'uq_only'`` has the asymmetric duo's probabilities but predicts the
        large model's class.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.

    Returns
    -------
    LogitEnsemble
        Two members (large, small), with this ``mode``.

    See Also
    --------
    skduo.DuoClassifier : The estimator version.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo import fit_duo
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> large = 2.0 * (rng.normal(size=(500, 3)) + 2.0 * np.eye(3)[y])
    >>> noise = rng.normal(size=(500, 3))  # a sidekick that knows nothing
    >>> duo = fit_duo(large, noise, y)
    >>> bool(duo.weights[1] < 0.05 * duo.weights[0])
    True
    >>> duo.predict_proba(large[:2], noise[:2]).shape
    (2, 3)
    """
    if mode not in DUO_MODES:
        raise ValueError(f"mode must be one of {DUO_MODES}; got {mode!r}.")
    logits = _check_members([val_logits_large, val_logits_small], "Validation logits")
    n, k = logits[0].shape
    y = _check_labels(y_val, n, k)
    return _ensemble(mode, logits, y, sample_weight)


def fit_weighted_ensemble(val_logits, y_val, *, sample_weight=None):
    """Learn one non-negative weight per member: the duo for any number of members.

    Parameters
    ----------
    val_logits : sequence of array-like of shape (n_samples, n_classes)
        Validation logits of each member.
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.

    Returns
    -------
    LogitEnsemble
        ``mode='learned'``.

    See Also
    --------
    skduo.WeightedEnsembleClassifier : The estimator version.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo import fit_weighted_ensemble
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 400)
    >>> members = [rng.normal(size=(400, 3)) + 1.5 * np.eye(3)[y] for _ in range(3)]
    >>> ens = fit_weighted_ensemble(members, y)
    >>> ens.n_members, bool((ens.weights > 0).all())
    (3, True)
    """
    logits = _check_members(list(val_logits), "Validation logits")
    n, k = logits[0].shape
    y = _check_labels(y_val, n, k)
    return _ensemble("learned", logits, y, sample_weight)


def fit_deep_ensemble(val_logits, y_val, *, sample_weight=None):
    """Deep ensemble, pool-then-calibrate: average the logits, then temperature-scale.

    The members' logits are averaged with equal weights and one temperature is
    fitted on the pooled logits (Rahaman & Thiery, 2021), as in the paper's deep
    ensemble baseline.

    Parameters
    ----------
    val_logits : sequence of array-like of shape (n_samples, n_classes)
        Validation logits of each member.
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.

    Returns
    -------
    LogitEnsemble
        ``mode='pooled'``; every weight equals ``1 / (m * temperature)``.

    See Also
    --------
    fit_weighted_ensemble : One learned weight per member instead.

    References
    ----------
    .. [1] R. Rahaman and A. H. Thiery, "Uncertainty Quantification and Deep
       Ensembles", NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo import fit_deep_ensemble
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 400)
    >>> members = [rng.normal(size=(400, 3)) + 1.5 * np.eye(3)[y] for _ in range(2)]
    >>> de = fit_deep_ensemble(members, y)
    >>> bool(de.weights[0] == de.weights[1])
    True
    """
    logits = _check_members(list(val_logits), "Validation logits")
    n, k = logits[0].shape
    y = _check_labels(y_val, n, k)
    return _ensemble("pooled", logits, y, sample_weight)


def _ensemble(mode, logits, y, sample_weight):
    """Fit ``mode``'s weights on checked logits and wrap them."""
    res = FITS_BY_MODE[mode](logits, y, sample_weight)
    return LogitEnsemble(
        res.weights,
        mode,
        logits[0].shape[1],
        float(res.nll),
        int(res.n_iter),
        bool(res.converged),
    )
