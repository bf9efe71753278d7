"""kernels.parallel.run_bands: every work item exactly once, in the bands asked for."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

import flowkit
from flowkit.kernels.parallel import claim_chunk, finish_chunk, run_bands, run_shared


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


def test_one_and_two_threads_give_identical_results():
    frame0, frame1, _ = flowkit.sample_pair(96, 128)
    results = []
    old = flowkit.get_num_threads()
    try:
        for n in (1, min(2, old)):
            flowkit.set_num_threads(n)
            flow = flowkit.farneback(frame0, frame1)
            results.append((flow, flowkit.farneback(frame0, frame1, gaussian=True),
                            flowkit.warp(frame1, flow), flowkit.lucas_kanade(frame0, frame1)))
    finally:
        flowkit.set_num_threads(old)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_farneback_does_not_depend_on_the_thread_count(threads):
    """docs/api.md, Farneback, "Threads": the box window's running sums restart at rows that
    are multiples of STRIP_ANCHOR, where the row strips start, so any thread count gives the
    flows of one thread. Before, each of the 2 x threads strips restarted them where it began:
    on this pair of a real video 1 and 2 threads gave flows 1.3e-5 px apart, and chained by
    farneback_video over the clip up to 1.2 px. Run in a process of its own, where Numba may
    start 5 threads on any machine."""
    from cases import data_path

    path = data_path("video", "torchcodec__nasa_13013.mp4")
    code = textwrap.dedent(f"""
        import itertools, numpy as np, flowkit
        path = {str(path)!r}
        frames = list(itertools.islice(flowkit.iter_frames(path, gray=True), 186, 196))
        flows = []
        for n in (1, {threads}):
            flowkit.set_num_threads(n)
            flows.append([flowkit.farneback(frames[7], frames[8]),
                          *flowkit.farneback_video(frames, use_previous_flow=True)])
        assert np.abs(flows[0][0]).max() > 1  # a real flow
        for a, b in zip(*flows):
            np.testing.assert_array_equal(a, b)
    """)
    env = dict(os.environ, NUMBA_NUM_THREADS="5")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_dis_serial_and_banded_passes_agree(monkeypatch):
    """Small levels run their passes on one thread (the refinement's in one call): the result
    equals the banded one at any size threshold."""
    from flowkit.kernels import dis as kd
    from flowkit.kernels import variational as kv

    frame0, frame1, _ = flowkit.sample_pair(96, 128)
    old = flowkit.get_num_threads()
    results = []
    try:
        flowkit.set_num_threads(min(2, old))
        for threshold in (0, 1 << 30):
            for module, name in ((kd, "SERIAL_PATCHES"), (kd, "SERIAL_PIXELS"),
                                 (kv, "SERIAL_PIXELS")):
                monkeypatch.setattr(module, name, threshold)
            results.append(flowkit.dis(frame0, frame1, preset="medium"))
    finally:
        flowkit.set_num_threads(old)
    assert np.abs(results[0]).max() > 0.5  # a real flow, not zeros
    np.testing.assert_array_equal(results[0], results[1])


@njit(nogil=True)
def _stencil_passes(values, fail_at, state):
    """values[k, y] = values[k-1, y-1] + values[k-1, y] * 2 + values[k-1, y+1] + 1 per pass k,
    one row per chunk (kernels.parallel.run_shared); raises at item ``fail_at``."""
    passes, rows = values.shape[0] - 1, values.shape[1]
    while True:
        q = claim_chunk(state, passes * rows)
        if q < 0:
            return
        if q == fail_at:
            raise ValueError("item failed")
        k, y = q // rows + 1, q % rows
        total = values[k - 1, y] * 2 + 1
        if y > 0:
            total += values[k - 1, y - 1]
        if y + 1 < rows:
            total += values[k - 1, y + 1]
        values[k, y] = total % 1000003
        finish_chunk(state, q)


def _stencil_reference(passes, rows):
    values = np.zeros((passes + 1, rows), np.int64)
    values[0] = np.arange(rows) % 7
    for k in range(1, passes + 1):
        prev = np.pad(values[k - 1], 1)
        values[k] = (prev[:-2] + 2 * prev[1:-1] + prev[2:] + 1) % 1000003
    return values


@pytest.mark.parametrize("rows", [1, 2, 5, 64])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_run_shared_orders_the_passes(rows, threads):
    # each chunk of a pass reads the previous pass's results in its own and the adjacent
    # chunks: any chunk run before those are done would read zeros and change the values
    passes = 40
    values = np.zeros((passes + 1, rows), np.int64)
    values[0] = np.arange(rows) % 7
    run_shared(_stencil_passes, values, -1, chunks=rows, threads=threads)
    np.testing.assert_array_equal(values, _stencil_reference(passes, rows))


@pytest.mark.parametrize("fail_at", [0, 7, 150])
def test_run_shared_raises_an_error_of_any_thread_without_hanging(fail_at):
    values = np.zeros((41, 8), np.int64)
    with pytest.raises(ValueError, match="item failed"):
        run_shared(_stencil_passes, values, fail_at, chunks=8, threads=2)


def test_the_first_kernel_call_leaves_torch_thread_count_as_it_was():
    # Numba's OpenMP layer shares the libgomp torch loaded, and starting it set OpenMP's thread
    # count to Numba's: after torch.set_num_threads(1) the first flowkit call left torch on
    # every core (2 here: NUMBA_NUM_THREADS), seen by torch.get_num_threads()
    import os
    import subprocess
    import sys

    pytest.importorskip("torch")
    # flow_to_color: a kernel behind run_bands that compiles in a fraction of DIS's seconds
    script = ("import numpy as np, torch, flowkit\n"
              "torch.set_num_threads(1)\n"
              "assert torch.get_num_threads() == 1\n"
              "flowkit.flow_to_color(np.ones((64, 64, 2), np.float32))\n"
              "flowkit.set_num_threads(1)\n"
              "print(torch.get_num_threads(), flowkit.get_num_threads())\n")
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX fork")
def test_a_forked_child_runs_bands_after_the_parent_started_the_pool():
    # a child forked after the pool had run a call (a multiprocessing 'fork' pool in an
    # application that used flowkit first) inherited a pool whose threads it does not have:
    # its first call that waited for a worker hung for ever
    import os
    import time
    import warnings

    counts = np.zeros(100, np.int64)
    run_bands(_mark, counts, 100, threads=2)  # the pool now has a started, idle worker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: exit 0 once its call is done, whatever happens
        code = 1
        try:
            child_counts = np.zeros(100, np.int64)
            run_bands(_mark, child_counts, 100, threads=2)
            code = 0 if (child_counts == 1).all() else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's call hung waiting for the parent's pool threads")
    assert os.waitstatus_to_exitcode(status) == 0


def test_set_num_threads_is_the_calling_threads_count():
    # documented (set_num_threads, docs/api.md): a count set in one thread leaves the calls
    # of the other threads on theirs, a new thread on all cores
    import threading

    import numba

    before = flowkit.get_num_threads()
    seen = {}

    def other():
        seen["start"] = flowkit.get_num_threads()
        flowkit.set_num_threads(1)
        seen["set"] = flowkit.get_num_threads()

    try:
        flowkit.set_num_threads(1)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert seen == {"start": numba.config.NUMBA_NUM_THREADS, "set": 1}
        flowkit.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert flowkit.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    finally:
        flowkit.set_num_threads(before)
