"""Members' outputs as logits: one member, one input, columns in a given order.

What :class:`~skduo.DuoClassifier` and the baselines do with each member, as
plain functions: is it fitted, which classes does it know, which method gives
its scores, and how do those scores become float logits whose columns follow
the ensemble's ``classes_``.
"""

import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skduo import _torch_compat
from skduo._logit_ops import (
    binary_scores_to_logits,
    check_finite,
    log_proba_to_logits,
    proba_to_logits,
)
from skduo._vocabulary import RESPONSE_METHODS
from skduo.utils._sklearn_compat import num_samples

__all__ = ["is_fitted", "member_classes", "member_logits"]


def is_fitted(estimator):
    """Whether ``estimator`` is fitted (objects sklearn cannot inspect: True).

    Parameters
    ----------
    estimator : object
        A member.

    Returns
    -------
    bool
    """
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:
        # not an estimator sklearn can inspect: treat it as fitted, it will
        # fail loudly (with the member's name) when asked for its outputs
        return True
    return True


def member_classes(estimator, name):
    """The member's ``classes_`` as an array; a ValueError names the member."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ValueError(
            f"The {name} member has no `classes_` attribute; the duo needs it to "
            "align the members' outputs with the labels."
            + _torch_compat.missing_classes_hint(estimator)
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
        for candidate in RESPONSE_METHODS:
            if hasattr(estimator, candidate):
                method = candidate
                break
        else:
            raise ValueError(
                f"The {name} member has none of {RESPONSE_METHODS}; the duo needs "
                "scores for every class."
            )
    elif not hasattr(estimator, method):
        raise ValueError(
            f"The {name} member has no method {method!r} (response_method)."
        )
    with np.errstate(divide="ignore"):  # log(0) inside predict_log_proba is fine
        return getattr(estimator, method)(X), method


def _as_logits(out, used, what, saturation_warn):
    """Raw member output of method ``used`` as 2-D logits (or 1-D scores)."""
    out_arr = np.asarray(out)
    if out_arr.dtype == np.float16:
        warnings.warn(
            f"{what} is float16: its resolution is about 1e-3 relative (8 units at "
            "1e4), so the duo's weights and probabilities inherit that coarseness. "
            "Compute the member's outputs in float32 or float64 if you can.",
            UserWarning,
            stacklevel=4,
        )
    if used == "predict_log_proba":
        # -inf is a legitimate log-probability (probability 0); NaN/+inf are not
        check_finite(np.where(np.isneginf(out_arr), 0.0, out_arr), what)
    else:
        check_finite(out_arr, what)
    if used == "predict_proba":
        if out_arr.ndim == 1:
            out_arr = np.column_stack([1.0 - out_arr, out_arr])
        return out_arr, proba_to_logits(out_arr, what, saturation_warn)
    if used == "predict_log_proba":
        return out_arr, log_proba_to_logits(out_arr, what, saturation_warn)
    if out_arr.ndim == 1 or (out_arr.ndim == 2 and out_arr.shape[1] == 1):
        return out_arr, binary_scores_to_logits(out_arr)
    return out_arr, np.asarray(out_arr, dtype=np.float64)


def _column_order(estimator, classes, name):
    """Indices that re-order the member's columns into ``classes``."""
    order = {c: j for j, c in enumerate(member_classes(estimator, name).tolist())}
    try:
        return np.array([order[c] for c in np.asarray(classes).tolist()])
    except KeyError as exc:
        raise ValueError(
            f"The {name} member does not know class {exc.args[0]!r}."
        ) from None


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

    Parameters
    ----------
    estimator : object
        A fitted member.
    X : object
        Its input.
    classes : array-like of shape (n_classes,)
        The column order of the result (labels the member knows).
    method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'}, default='auto'
        Which output to read.
    name : str, default='member'
        The member's name in messages.
    verbose : bool, default=False
        Progress bars for torch members.
    warn_saturation : bool, default=True
        Warn when many probability rows are saturated.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
    """
    saturation_warn = 0.01 if warn_saturation else 1.0
    out, used = _raw_member_output(estimator, X, method, name, verbose)
    what = f"The {name} member's {used} output"
    out_arr, logits = _as_logits(out, used, what, saturation_warn)
    n_samples = num_samples(X)
    if logits.ndim != 2 or logits.shape[0] != n_samples:
        raise ValueError(
            f"{what} has shape {np.shape(out_arr)}; expected ({n_samples}, "
            "n_classes) or, for two classes, (n_samples,)."
        )
    n_known = len(member_classes(estimator, name))
    if logits.shape[1] != n_known:
        raise ValueError(
            f"{what} has {logits.shape[1]} columns but the member has "
            f"{n_known} classes."
        )
    return np.ascontiguousarray(logits[:, _column_order(estimator, classes, name)])
