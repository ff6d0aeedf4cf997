"""The weight fit's inputs: validation, and one interface to the members' data.

Everything the fit (:mod:`skduo._fit._weight_fit`) reads from the logits goes
through a members object: :class:`_Members` for NumPy arrays, memory maps and
the pooled mode's mean view (:class:`_MeanLogits`), and
:class:`skduo._fit._dask.DaskMembers` for dask arrays (dask is imported only
then, by :func:`_members`). There is no finiteness scan here: the fit's data
passes are checked (:class:`_Checked`) and only a non-finite one triggers the
counting pass of :func:`_raise_non_finite`.
"""

import numpy as np

from skduo._fit._kernel import row_chunks
from skduo._fit._objective import Objective, ObjectiveWrapper, scan_rows


def _is_dask(z):
    return type(z).__module__.split(".")[0] == "dask"


class _MeanLogits:
    """Rows of the members' mean logits, computed on demand (never ``n x K``).

    ``view[rows]`` is ``sum_m logits[m][rows] / M`` in float64, the same
    numbers as ``combine_logits(logits, 1 / M)``.
    """

    ndim = 2
    dtype = np.dtype(np.float64)
    #: rows on demand (``view[rows]``), read by the fit like an array
    row_view = True

    def __init__(self, logits, names):
        self.members = logits
        self.names = names
        self.shape = logits[0].shape
        self._weight = 1.0 / len(logits)

    def __getitem__(self, rows):
        out = np.multiply(self.members[0][rows], self._weight, dtype=np.float64)
        for z in self.members[1:]:
            out += np.multiply(z[rows], self._weight, dtype=np.float64)
        return out


class _Members:
    """In-memory members (arrays, memory maps or mean views): the fit's data.

    Everything the fit reads from the logits goes through :meth:`take` (rows of
    the subsample), :meth:`objective` (data passes) and :meth:`scan` (other
    chunk kernels); :class:`skduo._fit._dask.DaskMembers` is the same for dask.
    """

    def __init__(self, logits, names):
        self.logits = logits
        self.names = names
        self.shape = logits[0].shape
        self.n_passes = 0

    def subset(self, keep):
        return type(self)([self.logits[m] for m in keep], [self.names[m] for m in keep])

    def take(self, rows):
        return [np.asarray(z[rows]) for z in self.logits]

    def objective(self, y, sw, precise, factors, n_threads, kernel="numpy"):
        return Objective(self.logits, y, sw, n_threads, precise, factors, kernel)

    def scan(self, kernel, y, sw, *args):
        self.n_passes += 1
        return scan_rows(kernel, self.logits, y, sw, *args)

    def sources(self):
        """(name, array) of every stored array, for the non-finite counts."""
        for name, z in zip(self.names, self.logits):
            if isinstance(z, _MeanLogits):
                yield from zip(z.names, z.members)
            else:
                yield name, z

    def count_non_finite(self, z):
        n_nan = n_inf = 0
        for start, stop in row_chunks(*z.shape):
            block = np.asarray(z[start:stop])
            if block.dtype.kind == "f":
                n_nan += int(np.isnan(block).sum())
                n_inf += int(np.isinf(block).sum())
        return n_nan, n_inf


def _members(logits, names):
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        logits = [logits]
    logits = list(logits)
    if not logits:
        raise ValueError("At least one member's logits are required.")
    if names is None:
        names = [f"Logits of member {m}" for m in range(len(logits))]
    names = [str(name) for name in names]
    if len(names) != len(logits):
        raise ValueError(f"names has {len(names)} entries for {len(logits)} members.")
    dask = [_is_dask(z) for z in logits]
    # arrays, memory maps and row views (the pooled mean, a member's
    # log-probabilities: objects with ``row_view``) are read as they are
    logits = [
        z
        if d or isinstance(z, np.ndarray) or getattr(z, "row_view", False)
        else np.asarray(z)
        for z, d in zip(logits, dask)
    ]
    for name, z in zip(names, logits):
        if z.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_classes); got shape {z.shape}."
            )
        if np.dtype(z.dtype).kind not in "fiu":
            raise TypeError(f"{name} must be numeric; got dtype {z.dtype}.")
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1:
        raise ValueError(
            f"All members' logits must have the same shape; got {sorted(shapes)}."
        )
    if any(dask):
        from skduo._fit._dask import DaskMembers  # dask only for dask input

        return DaskMembers(logits, names)
    return _Members(logits, names)


def _as_numpy(values):
    if _is_dask(values):
        return np.asarray(values.compute())
    return np.asarray(values)


def _validate_inputs(logits, y, sample_weight, names=None):
    data = _members(logits, names)
    n, k = data.shape
    if n == 0:
        raise ValueError("Cannot fit weights on 0 samples.")
    if k < 2:
        raise ValueError(f"At least 2 classes are needed; got {k}.")
    y = _as_numpy(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must be integer class indices of shape ({n},); got dtype {y.dtype} "
            f"and shape {y.shape}."
        )
    if y.min() < 0 or y.max() >= k:
        raise ValueError(
            f"y must hold class indices in [0, {k}); got {y.min()}..{y.max()}."
        )
    y = y.astype(np.intp, copy=False)
    if sample_weight is None:
        sw = np.ones(n)
    else:
        sw = np.asarray(_as_numpy(sample_weight), dtype=np.float64)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},); got {sw.shape}.")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to 0: at least one positive weight.")
    return data, y, sw


def _raise_non_finite(data):
    """One counting pass over the members; raises the error for the first bad one."""
    for name, z in data.sources():
        n_nan, n_inf = data.count_non_finite(z)
        if n_nan or n_inf:
            raise ValueError(
                f"{name} contains {n_nan} NaN and {n_inf} infinite value(s); member "
                "outputs must be finite."
            )
    raise ValueError(
        "The weight fit overflowed although every logit is finite: within a member, "
        "logits differ by more than ~1e38 times the member's spread (float32 range). "
        "Such logits cannot be fitted; rescale or clip the outliers."
    )


class _Checked(ObjectiveWrapper):
    """An objective whose every evaluation is checked for finiteness.

    Finite logits give finite values (the kernels shift and clip), so a value
    that is not finite means non-finite logits: counted once, then raised.
    """

    def __init__(self, objective, data):
        super().__init__(objective)
        self.data = data

    def __call__(self, weights, order=None):
        out = self.objective(weights, order)
        values = [out[0], out[1]]
        values += list(out[2]) if isinstance(out[2], tuple) else [out[2]]
        if not all(np.isfinite(v).all() for v in values if v is not None):
            _raise_non_finite(self.data)
        return out
