"""Run a CPU driver's work in bands on threads.

Each CPU driver is a plain ``@jit(nogil=True)`` function (``kernels.jit``) that does band
``band`` of ``n_bands`` of its independent work items (rows, row tiles, points):
``kernel(*args, band, n_bands)`` handles the items :func:`band_range` gives it.
:func:`run_bands` runs one band per thread on a thread pool, the calling thread taking the
last band.

Why not Numba's ``parallel=True``: its parfor compilation roughly doubled the compile time
of each driver (measured: a bilinear warp's driver 4.1 s with ``prange`` against 1.6 s
plain, on top of the same callees), a cost every user pays on first use. The bands are as
static as OpenMP's default schedule; a call costs some tens of microseconds.
The thread count is Numba's (``numba.set_num_threads``, ``flowkit.set_num_threads``).
Bands should not allocate: give them scratch allocated by the caller (``kernels/warp.py``'s
driver says why).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numba

from .jit import internal

_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(1, numba.config.NUMBA_NUM_THREADS - 1)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="flowkit")
    return _pool


@internal
def band_range(n_items, band, n_bands):
    """``(start, stop)`` of band ``band`` of ``n_bands`` over ``range(n_items)``: contiguous
    bands whose sizes differ by at most one, covering every item once."""
    return band * n_items // n_bands, (band + 1) * n_items // n_bands


def bands_for(n_items, min_items):
    """Band count for ``n_items`` work items: 1 below ``min_items`` (work too small to pay for
    waking the workers, some tens of microseconds per call), else ``numba.get_num_threads()``.
    """
    return 1 if n_items < min_items else numba.get_num_threads()


def run_bands(kernel, *args, threads=None):
    """Call ``kernel(*args, band, n_bands)`` for every band, one band per thread.

    Parameters
    ----------
    kernel : numba dispatcher compiled with ``nogil=True``
    *args
        The kernel's leading arguments, shared by every band.
    threads : int, optional
        Number of bands; default ``numba.get_num_threads()``.
    """
    n_bands = threads or numba.get_num_threads()
    if n_bands == 1:
        kernel(*args, 0, 1)
        return
    pool = _executor()
    futures = [pool.submit(kernel, *args, band, n_bands) for band in range(n_bands - 1)]
    error = None
    try:
        kernel(*args, n_bands - 1, n_bands)
    except BaseException as exc:  # the other bands still write the outputs: wait for them
        error = exc
    for future in futures:
        try:
            future.result()
        except BaseException as exc:
            error = error or exc
    if error is not None:
        raise error
