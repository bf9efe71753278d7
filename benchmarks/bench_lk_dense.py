"""Dense iterative Lucas-Kanade beside scikit-image's optical_flow_ilk (same settings), with
OpenCV's Farneback and DIS for context, at equal thread counts.

Run: ``pytest benchmarks/bench_lk_dense.py --benchmark-only``. Each group holds one size
and one setting: flowkit.lucas_kanade and skimage.registration.optical_flow_ilk with the
same radius, num_warp, window and prefilter (the default group also has
cv2.calcOpticalFlowFarneback and cv2.DISOpticalFlow, medium preset, on the same gray uint8
pair). The pair is flowkit's synthetic sample (rotation, zoom and a moving disc).
scikit-image runs NumPy/SciPy passes on one core; flowkit and OpenCV get THREADS threads.
"""

import cv2
import pytest
from skimage.registration import optical_flow_ilk

import flowkit

THREADS = 2
SIZES = {"640x480": (480, 640), "1280x720": (720, 1280), "1920x1080": (1080, 1920)}
SETTINGS = {
    "default": {},
    "gaussian": {"gaussian": True},
    "prefilter": {"prefilter": True},
}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)


def _pair(size):
    h, w = SIZES[size]
    frame0, frame1, _ = flowkit.sample_pair(h, w)
    return (cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY))


def _run(benchmark, fn, rounds):
    fn()  # warm-up: JIT compilation (or cache load) excluded
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("impl", ["flowkit", "skimage"])
def test_lucas_kanade(benchmark, impl, setting, size):
    if setting != "default" and size != "640x480":
        pytest.skip("option settings are timed at 640x480 only")
    frame0, frame1 = _pair(size)
    kw = SETTINGS[setting]
    benchmark.group = f"dense LK {setting} {size}"
    if impl == "flowkit":
        _run(benchmark, lambda: flowkit.lucas_kanade(frame0, frame1, **kw), rounds=10)
    else:
        _run(benchmark, lambda: optical_flow_ilk(frame0, frame1, **kw), rounds=3)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["opencv-farneback", "opencv-dis-medium"])
def test_opencv_context(benchmark, impl, size):
    frame0, frame1 = _pair(size)
    benchmark.group = f"dense LK default {size}"
    if impl == "opencv-farneback":
        fn = lambda: cv2.calcOpticalFlowFarneback(frame0, frame1, None, 0.5, 5, 15, 3, 5, 1.2, 0)
    else:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        fn = lambda: dis.calc(frame0, frame1, None)
    _run(benchmark, fn, rounds=10)
