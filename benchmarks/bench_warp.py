"""warp beside cv2.remap at equal thread counts.

Run: ``pytest benchmarks/bench_warp.py --benchmark-only``. Each group holds flowkit and
OpenCV for one dtype, channel count and size: bilinear, replicate border, a smooth flow of a
few pixels (upsampled noise, as optical flow looks). ``cv2.remap`` gets its float32 maps
(grid + flow) prepared outside the timing, its best case; ``warp`` takes the flow as is.
Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.

Real video (``test_warp_linear_replicate_traffic``): frame 1 of the shared traffic clip at
1280x720 (RGB, or gray by ``cv2.cvtColor``; float32 divided by 255) warped back by the DIS
flow from frame 0 to frame 1 (``conftest.traffic_case``: mostly static, cars move up to 6 px),
the use ``warp`` is for; skipped when the shared data is absent.

``python benchmarks/bench_warp.py [repeats]``: the 1280x720 cases on the traffic frame, with the
synthetic flow and with the clip's DIS flow, timed alternately in one process at 1 and 2
threads (``conftest.interleaved``), with the load average.
"""

import cv2
import numpy as np
import pytest
from conftest import (SIZES, interleaved, interleaved_main, random_image, run, smooth_flow_field,
                      traffic_case)

from flowkit import warp


def _maps(flow):
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return gx + flow[..., 0], gy + flow[..., 1]


def _case(size, channels, dtype):
    flow = smooth_flow_field(size)
    return (random_image(size, channels, dtype), flow) + _maps(flow)


def _traffic(channels, dtype):
    _, frame1, flow = traffic_case()
    image = frame1 if channels == 3 else cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    if dtype == "float32":
        image = image.astype(np.float32) / np.float32(255)
    return (image, flow) + _maps(flow)


def _calls(image, flow, map_x, map_y):
    return (lambda: warp(image, flow, interpolation="linear", border="replicate"),
            lambda: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE))


def _bench(benchmark, impl, *case):
    ours, peer = _calls(*case)
    run(benchmark, ours if impl == "flowkit" else peer, rounds=20, warmup_rounds=3)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_warp_linear_replicate(benchmark, impl, dtype, channels, size):
    benchmark.group = f"warp linear {dtype} C={channels} {size}"
    _bench(benchmark, impl, *_case(size, channels, dtype))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_warp_linear_replicate_traffic(benchmark, impl, dtype, channels):
    benchmark.group = f"warp linear {dtype} C={channels} traffic 1280x720"
    _bench(benchmark, impl, *_traffic(channels, dtype))


def _interleaved(repeats):
    import os

    import flowkit

    _, frame1, dis = traffic_case()
    synthetic = smooth_flow_field("1280x720", noise=0)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| case | flowkit ms | cv2.remap ms | ratio |\n|---|---|---|---|")
    for threads in (1, 2):
        flowkit.set_num_threads(threads)
        cv2.setNumThreads(threads)
        for name, flow in (("synthetic flow", synthetic), ("DIS flow", dis)):
            for dtype in ("float32", "uint8"):
                for channels in (1, 3):
                    image, *_ = _traffic(channels, dtype)
                    interleaved(f"{dtype} C={channels} {name}, {threads} thread(s)",
                                *_calls(image, flow, *_maps(flow)), repeats=repeats)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    interleaved_main(__doc__, _interleaved)
