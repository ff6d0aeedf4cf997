"""DuoClassifier: sklearn wiring around the convex weight fit."""

import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, StrOptions
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
from skduo._temperature import (
    _fit_method_weights,
    binary_scores_to_logits,
    check_finite,
    combine_logits,
    log_proba_to_logits,
    log_softmax,
    proba_to_logits,
    softmax,
)

_RESPONSE_METHODS = ("decision_function", "predict_log_proba", "predict_proba")
_MEMBERS = ("large", "small")


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:
        # not an estimator sklearn can inspect: treat it as fitted, it will
        # fail loudly (with the member's name) when asked for its outputs
        return True
    return True


def _member_classes(estimator, name):
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ValueError(
            f"The {name} member has no `classes_` attribute; the duo needs it to "
            "align the members' outputs with the labels."
        )
    return np.asarray(classes)


def _raw_member_output(estimator, X, method, name, verbose):
    """Call the member and return (raw output, method used)."""
    if method == "auto":
        if _torch_compat.is_torch_member(estimator):
            out = _torch_compat.torch_member_logits(
                estimator, X, verbose=verbose, name=name
            )
            return out, "logits"
        for candidate in _RESPONSE_METHODS:
            if hasattr(estimator, candidate):
                method = candidate
                break
        else:
            raise ValueError(
                f"The {name} member has none of {_RESPONSE_METHODS}; the duo needs "
                "scores for every class."
            )
    elif not hasattr(estimator, method):
        raise ValueError(
            f"The {name} member has no method {method!r} (response_method)."
        )
    with np.errstate(divide="ignore"):  # log(0) inside predict_log_proba is fine
        return getattr(estimator, method)(X), method


def member_logits(
    estimator,
    X,
    classes,
    *,
    method="auto",
    name="member",
    verbose=False,
    warn_saturation=True,
):
    """Logits of one member, columns ordered as ``classes``, float64.

    ``method`` is ``"auto"`` (torch nets: their true logits; otherwise the first of
    decision_function, predict_log_proba, predict_proba the member has) or one of
    those three names. Probabilities are checked and turned into log-probabilities;
    1-D binary scores ``s`` become the two-class logits ``(0, s)``. With
    ``warn_saturation`` a warning says when more than 1% of the rows hold exact
    0 (or 1) probabilities (the duo warns at fit time only).
    """
    saturation_warn = 0.01 if warn_saturation else 1.0
    out, used = _raw_member_output(estimator, X, method, name, verbose)
    out_arr = np.asarray(out)
    what = f"The {name} member's {used} output"
    if out_arr.dtype == np.float16:
        warnings.warn(
            f"{what} is float16: its resolution is about 1e-3 relative (8 units at "
            "1e4), so the duo's weights and probabilities inherit that coarseness. "
            "Compute the member's outputs in float32 or float64 if you can.",
            UserWarning,
            stacklevel=3,
        )
    if used == "predict_log_proba":
        # -inf is a legitimate log-probability (probability 0); NaN/+inf are not
        check_finite(np.where(np.isneginf(out_arr), 0.0, out_arr), what)
    else:
        check_finite(out_arr, what)
    if used == "predict_proba":
        if out_arr.ndim == 1:
            out_arr = np.column_stack([1.0 - out_arr, out_arr])
        logits = proba_to_logits(out_arr, what, saturation_warn)
    elif used == "predict_log_proba":
        logits = log_proba_to_logits(out_arr, what, saturation_warn)
    elif out_arr.ndim == 1 or (out_arr.ndim == 2 and out_arr.shape[1] == 1):
        logits = binary_scores_to_logits(out_arr)
    else:
        logits = np.asarray(out_arr, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != _num_samples(X):
        raise ValueError(
            f"{what} has shape {np.shape(out_arr)}; expected ({_num_samples(X)}, "
            "n_classes) or, for two classes, (n_samples,)."
        )
    member_cls = _member_classes(estimator, name)
    if logits.shape[1] != len(member_cls):
        raise ValueError(
            f"{what} has {logits.shape[1]} columns but the member has "
            f"{len(member_cls)} classes."
        )
    # re-index the member's columns into the duo's class order
    order = {c: j for j, c in enumerate(member_cls.tolist())}
    try:
        idx = np.array([order[c] for c in np.asarray(classes).tolist()])
    except KeyError as exc:
        raise ValueError(
            f"The {name} member does not know class {exc.args[0]!r}."
        ) from None
    return np.ascontiguousarray(logits[:, idx])


class _LogitCombinationMixin:
    """Fit/predict plumbing shared by the baselines.

    Subclasses provide ``_named_members()`` (list of (name, estimator)),
    ``_member_methods(n)`` and ``_fit_weights(logits, y_enc, sample_weight)``
    returning ``(weights, nll, n_iter)``, and store fitted members with
    ``_store_members(list)``.
    """

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
        self.classes_ = classes
        y_enc = LabelEncoder().fit(classes).transform(y)

        logits, fitted_members = [], []
        for (name, est), method in zip(named, methods):
            if fitted[name]:
                fitted_members.append(est)
                logits.append(self._logits(est, X, name, method, True))
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

    def _logits(self, estimator, X, name, method, warn_saturation=False):
        return member_logits(
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


class DuoClassifier(
    _LogitCombinationMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """Asymmetric Duo: a large classifier plus a small sidekick, logits weighted.

    The duo's logits are ``z = weights_[0] * z_large + weights_[1] * z_small``,
    where ``z_large`` and ``z_small`` are the members' logits and the two
    non-negative weights minimise the (sample-weighted) negative log-likelihood of
    ``softmax(z)`` on the data passed to :meth:`fit`, normally a held-out
    validation set (Zhou, Shelhamer & Pleiss, 2025). The objective is convex in
    the weights; it is solved to a KKT tolerance of 1e-8.

    Parameters
    ----------
    large : estimator
        The large, accurate classifier. Fitted members (plain or wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`) are used as they are and never
        refit or modified; ``clone`` keeps them (same objects), so cross-validating
        a duo on validation data fits only the weights. Unfitted members are
        cloned and fitted by cross-fitting (see ``cv``).
    small : estimator
        The sidekick, usually much cheaper than ``large``. Same rules as ``large``.
    mode : {'asymmetric', 'unweighted', 'uq_only'}, default='asymmetric'
        - ``'asymmetric'``: the paper's method, both weights learned jointly.
        - ``'unweighted'``: each member is temperature-scaled on its own, then the
          scaled logits are averaged with equal weight (the paper's ablation):
          ``weights_ = (w_large_TS / 2, w_small_TS / 2)``.
        - ``'uq_only'``: :meth:`predict` returns the large member's own prediction
          (argmax of its logits), while :meth:`predict_proba` and
          :meth:`decision_function` are those of the asymmetric duo; the
          confidence of a prediction is then the duo's probability of the large
          member's predicted class.
    response_method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'} or tuple of two of those, default='auto'
        How each member's outputs become logits; a tuple gives (large, small).
        ``'auto'`` reads a skorch net's true logits (its module's output, never a
        float32 softmax), and otherwise takes the first method the member has in
        the order ``decision_function``, ``predict_log_proba``,
        ``predict_proba``. Probabilities are checked (finite, in [0, 1], rows
        summing to 1) and replaced by their logarithm, which gives the same duo as
        the logits would (softmax ignores per-row shifts); exact zeros are
        clipped to the smallest positive number of their dtype, with a warning
        when many rows saturate. A 1-D binary score ``s`` becomes the logits
        ``(0, s)``, so ``weights_ = (1, 0)`` reproduces ``sigmoid(s)`` exactly.
    cv : int, cross-validation generator or iterable, default=5
        Used only for unfitted members: their out-of-fold logits on the data
        passed to :meth:`fit` are used to fit the weights, then each is refit on
        all of it (like ``CalibratedClassifierCV(ensemble=False)``). An int means
        :class:`~sklearn.model_selection.StratifiedKFold`.
    verbose : bool, default=False
        Show progress bars while torch members compute their logits.

    Attributes
    ----------
    weights_ : ndarray of shape (2,)
        Non-negative weights applied to the large and the small member's logits.
        The official code writes the duo as ``(z_l / T_l + z_s / T_s) / 2``; its
        temperatures map to these weights by ``w = 1 / (2 T)``.
    classes_ : ndarray of shape (n_classes,)
        Class labels (the members' common class set, sorted; from ``y`` when the
        members are fitted here).
    large_ : estimator
        The large member used for predictions (the given object when it was
        fitted, else a clone fitted on all of ``X``).
    small_ : estimator
        Same for the small member.
    validation_nll_ : float
        Weighted mean negative log-likelihood of the duo on the fit data.
    n_iter_ : int
        Newton iterations of the weight fit on the full data.
    n_features_in_ : int
        Number of features seen in :meth:`fit` (the large member's, when it has
        that attribute).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in :meth:`fit`, when ``X`` has string column names
        (or the large member recorded some).

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : One-model calibration.
    sklearn.ensemble.VotingClassifier : Fixed-weight averaging of probabilities.

    Notes
    -----
    With ``z_i = w_l z_l(x_i) + w_s z_s(x_i)`` the fitted weights minimise

    .. math::

        L(w) = \\frac{1}{\\sum_i s_i} \\sum_i s_i
               \\left[\\log \\sum_k e^{z_{ik}} - z_{i y_i}\\right],
        \\qquad w \\ge 0,

    a log-sum-exp of an affine function of ``w`` minus a linear one, hence
    convex. Because ``(w, 0)`` and ``(0, w)`` are feasible, the duo's validation
    NLL is never above that of either member temperature-scaled alone. A
    sidekick that does not help gets a weight of exactly 0 at the optimum (and
    is then not evaluated at prediction time).

    Fitted members survive ``clone`` (and so ``cross_val_score`` and
    ``GridSearchCV`` over the duo's own parameters), but scikit-learn also
    clones the *values* of a parameter grid: to search over fitted members
    (``{"small": [net_a, net_b]}``), wrap each in
    :class:`~sklearn.frozen.FrozenEstimator`, otherwise the grid hands the duo
    unfitted copies, which it would cross-fit.

    References
    ----------
    .. [1] T. G. Zhou, E. Shelhamer and G. Pleiss, "Asymmetric Duos: Sidekicks
       Improve Uncertainty", NeurIPS 2025.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import DuoClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> large = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    >>> small = GaussianNB().fit(X_train, y_train)
    >>> duo = DuoClassifier(large, small).fit(X_val, y_val)
    >>> duo.weights_.shape, bool((duo.weights_ >= 0).all())
    ((2,), True)
    >>> duo.predict_proba(X_val[:2]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        "large": [HasMethods(["fit"])],
        "small": [HasMethods(["fit"])],
        "mode": [StrOptions({"asymmetric", "unweighted", "uq_only"})],
        "response_method": [
            StrOptions({"auto", *_RESPONSE_METHODS}),
            tuple,
        ],
        "cv": ["cv_object"],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        large,
        small,
        *,
        mode="asymmetric",
        response_method="auto",
        cv=5,
        verbose=False,
    ):
        self.large = large
        self.small = small
        self.mode = mode
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose

    def __sklearn_clone__(self):
        # Fitted members are kept as the same objects (they are never refit),
        # unfitted ones are cloned, other parameters are cloned as usual.
        params = self.get_params(deep=False)
        new = {}
        for key, value in params.items():
            if key in _MEMBERS and _is_fitted(value):
                new[key] = value
            else:
                new[key] = clone(value, safe=False)
        return type(self)(**new)

    def _named_members(self):
        return [("large", self.large), ("small", self.small)]

    def _fitted_named_members(self):
        return [("large", self.large_), ("small", self.small_)]

    def _store_members(self, members):
        self.large_, self.small_ = members

    def _fit_weights(self, logits, y_enc, sample_weight):
        return _fit_method_weights(logits, y_enc, sample_weight, self.mode)[:3]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the weights (and any unfitted member) on validation data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or any input the members
            accept (e.g. images for torch members)
            Validation inputs, not seen by fitted members during their training.
        y : array-like of shape (n_samples,)
            Validation labels; any labels the members know (strings, ints).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms (also passed to the fit of
            unfitted members whose ``fit`` accepts it).

        Returns
        -------
        self : DuoClassifier
            The fitted duo.
        """
        return self._fit_members(X, y, sample_weight)

    def predict(self, X):
        """Predicted labels.

        ``classes_[argmax]`` of the duo's logits, or, in ``mode='uq_only'``, of the
        large member's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if self.mode != "uq_only":
            return super().predict(X)
        X = self._check_input(X)
        method = self._member_methods(2)[0]
        z_l = self._logits(self.large_, X, "large", method)
        return self.classes_[np.argmax(z_l, axis=1)]


def _is_2d(X):
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) == 2


def _safe_index(X, idx):
    return _safe_indexing(X, idx)
