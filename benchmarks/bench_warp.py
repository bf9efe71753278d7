"""warp beside cv2.remap at equal thread counts.

Run: ``pytest benchmarks/bench_warp.py --benchmark-only``. Each group holds flowkit and
OpenCV for one dtype, channel count and size: bilinear, replicate border, a smooth flow of a
few pixels (upsampled noise, as optical flow looks). ``cv2.remap`` gets its float32 maps
(grid + flow) prepared outside the timing, its best case; ``warp`` takes the flow as is.
Threads: 2 for both (``FLOWKIT_BENCH_THREADS=1`` compares single-threaded).
"""

import os

import cv2
import numpy as np
import pytest

import flowkit
from flowkit import warp

THREADS = int(os.environ.get("FLOWKIT_BENCH_THREADS", "2"))
SIZES = {"640x480": (480, 640), "1280x720": (720, 1280), "1920x1080": (1080, 1920)}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)


def _case(size, channels, dtype):
    h, w = SIZES[size]
    rng = np.random.default_rng(0)
    small = rng.standard_normal((h // 8, w // 8, 2)).astype(np.float32)
    flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * 4
    flow += 0.2 * rng.standard_normal((h, w, 2)).astype(np.float32)
    shape = (h, w) if channels == 1 else (h, w, channels)
    image = rng.random(shape)
    image = (image * 255).astype(np.uint8) if dtype == "uint8" else image.astype(np.float32)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return image, np.ascontiguousarray(flow), gx + flow[..., 0], gy + flow[..., 1]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_warp_linear_replicate(benchmark, impl, dtype, channels, size):
    image, flow, map_x, map_y = _case(size, channels, dtype)
    benchmark.group = f"warp linear {dtype} C={channels} {size}"
    if impl == "flowkit":
        fn = lambda: warp(image, flow, interpolation="linear", border="replicate")
    else:
        fn = lambda: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    fn()  # warm-up: JIT compilation (or cache load) excluded
    benchmark.pedantic(fn, rounds=20, iterations=1, warmup_rounds=3)
