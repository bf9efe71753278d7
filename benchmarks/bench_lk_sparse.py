"""Sparse pyramidal Lucas-Kanade beside ``cv2.calcOpticalFlowPyrLK``, and corners beside
``cv2.goodFeaturesToTrack``, at equal thread counts.

Run: ``pytest benchmarks/bench_lk_sparse.py --benchmark-only``. Each group holds flowkit and
OpenCV for one frame size and point count. Frames: the built-in synthetic pair (a textured scene
that rotates, zooms and has a moving disc, converted to gray uint8) at each size; points: K
seeded uniform positions at least 10 px inside the frame. Both get frames and points, build
their pyramids and track (win_size 21, max_level 3, 30 iterations, eps 0.01). Threads:
``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.
"""

import cv2
import numpy as np
import pytest
from conftest import SIZES, gray_pair, run

import flowkit

COUNTS = (500, 2000, 10000)
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)


def _points(size, count):
    h, w = SIZES[size]
    rng = np.random.default_rng(count)
    return rng.uniform((10, 10), (w - 10, h - 10), (count, 2)).astype(np.float32)


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_lucas_kanade_sparse(benchmark, impl, size, count):
    frame0, frame1 = gray_pair(size)
    pts = _points(size, count)
    benchmark.group = f"lucas_kanade_sparse {size} K={count}"
    if impl == "flowkit":
        def fn():
            return flowkit.lucas_kanade_sparse(frame0, frame1, pts)
    else:
        def fn():
            return cv2.calcOpticalFlowPyrLK(frame0, frame1, pts, None, winSize=(21, 21), maxLevel=3,
                                            criteria=CRITERIA)
    run(benchmark, fn)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_good_features(benchmark, impl, size):
    frame0, _ = gray_pair(size)
    benchmark.group = f"good_features {size}"
    if impl == "flowkit":
        def fn():
            return flowkit.good_features(frame0, 2000, 0.01, 5)
    else:
        def fn():
            return cv2.goodFeaturesToTrack(frame0, 2000, 0.01, 5)
    run(benchmark, fn)
