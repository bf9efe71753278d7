"""Sparse pyramidal Lucas-Kanade beside ``cv2.calcOpticalFlowPyrLK``, and corners beside
``cv2.goodFeaturesToTrack``, at equal thread counts.

Run: ``pytest benchmarks/bench_lk_sparse.py --benchmark-only``. Each group holds flowkit and
OpenCV for one frame size and point count. Frames: the built-in synthetic pair (a textured scene
that rotates, zooms and has a moving disc, converted to gray uint8) at each size; points: K
seeded uniform positions at least 10 px inside the frame. Both get frames and points, build
their pyramids and track (win_size 21, max_level 3, 30 iterations, eps 0.01). Threads:
``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.

Real video (``test_lucas_kanade_sparse_real``): frames 0 and 1 of the shared traffic clip
(``car_traffic_small.mp4``, 640x360) upscaled to 1280x720 in gray (``conftest.traffic_pair``),
and the Shi-Tomasi corners ``cv2.goodFeaturesToTrack`` finds in the first (100: quality 0.01,
min distance 7; 1000: quality 1e-4, distance 7; 10000: quality 1e-4, distance 3), tracked with
the same options (OpenCV's defaults); skipped when the shared data is absent (``FLOWKIT_DATA``
names its folder).
``python benchmarks/bench_lk_sparse.py [ROUNDS]`` runs the same cases with flowkit and OpenCV
interleaved in one process and prints per point count the median wall and CPU times (CPU:
``time.process_time``, all threads; steadier on a shared machine) and the ratios, median
[range] over the rounds, with the load average.
"""

import os

import cv2
import numpy as np
import pytest
from conftest import SIZES, TRAFFIC, gray_pair, positive_int, run, traffic_pair

import flowkit

COUNTS = (500, 2000, 10000)
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)
REAL_CORNERS = {100: (0.01, 7), 1000: (1e-4, 7), 10000: (1e-4, 3)}  # count: (quality, distance)


def _points(size, count):
    h, w = SIZES[size]
    rng = np.random.default_rng(count)
    return rng.uniform((10, 10), (w - 10, h - 10), (count, 2)).astype(np.float32)


def _track(benchmark, impl, frame0, frame1, pts, group):
    """Time flowkit or OpenCV tracking ``pts`` from frame0 to frame1 (the same options)."""
    benchmark.group = group
    if impl == "flowkit":
        def fn():
            return flowkit.lucas_kanade_sparse(frame0, frame1, pts)
    else:
        def fn():
            return cv2.calcOpticalFlowPyrLK(frame0, frame1, pts.reshape(-1, 1, 2), None, winSize=(21, 21),
                                            maxLevel=3, criteria=CRITERIA)
    run(benchmark, fn)


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_lucas_kanade_sparse(benchmark, impl, size, count):
    frame0, frame1 = gray_pair(size)
    _track(benchmark, impl, frame0, frame1, _points(size, count), f"lucas_kanade_sparse {size} K={count}")


def real_corners(frame, count):
    quality, distance = REAL_CORNERS[count]
    pts = cv2.goodFeaturesToTrack(frame, count, quality, distance).reshape(-1, 2)
    assert len(pts) == count, f"{len(pts)} corners found, {count} wanted"
    return pts


@pytest.mark.parametrize("count", list(REAL_CORNERS))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_lucas_kanade_sparse_real(benchmark, impl, count):
    frame0, frame1 = traffic_pair("1280x720")
    _track(benchmark, impl, frame0, frame1, real_corners(frame0, count),
           f"lucas_kanade_sparse traffic 1280x720 K={count}")


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
@pytest.mark.parametrize("options", ["default", "block_size=7", "harris", "gradient_size=5"])
def test_good_features(benchmark, impl, size, options):
    # block_size=7 is OpenCV's tracking sample's (lk_track.py); harris: k=0.04
    frame0, _ = gray_pair(size)
    benchmark.group = f"good_features {options} {size}"
    ours = {"default": {}, "block_size=7": {"block_size": 7},
            "harris": {"use_harris_detector": True},
            "gradient_size=5": {"gradient_size": 5}}[options]
    theirs = {"default": {}, "block_size=7": {"blockSize": 7},
              "harris": {"useHarrisDetector": True},
              "gradient_size=5": {"mask": None, "blockSize": 3, "gradientSize": 5}}[options]
    if impl == "flowkit":
        def fn():
            return flowkit.good_features(frame0, 2000, 0.01, 5, **ours)
    else:
        def fn():
            return cv2.goodFeaturesToTrack(frame0, 2000, 0.01, 5, **theirs)
    run(benchmark, fn)


def main(rounds=15):
    """The real-video cases, flowkit and OpenCV interleaved (see the module docstring)."""
    import sys
    import time

    from conftest import THREADS

    if not TRAFFIC.exists():
        sys.exit(f"shared clip absent: {TRAFFIC} (set FLOWKIT_DATA to the shared data folder)")
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    frame0, frame1 = traffic_pair("1280x720")
    print(f"flowkit {flowkit.__version__}, {THREADS} threads, {rounds} rounds; load {os.getloadavg()}")
    for count in REAL_CORNERS:
        pts = real_corners(frame0, count)
        calls = (lambda: flowkit.lucas_kanade_sparse(frame0, frame1, pts),
                 lambda: cv2.calcOpticalFlowPyrLK(frame0, frame1, pts.reshape(-1, 1, 2), None,
                                                  winSize=(21, 21), maxLevel=3, criteria=CRITERIA))
        times = np.zeros((rounds, 2, 2))  # round, (flowkit, OpenCV), (wall, CPU)
        for fn in calls:
            fn()
        for r in range(rounds):
            for i, fn in enumerate(calls):
                cpu, wall = time.process_time(), time.perf_counter()
                fn()
                times[r, i] = time.perf_counter() - wall, time.process_time() - cpu
        ratio = times[:, 0] / times[:, 1]
        med = np.median(times, axis=0) * 1e3
        print(f"K={count:5d} wall {med[0, 0]:7.2f} / {med[1, 0]:7.2f} ms, ratio {np.median(ratio[:, 0]):.2f} "
              f"[{ratio[:, 0].min():.2f}-{ratio[:, 0].max():.2f}]; CPU {med[0, 1]:7.2f} / {med[1, 1]:7.2f} ms, "
              f"ratio {np.median(ratio[:, 1]):.2f} [{ratio[:, 1].min():.2f}-{ratio[:, 1].max():.2f}]")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[-1])
    parser.add_argument("rounds", nargs="?", type=positive_int, default=15,
                        help="rounds, each one call of flowkit and one of OpenCV (default 15)")
    main(parser.parse_args().rounds)
