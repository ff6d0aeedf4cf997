"""Scorers for the skduo metrics, usable wherever scikit-learn takes ``scoring``.

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
"""

import copy
import inspect
import re
import textwrap
from numbers import Real

import numpy as np
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.utils.metadata_routing import MetadataRequest

from skduo._vocabulary import CONFIDENCES
from skduo.metrics._calibration import expected_calibration_error
from skduo.metrics._classification import multiclass_brier_score, nll_loss
from skduo.metrics._selective import (
    augrc,
    aurc,
    correctness_auroc,
    coverage_at_accuracy,
    eaurc,
)
from skduo.utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = [
    "correctness_auroc_scorer",
    "get_scorer",
    "get_scorer_names",
    "make_coverage_at_accuracy_scorer",
    "make_proba_scorer",
    "neg_aurc_scorer",
    "neg_augrc_scorer",
    "neg_brier_scorer",
    "neg_eaurc_scorer",
    "neg_ece_scorer",
    "neg_nll_scorer",
]


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


class _ProbaScorer:
    """Scorer ``scorer(estimator, X, y_true, sample_weight=None) -> float``.

    Built by :func:`make_proba_scorer`; see there for the parameters.
    """

    def __init__(self, score_func, sign, kwargs, prediction):
        self._score_func = score_func
        self._sign = sign
        self._kwargs = kwargs
        self._prediction = prediction
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
        if kwargs:
            raise TypeError(
                f"{self!r} got unexpected parameters {sorted(kwargs)}; only "
                "sample_weight is supported."
            )
        if not hasattr(estimator, "predict_proba"):
            raise AttributeError(
                f"{type(estimator).__name__} has no predict_proba; skduo scorers "
                "need probabilities (e.g. SVC(probability=True), or wrap the model "
                "in sklearn.calibration.CalibratedClassifierCV)."
            )
        proba = estimator.predict_proba(X)
        labels, proba = _labels_and_proba(estimator, y_true, proba)
        kw = dict(self._kwargs)
        if self._pass_y_pred:
            kw["y_pred"] = estimator.predict(X)
        score = self._score_func(
            y_true, proba, labels=labels, sample_weight=sample_weight, **kw
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


_EXAMPLE = """\
Examples
--------
>>> from sklearn.datasets import load_iris
>>> from sklearn.model_selection import cross_val_score
>>> from sklearn.naive_bayes import GaussianNB
>>> from skduo.metrics import {obj}
>>> X, y = load_iris(return_X_y=True)
>>> scores = cross_val_score(GaussianNB(), X, y, cv=3, scoring={obj})
>>> [round(float(s), 4) for s in scores]
{example}"""


def _documented_scorer(obj, score_func, *, summary, what, example, loss=True):
    """A module-level scorer with its own docstring (what autodoc shows).

    Sphinx documents a module-level instance with its ``__doc__``, which for
    a plain instance is its class's: every scorer row would read the same.
    """
    scorer = make_proba_scorer(score_func, greater_is_better=not loss)
    func, sign = score_func.__name__, "-" if loss else ""
    neg = ", greater_is_better=False" if loss else ""
    own = scorer._pass_y_pred
    paragraphs = [
        f"``{obj}(estimator, X, y)`` is ``{sign}{func}(y, "
        "estimator.predict_proba(X), labels=estimator.classes_"
        + (", y_pred=estimator.predict(X))``" if own else ")``")
        + f", with :func:`~skduo.metrics.{func}` {what}. Greater is better"
        + (": the loss is negated." if loss else "."),
        (
            "It scores the estimator's own predictions (``predict``) with the "
            "confidence its ``predict_proba`` gives them -- for a "
            ":class:`~skduo.DuoClassifier` in ``mode='uq_only'``, the large "
            "member's predictions with the duo's probabilities -- at the cost "
            "of a ``predict`` pass after the ``predict_proba`` pass. "
            f"``make_proba_scorer({func}{neg}, prediction='argmax')`` scores "
            "the arg-max of ``predict_proba`` instead."
        )
        if own
        else (
            "A function of the probabilities alone: one ``predict_proba`` "
            "pass, ``predict`` is not called."
        ),
        f'Its name for :func:`get_scorer` is ``"{obj.removesuffix("_scorer")}"``'
        f"; it is ``make_proba_scorer({func}{neg})`` and requests "
        "``sample_weight`` under metadata routing.",
    ]
    body = "\n\n".join(
        textwrap.fill(par, 76, break_on_hyphens=False) for par in paragraphs
    )
    example = _EXAMPLE.format(obj=obj, example=example)
    scorer.__doc__ = f"{summary}\n\n{body}\n\n{example}\n"
    return scorer


neg_aurc_scorer = _documented_scorer(
    "neg_aurc_scorer",
    aurc,
    summary="Scorer: minus the AURC of the estimator's own predictions.",
    what="the area under the risk-coverage curve",
    example="[-0.0064, -0.0076, -0.0021]",
)
neg_eaurc_scorer = _documented_scorer(
    "neg_eaurc_scorer",
    eaurc,
    summary="Scorer: minus the excess AURC of the estimator's own predictions.",
    what="the AURC minus that of the best ranking of the same predictions",
    example="[-0.0023, -0.0052, -0.0008]",
)
neg_augrc_scorer = _documented_scorer(
    "neg_augrc_scorer",
    augrc,
    summary="Scorer: minus the AUGRC of the estimator's own predictions.",
    what="the area under the generalised risk-coverage curve",
    example="[-0.0052, -0.0066, -0.0016]",
)
neg_ece_scorer = _documented_scorer(
    "neg_ece_scorer",
    expected_calibration_error,
    summary="Scorer: minus the top-label expected calibration error (15 uniform bins).",
    what="the paper's ECE of the arg-max of the probabilities",
    example="[-0.0569, -0.0496, -0.0488]",
)
neg_nll_scorer = _documented_scorer(
    "neg_nll_scorer",
    nll_loss,
    summary="Scorer: minus the negative log-likelihood of the probabilities.",
    what="the mean negative log-likelihood, computed in float64",
    example="[-0.1448, -0.1959, -0.076]",
)
neg_brier_scorer = _documented_scorer(
    "neg_brier_scorer",
    multiclass_brier_score,
    summary="Scorer: minus the multi-class Brier score of the probabilities.",
    what="the squared distance to the one-hot labels, summed over classes",
    example="[-0.0875, -0.1098, -0.0502]",
)
correctness_auroc_scorer = _documented_scorer(
    "correctness_auroc_scorer",
    correctness_auroc,
    summary="Scorer: correctness AUROC of the estimator's own predictions.",
    what="the probability that a correct prediction is more confident than a "
    "wrong one (ties count one half)",
    example="[0.9728, 0.9149, 0.9792]",
    loss=False,
)

# pytest --doctest-modules (and doctest) collect functions and classes, not
# instances: list the scorers' examples explicitly.
__test__ = {
    name: obj.__doc__
    for name, obj in [
        ("neg_aurc_scorer", neg_aurc_scorer),
        ("neg_eaurc_scorer", neg_eaurc_scorer),
        ("neg_augrc_scorer", neg_augrc_scorer),
        ("neg_ece_scorer", neg_ece_scorer),
        ("neg_nll_scorer", neg_nll_scorer),
        ("neg_brier_scorer", neg_brier_scorer),
        ("correctness_auroc_scorer", correctness_auroc_scorer),
    ]
}


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


_SCORERS = {
    "neg_aurc": neg_aurc_scorer,
    "neg_eaurc": neg_eaurc_scorer,
    "neg_augrc": neg_augrc_scorer,
    "neg_ece": neg_ece_scorer,
    "neg_nll": neg_nll_scorer,
    "neg_brier": neg_brier_scorer,
    "correctness_auroc": correctness_auroc_scorer,
    "coverage_at_accuracy_98": None,  # built on demand, see get_scorer
}
_SAC_PATTERN = re.compile(r"^coverage_at_accuracy_(\d{1,3})$")


def get_scorer_names():
    """Names that :func:`get_scorer` resolves to skduo scorers.

    ``coverage_at_accuracy_<p>`` works for any integer percentage ``p`` from 0
    to 100; only ``coverage_at_accuracy_98`` is listed. Every name of
    :func:`sklearn.metrics.get_scorer_names` is accepted as well.

    Returns
    -------
    names : list of str
        Sorted skduo scorer names.

    Examples
    --------
    >>> from skduo.metrics import get_scorer_names
    >>> get_scorer_names()[:3]
    ['correctness_auroc', 'coverage_at_accuracy_98', 'neg_augrc']
    """
    return sorted(_SCORERS)


def get_scorer(scoring):
    """Resolve a scorer name, trying skduo's names first, then sklearn's.

    Parameters
    ----------
    scoring : str, callable or None
        A name from :func:`get_scorer_names` (``"neg_aurc"``, ``"neg_ece"``,
        ``"coverage_at_accuracy_98"``, ...), any name accepted by
        :func:`sklearn.metrics.get_scorer`, a callable (returned as is) or
        None (returned as is).

    Returns
    -------
    scorer : callable or None
        For a name, a fresh copy of the scorer, so that
        ``set_score_request`` on it does not affect other users.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_validate
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo.metrics import get_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scoring = {name: get_scorer(name) for name in ["neg_ece", "accuracy"]}
    >>> res = cross_validate(GaussianNB(), X, y, cv=3, scoring=scoring)
    >>> sorted(k for k in res if k.startswith("test_"))
    ['test_accuracy', 'test_neg_ece']
    """
    if scoring is None or callable(scoring):
        return scoring
    if not isinstance(scoring, str):
        raise TypeError(
            f"scoring must be a str, a callable or None; got {type(scoring).__name__}."
        )
    match = _SAC_PATTERN.match(scoring)
    if match is not None:
        percent = int(match.group(1))
        if percent > 100:
            raise ValueError(
                f"{scoring!r}: the accuracy percentage must be between 0 and 100."
            )
        return make_coverage_at_accuracy_scorer(percent / 100)
    if scoring in _SCORERS:
        return copy.deepcopy(_SCORERS[scoring])
    try:
        return _sklearn_get_scorer(scoring)
    except ValueError as exc:
        raise ValueError(
            f"{scoring!r} is not a valid scoring value. Use "
            "skduo.metrics.get_scorer_names() or "
            "sklearn.metrics.get_scorer_names() to get valid options."
        ) from exc
