"""The one place where skduo imports scikit-learn's private API.

skduo follows the scikit-learn ecosystem's conventions (``_fit_context``,
``_parameter_constraints`` checked by ``sklearn.utils._param_validation``,
``_BaseComposition`` for named members) and uses a few private helpers that
have no public equivalent. They are imported here only, so that a move in a
new scikit-learn release fails in one module (and in
``tests/utils/test_sklearn_compat.py``), never in a user's fit.
"""

from functools import partial

from sklearn.base import _fit_context
from sklearn.metrics._scorer import _BaseScorer
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _num_samples

__all__ = [
    "BaseScorer",
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_BaseComposition",
    "_fit_context",
    "num_samples",
    "safe_indexing",
    "scoring_cache",
    "validate_params",
]

#: ``sklearn.utils._safe_indexing``: rows of arrays, lists, DataFrames, sparse.
safe_indexing = _safe_indexing

#: ``sklearn.utils.validation._num_samples``: rows of any array-like.
num_samples = _num_samples

#: ``sklearn.metrics._scorer._BaseScorer``: scikit-learn's multi-metric scoring
#: (``cross_validate``, ``GridSearchCV`` with several scorers) hands the
#: scorers of this class one shared ``method_caller``, so that they share one
#: prediction per method.
BaseScorer = _BaseScorer


def scoring_cache(method_caller):
    """The dict behind the ``method_caller`` of scikit-learn's multi-metric scoring.

    scikit-learn passes ``partial(_cached_call, cache)``, where ``cache`` is a
    dict shared by every scorer of one call (or None when nothing is worth
    sharing). Returns that dict, or None when ``method_caller`` has another
    form (a direct call, or a future scikit-learn): the scorer then simply
    does not share.
    """
    if isinstance(method_caller, partial) and method_caller.args:
        cache = method_caller.args[0]
        if isinstance(cache, dict):
            return cache
    return None
