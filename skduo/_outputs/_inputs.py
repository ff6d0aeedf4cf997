"""What the estimators need to know about an input ``X``, whatever its type.

Arrays, DataFrames, lists, tensors, dicts of arrays and torch ``Dataset``s
reach the estimators; this module answers, for any of them, how many rows it
has, how to take a subset of rows (cross-fitting) and where the labels are.
torch is never imported here: a ``Dataset`` is recognised only once torch is
already imported (a ``Dataset`` cannot exist without it).

A map-style ``torch.utils.data.Dataset`` (``len`` and ``dataset[i]``, each item
an ``(x, y)`` pair as skorch expects) is a valid ``X``: its rows are its items,
a subset of rows is a :class:`torch.utils.data.Subset`, and with ``y=None`` the
labels are read from the dataset (:func:`dataset_labels`). A ``DataLoader``,
an iterable-style dataset or a generator is not: the error says what to pass.
"""

import sys

import numpy as np
from sklearn.utils.validation import indexable

from skduo.utils._sklearn_compat import num_samples, safe_indexing

__all__ = ["dataset_labels", "is_dataset", "n_samples", "take_rows", "validate_X_y"]


def _torch_data():
    """``torch.utils.data`` if torch is already imported, else None."""
    if "torch" not in sys.modules:
        return None
    import torch.utils.data

    return torch.utils.data


def is_dataset(X):
    """Whether ``X`` is a map-style torch ``Dataset`` (never imports torch).

    Parameters
    ----------
    X : object
        An input.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._outputs._inputs import is_dataset
    >>> is_dataset(np.zeros((2, 3)))
    False
    """
    data = _torch_data()
    return (
        data is not None
        and isinstance(X, data.Dataset)
        and not isinstance(X, data.IterableDataset)
    )


def _is_dict(X):
    """A dict of inputs (skorch's multi-input X); not a dict-based sparse matrix."""
    return isinstance(X, dict) and not hasattr(X, "shape")


def _is_dataset_rows(X):
    """A list of ``(x, y)`` tuples of tensors: a Dataset after ``_safe_indexing``."""
    if not isinstance(X, list) or not X:
        return False
    item = X[0]
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], sys.modules["torch"].Tensor)
    )


def _check_input_type(X):
    """Raise for inputs that have no rows to count or index."""
    data = _torch_data()
    if data is None:
        return
    if isinstance(X, data.DataLoader):
        raise TypeError(
            "X is a torch DataLoader; pass its dataset instead (X=loader.dataset, "
            "with y or labels the dataset yields): the members batch it themselves "
            "(batch_size=... in skduo.torch.as_member), and a shuffling loader "
            "would misalign rows and labels."
        )
    if isinstance(X, data.IterableDataset):
        raise TypeError(
            f"X is an iterable-style torch dataset ({type(X).__name__}); the duo "
            "needs a map-style Dataset (with len() and dataset[i]) so that rows can "
            "be counted and split, or an array."
        )
    if _is_dataset_rows(X):
        raise TypeError(
            "X is a list of (input, label) pairs of tensors: what scikit-learn's "
            "model selection (cross_val_score, GridSearchCV, train_test_split) "
            "makes of a torch Dataset, taking its items one by one. Wrap the "
            "dataset so that every split is a Dataset again: "
            "cross_val_score(duo, skduo.torch.IndexableDataset(dataset), y) "
            "(logits cached across folds), or compute the logits once with "
            "skduo.torch.precompute_logits and select on them."
        )
    if is_dataset(X) and not hasattr(X, "__len__"):
        raise TypeError(
            f"X is a torch Dataset ({type(X).__name__}) without __len__; define "
            "__len__ so that its rows can be counted."
        )


def n_samples(X):
    """Number of rows of ``X`` (items of a torch ``Dataset``).

    Parameters
    ----------
    X : array-like, tensor, dict of arrays or Dataset
        An input.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        For a ``DataLoader`` (the message says to pass its dataset), an
        iterable-style dataset, or an input without rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._outputs._inputs import n_samples
    >>> n_samples(np.zeros((5, 3))), n_samples({"a": np.zeros((4, 2))})
    (5, 4)
    """
    _check_input_type(X)
    if is_dataset(X):
        return len(X)
    if _is_dict(X) and X:
        counts = {key: num_samples(value) for key, value in X.items()}
        if len(set(counts.values())) > 1:
            raise ValueError(
                f"The arrays of the dict X have different numbers of rows: {counts}."
            )
        return next(iter(counts.values()))
    return num_samples(X)


def take_rows(X, indices):
    """Rows ``indices`` of ``X`` (a ``Subset`` of a ``Dataset``).

    Parameters
    ----------
    X : array-like, tensor, dict of arrays or Dataset
        An input.
    indices : array-like of int
        Row indices.

    Returns
    -------
    object
        The rows, of the same kind as ``X`` (a
        :class:`torch.utils.data.Subset` for a Dataset, a dict of row subsets
        for a dict).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._outputs._inputs import take_rows
    >>> take_rows(np.arange(6).reshape(3, 2), [2, 0]).tolist()
    [[4, 5], [0, 1]]
    """
    _check_input_type(X)
    if is_dataset(X):
        if hasattr(X, "shape"):  # skduo.torch.IndexableDataset: X[rows] keeps it
            return X[np.asarray(indices, dtype=np.int64)]
        return _torch_data().Subset(X, np.asarray(indices, dtype=np.int64).tolist())
    if _is_dict(X):
        return {key: safe_indexing(value, indices) for key, value in X.items()}
    return safe_indexing(X, indices)


def _as_label_array(labels):
    if hasattr(labels, "detach"):  # a tensor
        labels = labels.detach().cpu().numpy()
    return np.asarray(labels)


def dataset_labels(dataset):
    """The labels of a map-style ``Dataset``, one per item.

    Read without loading any sample when the dataset says where they are:
    ``targets`` (torchvision datasets), ``labels``, ``y`` (skorch's
    ``Dataset``), the second tensor of a ``TensorDataset``, and through
    ``Subset`` and ``ConcatDataset``. Otherwise every item is read once and its
    second element taken (the ``(x, y)`` convention of skorch), which loads
    (decodes) every sample: pass ``y`` to avoid it.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A map-style dataset.

    Returns
    -------
    ndarray of shape (len(dataset),)

    Raises
    ------
    ValueError
        If the dataset's items are not ``(x, y)`` pairs or it holds no labels.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import Subset, TensorDataset
    >>> from skduo._outputs._inputs import dataset_labels
    >>> ds = TensorDataset(torch.zeros(4, 2), torch.tensor([3, 1, 2, 0]))
    >>> dataset_labels(Subset(ds, [2, 0])).tolist()
    [2, 3]
    """
    data = _torch_data()
    n = len(dataset)
    labels = None
    if isinstance(dataset, data.Subset):
        labels = dataset_labels(dataset.dataset)[np.asarray(dataset.indices, int)]
    elif isinstance(dataset, data.ConcatDataset):
        labels = np.concatenate([dataset_labels(d) for d in dataset.datasets])
    elif isinstance(dataset, data.TensorDataset) and len(dataset.tensors) >= 2:
        labels = _as_label_array(dataset.tensors[1])
    else:
        for attr in ("targets", "labels", "y"):
            value = getattr(dataset, attr, None)
            if value is not None and not callable(value) and not isinstance(value, str):
                labels = _as_label_array(value)
                break
    if labels is None:
        labels = []
        for i in range(n):
            item = dataset[i]
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(
                    f"y is None and the items of X ({type(dataset).__name__}) are "
                    "not (x, y) pairs, so the labels cannot be read from it: pass "
                    "y (the validation labels, shape (n_samples,))."
                )
            labels.append(_as_label_array(item[1]).reshape(()).item())
        labels = np.asarray(labels)
    labels = labels.reshape(-1) if labels.ndim > 1 and labels.size == n else labels
    if labels.shape != (n,):
        raise ValueError(
            f"The labels of X ({type(dataset).__name__}) have shape "
            f"{labels.shape}, expected ({n},); pass y."
        )
    return labels


def validate_X_y(X, y):
    """``(X, y)`` with consistent lengths; ``y`` may come from ``X``.

    Parameters
    ----------
    X : object
        Input of the members.
    y : array-like or None
        Labels; None reads them from a torch ``Dataset`` ``X``
        (:func:`dataset_labels`).

    Returns
    -------
    X, y

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._outputs._inputs import validate_X_y
    >>> X, y = validate_X_y(np.zeros((2, 3)), [0, 1])
    >>> X.shape, list(y)
    ((2, 3), [0, 1])
    """
    _check_input_type(X)
    if y is None:
        if is_dataset(X):
            return X, dataset_labels(X)
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None: "
            "give the labels (y of shape (n_samples,)), or a torch Dataset X "
            "whose items are (x, y) pairs."
        )
    if is_dataset(X) or _is_dict(X):
        n_rows, n_labels = n_samples(X), num_samples(y)
        if n_rows != n_labels:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{n_rows}, {n_labels}]"
            )
        return X, indexable(y)[0]
    return indexable(X, y)
