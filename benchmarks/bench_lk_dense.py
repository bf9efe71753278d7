"""Dense iterative Lucas-Kanade beside scikit-image's optical_flow_ilk (same settings), with
OpenCV's Farneback and DIS for context, at equal thread counts.

Run: ``pytest benchmarks/bench_lk_dense.py --benchmark-only``. Each group holds one size
and one setting: flowkit.lucas_kanade and skimage.registration.optical_flow_ilk with the
same radius, num_warp, window and prefilter (the default group also has
cv2.calcOpticalFlowFarneback and cv2.DISOpticalFlow, medium preset, on the same gray uint8
pair). The pair is flowkit's synthetic sample (rotation, zoom and a moving disc);
``test_lucas_kanade_real`` times the default and Gaussian-window settings on two frames of
the shared traffic clip (``conftest.traffic_pair``: upscaled to 1280x720, 640x480 its crop;
skipped when the data is absent).
scikit-image runs NumPy/SciPy passes on one core; flowkit and OpenCV get
``FLOWKIT_BENCH_THREADS`` threads (default 2), see ``conftest.py``.
"""

import cv2
import pytest
from conftest import REAL_SIZES, SIZES, gray_pair, run, traffic_pair
from skimage.registration import optical_flow_ilk

import flowkit

SETTINGS = {
    "default": {},
    "gaussian": {"gaussian": True},
    "prefilter": {"prefilter": True},
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("impl", ["flowkit", "skimage"])
def test_lucas_kanade(benchmark, impl, setting, size):
    if setting != "default" and size != "640x480":
        pytest.skip("option settings are timed at 640x480 only")
    frame0, frame1 = gray_pair(size)
    kw = SETTINGS[setting]
    benchmark.group = f"dense LK {setting} {size}"
    if impl == "flowkit":
        run(benchmark, lambda: flowkit.lucas_kanade(frame0, frame1, **kw), rounds=10)
    else:
        run(benchmark, lambda: optical_flow_ilk(frame0, frame1, **kw), rounds=3)


@pytest.mark.parametrize("size", list(REAL_SIZES))
@pytest.mark.parametrize("setting", ["default", "gaussian"])
@pytest.mark.parametrize("impl", ["flowkit", "skimage"])
def test_lucas_kanade_real(benchmark, impl, setting, size):
    frame0, frame1 = traffic_pair(size)
    kw = SETTINGS[setting]
    benchmark.group = f"dense LK {setting} traffic {size}"
    if impl == "flowkit":
        run(benchmark, lambda: flowkit.lucas_kanade(frame0, frame1, **kw), rounds=10)
    else:  # scikit-image's float frames in [0, 1], as flowkit's normalize=False reads uint8
        f0, f1 = (f.astype("float32") / 255 for f in (frame0, frame1))
        run(benchmark, lambda: optical_flow_ilk(f0, f1, **kw), rounds=3)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["opencv-farneback", "opencv-dis-medium"])
def test_opencv_context(benchmark, impl, size):
    frame0, frame1 = gray_pair(size)
    benchmark.group = f"dense LK default {size}"
    if impl == "opencv-farneback":
        fn = lambda: cv2.calcOpticalFlowFarneback(frame0, frame1, None, 0.5, 5, 15, 3, 5, 1.2, 0)
    else:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        fn = lambda: dis.calc(frame0, frame1, None)
    run(benchmark, fn, rounds=10)
