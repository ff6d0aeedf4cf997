"""A torch Dataset that scikit-learn's model selection can split into Datasets.

scikit-learn indexes ``X`` before an estimator sees it (``cross_val_score``,
``GridSearchCV``, ``train_test_split``): an object with a ``shape`` is indexed
as ``X[indices]``, anything else becomes a list of its items, which for a
Dataset is a list of ``(x, y)`` tuples no member can read.
:class:`IndexableDataset` has a ``shape`` and answers ``X[indices]`` with
another :class:`IndexableDataset` over the same underlying dataset, so every
fold is a Dataset again, and its rows are keyed for the logits cache by the
underlying dataset's contents and their positions in it.
"""

import numbers

import numpy as np
import torch
from torch.utils.data import Dataset

from skduo._outputs._fingerprint import Unhashable, _state_digest
from skduo._outputs._inputs import dataset_labels

__all__ = ["IndexableDataset"]


class _Root:
    """The underlying dataset, shared by an IndexableDataset and its subsets."""

    __slots__ = ("dataset", "labels")

    def __init__(self, dataset):
        self.dataset = dataset
        self.labels = None


class IndexableDataset(Dataset):
    """A map-style Dataset that scikit-learn's model selection can split.

    Wrap a validation Dataset in it to pass it through
    :func:`~sklearn.model_selection.cross_val_score`,
    :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.train_test_split`: scikit-learn splits it
    with ``X[indices]``, which gives another :class:`IndexableDataset` (a
    Dataset of the chosen rows), never the list of ``(x, y)`` tuples a plain
    Dataset turns into. Items are those of ``dataset``, read lazily (its
    transform runs when a member reads a row).

    The logits cache (:data:`skduo.torch.logits_cache`) keys a row by a digest
    of ``dataset`` (its tensors, file lists and transforms, computed at every
    call as for arrays) and the row's position in it, so the folds of a
    cross-validation and the candidates of a grid search run each member over
    each row once. A dataset that cannot be fingerprinted (it holds an object
    that cannot be pickled) is computed at every call.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A map-style dataset whose items are ``(x, y)`` pairs (or inputs alone,
        when the labels are passed as ``y``). Its items must not change while
        it is used (no random augmentation).

    Attributes
    ----------
    dataset : torch.utils.data.Dataset
        The wrapped dataset.
    indices : ndarray of shape (n_samples,)
        The rows of ``dataset`` this object holds.
    shape : tuple of int
        ``(n_samples,)``: what scikit-learn reads to count and split the rows.

    See Also
    --------
    skduo.torch.precompute_logits : The other route: logits once, model
        selection on arrays.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sklearn.model_selection import cross_val_score
    >>> from skduo import DuoClassifier
    >>> from skduo.torch import IndexableDataset, as_member
    >>> _ = torch.manual_seed(0)
    >>> large_net, small_net = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    >>> X = torch.randn(30, 4)
    >>> y = (large_net(X) + small_net(X) + torch.randn(30, 3)).argmax(1).detach()
    >>> large = as_member(large_net, classes=[0, 1, 2])
    >>> small = as_member(small_net, classes=[0, 1, 2])
    >>> data = IndexableDataset(TensorDataset(X, y))
    >>> data[[0, 2]].indices.tolist(), data.shape
    ([0, 2], (30,))
    >>> scores = cross_val_score(DuoClassifier(large, small), data, y.numpy(), cv=3)
    >>> scores.shape
    (3,)
    """

    def __init__(self, dataset):
        if isinstance(dataset, IndexableDataset):
            self._root, self.indices = dataset._root, dataset.indices.copy()
            return
        if not isinstance(dataset, Dataset) or isinstance(
            dataset, torch.utils.data.IterableDataset
        ):
            raise TypeError(
                "IndexableDataset wraps a map-style torch Dataset (len() and "
                f"dataset[i]); got {type(dataset).__name__}."
            )
        self._root = _Root(dataset)
        self.indices = np.arange(len(dataset), dtype=np.int64)

    @classmethod
    def _subset(cls, root, indices):
        new = cls.__new__(cls)
        new._root, new.indices = root, indices
        return new

    @property
    def dataset(self):
        return self._root.dataset

    @property
    def shape(self):
        return (len(self.indices),)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn's X[indices, ...]
            key = tuple(k for k in key if k is not Ellipsis)
            if len(key) != 1:
                raise IndexError("an IndexableDataset is indexed along its rows only")
            key = key[0]
        if isinstance(key, numbers.Integral):
            return self._root.dataset[int(self.indices[key])]
        if isinstance(key, torch.Tensor):
            key = key.detach().cpu().numpy()
        if isinstance(key, slice):
            return self._subset(self._root, self.indices[key])
        key = np.asarray(key)
        if key.ndim == 0:
            return self[int(key)]
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return self._subset(self._root, self.indices[key.astype(np.int64)])

    @property
    def targets(self):
        """The labels of the rows, read from the dataset once (no sample loaded
        when the dataset says where they are, see ``DuoClassifier.fit``)."""
        if self._root.labels is None:
            self._root.labels = dataset_labels(self._root.dataset)
        return self._root.labels[self.indices]

    def _skduo_row_digests(self):
        """``(kind, row keys)`` for the logits cache: dataset digest, positions."""
        try:
            digest = _state_digest(self._root.dataset)
        except Unhashable:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: do not cache
            raise Unhashable(f"{type(exc).__name__}: {exc}") from exc
        keys = [int(i).to_bytes(8, "little") for i in self.indices]
        return ("IndexableDataset", digest), keys

    def __repr__(self):
        return (
            f"IndexableDataset({type(self._root.dataset).__name__}, "
            f"{len(self)} of {len(self._root.dataset)} rows)"
        )
