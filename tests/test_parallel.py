"""kernels.parallel.run_bands: every work item exactly once, in the bands asked for."""

import numpy as np
import pytest
from numba import njit

import flowkit
from flowkit.kernels.parallel import run_bands


@njit(nogil=True)
def _mark(counts, n_items, band, n_bands):
    for i in range(band * n_items // n_bands, (band + 1) * n_items // n_bands):
        counts[i] += 1


@njit(nogil=True)
def _fail_in_band(band, n_bands):
    if band == 0:
        raise ValueError("band 0 failed")


@pytest.mark.parametrize("n_items", [0, 1, 3, 7, 1000])
@pytest.mark.parametrize("threads", [1, 2, 5])
@pytest.mark.parametrize("claim", [False, True])
def test_every_item_once(n_items, threads, claim):
    counts = np.zeros(n_items, np.int64)
    run_bands(_mark, counts, n_items, threads=threads, claim=claim)
    np.testing.assert_array_equal(counts, np.ones(n_items, np.int64))


@pytest.mark.parametrize("claim", [False, True])
def test_error_in_a_worker_band_is_raised(claim):
    with pytest.raises(ValueError, match="band 0 failed"):
        run_bands(_fail_in_band, threads=2, claim=claim)


def test_claimed_bands_run_on_the_caller_when_workers_are_busy():
    # the pool's workers are blocked (released after 5 s): with claim the caller runs every
    # band itself and cancels the queued tasks instead of waiting for a worker
    import threading
    import time

    from flowkit.kernels.parallel import _executor

    release = threading.Event()
    pool = _executor()
    blockers = [pool.submit(release.wait) for _ in range(pool._max_workers)]
    timer = threading.Timer(5.0, release.set)
    timer.start()
    try:
        counts = np.zeros(10, np.int64)
        start = time.perf_counter()
        run_bands(_mark, counts, 10, threads=3, claim=True)
        assert time.perf_counter() - start < 2.5
        np.testing.assert_array_equal(counts, np.ones(10, np.int64))
    finally:
        release.set()
        timer.cancel()
        for b in blockers:
            b.result()
