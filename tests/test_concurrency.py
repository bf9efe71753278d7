"""Several flowkit jobs at once in threads of one process (a host's workers): each result is
the one the call gives alone (bit for bit: the kernels do not depend on the thread count or on
other calls sharing their thread pool), and nothing deadlocks or aborts under Numba's
threading layer (``numba.threading_layer()``: OpenMP with this install). A thread that hangs
fails its join's timeout instead of hanging the suite."""

import threading

import numba
import numpy as np
import pytest

import flowkit
from test_retime import real_frames, write_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames of Tears of Steel, 64x36, 24 fps, H.264."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 12, start=2)
    return write_clip(tmp_path_factory.mktemp("clip") / "tears.mp4", frames, 24)


def in_threads(jobs, timeout=300):
    """Run each ``(function, thread count or None)`` of ``jobs`` in a thread of its own, all
    started together; their results in order (an exception is re-raised)."""
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(k, function, threads):
        try:
            if threads is not None:
                flowkit.set_num_threads(threads)
            barrier.wait(timeout)
            results[k] = function()
        except BaseException as exc:  # noqa: BLE001 - raised below
            results[k] = exc

    workers = [threading.Thread(target=run, args=(k, *job)) for k, job in enumerate(jobs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    assert not any(worker.is_alive() for worker in workers), "a job hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def same(a, b):
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b, equal_nan=True)


def test_estimators_and_operators_at_once_give_their_results_alone():
    frame0, frame1, _ = flowkit.sample_pair()
    flow = flowkit.dis(frame0, frame1)
    points = flowkit.good_features(frame0)
    calls = [lambda: flowkit.farneback(frame0, frame1),
             lambda: flowkit.dis(frame0, frame1),
             lambda: flowkit.variational_refinement(frame0, frame1, flow),
             lambda: flowkit.warp(frame1, flow),
             lambda: flowkit.splat(frame0, flow),
             lambda: flowkit.lucas_kanade_sparse(frame0, frame1, points)]
    alone = [call() for call in calls]
    assert numba.threading_layer() in ("omp", "tbb", "workqueue")
    # each call twice at once, one of the two on a single kernel thread
    together = in_threads([(call, threads) for call in calls for threads in (None, 1)] * 2)
    for k, result in enumerate(together):
        assert same(result, alone[k // 2 % len(calls)]), k


def test_two_retimes_at_once_write_what_each_writes_alone(clip, tmp_path):
    def job(name, flow):
        def run():
            path = tmp_path / name
            flowkit.retime(clip, path, factor=2, flow=flow, codec="ffv1", progress=False)
            return np.stack(list(flowkit.iter_frames(path)))
        return run

    alone = [job("dis_alone.mkv", "dis")(), job("farneback_alone.mkv", "farneback")()]
    together = in_threads([(job("dis.mkv", "dis"), None), (job("farneback.mkv", "farneback"), None),
                           (job("dis2.mkv", "dis"), 1)])
    assert same(together[0], alone[0]) and same(together[2], alone[0])
    assert same(together[1], alone[1])
    assert not same(alone[0], alone[1])  # two jobs that differ, not one result twice
