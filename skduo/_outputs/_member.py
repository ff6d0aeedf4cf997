"""Members' outputs as logits: one member, one input, columns in a given order.

What :class:`~skduo.DuoClassifier` and the baselines do with each member, as
plain functions: is it fitted, which classes does it know, which method gives
its scores, and how do those scores become float logits whose columns follow
the ensemble's ``classes_``.

Memory: a member's float32 or float64 logits in the requested column order are
returned as they are (no copy, memory-mapped arrays stay memory-mapped);
probabilities become log-probabilities, and columns are re-ordered, in row
blocks into one new array of the member's float dtype.
"""

import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skduo._outputs import _torch
from skduo._outputs._kinds import (
    log_proba_member_logits,
    proba_member_logits,
    reordered_logits,
)
from skduo._outputs._logit_ops import binary_scores_to_logits, check_finite
from skduo._vocabulary import RESPONSE_METHODS
from skduo.utils._sklearn_compat import num_samples

__all__ = [
    "column_map",
    "is_fitted",
    "member_classes",
    "member_logits",
    "resolve_classes",
]


def is_fitted(estimator):
    """Whether ``estimator`` is fitted (objects sklearn cannot inspect: True).

    Objects that are not scikit-learn estimators (no ``__sklearn_tags__``) are
    judged as scikit-learn would judge an estimator: by
    ``__sklearn_is_fitted__`` if they have it, else by a ``classes_`` attribute
    or any attribute ending in ``_``.

    Parameters
    ----------
    estimator : object
        A member.

    Returns
    -------
    bool
    """
    if not hasattr(estimator, "__sklearn_tags__"):
        # duck-typed member: sklearn's check_is_fitted needs its tags
        if hasattr(estimator, "__sklearn_is_fitted__"):
            return bool(estimator.__sklearn_is_fitted__())
        if hasattr(estimator, "classes_"):
            return True
        names = getattr(estimator, "__dict__", {})
        return any(v.endswith("_") and not v.startswith("__") for v in names)
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
            + _torch.missing_classes_hint(estimator)
        )
    return np.asarray(classes)


def resolve_classes(y, named, fitted):
    """``(classes, fit order)``: the fitted members' common classes, else y's.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        The labels.
    named : list of (str, estimator)
        The members.
    fitted : dict of {str: bool}
        Whether each member is fitted.

    Returns
    -------
    classes : ndarray
        Sorted labels (the ensemble's ``classes_``).
    fit_classes : ndarray
        The same labels in the first fitted member's own column order (its
        logits need no re-ordering then); ``classes`` when no member is fitted.
    """
    fitted_sets = {
        name: member_classes(est, name) for name, est in named if fitted[name]
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
        fit_classes = reference if len(reference) == len(classes) else classes
    else:
        classes = fit_classes = np.unique(y)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"y contains only one class ({np.unique(y).tolist()}); fitting the "
            "weights needs samples of at least 2 classes."
        )
    return classes, fit_classes


def column_map(known, classes):
    """Columns of a member's output (classes ``known``) giving ``classes``.

    Parameters
    ----------
    known : array-like of shape (n_known,)
        The classes of the member's output columns, in order.
    classes : array-like of shape (n_classes,)
        The wanted column order.

    Returns
    -------
    columns : ndarray of int of shape (n_classes,) or None
        ``output[:, columns]`` follows ``classes``; None when the output already
        does. Classes the member does not know get index -1.
    """
    known = np.asarray(known).tolist()
    classes = np.asarray(classes).tolist()
    if known == classes:
        return None
    index = {c: j for j, c in enumerate(known)}
    return np.array([index.get(c, -1) for c in classes], dtype=np.intp)


def _raw_member_output(estimator, X, method, name, verbose):
    """Call the member and return (raw output, method used)."""
    if method == "auto":
        if _torch.is_torch_member(estimator):
            out = _torch.torch_member_logits(estimator, X, verbose=verbose, name=name)
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


#: Objects visited when looking for the returned array among a member's
#: attributes; beyond it the array counts as held.
_HELD_SEARCH_LIMIT = 10_000


def _owned(arr, estimator):
    """Whether ``arr``, just returned by a call to ``estimator``, is ours.

    Explicit ownership, the same on every Python version: the caller that made
    the call says the result is new (a writeable float ndarray owning its
    data), unless the member holds it -- an array among its attributes
    (nested containers and objects included) sharing memory with it, as a
    member returning a cached attribute does. A member that keeps what it
    returns anywhere else must return a copy, a view or a read-only array.
    """
    if not (
        type(arr) is np.ndarray
        and arr.flags.owndata
        and arr.flags.writeable
        and arr.dtype in (np.float32, np.float64)
    ):
        return False
    stack, seen = [estimator], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)):
            continue
        seen.add(id(obj))
        if len(seen) > _HELD_SEARCH_LIMIT:
            return False
        if isinstance(obj, np.ndarray):
            if np.may_share_memory(obj, arr):
                return False
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif obj is estimator or not callable(obj):
            stack.extend(getattr(obj, "__dict__", {}).values())
    return True


def _check_shape(logits, arr, what, n_samples, n_known):
    if logits.ndim != 2 or logits.shape[0] != n_samples:
        raise ValueError(
            f"{what} has shape {np.shape(arr)}; expected ({n_samples}, "
            "n_classes) or, for two classes, (n_samples,)."
        )
    if logits.shape[1] != n_known:
        raise ValueError(
            f"{what} has {logits.shape[1]} columns but the member has "
            f"{n_known} classes."
        )


def member_logits(
    estimator,
    X,
    classes,
    *,
    method="auto",
    name="member",
    verbose=False,
    warn_saturation=True,
    lazy=False,
):
    """Logits of one member, columns ordered as ``classes``.

    ``method`` is ``"auto"`` (torch nets: their true logits; otherwise the first of
    decision_function, predict_log_proba, predict_proba the member has) or one of
    those three names. Probabilities are checked and turned into log-probabilities;
    1-D binary scores ``s`` become the two-class logits ``(0, s)``. With
    ``warn_saturation`` a warning says when more than 1% of the rows hold exact
    0 (or 1) probabilities (the duo warns at fit time only).

    float32 and float64 outputs keep their dtype (float16 becomes float32,
    integers float64). Logits (and log-probabilities without ``-inf``) whose
    columns already follow ``classes`` are returned as the member gave them,
    not copied, so a memory-mapped output stays on disk; otherwise the result
    is one new array, filled in row blocks.

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
    lazy : bool, default=False
        For probabilities: check them, and return a :class:`LogProbaView`
        instead of an array (what the weight fit reads, chunk by chunk).

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float32 or float64
        Or a :class:`LogProbaView` of that shape with ``lazy=True``.
    """
    saturation_warn = 0.01 if warn_saturation else 1.0
    out, used = _raw_member_output(estimator, X, method, name, verbose)
    what = f"The {name} member's {used} output"
    arr = np.asarray(out)
    if arr.dtype == np.float16:
        warnings.warn(
            f"{what} is float16: its resolution is about 1e-3 relative (8 units at "
            "1e4), so the duo's weights and probabilities inherit that coarseness. "
            "Compute the member's outputs in float32 or float64 if you can.",
            UserWarning,
            stacklevel=2,
        )
    known = member_classes(estimator, name)
    n_samples = num_samples(X)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        if used == "predict_proba":
            check_finite(arr, what)
            p = arr.reshape(-1)
            arr = np.column_stack([1.0 - p, p])
        elif used != "predict_log_proba":
            check_finite(arr, what)
            arr, used = binary_scores_to_logits(arr), "scores"
    columns = column_map(known, classes)
    if columns is not None and (columns < 0).any():
        missing = np.asarray(classes)[columns < 0][0]
        raise ValueError(f"The {name} member does not know class {missing!r}.")
    if used not in ("predict_proba", "predict_log_proba"):
        check_finite(arr, what)
        _check_shape(arr, np.asarray(out), what, n_samples, len(known))
        return reordered_logits(arr, columns)
    if arr.ndim == 2:
        _check_shape(arr, np.asarray(out), what, n_samples, len(known))
    if used == "predict_proba":
        # this call created ``out``: ours to overwrite unless the member holds it
        in_place = arr is out and not lazy and _owned(out, estimator)
        if lazy and arr.ndim == 2:
            return proba_member_logits(arr, columns, what, saturation_warn, lazy=True)
        return proba_member_logits(arr, columns, what, saturation_warn, in_place)
    return log_proba_member_logits(arr, columns, what, saturation_warn)
