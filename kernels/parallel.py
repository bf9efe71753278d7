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


def run_bands(kernel, *args, threads=None, claim=False):
    """Call ``kernel(*args, band, n_bands)`` for every band, one band per thread.

    Parameters
    ----------
    kernel : numba dispatcher compiled with ``nogil=True``
    *args
        The kernel's leading arguments, shared by every band.
    threads : int, optional
        Number of bands; default ``numba.get_num_threads()``.
    claim : bool
        Let the threads claim the bands in turn instead of one band each: the calling thread
        takes band after band until none is left, and a worker that has not started by then
        is cancelled. On a machine whose other core is busy a worker can start a scheduler
        slice late; with ``claim`` the call then takes the time of the work on one thread,
        not that plus the wait (OpenCV's ``parallel_for_`` behaves alike). For a few large
        bands of equal work (``lk_sparse``'s two pyramids and its tracking).
    """
    n_bands = threads or numba.get_num_threads()
    if n_bands == 1:
        kernel(*args, 0, 1)
        return
    pool = _executor()
    if claim:
        claims = iter(range(n_bands))
        lock = threading.Lock()

        def task():
            while True:
                with lock:
                    band = next(claims, None)
                if band is None:
                    return
                kernel(*args, band, n_bands)

        futures = [pool.submit(task) for _ in range(n_bands - 1)]
        _finish(task, futures, cancel=True)
        return
    futures = [pool.submit(kernel, *args, band, n_bands) for band in range(n_bands - 1)]
    _finish(lambda: kernel(*args, n_bands - 1, n_bands), futures, cancel=False)


def _finish(own, futures, cancel):
    """Run the calling thread's work ``own``, then wait for ``futures`` (cancelling those not
    started when ``cancel``) and raise the first error."""
    error = None
    try:
        own()
    except BaseException as exc:  # the other bands still write the outputs: wait for them
        error = exc
    for future in futures:
        if cancel and future.cancel():
            continue
        try:
            future.result()
        except BaseException as exc:
            error = error or exc
    if error is not None:
        raise error
