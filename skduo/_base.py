"""The shared base of skduo's estimators: members in, one weighted logit sum out.

:class:`~skduo.DuoClassifier`, :class:`~skduo.TemperatureScalingClassifier` and
:class:`~skduo.WeightedEnsembleClassifier` differ only in how their members are
named and how the weights are fitted; everything else lives here, as
scikit-learn's ``ensemble/_base.py`` holds what its ensembles share: the common
``_parameter_constraints`` (each estimator extends them), one
``__sklearn_clone__`` that keeps fitted members, the fit (input checks, class
resolution, member logits, cross-fitting of unfitted members) and the
prediction methods.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from skduo import _torch_compat
from skduo._cache import cached_member_logits
from skduo._inputs import n_samples, take_rows, validate_X_y
from skduo._logit_ops import combine_logits, log_softmax, softmax
from skduo._members import is_fitted, member_classes
from skduo._vocabulary import RESPONSE_METHODS
from skduo.utils._sklearn_compat import StrOptions

__all__ = []  # private module


def _keep_or_clone(member):
    """A fitted member is kept as the same object, an unfitted one cloned."""
    return member if is_fitted(member) else clone(member, safe=False)


def _is_2d(X):
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) == 2


def _check_sample_weight(sample_weight, n_samples):
    """Finite, non-negative float64 weights of shape (n_samples,), not all 0."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected ({n_samples},)!")
    if not np.isfinite(sw).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (sw < 0).any():
        raise ValueError("Negative values in data passed to `sample_weight`.")
    if not sw.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


def _empty_input_error(X, owner):
    return ValueError(
        f"Found array with 0 sample(s) (shape={np.shape(X)}) while a minimum "
        f"of 1 is required by {type(owner).__name__}."
    )


class _BaseLogitEnsemble(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Members whose logits are combined by fitted non-negative weights.

    Subclasses define ``_member_params`` (the constructor parameters that hold
    members), ``_named_members()`` (list of ``(name, estimator)``),
    ``_fitted_named_members()``, ``_store_members(list)`` and
    ``_fit_weights(logits, y_enc, sample_weight)`` returning a
    :class:`~skduo._weight_fit.WeightFitResult`.
    """

    _parameter_constraints: dict = {
        "response_method": [StrOptions({"auto", *RESPONSE_METHODS}), tuple],
        "cv": ["cv_object"],
        "verbose": ["boolean"],
    }

    #: Constructor parameters holding members (an estimator, or a list of
    #: ``(name, estimator)`` tuples).
    _member_params = ()

    def __sklearn_clone__(self):
        # Fitted members are kept as the same objects (they are never refit),
        # unfitted ones are cloned, other parameters are cloned as usual.
        new = {}
        for key, value in self.get_params(deep=False).items():
            if key not in self._member_params:
                new[key] = clone(value, safe=False)
            elif isinstance(value, list):
                new[key] = [(name, _keep_or_clone(est)) for name, est in value]
            else:
                new[key] = _keep_or_clone(value)
        return type(self)(**new)

    def __sklearn_tags__(self):
        # Input capabilities are those all members share; nothing else is copied
        # (a FrozenEstimator's _skip_test must not silence the estimator checks).
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        try:
            from sklearn.utils import get_tags

            member_tags = [get_tags(est) for _, est in self._named_members()]
            tags.input_tags.sparse = all(t.input_tags.sparse for t in member_tags)
            tags.input_tags.allow_nan = all(t.input_tags.allow_nan for t in member_tags)
        except Exception:  # members sklearn cannot inspect (e.g. skorch nets)
            pass
        return tags

    def _validate_params(self):
        # a member of a type the duo cannot use (a raw nn.Module, ...) gets a
        # message that says what to do, before sklearn's generic one
        for name, member in self._named_members():
            _torch_compat.check_member_type(member, name)
        super()._validate_params()

    # -- fit -------------------------------------------------------------------

    def _fit_members(self, X, y, sample_weight):
        """The whole fit: checks, classes, member logits, then the weights."""
        named = self._named_members()
        methods = self._member_methods(len(named))
        _torch_compat.check_torch_members_device(dict(named))
        fitted = {name: is_fitted(est) for name, est in named}
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        self._set_input_attributes(X, named, fitted)
        self.classes_ = self._resolve_classes(y, named, fitted)
        y_enc = LabelEncoder().fit(self.classes_).transform(y)
        logits, members = [], []
        for (name, est), method in zip(named, methods):
            if fitted[name]:
                members.append(est)
                logits.append(self._logits(est, X, name, method, True))
            else:
                z, refit = self._cross_fit(est, X, y, sample_weight, name, method)
                members.append(refit)
                logits.append(z)
        self._store_members(members)
        result = self._fit_weights(logits, y_enc, sample_weight)
        self.weights_ = np.asarray(result.weights, dtype=np.float64)
        self.validation_nll_ = float(result.nll)
        self.n_iter_ = int(result.n_iter)
        return self

    def _validate_fit_data(self, X, y, sample_weight):
        """``(X, y, sample_weight)`` checked for length, targets and weights."""
        n_rows = n_samples(X)
        if n_rows == 0:
            raise _empty_input_error(X, self)
        X, y = validate_X_y(X, y)
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {n_rows} and {len(y)}."
            )
        check_classification_targets(y)
        return X, y, _check_sample_weight(sample_weight, n_rows)

    def _resolve_classes(self, y, named, fitted):
        """The fitted members' common classes (checked against ``y``), else y's."""
        fitted_sets = {
            name: member_classes(est, name) for name, est in named if fitted[name]
        }
        if fitted_sets:
            reference_name, reference = next(iter(fitted_sets.items()))
            ref_set = set(reference.tolist())
            for name, cls in fitted_sets.items():
                cls_set = set(cls.tolist())
                if cls_set != ref_set:
                    only_ref = sorted(ref_set - cls_set, key=str)
                    only_other = sorted(cls_set - ref_set, key=str)
                    raise ValueError(
                        "The members have different class sets: only the "
                        f"{reference_name} member knows {only_ref}, only the "
                        f"{name} member knows {only_other}."
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
        return classes

    def _member_methods(self, n_members):
        rm = self.response_method
        if isinstance(rm, str):
            return (rm,) * n_members
        allowed = {"auto", *RESPONSE_METHODS}
        if len(rm) != n_members or not all(
            isinstance(m, str) and m in allowed for m in rm
        ):
            raise ValueError(
                f"response_method must be one of {sorted(allowed)} or a tuple of "
                f"{n_members} of them (one per member); got {rm!r}."
            )
        return tuple(rm)

    def _logits(self, estimator, X, name, method, warn_saturation=False):
        return cached_member_logits(
            estimator,
            X,
            self.classes_,
            method=method,
            name=name,
            verbose=self.verbose,
            warn_saturation=warn_saturation,
        )

    def _set_input_attributes(self, X, named, fitted):
        """n_features_in_ / feature_names_in_ from 2-D X, checked against members.

        Inputs that are not 2-D (images for torch members, lists of texts for
        pipelines) have no feature count; the members validate them.
        """
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        if _is_2d(X):
            validate_data(self, X, skip_check_array=True, reset=True)
        for name, est in named:
            expected = getattr(est, "n_features_in_", None) if fitted[name] else None
            seen = getattr(self, "n_features_in_", None)
            if expected is not None and seen is not None and expected != seen:
                raise ValueError(
                    f"X has {seen} features, but the {name} member is expecting "
                    f"{expected} features as input."
                )
        first_name, first = named[0]
        if fitted[first_name]:
            for attr in ("n_features_in_", "feature_names_in_"):
                value = getattr(first, attr, None)
                if value is not None and not hasattr(self, attr):
                    setattr(self, attr, value)

    def _cross_fit(self, estimator, X, y, sample_weight, name, method):
        """Out-of-fold logits of an unfitted member, and a clone fitted on all."""
        cv = check_cv(self.cv, y, classifier=True)
        n_classes = len(self.classes_)
        out = np.empty((n_samples(X), n_classes))
        supports_sw = sample_weight is not None and has_fit_parameter(
            estimator, "sample_weight"
        )
        for train, test in cv.split(X, y):
            fold = clone(estimator)
            kw = {"sample_weight": sample_weight[train]} if supports_sw else {}
            fold.fit(take_rows(X, train), y[train], **kw)
            present = np.isin(self.classes_, member_classes(fold, name))
            z = cached_member_logits(
                fold,
                take_rows(X, test),
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

    # -- predict ---------------------------------------------------------------

    def _check_input(self, X):
        check_is_fitted(self)
        if n_samples(X) == 0:
            raise _empty_input_error(X, self)
        if _is_2d(X) and hasattr(self, "n_features_in_"):
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
        """Probabilities: ``softmax`` of the combined logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

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
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return log_softmax(self._combined_logits(X))

    def predict(self, X):
        """Predicted labels: ``classes_[argmax]`` of the combined logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        z = self._combined_logits(X)
        return self.classes_[np.argmax(z, axis=1)]
