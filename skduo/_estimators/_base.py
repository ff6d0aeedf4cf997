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
import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metadata_routing import UNUSED
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from skduo._estimators._routing import fit_router, route_fit_params, rows_of
from skduo._outputs import _torch
from skduo._outputs._cache import cached_member_logits
from skduo._outputs._inputs import n_samples, take_rows, validate_X_y
from skduo._outputs._kinds import FlooredLogits, floor_zeros, zero_floor
from skduo._outputs._logit_ops import combine_logits, log_softmax, softmax
from skduo._outputs._member import (
    column_map,
    is_fitted,
    member_classes,
    member_logits,
    resolve_classes,
)
from skduo._vocabulary import RESPONSE_METHODS
from skduo.utils._arrays import row_blocks
from skduo.utils._sklearn_compat import Interval, StrOptions

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


#: How far below a row's other logits a class the member cannot predict is put.
_ABSENT = 20.0


def _aligned(z, rows, columns):
    """Rows of a member's logits, columns re-ordered to ``classes_``."""
    block = z[rows]
    if columns is None:
        return block
    block = block[:, np.maximum(columns, 0)]
    absent = columns < 0
    if absent.any():
        # a class the member does not know (cross-fitted on y without it)
        block[:, absent] = z[rows].min(axis=1, keepdims=True) - _ABSENT
    return block


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
    ``_fit_weights(logits, y_enc, sample_weight, names)`` returning a
    :class:`~skduo._fit._weight_fit.WeightFitResult`.
    """

    _parameter_constraints: dict = {
        "response_method": [StrOptions({"auto", *RESPONSE_METHODS}), tuple],
        "cv": ["cv_object"],
        "verbose": ["boolean"],
        "prior": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left"), None],
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
            _torch.check_member_type(member, name)
        super()._validate_params()

    # -- fit -------------------------------------------------------------------

    # ``groups`` goes to the cross-fitting splitter, never to the estimator's
    # own request (it has no ``set_fit_request(groups=...)``)
    __metadata_request__fit = {"groups": UNUSED}

    def get_metadata_routing(self):
        """Get the metadata routing of this estimator.

        ``sample_weight`` is consumed by the weight fit itself (request it with
        ``set_fit_request(sample_weight=True)``); the ``fit`` of every unfitted
        member receives what it requests (its ``set_fit_request``), and the
        cross-fitting splitter (``cv``) what its ``split`` requests (``groups``
        for :class:`~sklearn.model_selection.GroupKFold`). Fitted members are
        never fitted, so nothing is routed to them. See scikit-learn's
        metadata routing user guide (enabled by
        ``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter` with the
            routing information.
        """
        return fit_router(self, self._named_members())

    def _fit_members(self, X, y, sample_weight, groups=None, fit_params=None):
        """The whole fit: checks, classes, member logits, then the weights."""
        named = self._named_members()
        methods = self._member_methods(len(named))
        _torch.check_torch_members_device(dict(named))
        fitted = {name: is_fitted(est) for name, est in named}
        X, y, sample_weight = self._validate_fit_data(
            X, y, sample_weight, check_targets=not all(fitted.values())
        )
        member_kwargs, split_kwargs = route_fit_params(
            self, named, fitted, sample_weight, groups, fit_params or {}
        )
        self._set_input_attributes(X, named, fitted)
        self.classes_, fit_classes = resolve_classes(y, named, fitted)
        # the fit works in the first fitted member's column order (its logits
        # are used as they are, not copied); y is encoded in that order
        to_fit_order = column_map(fit_classes, self.classes_)
        y_enc = LabelEncoder().fit(self.classes_).transform(y)
        if to_fit_order is not None:
            y_enc = to_fit_order[y_enc]
        logits, members = [], []
        for (name, est), method in zip(named, methods):
            if fitted[name]:
                members.append(est)
                logits.append(
                    self._logits(est, X, name, method, fit_classes, True, lazy=True)
                )
            else:
                z, refit = self._cross_fit(
                    est,
                    X,
                    y,
                    member_kwargs.get(name, {}),
                    split_kwargs,
                    name,
                    method,
                    fit_classes,
                )
                members.append(refit)
                logits.append(z)
        self._store_members(members)
        # exact-zero probabilities: at a floor from the data (with the default
        # prior; prior=None keeps the float's limit, the fit of earlier releases)
        floors = [None] * len(logits)
        if self.prior is not None:
            floors = [zero_floor(z) for z in logits]
        self.zero_floors_ = np.array(
            [np.nan if f is None else f for f in floors], dtype=np.float64
        )
        logits = [
            z if f is None else FlooredLogits(z, f) for z, f in zip(logits, floors)
        ]
        names = tuple(name for name, _ in named)
        # the weight fit's messages name the members; they point at the
        # caller's fit (frames: this method, fit, scikit-learn's fit wrapper)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self._fit_weights(logits, y_enc, sample_weight, names)
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=4)
        self.weights_ = np.asarray(result.weights, dtype=np.float64)
        self.validation_nll_ = float(result.nll)
        self.n_iter_ = int(result.n_iter)
        self._check_fit(logits, y_enc, sample_weight)
        return self

    def _check_fit(self, logits, y_enc, sample_weight):
        """Checks of the fitted estimator on its fit-time logits (none here)."""

    def _validate_fit_data(self, X, y, sample_weight, check_targets=True):
        """``(X, y, sample_weight)`` checked for length, targets and weights.

        ``check_targets=False`` (all members fitted) skips scikit-learn's
        target-type check: the members' classes check ``y`` instead, and many
        classes on few rows (1,000 classes, 1,500 rows) are no sign of a
        regression problem then.
        """
        n_rows = n_samples(X)
        if n_rows == 0:
            raise _empty_input_error(X, self)
        X, y = validate_X_y(X, y)
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {n_rows} and {len(y)}."
            )
        if check_targets:
            check_classification_targets(y)
        return X, y, _check_sample_weight(sample_weight, n_rows)

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

    def _logits(
        self, estimator, X, name, method, classes, warn_saturation=False, lazy=False
    ):
        if lazy and not _torch.is_torch_member(estimator):
            # fit-time logits of a probability member: a lazy log view, read by
            # the weight fit chunk by chunk (not cached: no torch member)
            return member_logits(
                estimator,
                X,
                classes,
                method=method,
                name=name,
                verbose=self.verbose,
                warn_saturation=warn_saturation,
                lazy=True,
            )
        return cached_member_logits(
            estimator,
            X,
            classes,
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

    def _cross_fit(
        self, estimator, X, y, fit_kwargs, split_kwargs, name, method, classes
    ):
        """Out-of-fold logits of an unfitted member, and a clone fitted on all.

        The logits' columns follow ``classes``; a class missing from a training
        fold gets logits far below the others (the fold's member cannot
        predict it).
        """
        cv = check_cv(self.cv, y, classifier=True)
        n_rows = n_samples(X)
        out = np.empty((n_rows, len(classes)))
        for train, test in cv.split(X, y, **split_kwargs):
            fold = clone(estimator, safe=False)
            fold.fit(
                take_rows(X, train), y[train], **rows_of(fit_kwargs, train, n_rows)
            )
            present = np.isin(classes, member_classes(fold, name))
            z = cached_member_logits(
                fold,
                take_rows(X, test),
                classes[present],
                method=method,
                name=name,
                verbose=self.verbose,
            )
            block = np.empty((len(test), len(classes)))
            block[:, present] = z
            if not present.all():
                block[:, ~present] = z.min(axis=1, keepdims=True) - _ABSENT
            out[test] = block
        refit = clone(estimator, safe=False)
        refit.fit(X, y, **fit_kwargs)
        return out, refit

    # -- predict ---------------------------------------------------------------

    def _check_input(self, X):
        check_is_fitted(self)
        if n_samples(X) == 0:
            raise _empty_input_error(X, self)
        if _is_2d(X) and hasattr(self, "n_features_in_"):
            validate_data(self, X, skip_check_array=True, reset=False)
        return X

    def _member_parts(self, X, members=None, weights=None):
        """``[(weight, logits, columns)]`` of the members a prediction reads.

        Each member's logits are in its own column order (so not copied);
        ``columns`` maps them to ``classes_`` (see
        :func:`~skduo._outputs._member.column_map`). Members of weight exactly 0 are
        not evaluated; with all weights 0 the first one still checks ``X``.
        """
        X = self._check_input(X)
        members = self._fitted_named_members() if members is None else members
        weights = self.weights_ if weights is None else weights
        methods = self._member_methods(len(self._fitted_named_members()))
        all_zero = not np.any(weights)
        parts = []
        floors = getattr(self, "zero_floors_", None)
        names = [name for name, _ in self._fitted_named_members()]
        for (name, est), method, w in zip(members, methods, weights):
            if w != 0.0 or all_zero:
                known = member_classes(est, name)
                z = self._logits(est, X, name, method, known)
                if floors is not None and np.isfinite(floors[names.index(name)]):
                    z = floor_zeros(z, float(floors[names.index(name)]))
                parts.append((float(w), z, column_map(known, self.classes_)))
                if all_zero:
                    break
        return parts

    def _combined_blocks(self, parts):
        """Row blocks ``(rows, combined float64 logits of those rows)``."""
        n_rows, n_classes = parts[0][1].shape[0], len(self.classes_)
        weights = [w for w, _, _ in parts]
        for rows in row_blocks((n_rows, n_classes)):
            blocks = [_aligned(z, rows, columns) for _, z, columns in parts]
            yield rows, combine_logits(blocks, weights)

    def _combined_logits(self, parts):
        """Combined logits (n_samples, n_classes), float64, filled in row blocks."""
        out = np.empty((parts[0][1].shape[0], len(self.classes_)))
        for rows, block in self._combined_blocks(parts):
            out[rows] = block
        return out

    def _predict_from(self, parts):
        labels = np.empty(parts[0][1].shape[0], dtype=np.intp)
        for rows, block in self._combined_blocks(parts):
            labels[rows] = np.argmax(block, axis=1)
        return self.classes_[labels]

    def decision_function(self, X):
        """The combined logits ``sum_m weights_[m] * z_m``.

        Computed in row blocks: the result is the only array of its size.

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
        parts = self._member_parts(X)
        if len(self.classes_) != 2:
            return self._combined_logits(parts)
        scores = np.empty(parts[0][1].shape[0])
        for rows, block in self._combined_blocks(parts):
            scores[rows] = block[:, 1] - block[:, 0]
        return scores

    def predict_proba(self, X):
        """Probabilities: ``softmax`` of the combined logits.

        Computed in row blocks and in place: the result is the only array of
        its size.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        z = self._combined_logits(self._member_parts(X))
        return softmax(z, out=z)

    def predict_log_proba(self, X):
        """Log-probabilities, computed stably from the combined logits.

        Computed in row blocks and in place: the result is the only array of
        its size.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        z = self._combined_logits(self._member_parts(X))
        return log_softmax(z, out=z)

    def predict(self, X):
        """Predicted labels: ``classes_[argmax]`` of the combined logits.

        Computed in row blocks: no array of shape (n_samples, n_classes) is
        made.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self._predict_from(self._member_parts(X))

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples (or any input the members accept).
        y : array-like of shape (n_samples,), default=None
            True labels. None reads them from a torch ``Dataset`` ``X``, as
            ``fit`` does; any other ``X`` needs ``y``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        X, y = validate_X_y(X, y)
        return super().score(X, y, sample_weight=sample_weight)
