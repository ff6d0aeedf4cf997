"""Content fingerprints for the logits cache: one digest per input row, one per member.

Both are computed from contents, never from identities or version counters
(an in-place write through ``tensor.data`` or a NumPy view changes neither),
so a changed member or a changed row gets a new key. Rows are hashed
independently, so a subset of rows (a cross-validation fold) finds the rows
already cached. torch is never imported here; tensors and modules are
recognised only once torch is already imported.

Costs (measured on a loaded 2-core machine, SHA-1 at ~0.9 GB/s per core,
hashed on a small thread pool): 1,000 images of 3 x 224 x 224 float32 (602 MB)
~0.4 s; a resnet50 ``state_dict`` (94 MB) ~0.1 s; a CPU forward pass of
resnet50 over the same images takes minutes, a GPU one about a second.

A member is fingerprinted at every call (model selection makes dozens), so
what can be reused across fingerprints is, and checked rather than trusted:
a tensor's SHA-1 is reused while its bytes equal a private copy taken when it
was hashed (:data:`TENSOR_MEMO`, bounded in bytes; comparing is about ten
times faster than hashing), and the digest of a class item (a method, a
class attribute) while the objects that decide it are the same objects
(identity, holding references: a replaced method, code object, default or
closure value is a miss). Torch modules are walked directly, their attribute
values encoded as tagged tuples and pickled once, instead of one nested
pickler per module.
"""

import concurrent.futures
import hashlib
import io
import itertools
import operator
import os
import pickle
import sys
import threading
import types
import typing
import weakref
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

__all__ = [
    "INPUT_MEMO",
    "TENSOR_MEMO",
    "ContentMemo",
    "clear_memos",
    "member_fingerprint",
    "row_digests",
]

#: Rows up to this many bytes are their own key (exact, no hashing).
_EXACT_ROW_BYTES = 64
#: Below this many bytes in all, hash in the calling thread.
_PARALLEL_BYTES = 1 << 22

_POOL = None
_POOL_LOCK = threading.Lock()


class Unhashable(Exception):
    """This object cannot be fingerprinted by content: do not cache it."""


def _after_fork_in_child():
    """A forked child has the pool object but none of its threads: start anew.

    (joblib's ``multiprocessing`` backend, a ``fork`` context: without this
    every fingerprint above :data:`_PARALLEL_BYTES` waited forever on the
    parent's dead workers.) The lock too: another thread may have held it
    at the fork.
    """
    global _POOL, _POOL_LOCK, _ITEM_LOCK
    _POOL, _POOL_LOCK, _ITEM_LOCK = None, threading.Lock(), threading.Lock()
    TENSOR_MEMO._lock = threading.Lock()
    INPUT_MEMO._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            workers = max(1, min(8, os.cpu_count() or 1))
            _POOL = concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix="skduo-hash"
            )
        return _POOL


def _sha1(buffer):
    return hashlib.sha1(buffer, usedforsecurity=False).digest()


def _sha1_all(buffers):
    return [_sha1(b) for b in buffers]


def _digests(buffers, total_bytes):
    """SHA-1 of each buffer (hashlib releases the GIL: a thread pool helps).

    In a few contiguous chunks, one task each: a thread pool's ``map`` makes a
    future per buffer whatever its ``chunksize`` (which only process pools
    read), and 1,000 rows of 12 KB took 2.7x as long that way as in one
    thread (measured on a loaded 2-core machine; in chunks: as long).
    """
    if total_bytes < _PARALLEL_BYTES or len(buffers) < 2:
        return _sha1_all(buffers)
    pool = _pool()
    step = -(-len(buffers) // (2 * pool._max_workers))
    chunks = [buffers[i : i + step] for i in range(0, len(buffers), step)]
    return [d for part in pool.map(_sha1_all, chunks) for d in part]


# -- rows --------------------------------------------------------------------


def _torch():
    return sys.modules.get("torch")


def _tensor_bytes(t):
    """The bytes of a dense tensor as a CPU uint8 array of shape (len(t), -1)."""
    if t.device.type == "cpu":
        try:  # the common case: a dense CPU tensor NumPy can read
            a = t.detach().numpy()
        except (RuntimeError, TypeError, ValueError):  # bfloat16, sparse...: below
            pass
        else:
            n = a.shape[0] if a.ndim else 1
            return np.ascontiguousarray(a).reshape(n, -1).view(np.uint8)
    torch = _torch()
    if t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        raise Unhashable(f"tensor of layout {t.layout} on {t.device}")
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    n = t.shape[0] if t.ndim else 1
    t = t.contiguous().reshape(-1)
    if t.dtype != torch.uint8:
        t = t.view(torch.uint8)  # any dtype, bfloat16 and float8 included
    return t.numpy().reshape(n, -1)


def _array_rows(X):
    """``(kind, rows)``: the array's dtype/row shape and a 2-D uint8 row view."""
    torch = _torch()
    if torch is not None and isinstance(X, torch.Tensor):
        if X.ndim == 0:
            raise Unhashable("0-d tensor")
        return ("tensor", str(X.dtype), tuple(X.shape[1:])), _tensor_bytes(X)
    if isinstance(X, np.ndarray) and X.dtype != object and X.dtype.kind != "V":
        if X.ndim == 0:
            raise Unhashable("0-d array")
        rows = np.ascontiguousarray(X).reshape(X.shape[0], -1)
        return ("ndarray", X.dtype.str, X.shape[1:]), rows.view(np.uint8)
    raise Unhashable(type(X).__name__)


def row_digests(X):
    """A key per row of ``X`` (its content) and a key for the kind of input.

    Parameters
    ----------
    X : ndarray, tensor or dict of them
        An input whose rows can be hashed. A row of up to 64 bytes is its own
        key; longer rows get their SHA-1 digest.

    Returns
    -------
    kind : tuple
        Container type, dtype and row shape (part of the cache key: equal bytes
        of different dtypes or shapes never meet).
    digests : list of bytes
        One key per row.

    Raises
    ------
    Unhashable
        For inputs that cannot be hashed by content (lists, DataFrames,
        Datasets, object arrays, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from skduo._outputs._fingerprint import row_digests
    >>> kind, keys = row_digests(np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]]))
    >>> kind, keys[0] == keys[2], keys[0] == keys[1]
    (('ndarray', '<f8', (2,)), True, False)
    """
    own = getattr(type(X), "_skduo_row_digests", None)
    if own is not None:  # skduo.torch.IndexableDataset: dataset digest, positions
        return own(X)
    if isinstance(X, Mapping):
        if not X or not all(isinstance(k, str) for k in X):
            raise Unhashable("dict")
        parts = [(k, *_array_rows(X[k])) for k in sorted(X)]
        n = {rows.shape[0] for _, _, rows in parts}
        if len(n) != 1:
            raise Unhashable("dict of arrays of different lengths")
        kind = ("dict", tuple((k, kind) for k, kind, _ in parts))
        per_key = [_row_keys(rows) for _, _, rows in parts]
        return kind, [b"".join(keys) for keys in zip(*per_key)]
    kind, rows = _array_rows(X)
    if rows.shape[1] <= _EXACT_ROW_BYTES:
        return kind, _row_keys(rows)
    data = rows.reshape(-1)
    keys = INPUT_MEMO.get(X, data, kind)
    if keys is None:
        keys = _row_keys(rows)
        INPUT_MEMO.put(X, data, keys, kind)
    return kind, keys


def _row_keys(rows):
    n, width = rows.shape
    if width <= _EXACT_ROW_BYTES:
        return [bytes(r) for r in rows] if width else [b""] * n
    return _digests(list(rows), rows.nbytes)


# -- members -----------------------------------------------------------------


def _code_key(code):
    """A code object's behaviour as plain values, nested code objects included.

    Not ``marshal.dumps(code)``: marshal flags an object that has more than
    one reference, so its bytes change while another thread runs the same
    function (a method of a torch module's class, during a forward pass).
    """
    consts = tuple(
        _code_key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return (
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_flags,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
    )


def _code_digest(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return b""
    return _sha1(pickle.dumps(_code_key(code), protocol=4))


#: Types pickled as they are (the common case, checked first).
_PLAIN = frozenset(
    {str, bytes, int, float, bool, complex, type(None), tuple, list, dict, set}
)


class _Pickler(pickle.Pickler):
    """Pickles an object's state with tensors, arrays and modules by content.

    Everything that can change a member's outputs enters the bytes: tensors and
    arrays as digests of their contents, torch modules as their state without
    the ``training`` flag (inference always runs in eval mode), skorch nets as
    their inference-relevant parameters and modules, functions by identity,
    name, code, defaults and closure. Anything else is pickled as usual; an
    object that cannot be pickled makes the whole member unhashable.
    """

    def __init__(self, file, tensors):
        super().__init__(file, protocol=4)
        self._tensors = tensors
        self._torch = _torch()
        self._net_class = _skorch_net_class()

    def persistent_id(self, obj):
        if type(obj) in _PLAIN:
            return None
        torch = self._torch
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                return None
            rows = np.ascontiguousarray(obj).reshape(-1).view(np.uint8)
            return ("ndarray", obj.dtype.str, obj.shape, _sha1(rows))
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                return ("tensor", self._tensors.digest(obj))
            if isinstance(obj, torch.nn.Module):
                # the module's tree of plain values, pickled in one C call
                tree = self._tensors.module_key(obj, self)
                return ("module", _ModuleState.tree_digest(obj, tree))
        net_class = self._net_class
        if net_class is not None and isinstance(obj, net_class):
            return ("skorch-net", _net_digest(obj, self))
        if isinstance(obj, (types.FunctionType, types.LambdaType)):
            extras = (obj.__defaults__, obj.__kwdefaults__)
            cells = tuple(c.cell_contents for c in (obj.__closure__ or ()))
            return (
                "function",
                obj.__module__,
                obj.__qualname__,
                id(obj),
                _code_digest(obj),
                _state_digest((extras, cells), self),
            )
        if isinstance(obj, types.MethodType):
            return ("method", id(obj.__self__), _state_digest(obj.__func__, self))
        if isinstance(obj, type):
            # by name and identity: a class defined in a function or a test
            # module cannot be pickled by reference, and need not be
            return ("type", _qualname(obj), id(obj))
        return None


def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _state_digest(obj, parent=None):
    """SHA-1 of ``obj`` pickled by :class:`_Pickler`."""
    buffer = io.BytesIO()
    tensors = parent._tensors if parent is not None else _TensorDigests()
    try:
        _Pickler(buffer, tensors).dump(obj)
    except Unhashable:
        raise
    except RecursionError as exc:
        raise Unhashable("recursive state") from exc
    except Exception as exc:  # anything unpicklable: do not cache
        raise Unhashable(f"{type(exc).__name__}: {exc}") from exc
    return _sha1(buffer.getbuffer())


def _class_items(cls):
    """What of one class (not its bases) can decide its instances' outputs.

    Methods (``forward``, ``__call__``...) as functions (identity, code,
    defaults, closure), class attributes by value; other dunder entries
    (``__doc__``, ``__dict__``...) are not behaviour.
    """
    items = []
    for name, value in vars(cls).items():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = (value.fget, value.fset, value.fdel)
        dunder = name.startswith("__") and name.endswith("__")
        if dunder and not isinstance(value, types.FunctionType):
            continue
        items.append((name, value))
    return items


#: Types whose values are immutable and pickled as they are.
_SCALARS = frozenset({str, bytes, int, float, bool, complex, type(None)})


def _encode(value, pickler):
    """A module attribute as plain values: tagged tuples, pickled once.

    Scalars are themselves; containers, tensors and modules are tuples
    starting with a tag (so no two kinds of value meet); anything else is
    the digest of its pickle by :class:`_Pickler`.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is OrderedDict:
        tag = "d" if kind is dict else "o"
        if not value:  # the hook dicts of most modules
            return (tag,)
        scalars, enc = _SCALARS, _encode
        return (
            tag,
            *[
                (
                    k if type(k) in scalars else enc(k, pickler),
                    v if type(v) in scalars else enc(v, pickler),
                )
                for k, v in value.items()
            ],
        )
    if kind is tuple or kind is list:
        scalars, enc = _SCALARS, _encode
        return (
            "t" if kind is tuple else "l",
            *[v if type(v) in scalars else enc(v, pickler) for v in value],
        )
    if (kind is set or kind is frozenset) and all(type(v) is str for v in value):
        # (a module's _non_persistent_buffers_set): sorted, so no insertion order
        return ("s" if kind is set else "f", *sorted(value))
    torch = pickler._torch
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return ("T", _qualname(kind), pickler._tensors.digest(value))
        if isinstance(value, torch.nn.Module):
            return ("M", *pickler._tensors.module_key(value, pickler))
    return ("P", _state_digest(value, pickler))


class _TensorDigests:
    """Per-fingerprint memo: tensors by content (each hashed once), classes."""

    def __init__(self):
        self._done = {}
        self._classes = {}
        self._modules = {}

    def module_key(self, module, pickler):
        """A torch module's class digest and state (less ``training``).

        Its attributes are walked here (:func:`_encode`), not pickled one
        nested pickler per module; each module once per fingerprint. The
        tree of a module whose attributes, containers, tensors' bytes,
        children and class are all unchanged since its last fingerprint is
        the one built then (:class:`_ModuleState`).
        """
        key = id(module)
        done = self._modules.get(key)
        if done is None:
            self._modules[key] = False  # being walked: a cycle is unhashable
            class_digest = self.class_digest(type(module), pickler)
            state = _MODULE_STATES.get(key)
            if state is not None and state.unchanged(module, class_digest, pickler):
                done = state.tree
            else:
                scalars = _SCALARS
                attributes = tuple(
                    (k, v if type(v) in scalars else _encode(v, pickler))
                    for k, v in vars(module).items()
                    if k != "training"
                )
                # children inline: the whole tree is pickled once, at the top
                done = ("module", _qualname(type(module)), class_digest, attributes)
                _ModuleState.watch(module, class_digest, done, pickler)
            self._modules[key] = done
        elif done is False:
            raise Unhashable("a module that contains itself")
        return done

    def class_digest(self, cls, pickler):
        """Digest of a module class's code and class attributes, and its bases'.

        A method replaced on the class, or a class attribute read in
        ``forward``, changes the outputs of every instance without changing
        the instance's state. Each class (``nn.Module`` too) is read once per
        fingerprint; each of its items' digests is reused across fingerprints
        while the objects that decide it are the same (:func:`_item_digest`).
        """
        parts = []
        for base in cls.__mro__[:-1]:  # below object
            key = id(base)
            if key not in self._classes:
                self._classes[key] = _class_digest(base, pickler)
            parts.append(self._classes[key])
        return b"".join(parts)

    def digest(self, t):
        key = id(t)
        if key not in self._done:
            data = _tensor_bytes(t).reshape(-1)
            sha = TENSOR_MEMO.get(t, data)
            if sha is None:
                sha = _sha1(data)
                TENSOR_MEMO.put(t, data, sha)
            self._done[key] = (str(t.dtype), tuple(t.shape), t.device.type, sha)
        return self._done[key]

    def prefetch(self, tensors):
        """Hash many tensors at once (on the thread pool), reusing unchanged ones."""
        todo = {id(t): t for t in tensors if id(t) not in self._done}
        arrays = []
        for k, t in todo.items():
            data = _tensor_bytes(t).reshape(-1)
            sha = TENSOR_MEMO.get(t, data)
            if sha is None:
                arrays.append((k, t, data))
            else:
                self._done[k] = (str(t.dtype), tuple(t.shape), t.device.type, sha)
        buffers = [a for _, _, a in arrays]
        digests = _digests(buffers, sum(b.nbytes for b in buffers))
        for (k, t, data), d in zip(arrays, digests):
            TENSOR_MEMO.put(t, data, d)
            self._done[k] = (str(t.dtype), tuple(t.shape), t.device.type, d)


# -- what is reused across fingerprints --------------------------------------

#: Default bound of :data:`TENSOR_MEMO`'s copies (a resnet50 and a resnet18
#: take 0.14 GB; a larger member is hashed at every fingerprint instead).
DEFAULT_MEMO_BYTES = 1 << 29
#: Default bound of :data:`INPUT_MEMO`'s copies (larger inputs are hashed at
#: every call).
DEFAULT_INPUT_MEMO_BYTES = 1 << 28
#: Smaller tensors are hashed at every fingerprint (as fast as comparing).
_MEMO_MIN_BYTES = 1 << 15
#: Compare copies in blocks of this many bytes (no large temporary).
_COMPARE_BLOCK = 1 << 22


def _same_bytes(a, b):
    """Whether two 1-D uint8 arrays hold the same bytes (exact, blockwise)."""
    if a.shape != b.shape:
        return False
    n = a.shape[0]
    n8 = n - n % 8
    for start in range(0, n8, _COMPARE_BLOCK):
        stop = min(start + _COMPARE_BLOCK, n8)
        # as 64-bit integers: exact bytes, 8 at a time (no float -0.0 == 0.0)
        if not np.equal(
            a[start:stop].view(np.uint64), b[start:stop].view(np.uint64)
        ).all():
            return False
    return n8 == n or bool(np.equal(a[n8:], b[n8:]).all())


class _MemoEntry:
    __slots__ = ("copy", "extra", "ref", "value")

    def __init__(self, ref, copy, value, extra):
        self.ref, self.copy, self.value, self.extra = ref, copy, value, extra


class ContentMemo:
    """Digests of objects' bytes, reused while the bytes are unchanged.

    Each entry keeps a weak reference to the object (a tensor, an input array)
    and a private copy of the bytes that were hashed; a digest is reused only
    when the object is the same object and its current bytes equal the copy,
    so a change made in any way (an optimizer step, ``load_state_dict``, an
    in-place write through ``.data`` or a NumPy view, which move no version
    counter) is hashed anew. Comparing is about ten times faster than SHA-1.
    The copies are bounded, least recently used dropped first.

    Parameters
    ----------
    max_bytes : int
        Bound on the bytes of the copies; 0 keeps none.
    min_bytes : int, default=0
        Smaller objects are not kept (hashing them costs no more).
    max_entries : int, default=None
        Bound on the number of entries.
    """

    def __init__(self, max_bytes, min_bytes=0, max_entries=None):
        self._lock = threading.Lock()
        self._entries = OrderedDict()  # id(object) -> _MemoEntry
        self.n_bytes = 0
        self.max_bytes = int(max_bytes)
        self.min_bytes = int(min_bytes)
        self.max_entries = max_entries

    def clear(self):
        """Drop every copy."""
        with self._lock:
            self._entries.clear()
            self.n_bytes = 0

    def get(self, obj, data, extra=None):
        """The value kept for ``data`` (the bytes of ``obj``) if they are unchanged.

        ``extra`` (e.g. the dtype and shape the bytes stand for) must be equal
        to the one kept with them.
        """
        if data.nbytes < self.min_bytes:
            return None
        with self._lock:
            entry = self._entries.get(id(obj))
            if entry is None or entry.ref() is not obj or entry.extra != extra:
                return None
            self._entries.move_to_end(id(obj))
        return entry.value if _same_bytes(entry.copy, data) else None

    def put(self, obj, data, value, extra=None):
        """Keep ``value`` for ``data``, the current bytes of ``obj``."""
        if not self.min_bytes <= data.nbytes <= self.max_bytes:
            return
        try:
            ref = weakref.ref(obj)
        except TypeError:  # not weakly referenceable: its id could be reused
            return
        copy = np.array(data)  # a private copy: the object may change later
        copy.flags.writeable = False
        with self._lock:
            old = self._entries.pop(id(obj), None)
            if old is not None:
                self.n_bytes -= old.copy.nbytes
            self._entries[id(obj)] = _MemoEntry(ref, copy, value, extra)
            self.n_bytes += copy.nbytes
            self._prune()

    def _prune(self):
        for key in [k for k, e in self._entries.items() if e.ref() is None]:
            self.n_bytes -= self._entries.pop(key).copy.nbytes
        max_entries = self.max_entries or len(self._entries)
        while self._entries and (
            self.n_bytes > self.max_bytes or len(self._entries) > max_entries
        ):
            _, entry = self._entries.popitem(last=False)
            self.n_bytes -= entry.copy.nbytes


#: The process-wide memo of member tensors' digests.
TENSOR_MEMO = ContentMemo(DEFAULT_MEMO_BYTES, min_bytes=_MEMO_MIN_BYTES)
#: The row keys of the last few inputs: the members of a duo, and a scorer's
#: ``predict_proba`` and ``predict``, hash the same array once, not each time.
INPUT_MEMO = ContentMemo(DEFAULT_INPUT_MEMO_BYTES, max_entries=4)


def clear_memos():
    """Forget every digest kept across fingerprints (tensors, classes, modules)."""
    TENSOR_MEMO.clear()
    INPUT_MEMO.clear()
    with _ITEM_LOCK:
        _ITEMS.clear()
    _MODULE_STATES.clear()
    _CLASS_STATES.clear()


#: Digests of class items, keyed by the ids of their stamp's objects (held in
#: the entry, so no other object can take those ids while it exists).
_ITEMS = {}
_ITEM_LOCK = threading.Lock()
#: Dropped whole beyond this many (replaced methods are held until then).
_MAX_ITEMS = 50_000


def _stamp(value, out):
    """Append to ``out`` the objects whose identities decide ``value``'s digest.

    Returns False when ``value`` (or something it holds) may change in place
    without any of those objects changing (a list, a dict, an instance):
    then its digest is computed at every fingerprint.
    """
    kind = type(value)
    if kind in _SCALARS or kind is types.CodeType or kind is types.BuiltinFunctionType:
        out.append(value)
        return True
    if kind is tuple or kind is frozenset:  # by contents (a property's getters
        out.append(kind)  # are a new tuple at every call)
        out.append(len(value))
        return all(_stamp(v, out) for v in value)
    if kind is type:
        out.extend((value, value.__module__, value.__qualname__))
        return True
    if kind is types.FunctionType:
        kw = value.__kwdefaults__
        cells = value.__closure__ or ()
        out.extend((value, value.__code__, value.__module__, value.__qualname__, kw))
        if not _stamp(value.__defaults__, out):
            return False
        if kw is not None:
            out.append(len(kw))
            for k, v in kw.items():
                out.append(k)
                if not _stamp(v, out):
                    return False
        out.append(value.__closure__)
        for cell in cells:
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                return False
            if not _stamp(contents, out):
                return False
        return True
    return False


#: Containers a module's state may hold (rechecked item by item).
_CONTAINERS = frozenset({dict, OrderedDict, list, set})
#: The last state of each module fingerprinted (by id), while it lives.
_MODULE_STATES = {}


def _keep_while_alive(registry, obj, state):
    """Keep ``state`` in ``registry`` under ``id(obj)`` while ``obj`` lives.

    ``state.ref`` becomes a weak reference whose callback removes the entry
    (only its own: the id may have been reused by a newer object).
    """
    key = id(obj)

    def forget(ref, key=key):
        found = registry.get(key)
        if found is not None and found.ref is ref:
            registry.pop(key, None)

    state.ref = weakref.ref(obj, forget)
    registry[key] = state


def _container_check(value):
    """``(container, keys, ids)`` to recheck a container, or None if it cannot be.

    Its items must be scalars, deeply immutable tuples, tensors or modules
    (a hook function, a nested list...: the module is walked every time).
    """
    kind = type(value)
    if kind is dict or kind is OrderedDict:
        items = value.values()
        if not all(type(k) is str for k in value):
            return None
    elif kind is list:
        items = value
    elif kind is set and all(type(v) is str for v in value):
        return (value, frozenset(value), None)
    else:
        return None
    if not all(_held_by_identity(v) for v in items):
        return None
    keys = tuple(value) if kind is not list else None
    return (value, keys, tuple(map(id, items)))


def _held_by_identity(value):
    """Whether the same object means the same digest (or is rechecked)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is tuple:  # of scalars only (a function in it may change in place)
        return _immutable(value)
    torch = _torch()
    return torch is not None and isinstance(value, (torch.Tensor, torch.nn.Module))


class _ModuleState:
    """What a module's tree was built from, every object held by identity.

    Holding them keeps their ids from being reused, so the same ids mean the
    same objects; scalars and tuples cannot change in place, containers are
    rechecked item by item, tensors by their bytes (:data:`TENSOR_MEMO`),
    children by their own state; anything else (a hook function, a list of
    dicts...) is encoded again and compared. Dropped when the module is
    collected.
    """

    __slots__ = (
        "checks",
        "children",
        "empties",
        "class_digest",
        "ids",
        "keys",
        "others",
        "ref",
        "tensors",
        "tree",
        "tree_sha",
        "values",
    )

    @classmethod
    def watch(cls, module, class_digest, tree, pickler):
        """Record ``module``'s state, as its tree was just built from it."""
        torch = _torch()
        digests = pickler._tensors
        d = vars(module)
        checks, empties, tensors, children, others = [], [], [], [], []
        for v in d.values():
            if _held_by_identity(v):
                items = (v,)
            elif type(v) in _CONTAINERS and not v:
                empties.append(v)  # most hook dicts: one len() each to recheck
                continue
            else:
                check = _container_check(v)
                if check is None:
                    others.append((v, pickle.dumps(_encode(v, pickler), protocol=4)))
                    continue
                checks.append(check)
                items = v.values() if isinstance(v, dict) else v
            for x in items:
                if isinstance(x, torch.Tensor):
                    tensors.append((x, digests.digest(x)))
                elif isinstance(x, torch.nn.Module):
                    children.append((x, digests._modules[id(x)]))
        self = cls()
        self.keys, self.values = tuple(d), tuple(d.values())
        self.ids = tuple(map(id, self.values))
        self.checks, self.empties = checks, empties
        self.tensors, self.children, self.others = tensors, children, others
        self.class_digest, self.tree, self.tree_sha = class_digest, tree, None
        _keep_while_alive(_MODULE_STATES, module, self)

    def unchanged(self, module, class_digest, pickler):
        """Whether ``module`` is in the state recorded (exactly)."""
        if self.ref() is not module or self.class_digest != class_digest:
            return False
        d = vars(module)
        if tuple(d) != self.keys or tuple(map(id, d.values())) != self.ids:
            return False
        if any(map(len, self.empties)):
            return False
        for container, keys, ids in self.checks:
            if ids is None:
                if container != keys:  # a set of names, by value
                    return False
            elif keys is None:
                if tuple(map(id, container)) != ids:
                    return False
            elif tuple(container) != keys or tuple(map(id, container.values())) != ids:
                return False
        digests = pickler._tensors
        for t, digest in self.tensors:
            if digests.digest(t) != digest:
                return False
        for value, encoded in self.others:
            if pickle.dumps(_encode(value, pickler), protocol=4) != encoded:
                return False
        return all(
            digests.module_key(child, pickler) is tree for child, tree in self.children
        )

    @staticmethod
    def tree_digest(module, tree):
        """SHA-1 of a module's pickled tree (kept while the tree is reused)."""
        state = _MODULE_STATES.get(id(module))
        if state is not None and state.tree is tree and state.tree_sha is not None:
            return state.tree_sha
        sha = _sha1(pickle.dumps(tree, protocol=4))
        if state is not None and state.tree is tree:
            state.tree_sha = sha
        return sha


#: What decides a plain function's digest, besides itself (by identity).
_FUNCTION_PARTS = operator.attrgetter(
    "__code__", "__defaults__", "__kwdefaults__", "__module__", "__qualname__"
)
#: The last state of each class digested (by id), while it lives.
_CLASS_STATES = {}


def _immutable(value):
    """Scalars, code, and tuples of them: the same object, the same value.

    A ``TypeVar`` counts as one (``nn.Module.T_destination``): its digest is
    its name, and it decides no output.
    """
    kind = type(value)
    if kind in _SCALARS or kind is types.CodeType or kind is typing.TypeVar:
        return True
    return (kind is tuple or kind is frozenset) and all(map(_immutable, value))


def _plain_function(value):
    """A function whose digest only its identity and its parts decide.

    Its closure may hold immutable values and classes (the ``__class__`` cell
    of every method that calls ``super()``): the cells' contents are parts.
    """
    if type(value) is not types.FunctionType or value.__kwdefaults__ is not None:
        return False
    if not _immutable(value.__defaults__):
        return False
    try:
        contents = [c.cell_contents for c in value.__closure__ or ()]
    except ValueError:  # an empty cell
        return False
    return all(type(c) is type or _immutable(c) for c in contents)


_CELL_CONTENTS = operator.attrgetter("cell_contents")
_TYPE_NAMES = operator.attrgetter("__module__", "__qualname__")


def _function_parts(functions):
    """The objects whose identities decide plain functions' digests."""
    cells = [c for f in functions for c in f.__closure__ or ()]
    try:
        contents = list(map(_CELL_CONTENTS, cells))
    except ValueError:  # a cell emptied since: changed
        return None
    names = [n for c in contents if type(c) is type for n in _TYPE_NAMES(c)]
    parts = itertools.chain.from_iterable(map(_FUNCTION_PARTS, functions))
    return (*parts, *contents, *names)


class _ClassState:
    """What a class's digest was computed from, every object held by identity.

    Rechecked in a few C-level passes: the class's own dict (names and
    values by identity), then its plain functions' code, defaults, names
    (by identity); the other items (a function with a closure, a TypeVar...)
    are digested again (:func:`_item_digest`) and compared.
    """

    __slots__ = (
        "digest",
        "functions",
        "ids",
        "keys",
        "other_digests",
        "others",
        "part_ids",
        "parts",
        "qualname",
        "ref",
        "values",
    )

    @classmethod
    def watch(cls, klass, items, digests, digest):
        functions, others, other_digests = [], [], []
        for (_, value), (_, item_digest) in zip(items, digests):
            if _plain_function(value):
                functions.append(value)
            elif type(value) is tuple and all(  # a property's getters
                v is None or _plain_function(v) for v in value
            ):
                functions.extend(v for v in value if v is not None)
            elif type(value) not in _SCALARS:
                others.append(value)
                other_digests.append(item_digest)
        self = cls()
        d = vars(klass)
        self.keys, self.values = tuple(d), tuple(d.values())
        self.ids = tuple(map(id, self.values))
        self.functions = functions
        self.parts = _function_parts(functions)
        self.part_ids = tuple(map(id, self.parts))
        self.others, self.other_digests = others, other_digests
        self.qualname, self.digest = klass.__qualname__, digest
        _keep_while_alive(_CLASS_STATES, klass, self)

    def unchanged(self, klass, pickler):
        """Whether ``klass`` is in the state recorded (exactly)."""
        d = vars(klass)
        return (
            self.ref() is klass
            and klass.__qualname__ is self.qualname
            and tuple(d) == self.keys
            and tuple(map(id, d.values())) == self.ids
            and tuple(map(id, _function_parts(self.functions) or ())) == self.part_ids
            and all(
                _item_digest(v, pickler) == digest
                for v, digest in zip(self.others, self.other_digests)
            )
        )


def _class_digest(cls, pickler):
    """One class's digest (its own items), reused while it is unchanged."""
    state = _CLASS_STATES.get(id(cls))
    if state is not None and state.unchanged(cls, pickler):
        return state.digest
    items = _class_items(cls)
    digests = [(name, _item_digest(value, pickler)) for name, value in items]
    digest = _sha1(pickle.dumps([_qualname(cls), id(cls), *digests], protocol=4))
    if type(cls) is type or isinstance(cls, type):
        _ClassState.watch(cls, items, digests, digest)
    return digest


def _remember(key, stamp, digest):
    with _ITEM_LOCK:
        if len(_ITEMS) >= _MAX_ITEMS:
            _ITEMS.clear()
        _ITEMS[key] = (stamp, digest)


def _item_digest(value, pickler):
    """The digest of a class item, reused while its stamp is the same."""
    stamp = []
    key = None
    if _stamp(value, stamp):
        key = tuple(map(id, stamp))
        with _ITEM_LOCK:
            memo = _ITEMS.get(key)
        if memo is not None:
            return memo[1]
    try:
        digest = _state_digest(value, pickler)
    except Unhashable:  # a TypeVar, a descriptor...: by identity
        return (_qualname(type(value)), id(value))
    if key is not None:
        _remember(key, stamp, digest)
    return digest


def _skorch_net_class():
    if "skorch" not in sys.modules:
        return None
    from skorch import NeuralNet

    return NeuralNet


#: skorch parameters that only matter for training, never for the outputs.
_TRAINING_ONLY = ("callbacks", "optimizer", "iterator_train", "train_split")
_TRAINING_ONLY_EXACT = {"lr", "max_epochs", "warm_start", "verbose", "history"}


def _net_digest(net, pickler):
    """What decides a skorch net's outputs: its modules and inference settings."""
    torch = _torch()
    params = {}
    for key, value in net.get_params(deep=False).items():
        if key in _TRAINING_ONLY_EXACT or key.startswith(_TRAINING_ONLY):
            continue
        if key == "module" and isinstance(value, torch.nn.Module):
            continue  # the fitted module_ below holds it
        params[key] = value
    modules = {}
    for name in list(getattr(net, "_modules", ["module"])) + list(
        getattr(net, "_criteria", [])
    ):
        modules[name] = getattr(net, name + "_", None)
    try:
        classes = getattr(net, "classes_", None)
    except Exception:  # noqa: BLE001 - skorch raises when it has none
        classes = None
    tensors = [
        t
        for m in modules.values()
        if isinstance(m, torch.nn.Module)
        for sub in m.modules()  # one walk (parameters() and buffers() walk twice)
        for d in (sub._parameters, sub._buffers)
        for t in d.values()
        if t is not None
    ]
    pickler._tensors.prefetch(tensors)
    return _state_digest((_qualname(type(net)), params, modules, classes), pickler)


#: torch's module-global hooks that run in every module's forward.
_GLOBAL_FORWARD_HOOKS = (
    "_global_forward_pre_hooks",
    "_global_forward_hooks",
    "_global_forward_hooks_with_kwargs",
    "_global_forward_hooks_always_called",
)


def _global_forward_hooks():
    """torch's global forward hooks (``register_module_forward_hook``...), or None.

    They change every module's outputs without changing any module, so they
    enter every fingerprint (as functions: identity, code, closure; a hook
    that cannot be fingerprinted makes every member unhashable).
    """
    torch = _torch()
    if torch is None:
        return None
    module = torch.nn.modules.module
    return [dict(getattr(module, name, {})) for name in _GLOBAL_FORWARD_HOOKS]


def member_fingerprint(estimator):
    """A digest of everything that decides a member's outputs.

    Parameters
    ----------
    estimator : object
        A member (a skorch net, a Pipeline ending in one, a FrozenEstimator...).

    Returns
    -------
    bytes
        20 bytes; equal for members that compute the same outputs (same
        parameters, buffers, settings and steps), different when anything of
        that changes.

    Raises
    ------
    Unhashable
        When part of the member cannot be fingerprinted (then do not cache).

    Notes
    -----
    Functions (in pipelines, transforms, hooks) enter by identity, name, code,
    defaults and closure values, not by the global variables they read; so do
    the methods of a torch module's class and its bases (class attributes by
    value) and torch's global forward hooks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skduo._outputs._fingerprint import member_fingerprint
    >>> a = StandardScaler().fit(np.array([[0.0], [2.0]]))
    >>> b = StandardScaler().fit(np.array([[0.0], [4.0]]))
    >>> member_fingerprint(a) == member_fingerprint(b)
    False
    """
    return _state_digest((estimator, _global_forward_hooks()))
