"""Saving a fitted estimator's weights without pickle, and rebuilding it.

A fitted duo is its two members (already saved as checkpoints) plus a handful
of numbers: ``weights_``, ``classes_`` and the fit's settings and results.
:func:`save_weights` writes those numbers as JSON, with a digest of each member
so that :func:`load_weights` can check that the members given back are the
ones the weights were fitted with; nothing is unpickled and nothing refitted.
"""

import hashlib
import json
import os
import sys

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skduo._estimators._base import _BaseLogitEnsemble
from skduo._estimators._baselines import (
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
)
from skduo._estimators._duo import DuoClassifier
from skduo._outputs import _torch
from skduo._outputs._fingerprint import Unhashable, member_fingerprint

__all__ = ["load_weights", "save_weights"]

_FORMAT = "skduo-weights"
_FORMAT_VERSION = 1
_ESTIMATORS = {
    cls.__name__: cls
    for cls in (DuoClassifier, TemperatureScalingClassifier, WeightedEnsembleClassifier)
}


def _module_digest(member):
    """SHA-1 of a torch member's module state (names, dtypes, shapes, bytes)."""
    import torch

    _, net = _torch._get_net(member, "member")
    h = hashlib.sha1(usedforsecurity=False)
    for key, value in sorted(net.module_.state_dict().items()):
        if not isinstance(value, torch.Tensor):
            continue
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _member_record(member):
    """What identifies a member: its type, classes and a digest of its state."""
    record = {"type": f"{type(member).__module__}.{type(member).__qualname__}"}
    classes = getattr(member, "classes_", None)
    if classes is not None:
        record["classes"] = np.asarray(classes).tolist()
    if _torch.is_torch_member(member):
        # the module's tensors only: the checkpoint, whatever the batch size,
        # device or progress-bar settings of the net that serves it
        record["digest"], record["digest_of"] = _module_digest(member), "module state"
    else:
        try:
            record["digest"] = member_fingerprint(member).hex()
            record["digest_of"] = "estimator state"
        except Unhashable:
            record["digest"], record["digest_of"] = None, None
    return record


def _classes_record(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return {"dtype": classes.dtype.str, "values": classes.tolist()}
    if classes.dtype.kind == "f":
        return {"dtype": classes.dtype.str, "values": classes.tolist()}
    if classes.dtype.kind in "OU" and all(isinstance(c, str) for c in classes):
        return {"dtype": classes.dtype.str, "values": classes.tolist()}
    raise TypeError(
        f"classes_ of dtype {classes.dtype} ({classes[:3].tolist()}...) cannot be "
        "written as JSON; save_weights supports integer, float and string labels."
    )


def _classes_from(record):
    dtype = np.dtype(record["dtype"])
    if dtype.kind == "O":
        out = np.empty(len(record["values"]), dtype=object)
        out[:] = record["values"]
        return out
    return np.asarray(record["values"], dtype=dtype)


def _json_params(estimator):
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in estimator._member_params:
            continue
        if isinstance(value, tuple):
            value = {"tuple": list(value)}
        try:
            json.dumps(value)
        except TypeError:
            continue  # e.g. a cv splitter object: only used to fit
        params[key] = value
    return params


def save_weights(estimator, path):
    """Write a fitted estimator's weights and fit results as JSON, without pickle.

    Writes ``weights_``, ``classes_`` (with their dtype), the constructor
    parameters (``mode``, ``response_method``, ...), ``validation_nll_``,
    ``n_iter_``, the skduo version and, per member, its type, classes and a
    digest of its state (for torch members, of the module's ``state_dict``).
    The members themselves are not written: they are the checkpoints you
    already have. :func:`load_weights` rebuilds the fitted estimator from this
    file and the members.

    Parameters
    ----------
    estimator : fitted DuoClassifier, TemperatureScalingClassifier or \
WeightedEnsembleClassifier
        The fitted estimator.
    path : str or path-like
        The JSON file to write.

    Returns
    -------
    dict
        What was written.

    See Also
    --------
    load_weights : Rebuild the fitted estimator.

    Notes
    -----
    The JSON floats are written with Python's shortest round-trip repr, so
    the weights read back are the same float64 values and the rebuilt
    estimator's ``predict_proba`` is bitwise that of the saved one on the same
    members and inputs.

    For a whole-object file without pickle, :mod:`skops.io` works for a duo
    over scikit-learn members: ``skops.io.dump(duo, "duo.skops")`` and
    ``skops.io.load("duo.skops", trusted=[...])`` with the one skduo type
    ``"skduo._estimators._duo.DuoClassifier"`` trusted (also
    ``"skduo._estimators._baselines.TemperatureScalingClassifier"``, or
    ``"skduo._estimators._baselines.WeightedEnsembleClassifier"`` with
    ``"sklearn.utils._bunch.Bunch"``); check with
    ``skops.io.get_untrusted_types(file=...)`` before trusting. skops cannot
    save torch members: use this function and the members' checkpoints.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import DuoClassifier, load_weights, save_weights
    >>> X, y = load_iris(return_X_y=True)
    >>> large = LogisticRegression(max_iter=500).fit(X[::2], y[::2])
    >>> small = GaussianNB().fit(X[::2], y[::2])
    >>> duo = DuoClassifier(large, small).fit(X[1::2], y[1::2])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_weights(duo, os.path.join(d, "duo.json"))
    ...     again = load_weights(os.path.join(d, "duo.json"), large=large,
    ...                          small=small)
    >>> bool((again.predict_proba(X) == duo.predict_proba(X)).all())
    True
    """
    if not isinstance(estimator, _BaseLogitEnsemble):
        raise TypeError(
            "save_weights takes a fitted skduo estimator; got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    record = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "skduo_version": getattr(sys.modules.get("skduo"), "__version__", None),
        "estimator": type(estimator).__name__,
        "params": _json_params(estimator),
        "weights": [float(w) for w in estimator.weights_],
        "classes": _classes_record(estimator.classes_),
        "validation_nll": float(estimator.validation_nll_),
        "n_iter": int(estimator.n_iter_),
        "members": {
            name: _member_record(member)
            for name, member in estimator._fitted_named_members()
        },
    }
    if isinstance(estimator, WeightedEnsembleClassifier):
        record["member_names"] = [n for n, _ in estimator._fitted_named_members()]
    for attr in ("n_features_in_", "feature_names_in_"):
        value = getattr(estimator, attr, None)
        if value is not None:
            record[attr] = np.asarray(value).tolist()
    text = json.dumps(record, indent=2) + "\n"
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return record


def load_weights(path, *, verify=True, **members):
    """Rebuild a fitted estimator from :func:`save_weights`' file and its members.

    Nothing is refitted and nothing is unpickled: the estimator is constructed
    with the saved parameters and the given members, and its fitted
    attributes are set from the file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_weights`.
    verify : bool, default=True
        Check that every member's state has the digest saved with the weights
        (for torch members, the module's ``state_dict``; for others, the
        estimator's state) and its classes are the saved ones; a mismatch
        raises. ``verify=False`` skips the digests (a member saved by another
        version of its library), never the classes.
    **members : estimator
        The fitted members by name: ``large=..., small=...`` for a duo,
        ``estimator=...`` for a temperature-scaled model, the names of the
        ``estimators`` list for a weighted ensemble. Torch checkpoints are
        passed as members, e.g. ``skduo.torch.as_member(module, classes=...)``
        after ``module.load_state_dict(torch.load(checkpoint))``.

    Returns
    -------
    estimator : DuoClassifier, TemperatureScalingClassifier or \
WeightedEnsembleClassifier
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not a skduo weights file, a member is missing or
        unknown, or (with ``verify``) differs from the saved one.

    See Also
    --------
    save_weights : Write the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo import TemperatureScalingClassifier, load_weights, save_weights
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X[::2], y[::2])
    >>> ts = TemperatureScalingClassifier(model).fit(X[1::2], y[1::2])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_weights(ts, os.path.join(d, "ts.json"))
    ...     again = load_weights(os.path.join(d, "ts.json"), estimator=model)
    >>> bool((again.weights_ == ts.weights_).all()), again.classes_.tolist()
    (True, [0, 1, 2])
    """
    with open(path, encoding="utf-8") as fh:
        record = json.load(fh)
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a skduo weights file.")
    if record.get("format_version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} was written by a newer skduo "
            f"({record.get('skduo_version')}); upgrade skduo to read it."
        )
    cls = _ESTIMATORS.get(record.get("estimator"))
    if cls is None:
        raise ValueError(f"Unknown estimator {record.get('estimator')!r} in {path}.")
    saved = record["members"]
    if set(members) != set(saved):
        raise ValueError(
            f"{cls.__name__} weights need the members {sorted(saved)}; got "
            f"{sorted(members)}."
        )
    for name, member in members.items():
        _check_member(name, member, saved[name], verify)
    params = {}
    for key, value in record["params"].items():
        if isinstance(value, dict) and set(value) == {"tuple"}:
            value = tuple(value["tuple"])
        params[key] = value
    params = {k: v for k, v in params.items() if k in set(cls._get_param_names())}
    if cls is WeightedEnsembleClassifier:
        names = record["member_names"]
        estimator = cls([(n, members[n]) for n in names], **params)
    else:
        names = list(saved)
        estimator = cls(**{n: members[n] for n in names}, **params)
    fitted = [members[n] for n in names]
    estimator._store_members(fitted)
    estimator.classes_ = _classes_from(record["classes"])
    estimator.weights_ = np.asarray(record["weights"], dtype=np.float64)
    estimator.validation_nll_ = float(record["validation_nll"])
    estimator.n_iter_ = int(record["n_iter"])
    if "n_features_in_" in record:
        estimator.n_features_in_ = int(record["n_features_in_"])
    if "feature_names_in_" in record:
        estimator.feature_names_in_ = np.asarray(
            record["feature_names_in_"], dtype=object
        )
    return estimator


def _check_member(name, member, saved, verify):
    classes = getattr(member, "classes_", None)
    if "classes" in saved and (
        classes is None or np.asarray(classes).tolist() != saved["classes"]
    ):
        raise ValueError(
            f"The {name} member's classes_ differ from the saved ones "
            f"({saved['classes'][:10]}...): its outputs would be misread."
        )
    if not verify or saved.get("digest") is None:
        return
    digest = _member_record(member).get("digest")
    if digest != saved["digest"]:
        raise ValueError(
            f"The {name} member is not the one the weights were fitted with: its "
            f"{saved['digest_of']} differs (saved digest {saved['digest'][:12]}..., "
            f"given {str(digest)[:12]}...). Load the same checkpoint, or pass "
            "verify=False if only its library's version changed."
        )
