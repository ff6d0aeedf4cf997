"""Array plumbing shared by every layer: row blocks and the float dtype rule.

Every row-wise operation of skduo (conversions of member outputs, softmax,
combination, the metrics' checks) works in row blocks, so that its
temporaries stay at one block, never an ``n x K`` array; :func:`row_blocks`
is the one way to cut them. :func:`float_dtype` is the one rule for the dtype
a conversion writes.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["BLOCK_ELEMENTS", "float_dtype", "map_blocks", "row_blocks"]

#: Elements (rows x classes) per row block, unless a caller asks otherwise.
BLOCK_ELEMENTS = 2**18


def row_blocks(shape, elements=None):
    """Row slices of an array of ``shape``, each of at most ``elements`` values.

    A block holds at least one row. ``elements`` sets the size (the metrics
    ask for about 1 MiB, i.e. ``2**20 // itemsize``).

    Parameters
    ----------
    shape : tuple of int
        Shape of the array; rows are the first axis.
    elements : int, default=None
        Largest number of values in a block; None means
        :data:`BLOCK_ELEMENTS` (read at each call).

    Returns
    -------
    list of slice

    Examples
    --------
    >>> from skduo.utils._arrays import row_blocks
    >>> row_blocks((5, 4), elements=8)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    n_rows = shape[0]
    if elements is None:
        elements = BLOCK_ELEMENTS
    step = max(1, int(elements) // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


#: Threads of :func:`map_blocks` (NumPy's element-wise loops release the GIL).
N_THREADS = min(4, os.cpu_count() or 1)

#: Blocks below which :func:`map_blocks` stays in the calling thread.
_THREADED_BLOCKS = 8


def map_blocks(func, blocks, n_threads=None):
    """Call ``func(block)`` for every block, in threads when there are many.

    Each thread takes one contiguous run of blocks; ``func`` must write its
    results into disjoint places (its return value is ignored). An exception
    in any block is raised here.

    Parameters
    ----------
    func : callable
    blocks : list
        E.g. :func:`row_blocks` slices.
    n_threads : int, default=None
        None: :data:`N_THREADS` when there are at least 8 blocks, else 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.utils._arrays import map_blocks, row_blocks
    >>> x, out = np.arange(10.0), np.empty(10)
    >>> def square(rows):
    ...     out[rows] = x[rows] ** 2
    >>> map_blocks(square, row_blocks(x.shape, elements=3))
    >>> float(out[-1])
    81.0
    """
    blocks = list(blocks)
    if n_threads is None:
        n_threads = N_THREADS if len(blocks) >= _THREADED_BLOCKS else 1
    n_threads = max(1, min(int(n_threads), len(blocks)))
    if threading.current_thread().name.startswith(_PREFIX):
        n_threads = 1  # nested in a worker: never wait on the pool from it
    if n_threads == 1:
        for block in blocks:
            func(block)
        return

    def run(part):
        for block in part:
            func(block)

    size = -(-len(blocks) // n_threads)
    parts = [blocks[i : i + size] for i in range(0, len(blocks), size)]
    # the calling thread runs the first part; a shared pool the others (a
    # pool per call would start threads every time)
    futures = [_pool().submit(run, part) for part in parts[1:]]
    try:
        run(parts[0])
    finally:
        for future in futures:
            future.result()


_POOL = None
_POOL_LOCK = threading.Lock()
_PREFIX = "skduo-blocks"


def _pool():
    """The process's pool of :data:`N_THREADS` - 1 workers for :func:`map_blocks`.

    Nested calls never wait on it: a worker that calls :func:`map_blocks`
    runs its first part itself and only submits the rest.
    """
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max(1, N_THREADS - 1), thread_name_prefix=_PREFIX
            )
        return _POOL


def float_dtype(dtype):
    """The dtype a conversion writes: float32/float64 kept, float16 as float32.

    Every other dtype (integers, booleans, extended precision) becomes float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.utils._arrays import float_dtype
    >>> float_dtype(np.float16), float_dtype(np.int64)
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    return np.dtype(np.float32 if dtype == np.float16 else np.float64)
