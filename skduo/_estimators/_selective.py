"""SelectiveClassifier: predict or abstain, at a certified selective risk."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skduo.metrics._certified import _certify
from skduo.metrics._ranking import (
    CONFIDENCE_NAMES,
    _confidence_from_proba,
    _correctness_confidence,
)
from skduo.utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    num_samples,
)

__all__ = ["SelectiveClassifier"]


def _is_fitted(estimator):
    """Whether ``estimator`` is fitted (objects sklearn cannot inspect: by
    ``classes_``)."""
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:  # not a scikit-learn estimator
        return hasattr(estimator, "classes_")
    return True


class SelectiveClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Predict or abstain, with a certified error rate among the answers.

    Wraps an already fitted probabilistic classifier -- a
    :class:`~skduo.DuoClassifier`, a :class:`~skduo.TemperatureScalingClassifier`,
    any scikit-learn classifier with ``predict_proba`` -- and learns, from
    held-out calibration data, the confidence threshold below which it
    abstains. With probability at least ``1 - delta`` over the calibration
    sample, the *selective risk* (the error rate among the predictions it
    makes, on new data from the same distribution) is at most
    ``target_risk``; among the thresholds certified, the one answering most
    often is chosen. The procedure is :func:`skduo.metrics.certified_threshold`
    (Learn-then-Test with fixed-sequence testing and exact binomial
    p-values), which states the assumptions.

    Parameters
    ----------
    estimator : estimator
        A **fitted** classifier with ``predict_proba`` and ``classes_``
        (plain, a fitted :class:`~sklearn.pipeline.Pipeline`, or wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`). It is never fitted or
        modified; ``clone`` keeps it (the same object), so cross-validating a
        ``SelectiveClassifier`` only recalibrates the threshold. Fit it on
        training data that does not include the calibration data.
    target_risk : float, default=0.02
        The selective risk to certify, in (0, 1): at most this fraction of
        the predictions made (not abstained on) are wrong.
    delta : float, default=0.05
        Allowed probability, over the calibration sample, that the certified
        threshold's selective risk exceeds ``target_risk``; in (0, 1).
    confidence : {'msp', 'margin', 'neg_entropy'} or callable, default='msp'
        How confident a prediction is, computed from ``predict_proba``:
        the probability of the predicted class, its margin over the
        runner-up, or minus the entropy; a callable maps the probabilities
        (float64, shape (n_samples, n_classes)) to one value per row. Only
        the order matters.
    prediction : {'predict', 'argmax'}, default='predict'
        ``'predict'``: the estimator's own ``predict`` (for a
        :class:`~skduo.DuoClassifier` with ``mode='uq_only'``, the large
        member's prediction, with the duo's confidence in it), at the cost of
        a second pass over ``X``. ``'argmax'``: the arg-max of
        ``predict_proba`` (one pass).
    abstain_label : object, default=None
        What :meth:`predict` returns where it abstains. None: ``-1`` when the
        classes are numbers (scikit-learn's marker for "no label", as in
        :mod:`sklearn.semi_supervised`), the string ``'abstain'`` otherwise.
        It must not be one of the classes.

    Attributes
    ----------
    estimator_ : estimator
        The wrapped estimator (the object given, never refit).
    classes_ : ndarray of shape (n_classes,)
        The estimator's classes (``abstain_label_`` is not one of them).
    threshold_ : float
        A prediction is made when its confidence is at least this value;
        ``inf`` when nothing could be certified (the classifier then abstains
        on every input).
    coverage_ : float
        Fraction of the calibration rows (weighted) that are answered at
        ``threshold_``; 0 when nothing is certified.
    risk_bound_ : float
        Clopper-Pearson upper confidence bound of the selective risk at
        ``threshold_`` from the answered calibration rows, at the level of
        the test that certified it; at most ``target_risk``. NaN when nothing
        is certified.
    certificate_ : CertifiedThreshold
        Everything :func:`~skduo.metrics.certified_threshold` returned (counts
        of answered rows and errors, the test level, ...).
    abstain_label_ : object
        The label :meth:`predict` returns where it abstains.
    n_features_in_ : int
        Number of features of the estimator, when it has that attribute.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names of the estimator, when it has that attribute.

    See Also
    --------
    skduo.metrics.certified_threshold : The same on arrays of probabilities.
    skduo.metrics.coverage_at_accuracy : The uncertified operating point.
    sklearn.model_selection.TunedThresholdClassifierCV : Binary decision
        thresholds, without a guarantee.

    Notes
    -----
    The guarantee needs calibration rows that are independent draws from the
    distribution the classifier will be used on, and not used to fit it (a
    duo's weights included, strictly: fit the duo on one held-out split and
    the ``SelectiveClassifier`` on another). It bounds the population error
    rate among the answered predictions; the error rate of a particular batch
    of answered predictions fluctuates around it. When no threshold can be
    certified (too few calibration rows, too strict a target, confident
    errors) :meth:`fit` warns with a :class:`~skduo.metrics.CertificationWarning`
    and the classifier abstains on everything, never using an uncertified
    threshold.

    ``sample_weight`` must hold integers (frequency weights), as the binomial
    bound counts independent predictions.

    :meth:`score` is the accuracy of :meth:`predict` with abstentions counted
    as wrong: the fraction of inputs answered correctly (the automation rate
    at the certified risk), the quantity to maximise when choosing between
    models or confidence scores by cross-validation.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import train_test_split
    >>> from skduo import SelectiveClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_rest, y_train, y_rest = train_test_split(X, y, random_state=0)
    >>> X_cal, X_test, y_cal, y_test = train_test_split(X_rest, y_rest,
    ...                                                 random_state=0)
    >>> clf = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    >>> selective = SelectiveClassifier(clf, target_risk=0.02).fit(X_cal, y_cal)
    >>> bool(selective.risk_bound_ <= 0.02), bool(0.6 < selective.coverage_ < 0.7)
    (True, True)
    >>> selective.predict(X_test[:5]).tolist()  # -1: abstain
    [-1, 0, -1, 5, 6]
    >>> labels, accepted = selective.predict_selective(X_test[:5])
    >>> labels.tolist(), accepted.tolist()
    ([1, 0, 8, 5, 6], [False, True, False, True, True])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["predict_proba"])],
        "target_risk": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither")],
        "confidence": [StrOptions(set(CONFIDENCE_NAMES)), callable],
        "prediction": [StrOptions({"predict", "argmax"})],
        "abstain_label": "no_validation",
    }

    def __init__(
        self,
        estimator,
        *,
        target_risk=0.02,
        delta=0.05,
        confidence="msp",
        prediction="predict",
        abstain_label=None,
    ):
        self.estimator = estimator
        self.target_risk = target_risk
        self.delta = delta
        self.confidence = confidence
        self.prediction = prediction
        self.abstain_label = abstain_label

    def __sklearn_clone__(self):
        # A fitted estimator is kept as the same object (it is never refit);
        # the other parameters are cloned as usual.
        params = {
            key: clone(value, safe=False)
            for key, value in self.get_params(deep=False).items()
            if key != "estimator"
        }
        est = self.estimator
        return type(self)(est if _is_fitted(est) else clone(est, safe=False), **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            from sklearn.utils import get_tags

            inner = get_tags(self.estimator).input_tags
            tags.input_tags.sparse = inner.sparse
            tags.input_tags.allow_nan = inner.allow_nan
        except Exception:  # objects sklearn cannot inspect
            pass
        return tags

    # -- the wrapped estimator's outputs ----------------------------------------

    def _outputs(self, estimator, X):
        """``(labels, confidence)`` of the estimator's predictions on ``X``."""
        classes = np.asarray(estimator.classes_)
        proba = np.asarray(estimator.predict_proba(X))
        n = num_samples(X)
        if proba.shape != (n, classes.shape[0]):
            raise ValueError(
                f"{type(estimator).__name__}.predict_proba returned shape "
                f"{proba.shape}; expected ({n}, {classes.shape[0]}) for its "
                f"{classes.shape[0]} classes_."
            )
        if not np.issubdtype(proba.dtype, np.floating):
            proba = proba.astype(np.float64)
        if not np.isfinite(proba).all():
            raise ValueError(
                f"{type(estimator).__name__}.predict_proba returned NaN or infinity."
            )
        if self.prediction == "argmax":
            index = proba.argmax(axis=1)
            labels = classes[index]
        else:
            labels = np.asarray(estimator.predict(X))
            index = self._column_of(classes, labels, estimator)
        conf = _confidence_from_proba(proba, index, self.confidence)
        return labels, conf

    @staticmethod
    def _column_of(classes, labels, estimator):
        sorter = np.argsort(classes, kind="stable")
        pos = np.searchsorted(classes, labels, sorter=sorter)
        index = sorter[np.minimum(pos, classes.shape[0] - 1)]
        unknown = classes[index] != labels
        if np.any(unknown):
            raise ValueError(
                f"{type(estimator).__name__}.predict returned labels that are not "
                f"in its classes_: {np.unique(labels[unknown])[:5].tolist()}."
            )
        return index

    def _resolve_abstain_label(self, classes):
        label = self.abstain_label
        if label is None:
            label = -1 if classes.dtype.kind in "biuf" else "abstain"
        # Python's == on each class: a string class and a numeric label are
        # simply unequal (NumPy < 2 warns on the elementwise comparison)
        try:
            clash = any(bool(c == label) for c in classes.tolist())
        except (TypeError, ValueError):  # incomparable types never clash
            clash = False
        if clash:
            raise ValueError(
                f"abstain_label={label!r} is one of the estimator's classes; pass "
                "another abstain_label (any value that is not a class)."
            )
        return label

    # -- fit ---------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Certify the confidence threshold on held-out calibration data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Calibration inputs (or any input the estimator accepts), not used
            to fit the estimator.
        y : array-like of shape (n_samples,)
            Calibration labels. Labels the estimator does not know count as
            errors.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative integer frequency weights (a weight of 3 counts a row
            three times).

        Returns
        -------
        self : SelectiveClassifier
            The fitted classifier.

        Warns
        -----
        CertificationWarning
            When no threshold is certified: the classifier then abstains on
            every input.
        """
        est = self.estimator
        if not _is_fitted(est):
            raise NotFittedError(
                f"SelectiveClassifier needs an already fitted estimator, and this "
                f"{type(est).__name__} is not fitted. Fit it first on training "
                "data (not the calibration data passed to SelectiveClassifier.fit), "
                "or wrap a fitted one in sklearn.frozen.FrozenEstimator; "
                "SelectiveClassifier never fits it."
            )
        if not hasattr(est, "classes_"):
            raise AttributeError(
                f"{type(est).__name__} has no attribute 'classes_'; "
                "SelectiveClassifier needs a classifier whose predict_proba "
                "columns follow classes_."
            )
        classes = np.asarray(est.classes_)
        abstain = self._resolve_abstain_label(classes)
        labels, conf = self._outputs(est, X)
        # what certified_threshold(y, None, y_pred=labels, confidence=conf)
        # does, called directly so that a warning points at this fit
        correct, conf, sw = _correctness_confidence(
            y,
            None,
            labels=None,
            sample_weight=sample_weight,
            confidence=conf,
            y_pred=labels,
        )
        self.certificate_ = _certify(correct, conf, sw, self.target_risk, self.delta)
        self.estimator_ = est
        self.classes_ = classes
        self.abstain_label_ = abstain
        self.threshold_ = self.certificate_.threshold
        self.coverage_ = self.certificate_.coverage
        self.risk_bound_ = self.certificate_.risk_bound
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(est, name):
                setattr(self, name, getattr(est, name))
        return self

    # -- predictions -------------------------------------------------------------

    def predict_selective(self, X):
        """Predictions and whether each is made (True) or abstained on (False).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            The estimator's prediction for every row, also where it abstains.
        accepted : ndarray of shape (n_samples,), dtype=bool
            True where the confidence is at least ``threshold_``.
        """
        check_is_fitted(self)
        labels, conf = self._outputs(self.estimator_, X)
        return labels, conf >= self.threshold_

    def predict(self, X):
        """Predicted labels, and ``abstain_label_`` where the classifier abstains.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``, or ``abstain_label_``. The dtype holds
            both (e.g. ``'<U7'`` for one-letter string classes and
            ``'abstain'``; ``object`` when no other dtype does).
        """
        labels, accepted = self.predict_selective(X)
        kinds = labels.dtype.kind + np.asarray(self.abstain_label_).dtype.kind
        if set(kinds) <= set("biuf") or set(kinds) <= set("US"):
            dtype = np.result_type(labels, np.asarray(self.abstain_label_))
        else:  # never turn numbers into strings or the reverse
            dtype = np.dtype(object)
        out = labels.astype(dtype)
        out[~accepted] = self.abstain_label_
        return out

    def predict_proba(self, X):
        """Class probabilities of the wrapped estimator (unchanged).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_proba(X)``; columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def score(self, X, y, sample_weight=None):
        """Fraction of rows answered correctly; abstentions count as wrong.

        The accuracy of :meth:`predict`: coverage times selective accuracy,
        i.e. how much of the work is automated correctly at the certified
        risk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            In [0, 1].
        """
        return super().score(X, y, sample_weight=sample_weight)
