"""Scorers for the skduo metrics, usable wherever scikit-learn takes ``scoring``.

This module makes scorers (:func:`make_proba_scorer`,
:func:`make_coverage_at_accuracy_scorer`); the seven named scorer objects and
:func:`get_scorer` are in :mod:`skduo.metrics._named_scorers`.

A plain :func:`sklearn.metrics.make_scorer` cannot serve probabilistic metrics
well: the metric never sees ``estimator.classes_``, so a cross-validation fold
whose test part misses a class gives ``NaN`` (sklearn's ``neg_log_loss``). The
scorer objects here call ``predict_proba`` once, read the columns' labels from
``estimator.classes_`` and pass them as ``labels=`` to the metric.

Selective metrics score *the estimator's own predictions*: the scorer also
calls ``predict`` and passes it as ``y_pred=``, with the confidence taken
from ``predict_proba`` at that prediction. For most classifiers ``predict`` is
the arg-max of ``predict_proba`` and nothing changes; for those where it is
not (a :class:`~skduo.DuoClassifier` in ``mode='uq_only'``,
``SVC(probability=True)``) the arg-max would score a different classifier.
That costs a second pass over ``X`` (``predict`` after ``predict_proba``);
the metrics has no way to know that an arbitrary estimator's ``predict`` is
the arg-max of its probabilities, and a wrong guess would silently score the
wrong predictions, so it always asks. ``make_proba_scorer(...,
prediction='argmax')`` makes the one-pass arg-max scorer.

The scorers are scikit-learn scorer objects: under multi-metric scoring
(``cross_validate(scoring={...})``, ``GridSearchCV`` with several scorers)
scikit-learn hands them one shared cache, and every skduo scorer of the call
reads the same ``predict_proba`` (and ``predict``) result: one prediction per
method, fold and split, however many skduo scorers are asked for. The full
probability array is cached under a key of skduo's own (scikit-learn's own
entry keeps only the positive column of a binary problem); for more than two
classes it also fills scikit-learn's entry, so built-in scorers such as
``neg_log_loss`` share it too.
"""

import copy
import inspect
from numbers import Real

import numpy as np
from sklearn.utils.metadata_routing import MetadataRequest

from skduo._vocabulary import CONFIDENCES
from skduo.metrics._operating_points import coverage_at_accuracy
from skduo.utils._sklearn_compat import (
    BaseScorer,
    Interval,
    StrOptions,
    scoring_cache,
    validate_params,
)

__all__ = ["make_coverage_at_accuracy_scorer", "make_proba_scorer"]


def _labels_and_proba(estimator, y_true, proba):
    """Column labels from ``estimator.classes_``, padded for unseen labels.

    Labels present in ``y_true`` but unknown to the estimator (a training fold
    that missed a class) get a column of zero probability: the estimator
    assigns them probability 0 and can never predict them.
    """
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise AttributeError(
            f"{type(estimator).__name__} has no attribute 'classes_'; skduo scorers "
            "need a fitted classifier whose predict_proba columns follow classes_."
        )
    classes = np.asarray(classes)
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] != classes.shape[0]:
        raise ValueError(
            f"{type(estimator).__name__}.predict_proba returned shape {proba.shape}, "
            f"which does not match its {classes.shape[0]} classes_."
        )
    y = np.asarray(y_true)
    try:
        unseen = np.setdiff1d(np.unique(y), classes)
    except TypeError:
        unseen = np.array([])  # incomparable types: let the metric report it
    if unseen.shape[0]:
        classes = np.concatenate([classes, unseen])
        proba = np.concatenate([proba, np.zeros((proba.shape[0], unseen.shape[0]))], 1)
    return classes, proba


def _takes_y_pred(score_func):
    """Whether ``score_func`` accepts a ``y_pred`` keyword."""
    try:
        params = inspect.signature(score_func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return "y_pred" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


#: Key of the full ``predict_proba`` array in scikit-learn's scoring cache.
_PROBA_KEY = ("skduo", "predict_proba")


def _direct_call(estimator, method, X):
    """What a scorer called on its own uses: the estimator's method, uncached."""
    return getattr(estimator, method)(X)


def _shared_proba(method_caller, estimator, X):
    """``estimator.predict_proba(X)``, computed once per multi-metric call."""
    cache = scoring_cache(method_caller)
    if cache is not None and _PROBA_KEY in cache:
        return cache[_PROBA_KEY]
    proba = estimator.predict_proba(X)
    if cache is not None:
        cache[_PROBA_KEY] = proba
        if np.ndim(proba) == 2 and np.shape(proba)[1] > 2:
            # what scikit-learn's own scorers read for a multiclass problem
            cache.setdefault("predict_proba", proba)
    return proba


class _ProbaScorer(BaseScorer):
    """Scorer ``scorer(estimator, X, y_true, sample_weight=None) -> float``.

    Built by :func:`make_proba_scorer`; see there for the parameters. A
    scikit-learn scorer object: its ``_score`` takes scikit-learn's shared
    ``method_caller`` under multi-metric scoring.
    """

    def __init__(self, score_func, sign, kwargs, prediction):
        self._score_func = score_func
        self._sign = sign
        self._kwargs = kwargs
        self._prediction = prediction
        # read by scikit-learn's multi-metric scorer to decide on sharing
        self._response_method = "predict_proba"
        self._pass_y_pred = prediction == "predict" and _takes_y_pred(score_func)
        self._metadata_request = MetadataRequest(owner=type(self).__name__)
        self._metadata_request.score.add_request(param="sample_weight", alias=True)

    def __call__(self, estimator, X, y_true, sample_weight=None, **kwargs):
        """Score ``estimator`` on ``X`` against ``y_true``.

        Parameters
        ----------
        estimator : object
            Fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like
            Input data passed to the estimator.
        y_true : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the metric.
        **kwargs : dict
            Not accepted; present so that an unexpected routed parameter gives
            a clear error.

        Returns
        -------
        score : float
            The metric, negated for losses (greater is better).
        """
        return self._score(
            _direct_call, estimator, X, y_true, sample_weight=sample_weight, **kwargs
        )

    def _score(self, method_caller, estimator, X, y_true, sample_weight=None, **kw):
        """The score, with predictions from ``method_caller`` (possibly shared)."""
        if kw:
            raise TypeError(
                f"{self!r} got unexpected parameters {sorted(kw)}; only "
                "sample_weight is supported."
            )
        if not hasattr(estimator, "predict_proba"):
            raise AttributeError(
                f"{type(estimator).__name__} has no predict_proba; skduo scorers "
                "need probabilities (e.g. SVC(probability=True), or wrap the model "
                "in sklearn.calibration.CalibratedClassifierCV)."
            )
        proba = _shared_proba(method_caller, estimator, X)
        labels, proba = _labels_and_proba(estimator, y_true, proba)
        params = dict(self._kwargs)
        if self._pass_y_pred:
            params["y_pred"] = method_caller(estimator, "predict", X)
        score = self._score_func(
            y_true, proba, labels=labels, sample_weight=sample_weight, **params
        )
        return self._sign * score

    def __repr__(self):
        name = getattr(self._score_func, "__name__", repr(self._score_func))
        args = "" if self._sign > 0 else ", greater_is_better=False"
        if self._prediction != "predict":
            args += f", prediction={self._prediction!r}"
        args += "".join(f", {k}={v!r}" for k, v in self._kwargs.items())
        return f"make_proba_scorer({name}{args})"

    def _accept_sample_weight(self):
        # Queried by sklearn's multi-metric scorer when routing is disabled.
        return True

    def get_metadata_routing(self):
        """Metadata routing of this scorer: it requests ``sample_weight``.

        Returns
        -------
        routing : MetadataRequest
            ``sample_weight`` is requested by default, so under
            ``sklearn.set_config(enable_metadata_routing=True)`` weights passed
            to e.g. ``cross_validate(..., params={"sample_weight": w})`` reach
            the metric. Change it with :meth:`set_score_request`.
        """
        return copy.deepcopy(self._metadata_request)

    def set_score_request(self, *, sample_weight=True):
        """Choose whether this scorer requests ``sample_weight`` when routed.

        Parameters
        ----------
        sample_weight : bool, None or str, default=True
            ``True``: request it; ``False``: do not; ``None``: error if it is
            passed; a string: request it under that alias.

        Returns
        -------
        self : object
            The scorer itself.
        """
        request = MetadataRequest(owner=type(self).__name__)
        request.score.add_request(param="sample_weight", alias=sample_weight)
        self._metadata_request = request
        return self


@validate_params(
    {
        "score_func": [callable],
        "greater_is_better": ["boolean"],
        "prediction": [StrOptions({"argmax", "predict"})],
    },
    prefer_skip_nested_validation=True,
)
def make_proba_scorer(
    score_func, *, greater_is_better=True, prediction="predict", **kwargs
):
    """Make a scorer from a metric on ``(y_true, y_proba, *, labels, ...)``.

    The scorer calls ``estimator.predict_proba(X)`` once, takes the columns'
    labels from ``estimator.classes_`` and calls
    ``score_func(y_true, proba, labels=classes, sample_weight=w, **kwargs)``,
    adding ``y_pred=estimator.predict(X)`` when ``score_func`` takes a
    ``y_pred`` (the selective metrics do), so that the estimator's own
    predictions are scored with its own probabilities.

    Parameters
    ----------
    score_func : callable
        A metric with the signature of the skduo metrics, e.g.
        :func:`~skduo.metrics.aurc`.

    greater_is_better : bool, default=True
        If False the scorer returns the negated metric, so that greater is
        always better (use ``neg_`` names for such scorers).

    prediction : {'predict', 'argmax'}, default='predict'
        Which predictions a metric taking ``y_pred`` scores. ``'predict'``:
        the estimator's own, ``estimator.predict(X)``, with the confidence
        read from ``predict_proba`` at that prediction; right for every
        estimator, including those whose prediction is not the arg-max of
        their probabilities (a :class:`~skduo.DuoClassifier` in
        ``mode='uq_only'``, ``SVC(probability=True)``), at the cost of a
        second pass over ``X``. ``'argmax'``: the arg-max of
        ``predict_proba``, one pass; the same numbers when ``predict`` is that
        arg-max. Metrics without a ``y_pred`` parameter (ECE, NLL, Brier) are
        functions of the probabilities alone and never call ``predict``.

    **kwargs : dict
        Extra keyword arguments for ``score_func`` (e.g. ``confidence=``).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, sample_weight=None) -> float`` with
        ``get_metadata_routing`` and ``set_score_request`` methods; it requests
        ``sample_weight`` under metadata routing.

    Notes
    -----
    Labels in ``y_true`` that the estimator never saw (its training fold
    missed them) get a probability-0 column: the metric stays finite
    (e.g. the NLL of such a sample is :math:`-\\log \\epsilon`) instead of
    failing as sklearn's ``neg_log_loss`` does.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo.metrics import aurc, make_proba_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = GaussianNB().fit(X, y)
    >>> scorer = make_proba_scorer(aurc, greater_is_better=False, confidence="margin")
    >>> scorer
    make_proba_scorer(aurc, greater_is_better=False, confidence='margin')
    >>> round(scorer(clf, X, y), 4)
    -0.0034
    """
    return _ProbaScorer(score_func, 1 if greater_is_better else -1, kwargs, prediction)


@validate_params(
    {
        "accuracy": [Interval(Real, 0, 1, closed="both")],
        "confidence": [StrOptions(set(CONFIDENCES)), callable],
        "prediction": [StrOptions({"argmax", "predict"})],
    },
    prefer_skip_nested_validation=True,
)
def make_coverage_at_accuracy_scorer(
    accuracy=0.98, *, confidence="msp", prediction="predict"
):
    """Make a scorer for :func:`~skduo.metrics.coverage_at_accuracy` (SAC).

    Parameters
    ----------
    accuracy : float, default=0.98
        Target selective accuracy (0.98 gives the paper's SAC@98).

    confidence : {'msp', 'margin', 'neg_entropy'} or callable, default='msp'
        Confidence score; see :func:`~skduo.metrics.coverage_at_accuracy`.

    prediction : {'predict', 'argmax'}, default='predict'
        Which predictions are scored: the estimator's own (``predict``) or
        the arg-max of ``predict_proba``; see :func:`make_proba_scorer`.

    Returns
    -------
    scorer : callable
        Greater is better (a coverage).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo.metrics import make_coverage_at_accuracy_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> sac98 = make_coverage_at_accuracy_scorer(0.98)
    >>> scores = cross_val_score(GaussianNB(), X, y, cv=3, scoring=sac98)
    >>> [round(float(s), 4) for s in scores]
    [0.82, 0.84, 0.92]
    """
    return make_proba_scorer(
        coverage_at_accuracy,
        prediction=prediction,
        accuracy=accuracy,
        confidence=confidence,
    )
