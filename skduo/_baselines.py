"""Baselines of the duo as scikit-learn estimators.

:class:`TemperatureScalingClassifier` is single-model temperature scaling (the
paper's reference point) and :class:`WeightedEnsembleClassifier` combines any
number of members, either with one learned weight each (the duo generalised) or by
pool-then-calibrate (a deep ensemble). Both use the members exactly as
:class:`~skduo.DuoClassifier` does (:func:`skduo._duo.member_logits`) and the same
convex weight fit.
"""

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    indexable,
    validate_data,
)

from skduo import _torch_compat
from skduo._duo import _is_fitted, _member_classes, member_logits
from skduo._temperature import (
    combine_logits,
    fit_logit_weights,
    log_softmax,
    softmax,
)

__all__ = ["TemperatureScalingClassifier", "WeightedEnsembleClassifier"]

_RESPONSE_METHODS = ("decision_function", "predict_log_proba", "predict_proba")


class _LogitCombinationMixin:
    """Fit/predict plumbing shared by the baselines.

    Subclasses provide ``_named_members()`` (list of (name, estimator)),
    ``_member_methods(n)`` and ``_fit_weights(logits, y_enc, sample_weight)``
    returning ``(weights, nll, n_iter)``, and store fitted members with
    ``_store_members(list)``.
    """

    def _fit_members(self, X, y, sample_weight):
        named = self._named_members()
        methods = self._member_methods(len(named))
        members = dict(named)
        _torch_compat.check_torch_members_device(members)
        fitted = {name: _is_fitted(est) for name, est in named}
        n_samples = _num_samples(X)
        if n_samples == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={np.shape(X)}) while a minimum "
                f"of 1 is required by {type(self).__name__}."
            )
        X, y = indexable(X, y)
        y = column_or_1d(y, warn=True)
        if len(y) != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {n_samples} and "
                f"{len(y)}."
            )
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, y, dtype=np.float64, ensure_non_negative=True
            )
            if not sample_weight.sum() > 0:
                raise ValueError(
                    "sample_weight sums to 0: at least one sample needs a positive "
                    "weight."
                )
        self._set_input_attributes(X, named, fitted)

        fitted_sets = {
            name: _member_classes(est, name) for name, est in named if fitted[name]
        }
        if fitted_sets:
            reference_name, reference = next(iter(fitted_sets.items()))
            for name, cls in fitted_sets.items():
                if set(cls.tolist()) != set(reference.tolist()):
                    raise ValueError(
                        f"The members have different class sets: {reference_name!r} "
                        f"knows {sorted(reference.tolist(), key=str)}, {name!r} "
                        f"knows {sorted(cls.tolist(), key=str)}."
                    )
            classes = np.unique(reference)
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise ValueError(
                    f"y contains label(s) {unknown.tolist()} that the members do not "
                    f"know; their classes are {classes.tolist()}."
                )
        else:
            classes = np.unique(y)
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"y contains only one class ({np.unique(y).tolist()}); fitting the "
                "weights needs samples of at least 2 classes."
            )
        self.classes_ = classes
        y_enc = LabelEncoder().fit(classes).transform(y)

        logits, fitted_members = [], []
        for (name, est), method in zip(named, methods):
            if fitted[name]:
                fitted_members.append(est)
                logits.append(self._logits(est, X, name, method))
            else:
                z, refit = self._cross_fit(est, X, y, sample_weight, name, method)
                fitted_members.append(refit)
                logits.append(z)
        self._store_members(fitted_members)
        weights, value, n_iter = self._fit_weights(logits, y_enc, sample_weight)
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.validation_nll_ = float(value)
        self.n_iter_ = int(n_iter)
        return self

    def _member_methods(self, n_members):
        rm = self.response_method
        if isinstance(rm, str):
            return (rm,) * n_members
        allowed = {"auto", *_RESPONSE_METHODS}
        if len(rm) != n_members or not all(
            isinstance(m, str) and m in allowed for m in rm
        ):
            raise ValueError(
                f"response_method must be one of {sorted(allowed)} or a tuple of "
                f"{n_members} of them (one per member); got {rm!r}."
            )
        return tuple(rm)

    def _logits(self, estimator, X, name, method):
        return member_logits(
            estimator, X, self.classes_, method=method, name=name, verbose=self.verbose
        )

    def _set_input_attributes(self, X, named, fitted):
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        if hasattr(X, "shape") and len(X.shape) == 2 or isinstance(X, list):
            validate_data(self, X, skip_check_array=True, reset=True)
        for name, est in named:
            expected = getattr(est, "n_features_in_", None) if fitted[name] else None
            seen = getattr(self, "n_features_in_", None)
            if expected is not None and seen is not None and expected != seen:
                raise ValueError(
                    f"X has {seen} features, but the member {name!r} is expecting "
                    f"{expected} features as input."
                )
        if not hasattr(self, "n_features_in_"):
            for name, est in named:
                n = getattr(est, "n_features_in_", None)
                if n is not None and fitted[name]:
                    self.n_features_in_ = n
                    break

    def _cross_fit(self, estimator, X, y, sample_weight, name, method):
        """Out-of-fold logits of an unfitted member, and a clone fitted on all."""
        cv = check_cv(self.cv, y, classifier=True)
        n_classes = len(self.classes_)
        out = np.empty((_num_samples(X), n_classes))
        supports_sw = sample_weight is not None and has_fit_parameter(
            estimator, "sample_weight"
        )
        for train, test in cv.split(X, y):
            fold = clone(estimator)
            kw = {"sample_weight": sample_weight[train]} if supports_sw else {}
            fold.fit(_safe_indexing(X, train), y[train], **kw)
            present = np.isin(self.classes_, _member_classes(fold, name))
            z = member_logits(
                fold,
                _safe_indexing(X, test),
                self.classes_[present],
                method=method,
                name=name,
                verbose=self.verbose,
            )
            block = np.empty((len(test), n_classes))
            block[:, present] = z
            if not present.all():
                # class absent from this training fold: far below the others
                block[:, ~present] = z.min(axis=1, keepdims=True) - 20.0
            out[test] = block
        refit = clone(estimator)
        kw = {"sample_weight": sample_weight} if supports_sw else {}
        refit.fit(X, y, **kw)
        return out, refit

    def _check_input(self, X):
        check_is_fitted(self)
        if _num_samples(X) == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={np.shape(X)}) while a minimum "
                f"of 1 is required by {type(self).__name__}."
            )
        if hasattr(X, "shape") and len(X.shape) == 2 or isinstance(X, list):
            if hasattr(self, "n_features_in_"):
                validate_data(self, X, skip_check_array=True, reset=False)
        return X

    def _combined_logits(self, X):
        """Combined logits; members with weight exactly 0 are not evaluated."""
        X = self._check_input(X)
        members = self._fitted_named_members()
        methods = self._member_methods(len(members))
        logits, weights = [], []
        all_zero = not np.any(self.weights_)
        for (name, est), method, w in zip(members, methods, self.weights_):
            if w != 0.0 or all_zero:
                # with all weights 0 the first member still checks X
                logits.append(self._logits(est, X, name, method))
                weights.append(w)
                if all_zero:
                    break
        return combine_logits(logits, weights)

    def decision_function(self, X):
        """The combined logits ``sum_m weights_[m] * z_m``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the score of ``classes_[1]`` (logit difference), as
            in scikit-learn.
        """
        z = self._combined_logits(X)
        if z.shape[1] == 2:
            return z[:, 1] - z[:, 0]
        return z

    def predict_proba(self, X):
        """Probabilities ``softmax`` of the combined logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return softmax(self._combined_logits(X))

    def predict_log_proba(self, X):
        """Log-probabilities, computed stably from the combined logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._combined_logits(X))

    def predict(self, X):
        """Predicted labels: ``classes_[argmax]`` of the combined logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        z = self._combined_logits(X)
        return self.classes_[np.argmax(z, axis=1)]


_RESPONSE_CONSTRAINT = [StrOptions({"auto", *_RESPONSE_METHODS}), tuple]


class TemperatureScalingClassifier(
    _LogitCombinationMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
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
        The inverse temperature ``1 / T`` (the duo's convention).
    temperature_ : float
        The fitted temperature ``T``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    validation_nll_ : float
        Weighted mean negative log-likelihood on the fit data.
    n_iter_ : int
        Newton iterations of the fit.
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
        "estimator": [HasMethods(["fit"])],
        "response_method": _RESPONSE_CONSTRAINT,
        "cv": ["cv_object"],
        "verbose": ["boolean"],
    }

    def __init__(self, estimator, *, response_method="auto", cv=5, verbose=False):
        self.estimator = estimator
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose

    def __sklearn_clone__(self):
        params = self.get_params(deep=False)
        new = {
            key: value
            if key == "estimator" and _is_fitted(value)
            else clone(value, safe=False)
            for key, value in params.items()
        }
        return type(self)(**new)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        try:
            from sklearn.utils import get_tags

            member = get_tags(self.estimator)
            tags.input_tags.sparse = member.input_tags.sparse
            tags.input_tags.allow_nan = member.input_tags.allow_nan
        except Exception:  # members sklearn cannot inspect (e.g. skorch nets)
            pass
        return tags

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

    def _fit_weights(self, logits, y_enc, sample_weight):
        res = fit_logit_weights(logits, y_enc, sample_weight, return_result=True)
        return res.weights, res.nll, res.n_iter

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the temperature (and the member, if unfitted) on validation data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or any input the member
            accepts
            Validation inputs, not seen by a fitted member during its training.
        y : array-like of shape (n_samples,)
            Validation labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms.

        Returns
        -------
        self : TemperatureScalingClassifier
            The fitted estimator.
        """
        self._fit_members(X, y, sample_weight)
        w = float(self.weights_[0])
        self.temperature_ = np.inf if w == 0.0 else 1.0 / w
        return self


class WeightedEnsembleClassifier(
    _LogitCombinationMixin,
    ClassifierMixin,
    MetaEstimatorMixin,
    _BaseComposition,
):
    """Ensemble of any number of classifiers by a weighted sum of their logits.

    ``weighting='learned'`` fits one non-negative weight per member by minimising
    the validation negative log-likelihood: the Asymmetric Duo generalised to
    ``m`` members (with two members it equals
    :class:`~skduo.DuoClassifier`). ``weighting='pooled'`` is a deep ensemble with
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
    weighting : {'learned', 'pooled'}, default='learned'
        ``'learned'``: one weight per member. ``'pooled'``: equal weights
        ``1 / (m T)`` with one fitted temperature ``T``.
    response_method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'} or tuple, default='auto'
        How each member's outputs become logits (a tuple gives one method per
        member), as in :class:`~skduo.DuoClassifier`.
    cv : int, cross-validation generator or iterable, default=5
        Used only for unfitted members (out-of-fold logits, then a refit on all
        the fit data).
    verbose : bool, default=False
        Show progress bars while torch members compute their logits.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    weights_ : ndarray of shape (n_members,)
        Non-negative weights of the members' logits.
    temperature_ : float
        ``1 / sum(weights_)``: for ``'pooled'``, the temperature of the mean
        logits.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    validation_nll_ : float
        Weighted mean negative log-likelihood on the fit data.
    n_iter_ : int
        Newton iterations of the fit.
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
    >>> pooled = WeightedEnsembleClassifier(members, weighting="pooled")
    >>> w = pooled.fit(X_val, y_val).weights_
    >>> bool(w[0] == w[1] == w[2])
    True
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "weighting": [StrOptions({"learned", "pooled"})],
        "response_method": _RESPONSE_CONSTRAINT,
        "cv": ["cv_object"],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        estimators,
        *,
        weighting="learned",
        response_method="auto",
        cv=5,
        verbose=False,
    ):
        self.estimators = estimators
        self.weighting = weighting
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose

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

    def __sklearn_clone__(self):
        params = self.get_params(deep=False)
        new = {}
        for key, value in params.items():
            if key == "estimators":
                new[key] = [
                    (name, est if _is_fitted(est) else clone(est))
                    for name, est in value
                ]
            else:
                new[key] = clone(value, safe=False)
        return type(self)(**new)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        try:
            from sklearn.utils import get_tags

            member_tags = [get_tags(est) for _, est in self.estimators]
            tags.input_tags.sparse = all(t.input_tags.sparse for t in member_tags)
            tags.input_tags.allow_nan = all(t.input_tags.allow_nan for t in member_tags)
        except Exception:  # members sklearn cannot inspect (e.g. skorch nets)
            pass
        return tags

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

    def _fit_weights(self, logits, y_enc, sample_weight):
        if self.weighting == "learned":
            res = fit_logit_weights(logits, y_enc, sample_weight, return_result=True)
            return res.weights, res.nll, res.n_iter
        m = len(logits)
        pooled = combine_logits(logits, np.full(m, 1.0 / m))
        res = fit_logit_weights([pooled], y_enc, sample_weight, return_result=True)
        return np.full(m, float(res.weights[0]) / m), res.nll, res.n_iter

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the weights (and any unfitted member) on validation data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or any input the members
            accept
            Validation inputs, not seen by fitted members during their training.
        y : array-like of shape (n_samples,)
            Validation labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms.

        Returns
        -------
        self : WeightedEnsembleClassifier
            The fitted ensemble.
        """
        self._fit_members(X, y, sample_weight)
        total = float(self.weights_.sum())
        self.temperature_ = np.inf if total == 0.0 else 1.0 / total
        return self
