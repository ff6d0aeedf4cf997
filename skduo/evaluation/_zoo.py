"""A zoo of models given by their logits on the validation and test splits."""

import warnings
from dataclasses import dataclass, field

import numpy as np

from skduo._outputs._kinds import (
    detect_output_kind,
    log_proba_to_logits,
    proba_to_logits,
)
from skduo._vocabulary import OUTPUT_KINDS
from skduo.utils._arrays import float_dtype, row_blocks

__all__ = ["LogitZoo", "ModelLogits"]

SPLITS = ("val", "test", "ood_test")


@dataclass
class ModelLogits:
    """One model of a :class:`LogitZoo`: its logits per split and its cost.

    Parameters
    ----------
    name : str
        Model name.
    logits : dict of {str: ndarray of shape (n_samples, n_classes)}
        Logits by split (``'val'``, ``'test'`` and optionally ``'ood_test'``),
        float32 or float64: the dtype they were given in (float16 becomes
        float32, integers float64; see :meth:`LogitZoo.add`). A memory-mapped
        array (``np.load(path, mmap_mode="r")``) that needs no conversion stays
        memory-mapped.
    cost : float or None
        Inference cost per sample (multiply-adds), or None if unknown.
    group : str or None
        Architecture / family name; models sharing a group form deep ensembles.
    source : dict of {str: str}
        Where each split was read from (used in error messages).
    outputs : {'logits', 'proba', 'log_proba'}, default='logits'
        What the arrays held as given (declared, or recognised under
        ``outputs='auto'``); ``logits`` always holds logits (the logarithm of
        probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import ModelLogits
    >>> m = ModelLogits("resnet18", {"val": np.zeros((4, 3))}, cost=1.82e9)
    >>> m.name, m.logits["val"].shape, m.cost
    ('resnet18', (4, 3), 1820000000.0)
    """

    name: str
    logits: dict
    cost: float | None = None
    group: str | None = None
    source: dict = field(default_factory=dict)
    outputs: str = "logits"


def _where(name, split, source):
    return source.get(split) or f"model {name!r}, split {split!r}"


def _as_array(arr):
    """``arr`` itself if it is an ndarray or a ``np.memmap``, else an ndarray."""
    if type(arr) in (np.ndarray, np.memmap):
        return arr
    return np.asarray(arr)


def _nonfinite(z):
    """Counts of the non-finite values of ``z``, read in row blocks.

    Returns None when every value is finite (or ``z`` holds integers), else
    ``(n_nan, n_nonfinite, n_neg_inf, (row, column))`` with the position of
    the first non-finite value in row-major order. Temporaries are one row
    block (:func:`~skduo.utils._arrays.row_blocks`), never of ``z``'s size, so
    a memory-mapped array is scanned without being loaded.
    """
    if z.dtype.kind != "f":
        return None
    n_nan = n_bad = n_neg_inf = 0
    first = None
    for rows in row_blocks(z.shape):
        block = z[rows]
        # a sum is finite only if every term is (one pass, no temporary); a
        # non-finite sum may be an overflow of finite values: checked below
        if np.isfinite(np.add.reduce(block, axis=None)):
            continue
        nonfinite = ~np.isfinite(block)
        n_block = int(np.count_nonzero(nonfinite))
        if n_block == 0:
            continue
        if first is None:
            row, column = np.argwhere(nonfinite)[0]
            first = (rows.start + int(row), int(column))
        n_bad += n_block
        n_nan += int(np.count_nonzero(np.isnan(block)))
        n_neg_inf += int(np.count_nonzero(np.isneginf(block)))
    return None if first is None else (n_nan, n_bad, n_neg_inf, first)


def _check_labels(y, split, source):
    what = source or f"labels of split {split!r}"
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{what}: labels must be 1-D; got shape {y.shape}.")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{what}: labels must be integer class indices.")
    elif y.dtype.kind not in "iu":
        raise ValueError(
            f"{what}: labels must be integer class indices; got dtype {y.dtype}."
        )
    if len(y) == 0:
        raise ValueError(f"{what}: no labels.")
    if y.min() < 0:
        raise ValueError(f"{what}: labels must be >= 0; found {int(y.min())}.")
    return y.astype(np.intp)


class LogitZoo:
    """Models given by their logits on shared validation and test splits.

    The input of :func:`evaluate_zoo` and :func:`select_sidekick`: every model's
    logits on the same validation rows (used for all fitting) and test rows
    (used only for evaluation), optionally on an out-of-distribution test split,
    with its inference cost.

    Parameters
    ----------
    y_val : array-like of shape (n_val,)
        Validation labels, integer class indices.
    y_test : array-like of shape (n_test,)
        Test labels.
    y_ood_test : array-like of shape (n_ood,), default=None
        Labels of an out-of-distribution test split, if any.
    label_source : dict of {str: str}, default=None
        File each split's labels were read from (for error messages).

    Attributes
    ----------
    models : dict of {str: ModelLogits}
        The models, in the order they were added.
    labels : dict of {str: ndarray}
        Labels by split.
    n_classes : int or None
        Number of classes (columns of the logits), once a model is added.

    See Also
    --------
    load_logits_dir : Build a zoo from a directory of saved logits.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo
    >>> zoo = LogitZoo(y_val=[0, 1, 1], y_test=[1, 0])
    >>> val = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    >>> zoo.add("big", val=val, test=[[0.0, 2.0], [1.0, 0.0]], cost=100)
    >>> zoo.n_classes, list(zoo.models)
    (2, ['big'])
    >>> zoo.add("soft", val=[[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]],
    ...         test=[[0.3, 0.7], [0.6, 0.4]], outputs="proba")
    >>> zoo.models["soft"].outputs, zoo.models["soft"].logits["test"].round(3)[0]
    ('proba', array([-1.204, -0.357]))
    """

    def __init__(self, y_val, y_test, y_ood_test=None, *, label_source=None):
        label_source = label_source or {}
        self.labels = {
            "val": _check_labels(y_val, "val", label_source.get("val")),
            "test": _check_labels(y_test, "test", label_source.get("test")),
        }
        if y_ood_test is not None:
            self.labels["ood_test"] = _check_labels(
                y_ood_test, "ood_test", label_source.get("ood_test")
            )
        self.label_source = dict(label_source)
        self.models = {}
        self.n_classes = None

    @property
    def splits(self):
        """The splits with labels, in the order val, test, ood_test."""
        return tuple(s for s in SPLITS if s in self.labels)

    def add(
        self,
        name,
        val,
        test,
        *,
        ood_test=None,
        cost=None,
        group=None,
        source=None,
        outputs="auto",
    ):
        """Add a model by its logits (or its probabilities).

        Parameters
        ----------
        name : str
            Unique model name.
        val, test : array-like of shape (n_split, n_classes)
            Logits, probabilities or log-probabilities on the validation and
            test rows (see ``outputs``).
        ood_test : array-like of shape (n_ood, n_classes), default=None
            Outputs on the out-of-distribution test rows; required when the
            zoo has OOD labels.
        cost : float, default=None
            Inference cost per sample (multiply-adds); must be positive.
        group : str, default=None
            Architecture name; models of one group form deep ensembles.
        source : dict of {str: str}, default=None
            File each split was read from, named in error messages.
        outputs : {'auto', 'logits', 'proba', 'log_proba'}, default='auto'
            What the arrays hold. ``'auto'`` recognises probabilities (every
            inspected row in [0, 1] and summing to one, on every split) and
            uses their logarithm, with a ``UserWarning`` naming the model:
            the logarithm gives the same duo as the logits would, while
            probabilities used as logits give a much worse one.
            Log-probabilities are valid logits and are used as they are
            (``-inf`` clipped). The other values declare what the arrays are;
            probabilities and log-probabilities are then checked.

        Raises
        ------
        ValueError
            Naming the split (and file): wrong shape or dtype, NaN or infinite
            values, row counts that differ from the labels, a class count that
            differs from the other models', labels out of range, outputs that
            are not what was declared, or splits that disagree on whether they
            hold probabilities.

        Notes
        -----
        The logits keep the floating dtype they are given in: float32 stays
        float32 and float64 stays float64 (float16 becomes float32, integers
        float64); probabilities and log-probabilities are converted to logits
        of that dtype (the logarithm taken in float64, stored in it). Logits
        that need no conversion are stored as given, not copied: a
        memory-mapped array (``np.load(path, mmap_mode="r")``) stays
        memory-mapped, and every check reads it in row blocks, so no temporary
        of its size is made.
        """
        source = dict(source or {})
        name = str(name)
        if outputs not in OUTPUT_KINDS:
            raise ValueError(
                f"Model {name!r}: outputs must be one of {OUTPUT_KINDS}; got "
                f"{outputs!r}."
            )
        if name in self.models:
            raise ValueError(f"Duplicate model name {name!r}.")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"Model name {name!r} is not valid UTF-8 text (a file name with "
                "undecodable bytes?); rename it."
            ) from None
        arrays, kinds, bad = {}, {}, {}
        for split, arr in (("val", val), ("test", test), ("ood_test", ood_test)):
            where = _where(name, split, source)
            if arr is None:
                if split in self.labels:
                    raise ValueError(
                        f"{where}: missing split {split!r} (the zoo has labels for "
                        f"it: {self.label_source.get(split, 'given')})."
                    )
                continue
            if split not in self.labels:
                raise ValueError(
                    f"{where}: logits for split {split!r} but the zoo has no labels "
                    "for it."
                )
            arrays[split], bad[split] = self._check_array(arr, where, split)
            kinds[split] = (
                detect_output_kind(arrays[split]) if outputs == "auto" else outputs
            )
        kind = self._common_kind(name, kinds, source)
        if cost is not None:
            cost = float(cost)
            if not np.isfinite(cost) or cost <= 0:
                raise ValueError(
                    f"Model {name!r}: cost must be a positive number; got {cost}."
                )
        logits = {
            split: self._as_logits(z, kind, _where(name, split, source), bad[split])
            for split, z in arrays.items()
        }
        if outputs == "auto" and kind == "proba":
            files = sorted({v.split("[")[0] for v in source.values()})
            files = files or [f"model {name!r}"]
            warnings.warn(
                f"{', '.join(files)}: the outputs look like probabilities (every "
                "inspected row is in [0, 1] and sums to 1), not logits; using "
                "their logarithm, which gives the same duo as the logits. Declare "
                "outputs='proba' to silence this, or outputs='logits' if they are "
                "logits.",
                UserWarning,
                stacklevel=2,
            )
        self.n_classes = next(iter(logits.values())).shape[1]
        self.models[name] = ModelLogits(
            name, logits, cost, None if group is None else str(group), source, kind
        )

    @staticmethod
    def _common_kind(name, kinds, source):
        """One kind for all splits of a model; probabilities on all or none."""
        found = set(kinds.values())
        if "proba" in found and len(found) > 1:
            proba = [s for s, k in kinds.items() if k == "proba"]
            other = [s for s, k in kinds.items() if k != "proba"]
            raise ValueError(
                f"{_where(name, proba[0], source)}: looks like probabilities, but "
                f"{_where(name, other[0], source)} does not; pass outputs= to "
                "declare what the arrays hold."
            )
        if found == {"proba"}:
            return "proba"
        if found == {"log_proba"}:
            return "log_proba"
        return "logits"

    def _check_array(self, arr, where, split):
        z = _as_array(arr)
        if z.ndim != 2:
            raise ValueError(
                f"{where}: logits must be 2-D (n_samples, n_classes); got shape "
                f"{z.shape}."
            )
        if z.dtype.kind not in "fiu":
            raise ValueError(f"{where}: logits must be numeric; got {z.dtype}.")
        bad = _nonfinite(z)
        if bad is not None:
            n_nan, n_bad, n_neg_inf, first = bad
            if n_nan == 0 and n_neg_inf == n_bad:
                pass  # -inf: log-probabilities of 0, clipped when converted
            else:
                raise ValueError(
                    f"{where}: logits contain {n_nan} NaN and "
                    f"{n_bad - n_nan} infinite value(s) (first at row "
                    f"{first[0]}, column {first[1]})."
                )
        y = self.labels[split]
        if z.shape[0] != len(y):
            raise ValueError(
                f"{where}: {z.shape[0]} rows, but the {split!r} labels "
                f"({self.label_source.get(split, 'given')}) have {len(y)}: every "
                "model must be evaluated on the same rows in the same order."
            )
        n_classes = z.shape[1]
        if n_classes < 2:
            raise ValueError(f"{where}: {n_classes} column(s); at least 2 needed.")
        if self.n_classes is not None and n_classes != self.n_classes:
            raise ValueError(
                f"{where}: {n_classes} columns, but the other models have "
                f"{self.n_classes} classes."
            )
        if y.max() >= n_classes:
            raise ValueError(
                f"The {split!r} labels ({self.label_source.get(split, 'given')}) hold "
                f"class {int(y.max())}, out of range for {where} with "
                f"{n_classes} columns (classes 0..{n_classes - 1})."
            )
        return z, bad

    @staticmethod
    def _as_logits(z, kind, where, bad):
        """Logits of ``z`` in its float dtype; ``z`` itself when no conversion."""
        dtype = float_dtype(z.dtype)
        if kind == "proba":
            return proba_to_logits(z, what=where, dtype=dtype)
        if kind == "log_proba":
            out = log_proba_to_logits(z, what=where, dtype=dtype, copy=z.dtype != dtype)
            # not copied (no -inf): ``z`` itself, a np.memmap kept one
            return z if out.base is z else out
        if bad is not None:  # only -inf (other non-finite values were refused)
            n_neg_inf, first = bad[2], bad[3]
            raise ValueError(
                f"{where}: logits contain 0 NaN and {n_neg_inf} "
                f"infinite value(s) (first at row {first[0]}, column {first[1]})."
            )
        return z if z.dtype == dtype else z.astype(dtype)

    def __repr__(self):
        sizes = ", ".join(f"{s}={len(self.labels[s])}" for s in self.splits)
        return (
            f"LogitZoo({len(self.models)} models, n_classes={self.n_classes}, {sizes})"
        )
