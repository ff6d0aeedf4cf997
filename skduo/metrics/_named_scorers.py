"""The named scorers: seven scorer objects, and lookup by name.

``neg_aurc_scorer``, ..., ``correctness_auroc_scorer`` are built by
:func:`~skduo.metrics.make_proba_scorer`, each with its own docstring (what
the API reference shows for it); :func:`get_scorer` resolves their names
(and ``coverage_at_accuracy_<p>``, and every scikit-learn name).
"""

import copy
import re
import textwrap

from sklearn.metrics import get_scorer as _sklearn_get_scorer

from skduo.metrics._calibration import expected_calibration_error
from skduo.metrics._classification import multiclass_brier_score, nll_loss
from skduo.metrics._operating_points import correctness_auroc
from skduo.metrics._scorer import make_coverage_at_accuracy_scorer, make_proba_scorer
from skduo.metrics._selective import augrc, aurc, eaurc

__all__ = [
    "correctness_auroc_scorer",
    "get_scorer",
    "get_scorer_names",
    "neg_aurc_scorer",
    "neg_augrc_scorer",
    "neg_brier_scorer",
    "neg_eaurc_scorer",
    "neg_ece_scorer",
    "neg_nll_scorer",
]


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
