"""Which kernel the metrics' passes run: the compiled one or NumPy.

One rule for every compiled metric kernel (the decomposition's row passes,
:mod:`skduo.metrics._compiled`; the bootstrap's resamples,
:mod:`skduo.metrics._compiled_bootstrap`), chosen by ``SKDUO_FIT_KERNEL`` as
the weight fit's kernel (:func:`skduo._fit._objective.fit_kernel`). Each
caller passes a function that imports its kernel module (a deferred import,
so that ``import skduo`` never imports numba).
"""

import functools
import importlib.util
import os
import sys
import warnings

from skduo._fit._objective import fit_kernel

__all__ = ["compiled_kernel", "load_compiled"]


@functools.cache
def load_compiled(importer, what, forced):
    """The kernel module ``importer()`` returns, compiled (or loaded); or None.

    ``what`` names the kernel and its user in messages (``"decomposition"``,
    ``"bootstrap"``). A failure (numba broken, no writable cache) is an error
    with ``forced``, else one warning per process and kernel, and NumPy.
    """
    try:
        module = importer()
        module.warm_up()
    except Exception as exc:
        message = f"the compiled {what} kernel (numba) failed to load: {exc!r}"
        if forced:
            raise RuntimeError(f"SKDUO_FIT_KERNEL=numba, but {message}") from exc
        warnings.warn(
            f"{message[0].upper()}{message[1:]}; the {what} uses NumPy "
            "(set SKDUO_FIT_KERNEL=numpy to skip it).",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return module


def compiled_kernel(importer, what, n_elements, cold_min, warm_min):
    """The kernel module for work of ``n_elements``, or None (NumPy).

    ``SKDUO_FIT_KERNEL=numba`` forces it (an error if it does not load),
    ``numpy`` never uses it, ``auto`` (the default) uses it when numba is
    installed and there are at least ``cold_min`` elements (``warm_min``
    once numba is loaded in the process: then no compile or load to repay).
    """
    if fit_kernel(0) == "numba":  # validates the variable's value
        return load_compiled(importer, what, True)
    choice = os.environ.get("SKDUO_FIT_KERNEL", "auto").strip().lower() or "auto"
    if choice != "auto" or importlib.util.find_spec("numba") is None:
        return None
    warm = "numba" in sys.modules
    if n_elements < (warm_min if warm else cold_min):
        return None
    return load_compiled(importer, what, False)
