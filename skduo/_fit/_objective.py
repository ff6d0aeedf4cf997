"""The weight fit's objective, evaluated in row chunks.

For member logits ``z_m`` of shape ``(n, K)``, labels ``y`` and non-negative
sample weights ``s``, :class:`Objective` evaluates

    L(w) = sum_i s_i [logsumexp_k(c[i, k]) - c[i, y_i]] / sum_i s_i,
    c = sum_m w_m f_m z_m

and its gradient, Hessian and (in float32) third derivatives in ``w``, where
``f_m`` is a power of two that normalises a member of extreme scale (1 for
every usual member; exact, so it only changes the units of ``w_m``). No
``n x K`` temporary is made: rows are processed in chunks of at most
:data:`skduo._fit._kernel._CHUNK_ELEMENTS` elements by one kernel,
:func:`skduo._fit._kernel._chunk_terms`, whose
per-chunk terms (a loss, ``M`` gradient entries, an ``M x M`` Hessian, ``M^3``
third derivatives) are summed in chunk order, so the result does not depend on
thread timing. The distributed fit (:mod:`skduo._fit._dask`) maps the same kernel
over the blocks of dask arrays (:func:`block_terms`) and sums the same packed
terms in a tree.

The rounding errors of both precisions, and why only a float64 value certifies
a fit, are stated in :mod:`skduo._fit._kernel`.

With numba installed (``skduo[fast]``), the evaluations of one or two members
on large problems run compiled kernels instead (:mod:`skduo._fit._compiled`;
see :func:`fit_kernel`): the float32 ones of orders 0-4 (2-3x faster) and the
float64 certificate of orders 0-1 (~3x faster, with the error bound of the
NumPy certificate up to a slightly larger exponential error, see there). The
float64 Hessian (needed only when the certificate takes a Newton step) and
every fit with a normalising factor or more than two members stay NumPy.
"""

import functools
import importlib.util
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from skduo._fit._kernel import _chunk_terms, _Workspace, row_chunks

__all__ = [
    "Objective",
    "ObjectiveWrapper",
    "block_terms",
    "packed_size",
    "scan_rows",
    "unpack_terms",
]

#: With ``SKDUO_FIT_KERNEL=auto`` (the default) fits of at least this many logits
#: (rows x classes x members) use the compiled kernel when numba is installed:
#: below it, loading it (~0.5 s once per process, ~4 s the first time, when the
#: float32 kernel and the certificate are compiled and cached on disk) costs
#: more than it saves in one fit.
_COMPILED_MIN_ELEMENTS = 2**27

#: Once :func:`warm_fit_kernel` has loaded the compiled kernel in this process
#: (a caller about to make many fits), ``auto`` uses it from this many logits.
_WARM_MIN_ELEMENTS = 2**22

_FIT_KERNELS = ("auto", "numpy", "numba")

_WARM = False


def warm_fit_kernel(total_elements):
    """Load the compiled kernel for a batch of fits of ``total_elements`` logits.

    A caller about to make many fits (the zoo report) pays the loading once:
    with ``SKDUO_FIT_KERNEL=auto``, numba installed and at least
    :data:`_COMPILED_MIN_ELEMENTS` logits in all, the kernels for one and two
    members are loaded and later fits of :data:`_WARM_MIN_ELEMENTS` logits or
    more use them. Returns whether it is loaded.
    """
    global _WARM
    choice = os.environ.get("SKDUO_FIT_KERNEL", "auto").strip().lower() or "auto"
    if _WARM or choice != "auto" or total_elements < _COMPILED_MIN_ELEMENTS:
        return _WARM
    if importlib.util.find_spec("numba") is None:
        return False
    _WARM = all(_load_compiled(m, False) is not None for m in (1, 2))
    return _WARM


def fit_kernel(n_elements):
    """The float32 kernel of a fit of ``n_elements`` logits: its name.

    Chosen by the environment variable ``SKDUO_FIT_KERNEL``: ``auto`` (the
    default) is ``"auto"`` (the compiled kernel if it loads, else NumPy) when
    numba is installed and there are at least :data:`_COMPILED_MIN_ELEMENTS`
    logits (:data:`_WARM_MIN_ELEMENTS` once :func:`warm_fit_kernel` loaded
    it), else ``"numpy"``; ``numpy`` is ``"numpy"``; ``numba`` is
    ``"numba"`` (the compiled kernel, an error if it does not load).
    """
    choice = os.environ.get("SKDUO_FIT_KERNEL", "auto").strip().lower() or "auto"
    if choice not in _FIT_KERNELS:
        raise ValueError(
            f"SKDUO_FIT_KERNEL must be one of {', '.join(_FIT_KERNELS)}; got "
            f"{os.environ['SKDUO_FIT_KERNEL']!r}."
        )
    if choice == "numba":
        if importlib.util.find_spec("numba") is None:
            raise ImportError(
                "SKDUO_FIT_KERNEL=numba needs numba: pip install 'skduo[fast]'."
            )
        return "numba"
    if choice == "auto" and n_elements >= _COMPILED_MIN_ELEMENTS:
        if importlib.util.find_spec("numba") is not None:
            return "auto"
    if choice == "auto" and _WARM and n_elements >= _WARM_MIN_ELEMENTS:
        return "auto"
    return "numpy"


@functools.cache
def _load_compiled(n_members, forced):
    """The compiled kernels' module, compiled (or loaded) for ``n_members``.

    None if it fails.

    A failure (numba broken, no writable cache) is an error with ``forced``,
    else one warning per process and member count, and the NumPy kernel.
    """
    try:
        from skduo._fit import _compiled

        _compiled.warm_up(n_members)
    except Exception as exc:
        message = f"the compiled fit kernel (numba) failed to load: {exc!r}"
        if forced:
            raise RuntimeError(f"SKDUO_FIT_KERNEL=numba, but {message}") from exc
        warnings.warn(
            f"{message[0].upper()}{message[1:]}; the fit uses the NumPy kernel "
            "(set SKDUO_FIT_KERNEL=numpy to skip it).",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _compiled


def _compiled_kernel(logits, factors, kernel, precise=False):
    """The compiled chunk function for ``logits``, or None (the NumPy kernel).

    The float32 one (:func:`skduo._fit._compiled.chunk_terms`, orders 0-4) or
    with ``precise`` the float64 certificate
    (:func:`skduo._fit._compiled.certificate_terms`, orders 0-1). They apply
    to one or two members of any numeric dtype (see
    :func:`skduo._fit._compiled._rows` and
    :func:`skduo._fit._compiled._certificate_rows`) without a normalising
    factor, when ``kernel`` (:func:`fit_kernel`) is not ``"numpy"`` and the
    kernels load.
    """
    if kernel == "numpy" or len(logits) > 2:
        return None
    if factors is not None and np.any(factors != 1.0):
        return None
    module = _load_compiled(len(logits), kernel == "numba")
    if module is None:
        return None
    return module.certificate_terms if precise else module.chunk_terms


def _compiled_max_order(precise):
    """The highest order the compiled kernel of this precision evaluates."""
    return 1 if precise else 4


#: Up to this many members, the float32 phase takes third-order steps (their
#: derivatives cost M(M+1)(M+2)/6 extra row sums per evaluation).
_THIRD_ORDER_MEMBERS = 3


# --------------------------------------------------------------------------------
# packed terms: what travels between threads, dask workers and the fit
# --------------------------------------------------------------------------------


def _pack(terms, order, n_members):
    """The terms of :func:`_chunk_terms` as one float64 vector."""
    loss, grad, curvature = terms
    parts = [np.array([loss])]
    if order >= 1:
        parts.append(np.asarray(grad, dtype=np.float64))
    if order == 2:
        parts.append(np.asarray(curvature, dtype=np.float64).ravel())
    if order >= 3:
        parts.extend(c.ravel() for c in curvature)
    return np.concatenate(parts)


def unpack_terms(packed, order, n_members, total):
    """``(loss, grad, curvature)`` from summed packed terms, divided by ``total``."""
    v = np.asarray(packed, dtype=np.float64) / total
    loss = float(v[0])
    if order == 0:
        return loss, None, None
    m = n_members
    grad = v[1 : 1 + m]
    if order == 1:
        return loss, grad, None
    hess = v[1 + m : 1 + m + m * m].reshape(m, m)
    if order == 2:
        return loss, grad, hess
    third = v[1 + m + m * m : 1 + m + m * m + m**3].reshape(m, m, m)
    if order == 3:
        return loss, grad, (hess, third)
    fourth = v[1 + m + m * m + m**3 :].reshape(m, m, m, m)
    return loss, grad, (hess, third, fourth)


def scan_rows(kernel, logits, y, sw, *args):
    """``sum`` over the row chunks of ``kernel(logits, y, sw, start, stop, *args)``.

    The driver of every chunk kernel (a float64 vector per chunk), summed in
    chunk order; ``None`` without rows.
    """
    n, k = logits[0].shape
    total = None
    for start, stop in row_chunks(n, k):
        with np.errstate(all="ignore"):  # non-finite logits are reported by the fit
            part = kernel(logits, y, sw, start, stop, *args)
        part = np.asarray(part, dtype=np.float64)
        total = part if total is None else total + part
    return total


def _packed_terms(logits, y, sw, start, stop, weights, order, dtype, factors, ws):
    with np.errstate(all="ignore"):  # non-finite logits are reported by the fit
        terms = _chunk_terms(
            logits, y, sw, weights, start, stop, order, dtype, factors, ws
        )
    return _pack(terms, order, len(logits))


def packed_size(order, n_members):
    """Length of the packed terms of one evaluation."""
    m = n_members
    return 1 + sum(m**j for j in range(1, order + 1))


def _compiled_packed(logits, y, sw, start, stop, weights, order, chunk_terms):
    return chunk_terms(logits, y, sw, weights, start, stop, order)


def block_terms(logits, y, sw, weights, order, dtype, factors=None, kernel="numpy"):
    """Packed terms summed over all rows of in-memory blocks, in chunk order.

    What a dask worker computes on one block of rows (one thread); the sums of
    the packed vectors of all blocks, divided by the total sample weight, give
    :func:`unpack_terms`. ``kernel`` is the client's kernel choice
    (:func:`fit_kernel`), for the float32 terms and the float64 certificate.
    """
    chunk_terms = None
    precise = dtype == np.float64
    if order <= _compiled_max_order(precise):
        chunk_terms = _compiled_kernel(logits, factors, kernel, precise)
    if chunk_terms is not None:
        total = scan_rows(_compiled_packed, logits, y, sw, weights, order, chunk_terms)
    else:
        ws = _Workspace()
        total = scan_rows(
            _packed_terms, logits, y, sw, weights, order, dtype, factors, ws
        )
    if total is None:  # a block without rows
        total = np.zeros(packed_size(order, len(logits)))
    return total


def max_order(precise, n_members):
    """The highest order an objective of this precision evaluates."""
    return 3 if not precise and n_members <= _THIRD_ORDER_MEMBERS else 2


class Objective:
    """Chunked, threaded evaluation of the weighted NLL and its derivatives.

    ``precise=False`` evaluates in float32 (see :func:`_chunk_terms`); with at
    most :data:`_THIRD_ORDER_MEMBERS` members its default order is then 3 (the
    Hessian comes as the pair ``(hessian, third_derivatives)``). The float32
    kernel multiplies by ``float32(w)``: it is only accurate at weights that
    :meth:`snap` returns (elsewhere the gradient is biased by ~H * 6e-8 * w).
    ``factors`` (powers of two, one per member) normalise members of extreme
    scale; the weights are then those of ``factors[m] * logits[m]``.
    ``n_evaluations`` counts the evaluations (each reads every row once).
    ``kernel`` (see :func:`fit_kernel`) ``"auto"`` or ``"numba"`` runs the
    float32 evaluations of orders 0-4, and the float64 ones of orders 0-1 (the
    certificate), with the compiled kernels (:mod:`skduo._fit._compiled`)
    where they apply (one or two members without a normalising factor, see
    :func:`_compiled_kernel`).
    """

    def __init__(
        self,
        logits,
        y,
        sample_weight,
        n_threads=None,
        precise=True,
        factors=None,
        kernel="numpy",
    ):
        self.precise = precise
        # relative resolution of the loss value
        self.resolution = 1e-14 if precise else 1e-9
        self.logits = logits
        self.y = y
        self.sw = sample_weight
        self.factors = factors
        self.total = float(sample_weight.sum())
        n, k = logits[0].shape
        self.chunks = row_chunks(n, k)
        if n_threads is None:
            n_threads = min(len(self.chunks), os.cpu_count() or 1, 4)
        self.n_threads = max(1, n_threads)
        self.max_order = max_order(precise, len(logits))
        self.n_evaluations = 0
        # the compiled kernel's chunk function, or None (NumPy)
        self._compiled = _compiled_kernel(logits, factors, kernel, precise)
        self._compiled_order = _compiled_max_order(precise)

    def snap(self, weights):
        """The nearest weights this objective evaluates exactly."""
        if self.precise:
            return weights
        return np.asarray(weights, dtype=np.float32).astype(np.float64)

    def __call__(self, weights, order=None):
        if order is None:
            order = self.max_order
        elif not (order == 4 and self.max_order == 3):  # 4 only when asked
            order = min(order, self.max_order)
        dtype = np.float64 if self.precise else np.float32
        n_members = len(self.logits)

        local = threading.local()

        def work(bounds):
            if self._compiled is not None and order <= self._compiled_order:
                return self._compiled(
                    self.logits, self.y, self.sw, weights, *bounds, order
                )
            if not hasattr(local, "ws"):
                local.ws = _Workspace()
            return _packed_terms(
                self.logits,
                self.y,
                self.sw,
                *bounds,
                weights,
                order,
                dtype,
                self.factors,
                local.ws,
            )

        if self.n_threads > 1:
            with ThreadPoolExecutor(self.n_threads) as pool:
                parts = list(pool.map(work, self.chunks))
        else:
            parts = [work(c) for c in self.chunks]
        # summed in chunk order: deterministic whatever the thread timing
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        self.n_evaluations += 1
        return unpack_terms(total, order, n_members, self.total)


class ObjectiveWrapper:
    """An objective around another one, with the same interface.

    Takes over the attributes the fit reads (``precise``, ``resolution``,
    ``max_order``, ``snap`` and the evaluation count); a subclass defines
    ``__call__`` (the finiteness check, the prior).
    """

    def __init__(self, objective):
        self.objective = objective
        self.precise = objective.precise
        self.resolution = objective.resolution
        self.max_order = objective.max_order
        self.snap = objective.snap

    @property
    def n_evaluations(self):
        return self.objective.n_evaluations
