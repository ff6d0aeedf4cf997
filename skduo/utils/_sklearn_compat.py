"""The one place where skduo imports scikit-learn's private API.

skduo follows the scikit-learn ecosystem's conventions (``_fit_context``,
``_parameter_constraints`` checked by ``sklearn.utils._param_validation``,
``_BaseComposition`` for named members) and uses a few private helpers that
have no public equivalent. They are imported here only, so that a move in a
new scikit-learn release fails in one module (and in
``tests/utils/test_sklearn_compat.py``), never in a user's fit.
"""

from sklearn.base import _fit_context
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
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_BaseComposition",
    "_fit_context",
    "num_samples",
    "safe_indexing",
    "validate_params",
]

#: ``sklearn.utils._safe_indexing``: rows of arrays, lists, DataFrames, sparse.
safe_indexing = _safe_indexing

#: ``sklearn.utils.validation._num_samples``: rows of any array-like.
num_samples = _num_samples
