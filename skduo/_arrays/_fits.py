"""Fit and apply duos and their baselines directly on arrays of logits.

This is the array API for precomputed logits (e.g. computed once on a GPU and
analysed on a CPU): no estimator objects, the same numerical core
(:mod:`skduo._fit._weight_fit`) and therefore the same weights as
:class:`~skduo.DuoClassifier`, :class:`~skduo.TemperatureScalingClassifier` and
:class:`~skduo.WeightedEnsembleClassifier` on identical logits.

Labels are integer class indices ``0 .. n_classes - 1`` (the logits' columns).
Members' outputs may be NumPy arrays of any float or integer dtype,
``np.memmap`` or dask arrays: the fits check their shapes and pass them on
uncopied (the weight fit reads them in row chunks), and a
:class:`LogitEnsemble` predicts in row blocks. They may hold logits,
probabilities or log-probabilities (``outputs``), and 1-D arrays are binary
scores ``s`` (the logit of class 1), read as the logits ``(0, s)``.
"""

from skduo._arrays._checks import check_labels, check_members, n_columns
from skduo._arrays._ensemble import LogitEnsemble
from skduo._fit._modes import FITS_BY_MODE
from skduo._outputs._kinds import as_logits
from skduo._vocabulary import DUO_MODES, OUTPUT_KINDS

__all__ = [
    "LogitEnsemble",
    "fit_deep_ensemble",
    "fit_duo",
    "fit_temperature",
    "fit_weighted_ensemble",
]


_OUTPUTS_DOC = """\
outputs : {'auto', 'logits', 'proba', 'log_proba'}, default='auto'
        What the arrays hold. ``'auto'`` recognises probabilities and
        log-probabilities (on a few thousand evenly spaced rows) and fits on
        their logarithm -- the same duo as on the logits, up to the clipping
        of exact zeros -- with a warning saying how to declare them; the
        other values declare them (``'logits'`` also skips the inspection).
        The fitted ensemble expects the same kind at prediction."""

_PRIOR_DOC = """prior : 'auto', float or None, default='auto'
        What keeps the weights sane on small or separable validation data.
        ``'auto'``: the exact maximum-likelihood weights of the most members
        whose fit the data determine (each positive weight's and their
        scale's Wald 95 % interval excludes 0), else the members as given
        (with a warning). A number ``c``: always the posterior mode under the weak
        prior worth ``c`` validation rows (centred on the members as given:
        the large member and a single model at weight 1, the sidekick at 0,
        ``m`` symmetric members at ``1 / m``); its penalty fades like
        ``c / n``. ``None`` fits the exact
        maximum-likelihood weights. See the user guide, "When a duo does not
        help"."""


def fit_temperature(
    val_logits, y_val, *, sample_weight=None, outputs="auto", prior="auto"
):
    """Single-model temperature scaling fitted on validation logits.

    Parameters
    ----------
    val_logits : array-like of shape (n_samples, n_classes) or (n_samples,)
        The model's validation logits (NumPy, ``np.memmap`` or dask; never
        copied). 1-D: binary scores ``s``, the logit of class 1, read as the
        logits ``(0, s)`` so that a weight of 1 gives ``sigmoid(s)``;
        scikit-learn's temperature scaling reads them as ``(-s, s)``, so its
        inverse temperature ``beta_`` is half the weight fitted here.
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    {outputs}
    {prior}

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
    return _fit(
        "temperature",
        [val_logits],
        ["val_logits"],
        y_val,
        sample_weight,
        outputs,
        prior=prior,
    )


def fit_duo(
    val_logits_large,
    val_logits_small,
    y_val,
    *,
    mode="asymmetric",
    sample_weight=None,
    outputs="auto",
    prior="auto",
):
    """Fit an Asymmetric Duo (or one of its ablations) on validation logits.

    Gives the same weights as :class:`~skduo.DuoClassifier` on the same logits.

    Parameters
    ----------
    val_logits_large : array-like of shape (n_samples, n_classes) or (n_samples,)
        Validation logits of the large model (NumPy, ``np.memmap`` or dask;
        never copied; 1-D: binary scores ``s``, read as ``(0, s)``).
    val_logits_small : array-like of shape (n_samples, n_classes) or (n_samples,)
        Validation logits of the sidekick.
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    mode : {{'asymmetric', 'unweighted', 'uq_only'}}, default='asymmetric'
        ``'asymmetric'`` learns both weights jointly; ``'unweighted'`` averages
        the individually temperature-scaled logits (weights ``(w_l/2, w_s/2)``);
        ``'uq_only'`` has the asymmetric duo's probabilities but predicts the
        large model's class.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    {outputs}
    {prior}

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
    return _fit(
        mode,
        [val_logits_large, val_logits_small],
        ["val_logits_large", "val_logits_small"],
        y_val,
        sample_weight,
        outputs,
        prior=prior,
    )


def fit_weighted_ensemble(
    val_logits, y_val, *, sample_weight=None, outputs="auto", prior="auto"
):
    """Learn one non-negative weight per member: the duo for any number of members.

    Parameters
    ----------
    val_logits : sequence of array-like of shape (n_samples, n_classes)
        Validation logits of each member (NumPy, ``np.memmap`` or dask; 1-D:
        binary scores ``s``, read as ``(0, s)``).
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    {outputs}
    {prior}

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
    return _fit_members("learned", val_logits, y_val, sample_weight, outputs, prior)


def fit_deep_ensemble(
    val_logits, y_val, *, sample_weight=None, outputs="auto", prior="auto"
):
    """Deep ensemble, pool-then-calibrate: average the logits, then temperature-scale.

    The members' logits are averaged with equal weights and one temperature is
    fitted on the pooled logits (Rahaman & Thiery, 2021), as in the paper's deep
    ensemble baseline.

    Parameters
    ----------
    val_logits : sequence of array-like of shape (n_samples, n_classes)
        Validation logits of each member (NumPy, ``np.memmap`` or dask; 1-D:
        binary scores ``s``, read as ``(0, s)``).
    y_val : array-like of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the NLL terms.
    {outputs}
    {prior}

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
    return _fit_members("pooled", val_logits, y_val, sample_weight, outputs, prior)


for _func in (fit_temperature, fit_duo, fit_weighted_ensemble, fit_deep_ensemble):
    _func.__doc__ = _func.__doc__.format(outputs=_OUTPUTS_DOC, prior=_PRIOR_DOC)
del _func


def _fit_members(mode, val_logits, y_val, sample_weight, outputs, prior):
    values = list(val_logits)
    names = [f"val_logits[{m}]" for m in range(len(values))]
    return _fit(
        mode, values, names, y_val, sample_weight, outputs, stacklevel=4, prior=prior
    )


def _fit(mode, values, names, y_val, sample_weight, outputs, stacklevel=3, prior=None):
    """Check shapes and labels, turn outputs into logits, fit ``mode``'s weights.

    The logits are passed to the fit as they are (no copy, dask arrays lazy):
    the fit checks that they are finite, in its first pass over them.
    """
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"outputs must be one of {OUTPUT_KINDS}; got {outputs!r}.")
    arrays = check_members(values, names)
    y = check_labels(y_val, arrays[0].shape[0], n_columns(arrays[0]))
    logits, kinds = [], []
    for z, name in zip(arrays, names):
        z, kind = as_logits(z, outputs, name, stacklevel=stacklevel, return_kind=True)
        logits.append(z)
        kinds.append(kind)
    fit = FITS_BY_MODE[mode]
    res = fit(logits, y, sample_weight, names=tuple(names), prior=prior)
    return LogitEnsemble(
        res.weights,
        mode,
        n_columns(arrays[0]),
        float(res.nll),
        int(res.n_iter),
        bool(res.converged),
        tuple(kinds),
    )
