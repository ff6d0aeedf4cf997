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
"""

import concurrent.futures
import hashlib
import io
import os
import pickle
import sys
import threading
import types
from collections.abc import Mapping

import numpy as np

__all__ = ["member_fingerprint", "row_digests"]

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
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


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


def _digests(buffers, total_bytes):
    """SHA-1 of each buffer (hashlib releases the GIL: a thread pool helps)."""
    if total_bytes < _PARALLEL_BYTES or len(buffers) < 2:
        return [_sha1(b) for b in buffers]
    return list(_pool().map(_sha1, buffers, chunksize=max(1, len(buffers) // 64)))


# -- rows --------------------------------------------------------------------


def _torch():
    return sys.modules.get("torch")


def _tensor_bytes(t):
    """The bytes of a dense tensor as a CPU uint8 array of shape (len(t), -1)."""
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
    return kind, _row_keys(rows)


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
                state = {k: v for k, v in vars(obj).items() if k != "training"}
                return (
                    "module",
                    _qualname(type(obj)),
                    self._tensors.class_digest(type(obj), self),
                    _state_digest(state, self),
                )
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


class _TensorDigests:
    """Per-fingerprint memo: tensors by content (each hashed once), classes."""

    def __init__(self):
        self._done = {}
        self._classes = {}

    def class_digest(self, cls, pickler):
        """Digest of a module class's code and class attributes, and its bases'.

        A method replaced on the class, or a class attribute read in
        ``forward``, changes the outputs of every instance without changing
        the instance's state. Each class (``nn.Module`` too) is read once per
        fingerprint.
        """
        parts = []
        for base in cls.__mro__[:-1]:  # below object
            key = id(base)
            if key not in self._classes:
                items = [_qualname(base), key]
                for name, value in _class_items(base):
                    try:
                        value = _state_digest(value, pickler)
                    except Unhashable:  # a TypeVar, a descriptor...: by identity
                        value = (_qualname(type(value)), id(value))
                    items.append((name, value))
                self._classes[key] = _sha1(pickle.dumps(items, protocol=4))
            parts.append(self._classes[key])
        return b"".join(parts)

    def digest(self, t):
        key = id(t)
        if key not in self._done:
            data = _tensor_bytes(t).reshape(-1)
            self._done[key] = (str(t.dtype), tuple(t.shape), t.device.type, _sha1(data))
        return self._done[key]

    def prefetch(self, tensors):
        """Hash many tensors at once (on the thread pool)."""
        todo = {id(t): t for t in tensors if id(t) not in self._done}
        arrays = [(k, t, _tensor_bytes(t).reshape(-1)) for k, t in todo.items()]
        buffers = [a for _, _, a in arrays]
        digests = _digests(buffers, sum(b.nbytes for b in buffers))
        for (k, t, _), d in zip(arrays, digests):
            self._done[k] = (str(t.dtype), tuple(t.shape), t.device.type, d)


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
        for t in (*m.parameters(), *m.buffers())
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
