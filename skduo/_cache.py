"""Reusing members' logits across fits, folds, scorers and grid candidates.

The estimators ask for a member's logits through :func:`cached_member_logits`
(fit and prediction alike). Today it computes them every time; it is the one
place a cache of frozen members' outputs lives.
"""

from skduo._members import member_logits

__all__ = ["cached_member_logits"]


def cached_member_logits(estimator, X, classes, **kwargs):
    """:func:`skduo._members.member_logits` (the single entry point)."""
    return member_logits(estimator, X, classes, **kwargs)
