"""A fitted linear combination of members' logits, applied to arrays.

:class:`LogitEnsemble` is what the array API's fits return
(:mod:`skduo._arrays._fits`): the weights, how they were fitted, and the methods
that apply them to the members' outputs in row blocks
(:mod:`skduo._arrays._predict`), for NumPy, ``np.memmap`` and dask inputs.
"""

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from skduo._arrays._checks import check_member
from skduo._arrays._predict import predict_rows
from skduo._vocabulary import DUO_MODES, FIT_MODES, OUTPUT_KINDS, check_confidence

__all__ = ["LogitEnsemble"]

#: Former spellings of LogitEnsemble modes, kept for one release.
_DEPRECATED_MODES = {"weighted": "learned"}

#: Members a mode combines (modes missing here take any number >= 1).
_MODE_MEMBERS = {"temperature": 1, **dict.fromkeys(DUO_MODES, 2)}

#: What a member's arrays can hold once fitted (``outputs`` of LogitEnsemble).
_KINDS = tuple(kind for kind in OUTPUT_KINDS if kind != "auto")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class LogitEnsemble:
    """A fitted non-negative linear combination of members' logits.

    Returned by :func:`fit_temperature`, :func:`fit_duo`,
    :func:`fit_weighted_ensemble` and :func:`fit_deep_ensemble`. Its methods take
    the members' outputs in the order used for fitting (for a duo: large, then
    small), each of shape ``(n_samples, n_classes)``, or ``(n_samples,)`` for
    binary scores ``s`` (the logits ``(0, s)``). They work in row blocks: the
    only array of the data's size they allocate is their result (none for
    :meth:`predict` and :meth:`confidence`), so ``np.memmap`` inputs stream
    from disk; dask inputs give dask results, computed lazily block by block.

    Parameters
    ----------
    weights : array-like of shape (n_members,)
        Finite non-negative weights, at least one; the combined logits are
        ``sum_m weights[m] * logits[m]``. For one member ``weights[0]`` is the
        inverse temperature ``1 / T``. Stored as a read-only float64 array.
    mode : {'temperature', 'asymmetric', 'unweighted', 'uq_only', 'learned', \
'pooled'}
        How the weights were fitted (the ``mode`` of the estimator that fits
        them the same way). ``'temperature'`` has one member, the duo modes
        two. ``'weighted'``, the former name of ``'learned'``, is accepted
        with a ``FutureWarning``.
    n_classes : int
        Number of classes (columns of the logits), at least 2.
    validation_nll : float
        Weighted mean negative log-likelihood on the fitting data: finite and
        non-negative, or NaN when unknown (an ensemble built by hand).
    n_iter : int, default=0
        Newton iterations of the weight fit.
    converged : bool, default=True
        Whether the weight fit met its tolerance.
    outputs : {'logits', 'proba', 'log_proba'} or tuple of those, default=None
        What each member's arrays hold, as at fitting (``None``: logits). The
        methods take the same kind: probabilities are checked and logged,
        log-probabilities have their ``-inf`` clipped (logits work there too).

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
    >>> ens.predict_proba([2.0], [0.0]).round(4)  # binary scores s: (0, s)
    array([[0.2689, 0.7311]])
    """

    weights: np.ndarray
    mode: str
    n_classes: int
    validation_nll: float
    n_iter: int = 0
    converged: bool = True
    outputs: tuple = None

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
        object.__setattr__(self, "weights", self._checked_weights())
        if not _is_int(self.n_classes) or self.n_classes < 2:
            raise ValueError(
                f"LogitEnsemble n_classes must be an integer >= 2; got "
                f"{self.n_classes!r}."
            )
        nll = self.validation_nll
        if (
            not isinstance(nll, numbers.Real)
            or isinstance(nll, bool)
            or not (np.isnan(nll) or (np.isfinite(nll) and nll >= 0))
        ):
            raise ValueError(
                "LogitEnsemble validation_nll must be a finite non-negative float "
                f"(or NaN when unknown); got {nll!r}."
            )
        if not _is_int(self.n_iter) or self.n_iter < 0:
            raise ValueError(
                f"LogitEnsemble n_iter must be an integer >= 0; got {self.n_iter!r}."
            )
        if not isinstance(self.converged, (bool, np.bool_)):
            raise ValueError(
                f"LogitEnsemble converged must be a bool; got {self.converged!r}."
            )
        object.__setattr__(self, "outputs", self._checked_outputs())

    def __setstate__(self, state):
        # pickle and copy.deepcopy restore the fields without __post_init__,
        # and an unpickled or copied array is writable: checked again, and
        # made read-only as at construction
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "weights", self._checked_weights())

    def _checked_weights(self):
        try:
            weights = np.array(self.weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"LogitEnsemble weights must be numbers; got {self.weights!r}."
            ) from None
        if weights.ndim != 1 or weights.size == 0:
            raise ValueError(
                "LogitEnsemble weights must be a 1-D array of one weight per "
                f"member (at least one); got shape {weights.shape}."
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(
                f"LogitEnsemble weights must be finite and non-negative; got {weights}."
            )
        expected = _MODE_MEMBERS.get(self.mode)
        if expected is not None and weights.size != expected:
            raise ValueError(
                f"LogitEnsemble mode {self.mode!r} combines {expected} member(s); "
                f"got {weights.size} weights."
            )
        weights.setflags(write=False)
        return weights

    def _checked_outputs(self):
        outputs = self.outputs
        if outputs is None:
            outputs = "logits"
        if isinstance(outputs, str):
            outputs = (outputs,) * self.n_members
        outputs = tuple(outputs)
        if len(outputs) != self.n_members or any(k not in _KINDS for k in outputs):
            raise ValueError(
                f"LogitEnsemble outputs must be one of {_KINDS}, or one of them per "
                f"member ({self.n_members}); got {self.outputs!r}."
            )
        return outputs

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

    def _predict(self, logits, output, confidence="msp"):
        if len(logits) != self.n_members:
            raise ValueError(
                f"Expected the logits of {self.n_members} member(s) (in fitting "
                f"order); got {len(logits)} array(s)."
            )
        names = [f"Logits of member {m}" for m in range(self.n_members)]
        arrays = [
            check_member(z, name, self.n_classes) for z, name in zip(logits, names)
        ]
        if len({z.shape[0] for z in arrays}) != 1:
            raise ValueError(
                "The members' logits have different numbers of rows: "
                f"{[z.shape[0] for z in arrays]}."
            )
        return predict_rows(
            arrays,
            self.weights,
            self.outputs,
            names,
            self.n_classes,
            output,
            confidence=confidence,
            uq_only=self.mode == "uq_only",
            stacklevel=3,
        )

    def decision_logits(self, *logits):
        """Combined logits ``sum_m weights[m] * logits[m]``.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes) or (n_samples,)
            One array per member, in fitting order (NumPy, memmap or dask).

        Returns
        -------
        ndarray (dask array for dask inputs) of shape (n_samples, n_classes)
            float64. For binary scores, column 1 minus column 0 is the
            combined score ``sum_m weights[m] * s_m``.
        """
        return self._predict(logits, "decision")

    def predict_proba(self, *logits):
        """Probabilities ``softmax(decision_logits(*logits))``.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes) or (n_samples,)
            One array per member, in fitting order (NumPy, memmap or dask).

        Returns
        -------
        ndarray (dask array for dask inputs) of shape (n_samples, n_classes)
        """
        return self._predict(logits, "proba")

    def predict_log_proba(self, *logits):
        """Log-probabilities, computed stably from the combined logits.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes) or (n_samples,)
            One array per member, in fitting order (NumPy, memmap or dask).

        Returns
        -------
        ndarray (dask array for dask inputs) of shape (n_samples, n_classes)
        """
        return self._predict(logits, "log_proba")

    def predict(self, *logits):
        """Predicted class indices.

        The arg-max of the combined logits, or for ``mode='uq_only'`` of the
        first (large) member's logits.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes) or (n_samples,)
            One array per member, in fitting order (NumPy, memmap or dask).

        Returns
        -------
        ndarray (dask array for dask inputs) of shape (n_samples,)
        """
        return self._predict(logits, "predict")

    def confidence(self, *logits, kind="msp"):
        """Per-sample confidence in :meth:`predict`'s prediction.

        Parameters
        ----------
        *logits : array-like of shape (n_samples, n_classes) or (n_samples,)
            One array per member, in fitting order (NumPy, memmap or dask).
        kind : {'msp', 'margin', 'neg_entropy'}, default='msp'
            ``'msp'``: the combined probability of the predicted class (for
            ``'uq_only'`` the duo's probability of the large member's class).
            ``'margin'``: that probability minus the largest other one.
            ``'neg_entropy'``: minus the entropy of the combined probabilities
            (``'entropy'``, its former name, warns).

        Returns
        -------
        ndarray (dask array for dask inputs) of shape (n_samples,)
            Higher means more confident. A row's value does not depend on the
            order of its columns (its sums run over the sorted row), so rows
            that are permutations of each other tie exactly.
        """
        kind = check_confidence(kind, "kind")
        return self._predict(logits, "confidence", kind)
