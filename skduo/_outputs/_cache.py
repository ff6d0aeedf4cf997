"""Reusing members' logits across fits, folds, scorers and grid candidates.

The estimators ask for a member's logits through :func:`cached_member_logits`
(fit and prediction alike). For torch members (skorch nets, also inside a
Pipeline or FrozenEstimator) whose input is an array or a tensor, the logits
are kept in :data:`LOGITS_CACHE`, an in-memory LRU store bounded in bytes,
keyed by

- a fingerprint of the member's contents (:func:`member_fingerprint`:
  parameters, buffers, settings, pipeline steps), computed on every call, so a
  member changed in any way (fine-tuned further, weights loaded, a step
  refitted) never meets its old logits;
- the kind of input (dtype and row shape) and the classes and response method
  asked for;
- one content digest per row (:func:`row_digests`), so that the row subsets of
  cross-validation folds, scorers and grid-search candidates find the rows
  computed before, and only new rows go through the member.

Other members (scikit-learn estimators are cheap to evaluate), inputs that
cannot be hashed by content (Datasets, lists, DataFrames) and calls with fewer
than ``min_rows`` rows (a prediction loop over single images would pay the
member's fingerprint, a few milliseconds for a resnet, on every call) are
computed every time; :func:`skduo.torch.precompute_logits` is the explicit
route for those. A Dataset wrapped in :class:`skduo.torch.IndexableDataset`
is keyed by a digest of the dataset and the rows' positions in it.

A member's fingerprint is recomputed at every call, but reuses what it can
check is unchanged: a tensor's digest while its bytes equal a private copy
(up to 512 MiB of copies, besides :attr:`LogitsCache.max_bytes`), a module's
and a class's while every object they hold is the same object. In a grid
search this makes the fingerprint of a resnet a few milliseconds, not tens.
"""

import sys
import threading
from collections import OrderedDict

import numpy as np

from skduo._outputs import _torch
from skduo._outputs._fingerprint import (
    Unhashable,
    clear_memos,
    member_fingerprint,
    row_digests,
)
from skduo._outputs._hooks import forward_hooks, warn_cache_off
from skduo._outputs._inputs import n_samples, take_rows
from skduo._outputs._member import member_logits

__all__ = ["LOGITS_CACHE", "LogitsCache", "cached_member_logits"]

#: Default bound of the cache: 1 GiB (e.g. 50,000 rows x 1,000 classes of
#: float32 logits of two members take 0.4 GB).
DEFAULT_MAX_BYTES = 1 << 30
#: Calls with fewer rows bypass the cache (its fixed cost is the fingerprint).
DEFAULT_MIN_ROWS = 2


#: Bytes each cached row costs besides its logits and its key: the
#: ``(block, index)`` pair and the index (the dict's table is counted whole).
_ROW_COST = sys.getsizeof((None, 0)) + sys.getsizeof(1 << 20)


class _Entry:
    """Cached rows of one (member, input kind, classes, method)."""

    __slots__ = ("announced", "blocks", "dict_bytes", "dtype", "n_bytes", "rows")

    def __init__(self, dtype):
        self.rows = {}  # row key -> (block, index)
        self.blocks = []
        # everything the entry holds: logits, row keys, pairs, the dict's table
        self.n_bytes = sys.getsizeof(self.rows)
        self.dict_bytes = self.n_bytes
        self.announced = False
        self.dtype = dtype  # of the logits as computed (rows are returned so)

    def add(self, row_keys, block):
        """Store the rows of ``block`` under new keys; returns the bytes added."""
        rows = self.rows
        added = block.nbytes
        for i, k in enumerate(row_keys):
            if k not in rows:
                rows[k] = (block, i)
                added += sys.getsizeof(k) + _ROW_COST
        self.blocks.append(block)
        dict_bytes = sys.getsizeof(rows)  # its hash table, as it grew
        added += dict_bytes - self.dict_bytes
        self.dict_bytes = dict_bytes
        self.n_bytes += added
        return added


def _compact(z):
    """float32 when that loses nothing (float32 nets), else a copy as it is."""
    z32 = z.astype(np.float32)
    return z32 if np.array_equal(z32, z) else np.array(z)


class LogitsCache:
    """An in-memory LRU store of members' logits rows, bounded in bytes.

    One process-wide instance, :data:`LOGITS_CACHE`, serves all estimators
    (re-exported as :data:`skduo.torch.logits_cache`). It is thread-safe.

    Parameters
    ----------
    max_bytes : int, default=1 GiB
        Upper bound on the bytes the cache holds: the logits, the row keys and
        the tables that map them; least recently used members' rows are
        dropped first. 0 disables the cache.
    min_rows : int, default=2
        Calls with fewer rows are computed without the cache (no hashing): a
        loop predicting one row at a time would pay a member's fingerprint
        (about as much as hashing its parameters) on every call.

    Attributes
    ----------
    hits, misses : int
        Rows served from the cache and rows computed, since the last
        :meth:`clear`.

    Examples
    --------
    >>> from skduo.torch import logits_cache
    >>> cache = type(logits_cache)(max_bytes=1 << 20)  # a private cache
    >>> cache.info()["n_bytes"], cache.max_bytes
    (0, 1048576)
    """

    def __init__(self, max_bytes=DEFAULT_MAX_BYTES, min_rows=DEFAULT_MIN_ROWS):
        self._lock = threading.RLock()
        self._entries = OrderedDict()
        self._n_bytes = 0
        self.max_bytes = max_bytes
        self.min_rows = int(min_rows)
        self.hits = 0
        self.misses = 0

    @property
    def max_bytes(self):
        """The bound in bytes (setting it evicts down to it; 0 disables)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"max_bytes must be >= 0; got {value}.")
        with self._lock:
            self._max_bytes = value
            self._evict()

    def clear(self):
        """Drop every cached row and reset the counters.

        The digests that member fingerprints reuse (copies of the members'
        tensors, see :data:`~skduo._outputs._fingerprint.TENSOR_MEMO`) are
        dropped too.
        """
        clear_memos()
        with self._lock:
            self._entries.clear()
            self._n_bytes = 0
            self.hits = 0
            self.misses = 0

    def info(self):
        """Counters: entries, rows, bytes, bound, row hits and misses.

        Returns
        -------
        dict
        """
        with self._lock:
            return {
                "n_entries": len(self._entries),
                "n_rows": sum(len(e.rows) for e in self._entries.values()),
                "n_bytes": self._n_bytes,
                "max_bytes": self._max_bytes,
                "min_rows": self.min_rows,
                "hits": self.hits,
                "misses": self.misses,
            }

    def _evict(self):
        while self._n_bytes > self._max_bytes and self._entries:
            _, entry = self._entries.popitem(last=False)
            self._n_bytes -= entry.n_bytes

    def lookup(self, key, row_keys):
        """``(found, rows)``: which rows are cached, and their logits.

        Parameters
        ----------
        key : hashable
            The entry key.
        row_keys : list of bytes
            One key per row.

        Returns
        -------
        found : ndarray of bool of shape (n_rows,)
        rows : ndarray of shape (n_found, n_classes) or None
            The cached logits of the found rows, in order, in the dtype they
            were computed in (None when no row is found).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return np.zeros(len(row_keys), dtype=bool), None
            self._entries.move_to_end(key)
            hits = [entry.rows.get(k) for k in row_keys]
            dtype = entry.dtype
        found = np.array([h is not None for h in hits], dtype=bool)
        if not found.any():
            return found, None
        rows = np.array(
            [block[i] for block, i in (h for h in hits if h is not None)], dtype=dtype
        )
        return found, rows

    def insert(self, key, row_keys, logits):
        """Store ``logits`` (one row per key) under ``key``, then evict to the bound.

        Parameters
        ----------
        key : hashable
            The entry key.
        row_keys : list of bytes
            One key per row of ``logits``.
        logits : ndarray of shape (n_rows, n_classes)
            The logits as computed.
        """
        logits = np.asarray(logits)
        block = _compact(logits)
        if block.nbytes + len(row_keys) * _ROW_COST > self._max_bytes:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(logits.dtype)
                self._n_bytes += entry.n_bytes
            self._entries.move_to_end(key)
            self._n_bytes += entry.add(row_keys, block)
            self._evict()

    def _count(self, hits, misses):
        with self._lock:
            self.hits += hits
            self.misses += misses


#: The process-wide cache used by the estimators.
LOGITS_CACHE = LogitsCache()


#: member_logits options that do not change the values it returns.
_NOT_IN_KEY = frozenset({"name", "verbose", "warn_saturation"})


def _cache_key(estimator, X, classes, options, name="member"):
    """``(entry key, row keys)``, or None when this call cannot be cached."""
    if LOGITS_CACHE.max_bytes == 0 or not _torch.is_torch_member(estimator):
        return None
    try:
        if n_samples(X) < LOGITS_CACHE.min_rows:
            return None
    except (TypeError, ValueError):
        return None
    try:
        kind, keys = row_digests(X)
    except Unhashable:
        return None
    try:
        member = member_fingerprint(estimator)
    except Unhashable:
        warn_cache_off(estimator, name, "unhashable")  # says so when hooks are why
        return None
    classes = np.asarray(classes)
    classes_key = (classes.dtype.str, tuple(classes.tolist()))
    options_key = tuple(sorted(options.items()))
    try:
        hash(options_key)
    except TypeError:  # an option that cannot be a key: compute
        return None
    return (member, kind, classes_key, options_key), keys


def _changed_by_hooks(estimator, fingerprint):
    """Whether a member with forward hooks changed over its forward pass."""
    if not forward_hooks(estimator)[1]:
        return False
    try:
        return member_fingerprint(estimator) != fingerprint
    except Unhashable:
        return True


def _announce_cached(key, name, n_rows):
    """With ``verbose``: say once per member entry that rows come from the cache.

    A progress bar per cached call would print dozens of lines during a grid
    search; one line per member says where the logits come from.
    """
    with LOGITS_CACHE._lock:
        entry = LOGITS_CACHE._entries.get(key)
        if entry is None or entry.announced:
            return
        entry.announced = True
    print(
        f"{name} logits: 100% of {n_rows} rows from the cache (further cached "
        "calls for this member are silent)",
        file=sys.stderr,
        flush=True,
    )


def cached_member_logits(estimator, X, classes, **kwargs):
    """:func:`~skduo._outputs._member.member_logits`, reusing cached torch rows.

    Rows of ``X`` already computed by the same member (same contents) for the
    same classes and method are taken from :data:`LOGITS_CACHE`; only the
    others go through the member, in one call. Members and inputs that cannot
    be fingerprinted are computed as :func:`member_logits` does.

    Parameters
    ----------
    estimator : object
        A fitted member.
    X : object
        Its input.
    classes : array-like of shape (n_classes,)
        The column order of the result.
    **kwargs
        Passed to :func:`member_logits` (``method``, ``name``, ``verbose``,
        ``warn_saturation``).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        The logits, equal to what :func:`member_logits` returns (its dtype
        included).
    """
    options = {k: v for k, v in kwargs.items() if k not in _NOT_IN_KEY}
    options.setdefault("method", "auto")
    keyed = _cache_key(estimator, X, classes, options, kwargs.get("name", "member"))
    if keyed is None:
        return member_logits(estimator, X, classes, **kwargs)
    key, row_keys = keyed
    found, rows = LOGITS_CACHE.lookup(key, row_keys)
    n = len(row_keys)
    if found.all():
        LOGITS_CACHE._count(n, 0)
        if kwargs.get("verbose"):
            _announce_cached(key, kwargs.get("name", "member"), n)
        return rows
    missing = np.flatnonzero(~found)
    X_missing = X if len(missing) == n else take_rows(X, missing)
    z_missing = member_logits(estimator, X_missing, classes, **kwargs)
    if _changed_by_hooks(estimator, key[0]):  # its rows would never be met again
        warn_cache_off(estimator, kwargs.get("name", "member"), "changes")
    else:
        LOGITS_CACHE.insert(key, [row_keys[i] for i in missing], z_missing)
    LOGITS_CACHE._count(n - len(missing), len(missing))
    if len(missing) == n:
        return z_missing
    out = np.empty((n, z_missing.shape[1]), dtype=z_missing.dtype)
    out[missing] = z_missing
    out[found] = rows
    return out
