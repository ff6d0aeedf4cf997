"""The weight fit on dask arrays: every data pass runs on the dask workers.

Imported by :mod:`skduo._fit._weight_fit` only when a member's logits are a dask
array (``import skduo`` never imports dask). The fit itself is the in-memory
one -- same phases, same Newton iterations, same kernel -- with the data
behind :class:`DaskMembers`:

- an objective evaluation is one ``blockwise`` map of
  :func:`skduo._fit._objective.block_terms` over the row blocks (each worker runs
  the in-memory chunk kernel on its block, single-threaded) followed by a tree
  sum of the packed per-block terms: a loss, ``M`` gradient entries, an
  ``M x M`` Hessian and ``M^3`` third derivatives. Only those few numbers
  travel to the client, never logits;
- the start subsample is a lazy row selection: only those rows are computed
  and sent to the client (at most ``2**25`` elements per member);
- the labels and sample weights are sent to the workers once per fit
  (``persist``), in the row blocks of the logits;
- other scans (degenerate members, recession directions, non-finite counts
  for the error message) are maps of the same chunk kernels as in memory.

The result equals the in-memory fit's to the KKT tolerance (the sums are
taken in a different order, so not bit for bit). Whatever scheduler is active
runs the graphs: a ``distributed.Client`` if one was created, else dask's
threads. Data that are recomputed for every pass (e.g. read from ``.npy`` or
zarr shards) are read once per pass, ~3 times per fit; ``persist()`` them
first if the workers' memory holds them.
"""

import dask
import dask.array as da
import numpy as np

from skduo._fit._objective import (
    block_terms,
    max_order,
    packed_size,
    scan_rows,
    unpack_terms,
)

__all__ = ["DaskMembers", "DaskObjective"]


def _unpack_blocks(blocks, n_members):
    logits = list(blocks[:n_members])
    return logits, blocks[n_members], blocks[n_members + 1]


def _block_objective(*blocks, n_members, weights, order, precision, factors, kernel):
    logits, y, sw = _unpack_blocks(blocks, n_members)
    terms = block_terms(logits, y, sw, weights, order, precision, factors, kernel)
    return terms[None, :]


def _block_scan(*blocks, n_members, kernel, args, n_terms):
    logits, y, sw = _unpack_blocks(blocks, n_members)
    total = scan_rows(kernel, logits, y, sw, *args)
    return (np.zeros(n_terms) if total is None else total)[None, :]


class DaskMembers:
    """Dask members aligned on the first one's row blocks, one block of columns.

    The dask counterpart of :class:`skduo._fit._weight_fit._Members` (same methods).
    NumPy members mixed with dask ones are wrapped in the same row blocks.
    """

    def __init__(self, logits, names, _labels=None):
        first = next(z for z in logits if isinstance(z, da.Array))
        rows = first.chunks[0]
        self.logits = [
            z.rechunk({0: rows, 1: -1})
            if isinstance(z, da.Array)
            else da.from_array(np.asarray(z), chunks=(rows, -1))
            for z in logits
        ]
        self.names = list(names)
        self.shape = tuple(int(s) for s in first.shape)
        self.rows = rows
        self.n_passes = 0
        self._labels = {} if _labels is None else _labels

    def subset(self, keep):
        return DaskMembers(
            [self.logits[m] for m in keep],
            [self.names[m] for m in keep],
            self._labels,
        )

    def take(self, rows):
        """The given rows of every member as NumPy arrays (only they are computed)."""
        rows = np.asarray(rows)
        return [np.asarray(z) for z in dask.compute(*[z[rows] for z in self.logits])]

    def labels(self, y, sw):
        """``y`` and ``sw`` on the workers in the logits' row blocks (sent once)."""
        key = (id(y), id(sw))
        if key not in self._labels:
            y_d = da.from_array(y, chunks=(self.rows,))
            sw_d = da.from_array(sw, chunks=(self.rows,))
            self._labels[key] = (y, sw, *dask.persist(y_d, sw_d))
        return self._labels[key][2:]

    def _blockwise(self, func, y, sw, size, **kwargs):
        y_d, sw_d = self.labels(y, sw)
        args = []
        for z in self.logits:
            args += [z, "ij"]
        parts = da.blockwise(
            func,
            "ij",
            *args,
            y_d,
            "i",
            sw_d,
            "i",
            adjust_chunks={"i": lambda _: 1, "j": lambda _: size},
            dtype=np.float64,
            concatenate=True,
            n_members=len(self.logits),
            **kwargs,
        )
        return parts.sum(axis=0).compute()

    def objective(self, y, sw, precise, factors, n_threads=None, kernel="numpy"):
        return DaskObjective(self, y, sw, precise, factors, kernel)

    def scan(self, kernel, y, sw, *args):
        self.n_passes += 1
        # the size of one chunk's terms, from a chunk of one row
        size = len(scan_rows(kernel, self.take([0]), y[:1], sw[:1], *args))
        return self._blockwise(
            _block_scan, y, sw, size, kernel=kernel, args=args, n_terms=size
        )

    def sources(self):
        return zip(self.names, self.logits)

    def count_non_finite(self, z):
        if np.dtype(z.dtype).kind != "f":
            return 0, 0
        n_nan, n_inf = dask.compute(da.isnan(z).sum(), da.isinf(z).sum())
        return int(n_nan), int(n_inf)

    def mean_logits(self):
        """The members' mean logits, lazily (as ``_MeanLogits`` in memory)."""
        weight = 1.0 / len(self.logits)
        out = self.logits[0].astype(np.float64) * weight
        for z in self.logits[1:]:
            out = out + z.astype(np.float64) * weight
        return out


class DaskObjective:
    """:class:`skduo._fit._objective.Objective` evaluated on the dask workers.

    ``kernel`` (:func:`skduo._fit._objective.fit_kernel`) is the workers' float32
    kernel: the compiled one where the client chose it and it loads there.
    """

    def __init__(self, members, y, sw, precise, factors, kernel="numpy"):
        self.members = members
        self.y = y
        self.sw = sw
        self.precise = precise
        self.resolution = 1e-14 if precise else 1e-9
        self.factors = factors
        self.kernel = kernel
        self.total = float(sw.sum())
        self.max_order = max_order(precise, len(members.logits))
        self.n_evaluations = 0

    def snap(self, weights):
        if self.precise:
            return weights
        return np.asarray(weights, dtype=np.float32).astype(np.float64)

    def __call__(self, weights, order=None):
        order = self.max_order if order is None else min(order, self.max_order)
        n_members = len(self.members.logits)
        packed = self.members._blockwise(
            _block_objective,
            self.y,
            self.sw,
            packed_size(order, n_members),
            weights=np.asarray(weights, dtype=np.float64),
            order=order,
            precision=np.float64 if self.precise else np.float32,
            factors=self.factors,
            kernel=self.kernel,
        )
        self.n_evaluations += 1
        return unpack_terms(packed, order, n_members, self.total)
