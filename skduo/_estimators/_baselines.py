"""Baselines of the duo as scikit-learn estimators.

:class:`TemperatureScalingClassifier` is single-model temperature scaling (the
paper's reference point) and :class:`WeightedEnsembleClassifier` combines any
number of members, either with one learned weight each (the duo generalised) or by
pool-then-calibrate (a deep ensemble). Both use the members exactly as
:class:`~skduo.DuoClassifier` does
(:func:`skduo._outputs._member.member_logits`) and the same convex weight fit.
"""

import warnings

import numpy as np
from sklearn.utils import Bunch

from skduo._estimators._base import _BaseLogitEnsemble
from skduo._fit._modes import FITS_BY_MODE, fit_learned_weights
from skduo._vocabulary import ENSEMBLE_MODES
from skduo.utils._sklearn_compat import (
    HasMethods,
    Hidden,
    StrOptions,
    _BaseComposition,
    _fit_context,
)

__all__ = ["TemperatureScalingClassifier", "WeightedEnsembleClassifier"]


class TemperatureScalingClassifier(_BaseLogitEnsemble):
    """Single-model temperature scaling: ``softmax(z / T)`` with ``T`` fitted.

    The baseline every duo is compared with (Guo et al., 2017). ``T`` minimises
    the (sample-weighted) negative log-likelihood on the data passed to
    :meth:`fit`, normally a held-out validation set. It is the one-member case of
    the duo's convex weight fit (solved to a KKT tolerance of 1e-8), so it equals
    scikit-learn's ``CalibratedClassifierCV(method="temperature")`` on the same
    logits up to that library's optimiser tolerance.

    Parameters
    ----------
    estimator : estimator
        The classifier to calibrate. A fitted one (plain or wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`) is used as it is and never
        refit; ``clone`` keeps it. An unfitted one is cloned and fitted by
        cross-fitting (see ``cv``).
    prior : 'auto', float or None, default='auto'
        What keeps the temperature sane on small or separable validation data
        (see :ref:`no_harm`). ``'auto'``: the exact maximum-likelihood
        temperature where the data determine it (the Wald 95 % interval of
        ``1 / T`` excludes 0), else temperature 1, the member as given (with a
        warning). A number ``c``: always the posterior mode, the negative
        log-density of a Gamma prior on the weight ``1 / T`` with its mode at 1
        (the member as given), worth ``c`` validation rows, added to the
        validation NLL divided by the number of rows (the sum of
        ``sample_weight``); it fades like ``c / n``. ``None`` fits the exact
        maximum-likelihood temperature (``T -> 0`` on separable data, with a
        ``SeparationWarning``).
    response_method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'}, default='auto'
        How the member's outputs become logits, as in
        :class:`~skduo.DuoClassifier`.
    cv : int, cross-validation generator or iterable, default=5
        Used only for an unfitted ``estimator``: its out-of-fold logits on the
        fit data give ``T``, then it is refit on all of it.
    verbose : bool, default=False
        Show progress bars while a torch member computes its logits.

    Attributes
    ----------
    estimator_ : estimator
        The fitted member used for predictions.
    weights_ : ndarray of shape (1,)
        The inverse temperature ``1 / T`` (the duo's convention). For a
        two-class member scored by a 1-D ``decision_function`` ``s`` (logits
        ``(0, s)``) it is twice the ``beta_`` of scikit-learn's
        ``CalibratedClassifierCV(method="temperature")``, which builds the
        logits ``(-s, s)``; the probabilities are the same.
    temperature_ : float
        The fitted temperature ``T``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    validation_nll_ : float
        Weighted mean negative log-likelihood on the fit data (without the
        prior's penalty).
    zero_floors_ : ndarray of shape (1,)
        The logit given to the member's exact-zero probabilities, at fit and
        prediction time: half the smallest positive probability it gave on the
        fit data, as a log (NaN: no exact zero, or ``prior=None``).
    n_iter_ : int
        Newton iterations of the weight fit, all phases.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    skduo.DuoClassifier : Adds a sidekick to the temperature-scaled model.
    skduo.fit_temperature : The same fit on an array of logits.
    sklearn.calibration.CalibratedClassifierCV : ``method="temperature"``.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import TemperatureScalingClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> nb = GaussianNB().fit(X_train, y_train)
    >>> ts = TemperatureScalingClassifier(nb).fit(X_val, y_val)
    >>> bool(ts.temperature_ > 1)  # naive Bayes is over-confident
    True
    >>> ts.predict_proba(X_val[:2]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        **_BaseLogitEnsemble._parameter_constraints,
        "estimator": [HasMethods(["fit"])],
    }

    _member_params = ("estimator",)

    def __init__(
        self, estimator, *, prior="auto", response_method="auto", cv=5, verbose=False
    ):
        self.estimator = estimator
        self.prior = prior
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose

    def _named_members(self):
        return [("estimator", self.estimator)]

    def _fitted_named_members(self):
        return [("estimator", self.estimator_)]

    def _store_members(self, members):
        self.estimator_ = members[0]

    def _member_methods(self, n_members):
        if isinstance(self.response_method, tuple):
            raise ValueError(
                "response_method must be a string for TemperatureScalingClassifier; "
                f"got {self.response_method!r}."
            )
        return super()._member_methods(n_members)

    def _fit_weights(self, logits, y_enc, sample_weight, names):
        return fit_learned_weights(
            logits, y_enc, sample_weight, names=names, prior=self.prior
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, *, groups=None, **fit_params):
        """Fit the temperature (and the member, if unfitted) on validation data.

        Parameters
        ----------
        X : array-like, Dataset or any input the member accepts
            Validation inputs, not seen by a fitted member during its training:
            an array of shape (n_samples, n_features) for a scikit-learn member,
            images or a torch ``Dataset`` for a torch member.
        y : array-like of shape (n_samples,), default=None
            Validation labels; None reads them from a torch ``Dataset`` ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms (also passed to the fit of
            unfitted members whose ``fit`` accepts it; with metadata routing
            enabled, to those that request it).
        groups : array-like of shape (n_samples,), default=None
            Group labels for the cross-fitting splitter ``cv`` (e.g.
            :class:`~sklearn.model_selection.GroupKFold`); used only for
            unfitted members.
        **fit_params : dict
            Parameters for the ``fit`` of unfitted members; only with metadata
            routing enabled (see :meth:`get_metadata_routing`).

        Returns
        -------
        self : TemperatureScalingClassifier
            The fitted estimator.
        """
        self._fit_members(X, y, sample_weight, groups, fit_params)
        w = float(self.weights_[0])
        self.temperature_ = np.inf if w == 0.0 else 1.0 / w
        return self


class WeightedEnsembleClassifier(_BaseLogitEnsemble, _BaseComposition):
    """Ensemble of any number of classifiers by a weighted sum of their logits.

    ``mode='learned'`` fits one non-negative weight per member by minimising
    the validation negative log-likelihood: the Asymmetric Duo generalised to
    ``m`` members (with two members it equals
    :class:`~skduo.DuoClassifier` with ``prior=None``; their default priors
    differ: symmetric here, centred on the large member there).
    ``mode='pooled'`` is a deep ensemble with
    pool-then-calibrate: the members' logits are averaged with equal weights and
    the average is temperature-scaled (Rahaman & Thiery, 2021), the paper's deep
    ensemble baseline.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, named. Fitted members (plain or wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`) are used as they are and never
        refit; ``clone`` keeps them. Unfitted members are cloned and fitted by
        cross-fitting (see ``cv``).
    mode : {'learned', 'pooled'}, default='learned'
        ``'learned'``: one weight per member. ``'pooled'``: equal weights
        ``1 / (m T)`` with one fitted temperature ``T``.
    prior : 'auto', float or None, default='auto'
        What keeps the weights sane on small or separable validation data (see
        :ref:`no_harm`). ``'auto'``: the exact maximum-likelihood weights of
        the most members whose fit the data determine (each positive weight's
        and their scale's Wald 95 % interval excludes 0; members dropped one
        at a time), else the members as given (with a warning). A number ``c``:
        always the posterior mode under Gamma priors with their mode at ``1 /
        m`` (the plain logit average; ``mode='pooled'``: temperature 1 of the
        average), worth ``c`` validation rows, added to the validation NLL
        divided by the number of rows (the sum of ``sample_weight``); they fade
        like ``c / n``. ``None`` fits the exact maximum-likelihood weights.
    response_method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'} or tuple, default='auto'
        How each member's outputs become logits (a tuple gives one method per
        member), as in :class:`~skduo.DuoClassifier`.
    cv : int, cross-validation generator or iterable, default=5
        Used only for unfitted members (out-of-fold logits, then a refit on all
        the fit data).
    verbose : bool, default=False
        Show progress bars while torch members compute their logits.
    weighting : {'learned', 'pooled'}, default='deprecated'
        The former name of ``mode``.

        .. deprecated:: 0.1
           Use ``mode``; ``weighting`` will be removed in the next release.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    weights_ : ndarray of shape (n_members,)
        Non-negative weights of the members' logits. A two-class member scored
        by a 1-D ``decision_function`` ``s`` has the logits ``(0, s)``, so its
        weight is twice the ``beta_`` of scikit-learn's
        ``CalibratedClassifierCV(method="temperature")`` (logits ``(-s, s)``).
    temperature_ : float
        ``1 / sum(weights_)``: for ``'pooled'``, the temperature of the mean
        logits.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    validation_nll_ : float
        Weighted mean negative log-likelihood on the fit data (without the
        prior's penalty).
    zero_floors_ : ndarray of shape (n_members,)
        The logit given to each member's exact-zero probabilities, at fit and
        prediction time: half the smallest positive probability the member gave on the
        fit data, as a log (NaN: no exact zero, or ``prior=None``).
    n_iter_ : int
        Newton iterations of the weight fit, all phases.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in :meth:`fit`, when ``X`` has string column names.

    See Also
    --------
    skduo.DuoClassifier : The two-member, asymmetric case.
    skduo.fit_weighted_ensemble : ``'learned'`` on arrays of logits.
    skduo.fit_deep_ensemble : ``'pooled'`` on arrays of logits.

    References
    ----------
    .. [1] R. Rahaman and A. H. Thiery, "Uncertainty Quantification and Deep
       Ensembles", NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import WeightedEnsembleClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> members = [
    ...     ("lr", LogisticRegression(max_iter=1000).fit(X_train, y_train)),
    ...     ("nb", GaussianNB().fit(X_train, y_train)),
    ...     ("lr2", LogisticRegression(C=0.01, max_iter=999).fit(X_train, y_train)),
    ... ]
    >>> ens = WeightedEnsembleClassifier(members).fit(X_val, y_val)
    >>> ens.weights_.shape
    (3,)
    >>> pooled = WeightedEnsembleClassifier(members, mode="pooled")
    >>> w = pooled.fit(X_val, y_val).weights_
    >>> bool(w[0] == w[1] == w[2])
    True
    """

    _parameter_constraints: dict = {
        **_BaseLogitEnsemble._parameter_constraints,
        "estimators": [list],
        "mode": [StrOptions(set(ENSEMBLE_MODES))],
        "weighting": [
            StrOptions(set(ENSEMBLE_MODES)),
            Hidden(StrOptions({"deprecated"})),
        ],
    }

    _member_params = ("estimators",)

    def __init__(
        self,
        estimators,
        *,
        mode="learned",
        prior="auto",
        response_method="auto",
        cv=5,
        verbose=False,
        weighting="deprecated",
    ):
        self.estimators = estimators
        self.mode = mode
        self.prior = prior
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose
        self.weighting = weighting

    def get_params(self, deep=True):
        """Get parameters, including the members' (as ``<name>__<param>``).

        Parameters
        ----------
        deep : bool, default=True
            Also return the members and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, including members by name (``<name>=estimator``).

        Parameters
        ----------
        **params : keyword arguments
            Estimator parameters.

        Returns
        -------
        self : WeightedEnsembleClassifier
            This estimator.
        """
        self._set_params("estimators", **params)
        return self

    def _named_members(self):
        named = self.estimators
        if not named:
            raise ValueError(
                "estimators must be a non-empty list of (name, estimator) tuples."
            )
        if not all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in named
        ):
            raise ValueError(
                f"estimators must be a list of (str, estimator) tuples; got {named!r}."
            )
        names = [name for name, _ in named]
        self._validate_names(names)
        for name, est in named:
            if not hasattr(est, "fit"):
                raise TypeError(
                    f"The member {name!r} ({type(est).__name__}) has no fit method."
                )
        return list(named)

    def _fitted_named_members(self):
        return list(zip(self.named_estimators_.keys(), self.estimators_))

    def _store_members(self, members):
        self.estimators_ = list(members)
        self.named_estimators_ = Bunch(
            **{name: est for (name, _), est in zip(self.estimators, members)}
        )

    def _fit_weights(self, logits, y_enc, sample_weight, names):
        mode = self.mode
        if self.weighting != "deprecated":
            warnings.warn(
                "WeightedEnsembleClassifier(weighting=...) is deprecated and will be "
                "removed in the next release; use mode=... (same values).",
                FutureWarning,
                stacklevel=4,
            )
            mode = self.weighting
        return FITS_BY_MODE[mode](
            logits, y_enc, sample_weight, names=names, prior=self.prior
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, *, groups=None, **fit_params):
        """Fit the weights (and any unfitted member) on validation data.

        Parameters
        ----------
        X : array-like, Dataset or any input the members accept
            Validation inputs, not seen by fitted members during their training:
            an array of shape (n_samples, n_features) for scikit-learn members,
            images or a torch ``Dataset`` for torch members.
        y : array-like of shape (n_samples,), default=None
            Validation labels; None reads them from a torch ``Dataset`` ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms (also passed to the fit of
            unfitted members whose ``fit`` accepts it; with metadata routing
            enabled, to those that request it).
        groups : array-like of shape (n_samples,), default=None
            Group labels for the cross-fitting splitter ``cv`` (e.g.
            :class:`~sklearn.model_selection.GroupKFold`); used only for
            unfitted members.
        **fit_params : dict
            Parameters for the ``fit`` of unfitted members; only with metadata
            routing enabled (see :meth:`get_metadata_routing`).

        Returns
        -------
        self : WeightedEnsembleClassifier
            The fitted ensemble.
        """
        self._fit_members(X, y, sample_weight, groups, fit_params)
        total = float(self.weights_.sum())
        self.temperature_ = np.inf if total == 0.0 else 1.0 / total
        return self
