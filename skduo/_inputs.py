"""What the estimators need to know about an input ``X``, whatever its type.

Arrays, DataFrames, lists, tensors, dicts of arrays and torch ``Dataset``s
reach the estimators; this module answers, for any of them, how many rows it
has, how to take a subset of rows (cross-fitting) and where the labels are.
torch is never imported here: a ``Dataset`` is recognised only once torch is
already imported.
"""

from sklearn.utils.validation import indexable

from skduo.utils._sklearn_compat import num_samples, safe_indexing

__all__ = ["n_samples", "take_rows", "validate_X_y"]


def n_samples(X):
    """Number of rows of ``X``."""
    return num_samples(X)


def take_rows(X, indices):
    """Rows ``indices`` of ``X`` (for cross-fitting unfitted members)."""
    return safe_indexing(X, indices)


def validate_X_y(X, y):
    """``(X, y)`` with consistent lengths; ``y`` may come from ``X``.

    Parameters
    ----------
    X : object
        Input of the members.
    y : array-like or None
        Labels.

    Returns
    -------
    X, y
    """
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: "
            "give the validation labels (y of shape (n_samples,))."
        )
    return indexable(X, y)
