"""warp beside cv2.remap at equal thread counts.

Run: ``pytest benchmarks/bench_warp.py --benchmark-only``. Each group holds flowkit and
OpenCV for one dtype, channel count and size: bilinear, replicate border, a smooth flow of a
few pixels (upsampled noise, as optical flow looks). ``cv2.remap`` gets its float32 maps
(grid + flow) prepared outside the timing, its best case; ``warp`` takes the flow as is.
Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.
"""

import cv2
import numpy as np
import pytest
from conftest import SIZES, random_image, run, smooth_flow_field

from flowkit import warp


def _case(size, channels, dtype):
    h, w = SIZES[size]
    flow = smooth_flow_field(size)
    image = random_image(size, channels, dtype)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return image, flow, gx + flow[..., 0], gy + flow[..., 1]


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
    run(benchmark, fn, rounds=20, warmup_rounds=3)
