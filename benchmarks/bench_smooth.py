"""smooth_flow beside OpenCV at equal thread counts.

Run: ``pytest benchmarks/bench_smooth.py --benchmark-only`` (both libraries on
``FLOWKIT_BENCH_THREADS`` threads, default 2; see ``conftest.py``). Each group holds flowkit
and its peer for one method and size:

* gaussian (5x5): ``cv2.GaussianBlur`` on the (H, W, 2) float32 flow (OpenCV filters both
  channels in one call), ``BORDER_REPLICATE``.
* median (5x5): ``cv2.medianBlur`` on the (H, W, 2) float32 flow (float32 is supported for
  ksize 3 and 5 only).
* bilateral (5x5): ``cv2.bilateralFilter`` (d=5) on each component (it takes 1 or 3 float
  channels and is guided by its own input, not by an image): context only, not the same filter.

Real video (``test_median_traffic``): the median 5x5 of the DIS flow between two frames of the
shared traffic clip at 1280x720 (``conftest.traffic_case``); skipped when the shared data is
absent.

``python benchmarks/bench_smooth.py [repeats]``: the median 5x5 at 1280x720 on the synthetic and
the traffic flow, timed alternately in one process at 1 and 2 threads
(``conftest.interleaved``), with the load average.
"""

import cv2
import numpy as np
import pytest
from conftest import (SIZES, interleaved, interleaved_main, random_image, run, smooth_flow_field,
                      traffic_case)

from flowkit import smooth_flow


def _case(size):
    return smooth_flow_field(size), random_image(size)


def _run(benchmark, fn):
    run(benchmark, fn, rounds=15, warmup_rounds=2)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_gaussian(benchmark, impl, size):
    flow, _ = _case(size)
    benchmark.group = f"gaussian 5x5 {size}"
    if impl == "flowkit":
        fn = lambda: smooth_flow(flow, method="gaussian", size=5)
    else:
        fn = lambda: cv2.GaussianBlur(flow, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)
    _run(benchmark, fn)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_median(benchmark, impl, size):
    benchmark.group = f"median 5x5 {size}"
    _median(benchmark, impl, _case(size)[0])


@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_median_traffic(benchmark, impl):
    benchmark.group = "median 5x5 traffic 1280x720"
    _median(benchmark, impl, traffic_case()[2])


def _median_calls(flow):
    return lambda: smooth_flow(flow, method="median", size=5), lambda: cv2.medianBlur(flow, 5)


def _median(benchmark, impl, flow):
    ours, peer = _median_calls(flow)
    _run(benchmark, ours if impl == "flowkit" else peer)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_bilateral(benchmark, impl, size):
    flow, image = _case(size)
    benchmark.group = f"bilateral 5x5 {size} (context only)"
    if impl == "flowkit":
        fn = lambda: smooth_flow(flow, method="bilateral", size=5, guide=image)
    else:
        u = np.ascontiguousarray(flow[..., 0])
        v = np.ascontiguousarray(flow[..., 1])
        fn = lambda: (cv2.bilateralFilter(u, 5, 1.0, 1.1), cv2.bilateralFilter(v, 5, 1.0, 1.1))
    _run(benchmark, fn)


def _interleaved(repeats):
    import os

    import flowkit

    flows = (("synthetic", _case("1280x720")[0]), ("traffic DIS", traffic_case()[2]))
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| case | flowkit ms | cv2.medianBlur ms | ratio |\n|---|---|---|---|")
    for threads in (1, 2):
        flowkit.set_num_threads(threads)
        cv2.setNumThreads(threads)
        for name, flow in flows:
            interleaved(f"median 5x5 {name} 1280x720, {threads} thread(s)", *_median_calls(flow),
                        repeats=repeats)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    interleaved_main(__doc__, _interleaved)
