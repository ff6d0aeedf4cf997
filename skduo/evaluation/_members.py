"""From fitted members to the logits folder that ``python -m skduo evaluate`` reads."""

import sys

import numpy as np

from skduo._outputs._cache import cached_member_logits
from skduo._outputs._inputs import n_samples, take_rows, validate_X_y
from skduo._outputs._member import member_classes
from skduo.evaluation._io import save_logits_dir
from skduo.evaluation._zoo import SPLITS, LogitZoo

__all__ = ["save_member_logits"]


def _is_module(member):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(member, torch.nn.Module)


def _split_data(name, value):
    """``(X, y)`` of one split: a pair, or a Dataset yielding ``(x, y)`` items."""
    if isinstance(value, tuple) and len(value) == 2:
        X, y = value
    else:
        X, y = value, None
    X, y = validate_X_y(X, y)
    if n_samples(X) == 0:
        raise ValueError(f"The {name!r} split has no rows.")
    return X, np.asarray(y).reshape(-1)


def _flops_per_sample(member, X):
    """Multiply-adds per sample of a torch member on one row of ``X``, else None."""
    if "torch" not in sys.modules:
        return None
    from skduo._outputs import _torch

    if not _torch.is_torch_member(member):
        return None
    import torch.utils.data

    from skduo._outputs._inputs import is_dataset
    from skduo.torch import count_flops

    example = take_rows(X, [0])
    if is_dataset(X):  # one collated batch of the dataset's input
        item = X[0]
        if isinstance(item, (tuple, list)) and len(item) == 2:
            item = item[0]
        example = torch.utils.data.default_collate([item])
    return float(count_flops(member, example).macs_per_sample)


def save_member_logits(
    path,
    members,
    splits,
    *,
    costs="flops",
    classes=None,
    overwrite=False,
    verbose=False,
):
    """Write members' logits, labels and costs as the evaluation CLI reads them.

    Runs every member over every split once and writes the NumPy-archive
    layout of :func:`save_logits_dir` (``labels.npz``, one ``<model>.npz`` per
    member, ``costs.json``), the input of ``python -m skduo evaluate PATH``
    and of :func:`load_logits_dir`. Labels are written as indices into
    ``classes``, the column order of every member's logits.

    Parameters
    ----------
    path : str or path-like
        Directory, created if needed (see ``overwrite``).
    members : dict of {str: estimator}
        Fitted members by name (the name of the model in the report and of its
        file): skorch nets, :func:`skduo.torch.as_member` nets, scikit-learn
        classifiers, Pipelines. A bare ``torch.nn.Module`` is wrapped with
        :func:`skduo.torch.as_member` (``classes`` then needed unless another
        member has ``classes_``).
    splits : dict of {str: (X, y) or Dataset}
        ``"val"`` and ``"test"`` (and optionally ``"ood_test"``): a pair
        ``(X, y)``, or a torch ``Dataset`` whose items are ``(x, y)`` pairs
        (its labels are read from it).
    costs : 'flops', dict or None, default='flops'
        Inference cost per sample, written to ``costs.json``: ``'flops'``
        counts the multiply-adds of every torch member on one validation row
        (:func:`skduo.torch.count_flops`; scikit-learn members get no cost); a
        dict ``{name: cost}`` gives them (any unit shared by all members); None
        writes no costs. The CLI pairs a large model only with cheaper
        sidekicks, so every member needs a cost for duos to be formed.
    classes : array-like of shape (n_classes,), default=None
        The classes, in the column order of the logits. Default: the
        ``classes_`` of the first member that has them.
    overwrite : bool, default=False
        Replace the logits in a non-empty directory (as
        :func:`save_logits_dir`).
    verbose : bool, default=False
        Progress bars for torch members.

    Returns
    -------
    LogitZoo
        What was written (``load_logits_dir(path)`` reads it back).

    Raises
    ------
    ValueError
        If ``"val"`` or ``"test"`` is missing, a split is not one of
        ``val``, ``test``, ``ood_test``, a label is not among ``classes``, or
        ``costs`` names an unknown member.

    See Also
    --------
    save_logits_dir : Write a :class:`LogitZoo` built from arrays.
    skduo.torch.precompute_logits : Logits for model selection in Python.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo.evaluation import load_logits_dir, save_member_logits
    >>> X, y = load_iris(return_X_y=True)
    >>> members = {"logreg": LogisticRegression(max_iter=500).fit(X[::2], y[::2]),
    ...            "nb": GaussianNB().fit(X[::2], y[::2])}
    >>> splits = {"val": (X[1::4], y[1::4]), "test": (X[3::4], y[3::4])}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_member_logits(d, members, splits,
    ...                            costs={"logreg": 15, "nb": 12})
    ...     zoo = load_logits_dir(d)
    >>> sorted(zoo.models), zoo.models["nb"].cost, zoo.labels["val"].shape
    (['logreg', 'nb'], 12.0, (38,))
    """
    unknown = sorted(set(splits) - set(SPLITS))
    missing = [s for s in ("val", "test") if s not in splits]
    if unknown or missing:
        raise ValueError(
            f"splits must hold 'val' and 'test' (and optionally 'ood_test'); "
            f"missing {missing}, unknown {unknown}."
        )
    if not members:
        raise ValueError("members is empty; give at least one fitted member.")
    if classes is None:
        for name, member in members.items():
            if not _is_module(member) and getattr(member, "classes_", None) is not None:
                classes = member_classes(member, name)
                break
    if classes is None:
        raise ValueError(
            "No member has classes_; pass classes (the labels in the column "
            "order of the modules' outputs)."
        )
    classes = np.asarray(classes)
    if any(_is_module(m) for m in members.values()):
        from skduo.torch import as_member

        members = {
            name: as_member(m, classes=classes) if _is_module(m) else m
            for name, m in members.items()
        }
    if isinstance(costs, dict):
        extra = sorted(set(costs) - set(members))
        if extra:
            raise ValueError(f"costs names unknown member(s) {extra}.")
    elif costs not in ("flops", None):
        raise ValueError(f"costs must be 'flops', a dict or None; got {costs!r}.")

    data = {
        split: _split_data(split, splits[split]) for split in SPLITS if split in splits
    }
    labels = {}
    for split, (_, y) in data.items():
        index = np.searchsorted(classes, y) if _sorted(classes) else None
        if index is None or (index >= len(classes)).any():
            lookup = {c: i for i, c in enumerate(classes.tolist())}
            unknown_labels = sorted({v for v in y.tolist() if v not in lookup}, key=str)
            if unknown_labels:
                raise ValueError(
                    f"The {split!r} labels hold {unknown_labels[:5]}, not among the "
                    f"classes {classes.tolist()[:10]}."
                )
            index = np.array([lookup[v] for v in y.tolist()])
        elif not np.array_equal(classes[index], y):
            bad = sorted(set(y[classes[index] != y].tolist()), key=str)
            raise ValueError(
                f"The {split!r} labels hold {bad[:5]}, not among the classes "
                f"{classes.tolist()[:10]}."
            )
        labels[split] = index.astype(np.int64)
    zoo = LogitZoo(labels["val"], labels["test"], labels.get("ood_test"))
    for name, member in members.items():
        logits = {
            split: cached_member_logits(member, X, classes, name=name, verbose=verbose)
            for split, (X, _) in data.items()
        }
        if costs == "flops":
            cost = _flops_per_sample(member, data["val"][0])
        elif isinstance(costs, dict):
            cost = costs.get(name)
        else:
            cost = None
        zoo.add(name, cost=cost, **logits)
    save_logits_dir(zoo, path, overwrite=overwrite)
    return zoo


def _sorted(classes):
    try:
        return bool(np.all(classes[:-1] < classes[1:]))
    except TypeError:
        return False
