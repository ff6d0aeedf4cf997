"""Rows, row subsets and labels of any input (skduo._outputs._inputs)."""

import numpy as np
import pytest
import scipy.sparse as sp

from skduo._outputs._inputs import (
    dataset_labels,
    is_dataset,
    n_samples,
    take_rows,
    validate_X_y,
)


def test_arrays_lists_and_dicts():
    X = np.arange(12).reshape(6, 2)
    assert n_samples(X) == 6 and n_samples(X.tolist()) == 6
    np.testing.assert_array_equal(take_rows(X, [5, 0]), [[10, 11], [0, 1]])
    d = {"image": np.zeros((4, 3, 2, 2)), "meta": np.arange(4)}
    assert n_samples(d) == 4  # rows, not the number of keys
    sub = take_rows(d, [3, 1])
    assert sub["image"].shape == (2, 3, 2, 2) and sub["meta"].tolist() == [3, 1]
    with pytest.raises(ValueError, match="different numbers of rows"):
        n_samples({"a": np.zeros(3), "b": np.zeros(4)})
    Xd, yd = validate_X_y(d, [0, 1, 0, 1])
    assert Xd is d and list(yd) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[4, 3\]"):
        validate_X_y(d, [0, 1, 0])


def test_dict_based_sparse_matrices_are_not_dicts():
    # a dok matrix is a dict subclass: its rows, not its stored entries, count
    X = sp.dok_array((5, 3))
    X[0, 1] = 1.0
    X[4, 2] = 2.0
    assert n_samples(X) == 5
    X, y = validate_X_y(X, np.arange(5))
    assert len(y) == 5


def test_y_none_without_a_dataset_raises():
    with pytest.raises(ValueError, match="requires y to be passed"):
        validate_X_y(np.zeros((3, 2)), None)


def test_no_torch_means_no_dataset():
    assert not is_dataset(np.zeros(3)) and not is_dataset([1, 2])


torch = pytest.importorskip("torch")
from torch.utils.data import (  # noqa: E402
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
)


class Pairs(Dataset):
    """(x, y) items and nothing else: labels only by reading the items."""

    def __init__(self, y):
        self.y_values = list(y)
        self.reads = 0

    def __len__(self):
        return len(self.y_values)

    def __getitem__(self, i):
        self.reads += 1
        return torch.full((2,), float(i)), self.y_values[i]


class WithTargets(Pairs):
    """torchvision style: labels in ``targets``; reading items is not needed."""

    @property
    def targets(self):
        return self.y_values


def test_dataset_rows_subsets_and_labels():
    ds = TensorDataset(torch.zeros(5, 2), torch.tensor([4, 3, 2, 1, 0]))
    assert is_dataset(ds) and n_samples(ds) == 5
    sub = take_rows(ds, np.array([4, 0]))
    assert isinstance(sub, Subset) and sub.indices == [4, 0]
    assert dataset_labels(sub).tolist() == [0, 4]
    X, y = validate_X_y(ds, None)
    assert X is ds and y.tolist() == [4, 3, 2, 1, 0]
    X, y = validate_X_y(ds, [1, 1, 1, 1, 1])  # explicit labels win
    assert list(y) == [1] * 5
    cat = ConcatDataset([ds, Subset(ds, [0])])
    assert dataset_labels(cat).tolist() == [4, 3, 2, 1, 0, 4]


def test_labels_from_attributes_do_not_read_samples():
    ds = WithTargets(["b", "a", "b"])
    assert dataset_labels(ds).tolist() == ["b", "a", "b"]
    assert ds.reads == 0
    plain = Pairs([2, 0, 1])
    assert dataset_labels(plain).tolist() == [2, 0, 1]
    assert plain.reads == 3  # no attribute says where the labels are: one pass


def test_skorch_dataset_labels():
    skorch = pytest.importorskip("skorch")
    ds = skorch.dataset.Dataset(np.zeros((3, 2), np.float32), np.array([2, 1, 0]))
    assert dataset_labels(ds).tolist() == [2, 1, 0]


def test_loaders_and_iterable_datasets_are_refused():
    ds = TensorDataset(torch.zeros(4, 2), torch.arange(4))
    loader = DataLoader(ds, batch_size=2)
    for call in (
        lambda: n_samples(loader),
        lambda: take_rows(loader, [0]),
        lambda: validate_X_y(loader, None),
    ):
        with pytest.raises(TypeError, match=r"DataLoader; pass its dataset instead"):
            call()

    class Stream(IterableDataset):
        def __iter__(self):
            yield from range(3)

    with pytest.raises(TypeError, match="iterable-style torch dataset .*map-style"):
        n_samples(Stream())


def test_unlabelled_items_and_wrong_label_shapes():
    ds = TensorDataset(torch.zeros(3, 2))  # items are 1-tuples
    with pytest.raises(ValueError, match=r"not \(x, y\) pairs.*pass y"):
        validate_X_y(ds, None)

    class Bad(Pairs):
        targets = [0, 1]  # two labels for three items

    with pytest.raises(ValueError, match=r"shape \(2,\), expected \(3,\)"):
        dataset_labels(Bad([0, 1, 2]))
