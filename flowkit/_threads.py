"""Thread count of the CPU kernels (Numba's parallel layer)."""

import numba

from ._validate import check_int


def set_num_threads(n):
    """Set the number of threads the CPU kernels use.

    Parameters
    ----------
    n : int
        Between 1 and the number of cores (the default is all cores).

    Raises
    ------
    TypeError
        ``n`` not an integer (bool included).
    ValueError
        ``n`` below 1 or above the number of cores (``NUMBA_NUM_THREADS``).

    Notes
    -----
    The count is the calling thread's (Numba's is per thread): it applies to the calls this
    thread makes, not to calls made in other threads, which keep their own count (all cores
    in a new thread, such as a ``ThreadPoolExecutor``'s worker). Set it in each thread that
    calls flowkit, or use ``NUMBA_NUM_THREADS`` for the whole process.
    """
    from .kernels import parallel

    parallel.launch()  # a loaded torch's thread count kept (kernels.parallel.launch)
    numba.set_num_threads(check_int("n", n, min_value=1, max_value=numba.config.NUMBA_NUM_THREADS))


def get_num_threads():
    """Return the number of threads the CPU kernels use.

    Returns
    -------
    int
        The calling thread's count (see :func:`set_num_threads`), 1 to the number of cores.
    """
    from .kernels import parallel

    return parallel.num_threads()
