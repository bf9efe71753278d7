"""Run a CPU driver's work in bands on threads.

Each CPU driver is a plain ``@jit`` function (``kernels.jit``: it releases the GIL) that does
band ``band`` of ``n_bands`` of its independent work items (rows, row tiles, points):
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

Many short passes that depend on each other (the variational refinement's 60 passes per
level, each a fraction of a millisecond at 240x320) cost more in dispatches than they gain
from bands. :func:`run_shared` runs such a kernel once on each thread instead: the kernel
loops over :func:`claim_chunk`, which hands out the chunks (row ranges) of every pass in
order from a shared counter and waits until the chunks a claimed one depends on are done;
:func:`finish_chunk` marks it done. Chunks are claimed, not assigned, so a thread that starts
late or never (the pool busy with another call) only leaves more chunks to the others, and a
wait is only ever for a chunk that a running thread has claimed: no deadlock. A thread that
finds every chunk claimed waits (spinning first, as for a chunk) until every chunk is done,
so the calling thread returns with the work finished, without sleeping on the workers'
futures (waking the caller from that sleep cost a two-thread call some tens of
microseconds; docs/benchmarks.md, "Warping"). With a single
thread the same kernel runs every chunk in order, so results never depend on the thread
count as long as each pass's result does not depend on its chunking (kernels/atomic.py has
the memory ordering).
"""

import functools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .atomic import atomic_add, atomic_load, spin_pause, yield_thread
from .jit import internal

# run_shared's state: [next chunk to claim, abort flag, spin limit, items done, passes done
# per chunk...]
_NEXT, _ABORT, _SPINS, _DONE = 0, 1, 2, 3
SHARED_COUNTERS = 4  # counters before the per-chunk ones
# claim_chunk's wait: this many spin-wait hints (some tens of microseconds), then give up
# the processor until the chunk is done (docs/benchmarks.md, "DIS speed work, fifth round")
SPINS = 2000

_pool = None
_pool_lock = threading.Lock()
_launched = False


def num_threads():
    """``numba.get_num_threads()``, Numba's threading layer started first by :func:`launch`."""
    if not _launched:
        launch()
    return numba.get_num_threads()


def launch():
    """Start Numba's threading layer (its first ``get_num_threads`` / ``set_num_threads``)
    leaving the thread count of a PyTorch already imported as it was. Numba's OpenMP layer
    links ``libgomp.so.1``, which resolves to the one torch loaded, and its start sets
    OpenMP's thread count to Numba's: after ``torch.set_num_threads(1)`` (once torch had read
    its count) the first flowkit call left torch on all cores. torch is not imported here."""
    global _launched
    with _pool_lock:
        if _launched:
            return
        torch = sys.modules.get("torch")
        count = getattr(torch, "get_num_threads", None)
        before = count() if count is not None else None
        numba.get_num_threads()
        if before is not None and count() != before:
            torch.set_num_threads(before)
        _launched = True


def _forget_pool():
    """In a child made by ``fork``: the parent's pool threads do not exist there, but the
    pool object says they do and queued calls wait for them forever; start a new pool on
    the next call (and take a new lock, which another thread may have held at the fork)."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_pool)


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
    return 1 if n_items < min_items else num_threads()


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
        Let the threads claim the bands in turn instead of one band each: each of at most
        ``numba.get_num_threads()`` threads (the calling one among them) takes band after band
        until none is left, and a worker that has not started by then is cancelled. On a
        machine whose other core is busy a worker can start a scheduler slice late; with
        ``claim`` the call then takes the time of the work on one thread, not that plus the
        wait (OpenCV's ``parallel_for_`` behaves alike). For a few large
        bands of equal work (``lk_sparse``'s two pyramids and its tracking), or more bands
        than threads (the DIS search's 8 stripes).
    """
    n_bands = threads or num_threads()
    if not claim:
        _run([functools.partial(kernel, *args, band, n_bands) for band in range(n_bands)])
        return
    claims = iter(range(n_bands))
    lock = threading.Lock()

    def task():
        while True:
            with lock:
                band = next(claims, None)
            if band is None:
                return
            kernel(*args, band, n_bands)
    _run([task] * min(n_bands, num_threads()), optional=True)  # a task per thread


def _run(calls, optional=False):
    """Run ``calls[:-1]`` on the pool and the last call on this thread; wait for them and
    raise the first error. ``optional``: calls the pool has not started by then are
    cancelled."""
    if len(calls) == 1:
        calls[0]()
        return
    pool = _executor()
    futures = [pool.submit(call) for call in calls[:-1]]
    try:
        calls[-1]()
    except BaseException as exc:  # the others still write the outputs: wait for them
        _wait(futures, optional)
        raise exc
    error = _wait(futures, optional)
    if error is not None:
        raise error


def _wait(futures, optional):
    """Wait for ``futures``; return the first error raised in them, or None. ``optional``:
    those not started are cancelled."""
    error = None
    for future in futures:
        if optional and future.cancel():
            continue
        try:
            future.result()
        except BaseException as exc:
            error = error or exc
    return error


def run_shared(kernel, *args, chunks, threads=None):
    """Call ``kernel(*args, state)`` on ``threads`` threads at once (default
    ``numba.get_num_threads()``), the calling thread one of them, to share the chunks of
    its passes (module docstring).

    ``state`` is a new int64 array of the counters :func:`claim_chunk` and
    :func:`finish_chunk` use, for ``chunks`` chunks per pass. The kernel loops: ``q =
    claim_chunk(state, n_total)``, return when ``q < 0``, else do chunk ``q % chunks`` of pass
    ``q // chunks`` and call ``finish_chunk(state, q)``. A chunk of pass ``k`` may read what
    the earlier passes wrote in its own and the two adjacent chunks only (for row chunks:
    passes that read at most one chunk's height of rows above and below). The kernel must
    write nothing after its last :func:`claim_chunk`: once the calling thread's kernel has
    returned (every item done), the call returns without waiting for the workers' kernels to
    return; calls the pool has not started by then are cancelled. An error in one thread
    stops the others' waits and is raised.
    """
    state = np.zeros(SHARED_COUNTERS + chunks, np.int64)
    state[_SPINS] = SPINS

    def participant():
        try:
            kernel(*args, state)
        except BaseException:
            state[_ABORT] = 1  # the others may wait for a chunk this thread claimed
            raise
    n = threads or num_threads()
    if n == 1:
        participant()
        return
    pool = _executor()
    futures = [pool.submit(participant) for _ in range(n - 1)]
    try:
        participant()
    except BaseException as exc:
        _wait(futures, optional=True)  # the others may still write the outputs
        raise exc
    if state[_ABORT]:  # another thread failed (its items are not all done): raise its error
        error = _wait(futures, optional=True)
        if error is not None:
            raise error
        return
    for future in futures:  # every item is done: a worker still returning is not waited for
        if not future.cancel() and future.done():
            future.result()  # raises the error of a finished worker


@internal
def claim_chunk(state, n_total):
    """The next of ``n_total`` work items (pass ``q // chunks``, chunk ``q % chunks``) of
    :func:`run_shared`, once the earlier passes of its chunk and the adjacent chunks are
    done; -1 when every item is claimed (or another thread failed)."""
    chunks = state.shape[0] - SHARED_COUNTERS
    q = atomic_add(state, _NEXT, 1)
    k, c = q // chunks, q % chunks
    spins = state[_SPINS]  # set before the threads start
    if q >= n_total:  # every item is claimed: wait until they are done
        while atomic_load(state, _DONE) < n_total:
            if atomic_load(state, _ABORT) != 0:
                return -1
            if spins > 0:
                spin_pause()
                spins -= 1
            else:
                yield_thread()
        return -1
    for n in range(max(c - 1, 0), min(c + 2, chunks)):
        while atomic_load(state, SHARED_COUNTERS + n) < k:
            if atomic_load(state, _ABORT) != 0:
                return -1
            if spins > 0:
                spin_pause()
                spins -= 1
            else:  # the thread running that chunk is probably not running now
                yield_thread()
    return q


@internal
def finish_chunk(state, q):
    """Mark item ``q`` (from :func:`claim_chunk`) done: its stores before this call are
    visible to the threads whose :func:`claim_chunk` waits for it."""
    atomic_add(state, SHARED_COUNTERS + q % (state.shape[0] - SHARED_COUNTERS), 1)
    atomic_add(state, _DONE, 1)
